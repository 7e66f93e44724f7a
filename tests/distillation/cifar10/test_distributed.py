"""
Tests of training under torchrun, on CPU processes joined by gloo: two
processes give the weights and the validation accuracy of one, for the
baseline and the distilled student; so does a two-"node" launch on this
machine; a process that dies ends the launch, and running the command again
resumes and ends with the weights of an uninterrupted run; and only rank 0
writes.

The torchrun launches start side by side in one fixture (each spends seconds
importing torch); the single-process runs they are compared with train in
this process. Every launch listens on 127.0.0.1 only, on a free port, and is
bounded by a timeout.
"""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List

import pytest
import torch

import labml_nn
from labml_nn.distillation.cifar10.data import load_cifar10
from labml_nn.distillation.cifar10.train import configs_for, main
from labml_nn.distillation.cifar10.trainer import train
from labml_nn.experiments.reporting import japanese_font
from labml_nn.experiments.runs import find_runs, load_checkpoint
from tests.distillation.launch import free_port, standalone

# labml skips recording the git state outside a repository (see conftest.py)
pytestmark = pytest.mark.usefixtures('outside_the_repository')

# The longest a launch may take on a busy 2-core machine
TIMEOUT = 300
# Where a traceback through this project's code would show its files
PACKAGE = str(Path(labml_nn.__file__).parent) + os.sep
# Two runs are the same when no weight differs by more than this, relative to its tensor's largest value
SAME = 1e-4


def torchrun(launch: List[str], command: List[str], cwd: Path) -> subprocess.Popen:
    """
    Start `python -m torch.distributed.run LAUNCH -m COMMAND` in a session of
    its own, so that the test can end it and every process it started.
    """
    return subprocess.Popen([sys.executable, '-m', 'torch.distributed.run', *launch, '-m', *command],
                            cwd=cwd, start_new_session=True, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def two_nodes(port: int, node: int) -> List[str]:
    """
    Node `node` of two, one process each, meeting at 127.0.0.1:`port`. On
    one machine both would match the rendezvous address and race to host
    its store; node 0 is told to, node 1 not to, as separate machines would find.
    """
    return ['--nnodes', '2', '--nproc-per-node', '1', '--node-rank', str(node), '--rdzv-backend', 'c10d',
            '--rdzv-endpoint', f'127.0.0.1:{port}', '--local-addr', '127.0.0.1',
            '--rdzv-conf', f'is_host={"true" if node == 0 else "false"}']


def finish(process: subprocess.Popen) -> str:
    """
    Wait for a launch and return its output; on a timeout end its whole session.
    """
    try:
        out, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, _ = process.communicate()
        pytest.fail(f'torchrun did not end within {TIMEOUT} s:\n{out[-3000:]}')
    return out


def smoke(data_dir: Path, logs_dir: Path, *extra: str) -> List[str]:
    # In float32: with bfloat16 autocast (on CPUs that have it) one process and two round differently
    return ['--data-dir', str(data_dir), '--logs-dir', str(logs_dir), '--profile', 'smoke', '--device', 'cpu',
            '--bf16', 'false', *extra]


def weights(path: Path) -> Dict[str, torch.Tensor]:
    return load_checkpoint(path)['model']


def largest_difference(a: Dict[str, torch.Tensor], b: Dict[str, torch.Tensor]) -> float:
    """
    The largest difference between two sets of weights, relative to the largest value of each tensor.
    """
    assert a.keys() == b.keys()
    return max(float((a[k].double() - b[k].double()).abs().max() / a[k].double().abs().max().clamp_min(1e-12))
               for k in a if a[k].is_floating_point())


def only_run(logs_dir: Path, name: str):
    """
    The one run of experiment `name`; two would mean that two processes made run folders.
    """
    runs = find_runs(str(logs_dir), name)
    folders = [p for p in (logs_dir / name).iterdir()]
    assert len(runs) == 1 and len(folders) == 1, folders
    return runs[0]


@pytest.fixture(scope='module')
def kill_data(tmp_path_factory, make_image_folder) -> Path:
    """
    A folder with 7 batches an epoch in the smoke profile, so that a kill
    lands inside an epoch; loaded once so that its cache exists before the launches.
    """
    folder = make_image_folder(tmp_path_factory.mktemp('kill-data'), train=16, test=None)
    load_cifar10(str(folder), download=False)
    return folder


@pytest.fixture(scope='module')
def launches(tmp_path_factory, image_folder, teacher_run, kill_data) -> Dict:
    """
    Every torchrun launch of this module, side by side:

    * `study`: the study on two processes, the session's teacher given, so
      it trains the baseline and the distilled student of seed 0;
    * `nodes`: the baseline on two "nodes" of one process each;
    * `reference`: 12 epochs of the baseline on two processes, uninterrupted;
    * `killed`: the same in another logs folder, one of its processes killed
      once the first epoch's checkpoint is written, then the command run
      again.
    """
    root = tmp_path_factory.mktemp('torchrun')
    logs = {name: root / name for name in ('study', 'nodes', 'reference', 'killed')}
    port = free_port()
    # Enough epochs that the run cannot finish between reading its first
    # checkpoint and the kill, even on a busy machine
    longer = ('--epochs', '12')
    running = {
        'study': torchrun(standalone(2), ['labml_nn.distillation.cifar10.pipeline', '--data-dir', str(image_folder),
                                          '--logs-dir', str(logs['study']), '--profile', 'smoke', '--device', 'cpu',
                                          '--bf16', 'false', '--teacher', str(teacher_run['path']), '--out', str(root / 'out')], root),
        'node0': torchrun(two_nodes(port, 0), ['labml_nn.distillation.cifar10.train', 'small',
                                              *smoke(image_folder, logs['nodes'])], root),
        'node1': torchrun(two_nodes(port, 1), ['labml_nn.distillation.cifar10.train', 'small',
                                              *smoke(image_folder, logs['nodes'])], root),
        'reference': torchrun(standalone(2), ['labml_nn.distillation.cifar10.train', 'small',
                                              *smoke(kill_data, logs['reference'], *longer)], root),
    }
    kill_command = ['labml_nn.distillation.cifar10.train', 'small', *smoke(kill_data, logs['killed'], *longer)]
    killed = torchrun(standalone(2), kill_command, root)
    epoch_at_kill = _kill_a_process_after_first_epoch(killed, logs['killed'])
    started = time.monotonic()
    killed_out = finish(killed)
    seconds_to_end = time.monotonic() - started
    # Run the same command again: it resumes
    resumed_out = finish(torchrun(standalone(2), kill_command, root))
    outputs = {name: finish(process) for name, process in running.items()}
    return {'root': root, 'logs': logs, 'out': outputs, 'status': {name: p.returncode for name, p in running.items()},
            'killed': (killed.returncode, killed_out, epoch_at_kill, seconds_to_end), 'resumed': resumed_out}


def _kill_a_process_after_first_epoch(launch: subprocess.Popen, logs_dir: Path) -> int:
    """
    Wait for the first checkpoint, then kill one of torchrun's processes
    (SIGKILL, no chance to clean up). Returns the epochs the checkpoint held
    just before the kill.
    """
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and launch.poll() is None:
        runs = find_runs(str(logs_dir), 'small-smoke')
        if runs and runs[0].epoch >= 1:
            workers = Path(f'/proc/{launch.pid}/task/{launch.pid}/children').read_text().split()
            os.kill(int(workers[-1]), signal.SIGKILL)
            return runs[0].epoch
        time.sleep(0.02)
    pytest.fail('the launch to kill ended, or wrote no checkpoint in time')


def test_two_processes_train_as_one(launches, tmp_path, image_folder, cifar_data, teacher_run, smoke_settings_for):
    """
    The baseline and the distilled student of the study on two processes end
    with the weights and the validation accuracy of one process with the
    whole batch.
    """
    out = launches['out']['study']
    assert 'Wrote' in out, out[-3000:]
    logs = launches['logs']['study']
    for model in ('small', 'distilled'):
        overrides = {'bf16': False} | ({'teacher': str(teacher_run['path'])} if model == 'distilled' else {})
        alone = train(configs_for(model), smoke_settings_for(model, image_folder, tmp_path, **overrides), cifar_data)
        together = only_run(logs, f'{model}-smoke')
        assert together.finished and together.epoch == 2
        assert largest_difference(weights(alone.path), weights(together.path)) <= SAME, model
        assert together.history == alone.history and together.test_accuracy == alone.test_accuracy


def test_only_rank_0_writes(launches):
    """
    One run folder per model, no teacher run (it was given), and one set of results.
    """
    logs = launches['logs']['study']
    # (and the locks of the runs' identities, `.locks`)
    assert sorted(p.name for p in logs.iterdir() if p.name != '.locks') == ['distilled-smoke', 'small-smoke']
    for model in ('small', 'distilled'):
        only_run(logs, f'{model}-smoke')
    japanese = ['accuracy.ja.png'] if japanese_font() else []
    assert sorted(p.name for p in (launches['root'] / 'out').iterdir()) == sorted([
        'accuracy.png', 'results.json', 'results.md'] + japanese)
    # Rank 0 alone printed the study's progress and its table, and labml's line naming each run
    out = launches['out']['study']
    assert out.count('[1/2] small seed 0') == 1 and out.count('| distilled |') == 1
    # labml's line naming a run, `NAME: UUID`, once for each of the two runs
    plain = re.sub(r'\x1b\[[0-9;]*m', '', out.replace('\r', '\n'))
    assert len(re.findall(r'^[\w-]+: [0-9a-f]{32}$', plain, re.MULTILINE)) == 2, plain


def test_two_nodes_train_as_one(launches, tmp_path, image_folder, cifar_data, smoke_settings_for):
    # Both ended well, and nothing of ours raised. (torchrun's own teardown may
    # log a traceback when the node that hosts the rendezvous leaves first, a
    # race between the launchers that this busy machine sometimes loses.)
    for node in ('node0', 'node1'):
        out = launches['out'][node]
        assert launches['status'][node] == 0 and f'File "{PACKAGE}' not in out, out[-3000:]
    # Node 0 holds rank 0, which alone prints the result
    assert 'small: validation accuracy' in launches['out']['node0']
    assert 'small: validation accuracy' not in launches['out']['node1']
    together = only_run(launches['logs']['nodes'], 'small-smoke')
    alone = train(configs_for('small'), smoke_settings_for('small', image_folder, tmp_path, bf16=False), cifar_data)
    assert largest_difference(weights(alone.path), weights(together.path)) <= SAME
    assert together.history == alone.history


def test_a_killed_process_ends_the_launch_and_the_command_resumes(launches):
    """
    Killing one process ends every process, soon; running the command again
    resumes after the last finished epoch and ends with the weights of the
    uninterrupted two-process run.
    """
    status, out, epoch_at_kill, seconds_to_end = launches['killed']
    assert status != 0, out[-3000:]
    assert seconds_to_end < 60
    assert 1 <= epoch_at_kill < 12, 'the run finished before the kill; the test needs longer epochs'
    resumed = launches['resumed']
    # Rank 0 alone says so
    assert resumed.count('Resuming small-smoke run') == 1, resumed[-3000:]
    killed = only_run(launches['logs']['killed'], 'small-smoke')
    reference = only_run(launches['logs']['reference'], 'small-smoke')
    assert killed.finished and reference.finished
    assert largest_difference(weights(reference.path), weights(killed.path)) == 0
    assert killed.history == reference.history


@pytest.mark.parametrize('argv', [['--batch-size', '8'], []])
def test_batch_that_does_not_divide_is_a_usage_error(tmp_path, monkeypatch, capsys, argv):
    """
    Three processes cannot split a batch of 8 (the smoke profile's): the
    command says so before it makes any folder or joins the other processes.
    """
    monkeypatch.setenv('WORLD_SIZE', '3')
    monkeypatch.setenv('RANK', '1')
    logs = tmp_path / 'logs'
    with pytest.raises(SystemExit) as exit_:
        main(['small', '--logs-dir', str(logs), '--profile', 'smoke', '--device', 'cpu', *argv])
    assert exit_.value.code == 2
    assert '--batch-size 8 does not divide among the 3 processes' in capsys.readouterr().err
    assert not logs.exists()


def test_the_study_checks_the_batch_too(tmp_path, monkeypatch, capsys):
    from labml_nn.distillation.cifar10 import pipeline
    monkeypatch.setenv('WORLD_SIZE', '3')
    with pytest.raises(SystemExit) as exit_:
        pipeline.main(['--logs-dir', str(tmp_path / 'logs'), '--out', str(tmp_path / 'out'), '--profile', 'smoke'])
    assert exit_.value.code == 2
    assert 'does not divide among the 3 processes' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


def test_cpu_processes_join_through_gloo_with_a_timeout(monkeypatch):
    """
    With two processes on the CPU, the group is gloo's, with the timeout that
    ends a wait for a process that died; it is left when the command ends.
    """
    from labml_nn.experiments import distributed
    calls = []
    monkeypatch.setattr(torch.distributed, 'init_process_group',
                        lambda backend, timeout: calls.append((backend, timeout)))
    monkeypatch.setattr(torch.distributed, 'destroy_process_group', lambda: calls.append('left'))
    monkeypatch.setenv('WORLD_SIZE', '2')
    with distributed.process_group('cpu'):
        assert calls == [('gloo', distributed.TIMEOUT)]
    assert calls[-1] == 'left'


def test_one_process_joins_no_group(monkeypatch):
    from labml_nn.experiments import distributed
    monkeypatch.delenv('WORLD_SIZE', raising=False)
    monkeypatch.setattr(torch.distributed, 'init_process_group', lambda **_: pytest.fail('joined a group'))
    with distributed.process_group('cpu'):
        pass


@pytest.mark.skipif(not torch.cuda.is_available(), reason='no CUDA device here')
def test_one_named_gpu_for_several_processes_is_an_error(monkeypatch):
    from labml_nn.experiments import distributed
    monkeypatch.setenv('WORLD_SIZE', '2')
    with pytest.raises(distributed.DistributedError, match='give --device cuda'):
        with distributed.process_group('cuda:0'):
            pass


def test_buffer_switch_is_one_this_pytorch_knows():
    """
    `DistributedDataParallel` is told not to resend buffers under the name this
    PyTorch accepts, the current one where it has it (2.11 knows only the older).
    """
    import inspect
    from labml_nn.experiments import distributed
    names = inspect.signature(torch.nn.parallel.DistributedDataParallel).parameters
    assert distributed._NO_BUFFER_SYNC in names
    if 'forward_sync_buffers' in names:
        assert distributed._NO_BUFFER_SYNC == 'forward_sync_buffers'
