"""
Tests of runs on disk: the run record, the lock that lets one process at a
time train a run, a run's identity by its settings and its data, and
divergence, which must never be saved or reused.

Runs use the `smoke` profile on the CPU, on tiny image folders.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from labml_nn.distillation.cifar10 import trainer
from labml_nn.distillation.cifar10.trainer import Configs, train
from labml_nn.distillation.cifar10.vgg import CIFAR10VGGModel
from labml_nn.experiments import runs
from labml_nn.experiments.runs import RunBusy, RunRecord, find_runs, has_finite_weights, run_key, run_lock
from labml_nn.experiments.training import Diverged

# labml skips recording the git state outside a repository (see conftest.py)
pytestmark = pytest.mark.usefixtures('outside_the_repository')


class TinyModel(CIFAR10VGGModel):
    """
    A model small enough for tests: four channels a block.
    """

    def __init__(self, classes: int = 10):
        super().__init__([[4], [4], [4], [4], [4]], classes=classes)


class TinyConfigs(Configs):
    """
    The trainer with the tiny model, set as each model's configurations set
    theirs: an option of its own for `model` would leave the first run of a
    process to the trainer's option, which needs `model_class`.
    """
    model_class = TinyModel


def _interrupted_run(settings, data, configs=TinyConfigs) -> RunRecord:
    """
    A run of two epochs interrupted after its first (by the
    `ctrl_c_in_second_epoch` fixture); returns its record.
    """
    with pytest.raises(KeyboardInterrupt):
        train(configs(), settings, data)
    [record] = find_runs(settings['logs_dir'], 'small-smoke')
    assert record.epoch == 1 and not record.finished
    return record


# ## The record

def test_record_round_trip(tmp_path, image_folder, cifar_data, smoke_settings_for):
    result = train(TinyConfigs(), smoke_settings_for('small', image_folder, tmp_path, epochs=1), cifar_data)
    assert isinstance(result, RunRecord) and result.finished
    [found] = find_runs(str(tmp_path), 'small-smoke')
    assert found == result and found.path == result.path
    assert found.classes == cifar_data.classes and found.data_fingerprint == cifar_data.fingerprint


def test_stray_checkpoints_are_skipped(tmp_path, image_folder, cifar_data, smoke_settings_for):
    """
    `checkpoint.pt` files that are not the trainer's (another program's dict,
    a tensor, a broken file) are not runs, and never a `KeyError`.
    """
    for i, content in enumerate([{'epoch': 3}, torch.ones(2)]):
        path = tmp_path / 'small-smoke' / f'stray{i}' / 'checkpoints' / 'checkpoint.pt'
        path.parent.mkdir(parents=True)
        torch.save(content, path)
    broken = tmp_path / 'small-smoke' / 'broken' / 'checkpoints' / 'checkpoint.pt'
    broken.parent.mkdir(parents=True)
    broken.write_bytes(os.urandom(100))
    assert find_runs(str(tmp_path), 'small-smoke') == []
    result = train(TinyConfigs(), smoke_settings_for('small', image_folder, tmp_path, epochs=1), cifar_data)
    assert [r.uuid for r in find_runs(str(tmp_path), 'small-smoke')] == [result.uuid]


def test_default_sizes_that_do_not_fit_the_data(tmp_path, image_folder, cifar_data):
    """
    Without `valid_size` in the settings the default, 5,000, applies: on 16
    images it is refused before a run folder is made.
    """
    from labml_nn.distillation.cifar10.data import DataError
    settings = {'model_name': 'small', 'profile': 'test', 'data_dir': str(image_folder),
                'logs_dir': str(tmp_path), 'device': 'cpu', 'epochs': 1}
    with pytest.raises(DataError, match='--valid-size 5000 leaves no training images'):
        train(TinyConfigs(), settings, cifar_data)
    assert not list(tmp_path.iterdir())


# ## The lock

@pytest.mark.usefixtures('ctrl_c_in_second_epoch')
def test_a_live_run_is_not_trained_twice(tmp_path, image_folder, cifar_data, smoke_settings_for):
    """
    While a process holds a run's lock, the same command stops at once,
    naming the run and the process, and changes nothing in the run.
    """
    settings = smoke_settings_for('small', image_folder, tmp_path, epochs=2)
    record = _interrupted_run(settings, cifar_data)
    before = record.path.read_bytes()
    with run_lock(record.path.parent.parent, 'the test'):
        with pytest.raises(RunBusy) as busy:
            train(TinyConfigs(), settings, cifar_data)
    message = str(busy.value)
    assert record.uuid in message and f'process {os.getpid()}' in message
    assert record.path.read_bytes() == before


@pytest.mark.usefixtures('ctrl_c_in_second_epoch')
def test_a_lock_left_by_a_dead_process_is_taken_over(tmp_path, capsys, image_folder, cifar_data,
                                                      smoke_settings_for):
    """
    A process that held the lock is killed, leaving `run.lock` and labml's
    `run.pid` behind: the same command resumes the run.
    """
    settings = smoke_settings_for('small', image_folder, tmp_path, epochs=2)
    record = _interrupted_run(settings, cifar_data)
    folder = record.path.parent.parent
    assert (folder / 'run.pid').exists()
    holder = subprocess.Popen([sys.executable, '-c', (
        'import fcntl, sys, time\n'
        f'f = open({str(folder / "run.lock")!r}, "a+")\n'
        'fcntl.flock(f, fcntl.LOCK_EX)\n'
        'print("locked", flush=True)\n'
        'time.sleep(600)\n')], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == 'locked\n'
        with pytest.raises(RunBusy):
            train(TinyConfigs(), settings, cifar_data)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    capsys.readouterr()
    resumed = train(TinyConfigs(), settings, cifar_data)
    assert f'Resuming small-smoke run {record.uuid} after epoch 1' in capsys.readouterr().out
    assert resumed.uuid == record.uuid and resumed.finished


@pytest.mark.usefixtures('ctrl_c_in_second_epoch')
def test_two_resumers_of_one_run(tmp_path, image_folder, cifar_data, smoke_settings_for):
    """
    Two commands started together on one interrupted run: one resumes it; the
    other either stops with a message while the first trains, or, started
    after the first finished, reuses the finished run. No traceback, and the
    run's log has each step once.
    """
    from labml_nn.distillation.cifar10.small import SmallConfigs
    # The settings the command line makes, for its model
    settings = smoke_settings_for('small', image_folder, tmp_path / 'logs', epochs=2)
    record = _interrupted_run(settings, cifar_data, SmallConfigs)
    argv = [sys.executable, '-m', 'labml_nn.distillation.cifar10.train', 'small', '--data-dir', str(image_folder),
            '--logs-dir', str(tmp_path / 'logs'), '--profile', 'smoke', '--device', 'cpu', '--epochs', '2']
    processes = [subprocess.Popen(argv, cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
    done = [(p.wait(timeout=300), *p.communicate()) for p in processes]
    assert all('Traceback' not in out + err for _, out, err in done), done
    resumed = [d for d in done if f'Resuming small-smoke run {record.uuid} after epoch 1' in d[1]]
    assert len(resumed) == 1 and resumed[0][0] == 0, done
    [other] = [d for d in done if d is not resumed[0]]
    busy = other[0] == 2 and f'Run {record.uuid} of small-smoke is being trained right now' in other[2]
    reused = other[0] == 0 and f'reusing the finished run {record.uuid}' in other[1]
    assert busy or reused, other
    [final] = find_runs(str(tmp_path / 'logs'), 'small-smoke')
    assert final.finished and len(final.history) == 2


# ## The data is part of a run's identity

def test_changed_data_starts_a_new_run(tmp_path, capsys, image_folder, smoke_settings_for):
    from labml_nn.distillation.cifar10.data import load_cifar10
    data_dir = tmp_path / 'data'
    shutil.copytree(image_folder, data_dir)
    settings = smoke_settings_for('small', data_dir, tmp_path / 'logs', epochs=1)
    first = train(TinyConfigs(), settings)
    assert train(TinyConfigs(), settings).uuid == first.uuid
    # One more image of a class
    shutil.copy(next((data_dir / 'train' / 'cat').glob('*.png')), data_dir / 'train' / 'cat' / 'extra.png')
    capsys.readouterr()
    second = train(TinyConfigs(), settings, load_cifar10(str(data_dir), download=False))
    out = capsys.readouterr().out
    assert second.uuid != first.uuid and second.finished
    assert f'the data changed since run {first.uuid}' in out and 'starting a new run' in out
    assert second.data_fingerprint != first.data_fingerprint


def test_a_copy_of_the_data_finds_the_same_runs(tmp_path, capsys, image_folder, smoke_settings_for):
    """
    The data's place is not part of a run: the same images copied elsewhere
    reuse the finished run.
    """
    first = train(TinyConfigs(), smoke_settings_for('small', image_folder, tmp_path / 'logs', epochs=1))
    copy = tmp_path / 'copy'
    shutil.copytree(image_folder, copy)
    again = train(TinyConfigs(), smoke_settings_for('small', copy, tmp_path / 'logs', epochs=1))
    assert again.uuid == first.uuid and f'reusing the finished run {first.uuid}' in capsys.readouterr().out


def _v1_key(settings):
    """
    The key of the first layout, before identities had a version: a hash of
    every setting but three, with the data folder resolved.
    """
    settings = {k: v for k, v in settings.items() if k not in ('logs_dir', 'valid_every', 'compile')}
    settings['data_dir'] = str(Path(settings['data_dir']).resolve())
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def test_runs_written_under_the_first_key_layout_are_still_found(tmp_path, capsys, image_folder, cifar_data,
                                                                 smoke_settings_for):
    settings = smoke_settings_for('small', image_folder, tmp_path, epochs=1)
    first = train(TinyConfigs(), settings, cifar_data)
    # Rewrite its checkpoint as the code before identity versions wrote it
    state = torch.load(first.path, weights_only=False)
    torch.save(state | {'key': _v1_key(settings)}, first.path)
    assert find_runs(str(tmp_path), 'small-smoke')[0].key != run_key(settings)
    again = train(TinyConfigs(), settings, cifar_data)
    assert again.uuid == first.uuid and f'reusing the finished run {first.uuid}' in capsys.readouterr().out


def test_a_renamed_setting_finds_its_runs(monkeypatch):
    old = {'model_name': 'small', 'profile': 'cpu', 'label_weight': 0.1, 'data_dir': '/a', 'logs_dir': 'l'}
    new = {'model_name': 'small', 'profile': 'cpu', 'label_loss_weight': 0.1, 'data_dir': '/b', 'logs_dir': 'm'}
    assert run_key(old) != run_key(new)
    monkeypatch.setitem(runs.RENAMED, 'label_weight', 'label_loss_weight')
    assert run_key(old) == run_key(new)
    assert run_key({'temperature': 5}) == run_key({'temperature': 5.0}) != run_key({'temperature': 5.5})
    assert run_key(new | {'keep_epochs': (1, 2), 'valid_every': 3}) == run_key(new)


def test_an_added_setting_at_its_earlier_value_finds_the_runs_made_before_it(monkeypatch):
    """
    Runs made before a setting existed do not have it; a run that gives it the
    value they all had is one of them, and any other value is another run.
    """
    earlier = {'model_name': 'student', 'profile': 'cpu', 'steps': 300}
    assert run_key(earlier | {'warm_start': '', 'targets': 'online', 'target_size': 0}) == run_key(earlier)
    assert run_key(earlier | {'warm_start': 'abc'}) != run_key(earlier)
    assert run_key(earlier | {'targets': 'dense'}) != run_key(earlier)
    # Renamed settings are compared under their new names
    monkeypatch.setitem(runs.RENAMED, 'cached_targets', 'targets')
    assert run_key(earlier | {'cached_targets': 'online'}) == run_key(earlier)


# ## Kept epochs

def test_kept_epochs_are_teachers_stopped_early(tmp_path, image_folder, cifar_data, smoke_settings_for):
    """
    `keep_epochs` writes `epoch-N.pt` beside the checkpoint: a finished
    record of N epochs with the weights of that epoch, measured then. It
    does not change the run: a run without it is the same run.
    """
    settings = smoke_settings_for('small', image_folder, tmp_path, epochs=3, valid_every=3)
    result = train(TinyConfigs(), settings | {'keep_epochs': (1, 3)}, cifar_data)
    assert sorted(p.name for p in result.path.parent.iterdir()) == ['checkpoint.pt', 'epoch-1.pt']
    assert result.history[0] is not None and result.history[1] is None
    kept = RunRecord.from_checkpoint(torch.load(result.path.parent / 'epoch-1.pt', weights_only=False),
                                     result.path.parent / 'epoch-1.pt')
    assert (kept.finished, kept.epochs, kept.epoch, kept.valid_accuracy) == (True, 1, 1, result.history[0])
    assert kept.uuid == result.uuid and kept.key == result.key
    assert train(TinyConfigs(), settings, cifar_data).uuid == result.uuid


# ## Divergence

def test_divergence_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, image_folder, cifar_data,
                                                                      smoke_settings_for):
    """
    With a learning rate of $10^{30}$ the weights overflow in the third epoch
    (the one-cycle schedule starts at 0): the run stops there, its checkpoint
    is the second epoch's, finite and unfinished, and the same command
    resumes from it and stops again rather than marking anything finished.
    """
    settings = smoke_settings_for('small', image_folder, tmp_path, epochs=3, learning_rate=1e30)
    for _ in range(2):
        with pytest.raises(Diverged, match='diverged in epoch 3'):
            train(TinyConfigs(), settings, cifar_data)
        [record] = find_runs(str(tmp_path), 'small-smoke')
        assert record.epoch == 2 and not record.finished and has_finite_weights(record.path)


def _poison(path: Path):
    """
    Write NaN into a checkpoint's weights, as a trainer without the
    divergence check would have saved them.
    """
    state = torch.load(path, map_location='cpu', weights_only=False)
    next(iter(state['model'].values())).fill_(float('nan'))
    torch.save(state, path)


def test_a_run_with_non_finite_weights_is_not_reused(tmp_path, capsys, image_folder, cifar_data,
                                                     smoke_settings_for):
    settings = smoke_settings_for('small', image_folder, tmp_path, epochs=1)
    first = train(TinyConfigs(), settings, cifar_data)
    _poison(first.path)
    assert not has_finite_weights(first.path)
    capsys.readouterr()
    second = train(TinyConfigs(), settings, cifar_data)
    assert second.uuid != first.uuid and has_finite_weights(second.path)
    assert f'run {first.uuid} has weights that are not finite numbers' in capsys.readouterr().out


def test_weights_check_does_not_wait_per_step(monkeypatch, tmp_path, image_folder, cifar_data, smoke_settings_for):
    """
    The divergence check runs once an epoch, not at every step.
    """
    calls = []
    original = trainer.weights_are_finite
    monkeypatch.setattr(trainer, 'weights_are_finite', lambda model: calls.append(1) or original(model))
    train(TinyConfigs(), smoke_settings_for('small', image_folder, tmp_path, epochs=2), cifar_data)
    assert len(calls) == 2


def test_lock_is_released_when_the_block_ends(tmp_path):
    with run_lock(tmp_path / 'run', 'a run'):
        with pytest.raises(RunBusy, match='a run is being trained right now by process'):
            with run_lock(tmp_path / 'run', 'a run'):
                pass
    with run_lock(tmp_path / 'run', 'a run'):
        pass


# ## Commands started together, and commands killed

def _small_command(image_folder, logs: Path) -> list:
    return ['--data-dir', str(image_folder), '--logs-dir', str(logs), '--profile', 'smoke', '--device', 'cpu']


def test_two_commands_started_together_train_one_run(tmp_path, image_folder):
    """
    Two identical commands started at once, with no run yet: before the
    first checkpoint neither could find the other's run. One trains; the
    other waits for it, saying so, and reuses the finished run.
    """
    argv = [sys.executable, '-m', 'labml_nn.distillation.cifar10.train', 'small',
            *_small_command(image_folder, tmp_path / 'logs')]
    processes = [subprocess.Popen(argv, cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
    done = [(p.wait(timeout=300), *p.communicate()) for p in processes]
    assert all(status == 0 and 'Traceback' not in err for status, _, err in done), done
    [run] = find_runs(str(tmp_path / 'logs'), 'small-smoke')
    assert run.finished and len(list((tmp_path / 'logs' / 'small-smoke').iterdir())) == 1
    assert sum(f'reusing the finished run {run.uuid}' in out for _, out, _ in done) == 1, done


# Run in a process of its own: the small command, killed (SIGKILL) as it
# renames its first checkpoint into place
KILLED_AT_FIRST_CHECKPOINT = """
import os, signal, sys
from labml_nn.distillation.cifar10.train import main
rename = os.replace

def killed(source, target):
    if str(target).endswith('checkpoint.pt'):
        os.kill(os.getpid(), signal.SIGKILL)
    rename(source, target)

os.replace = killed
main(['small', *sys.argv[1:]])
"""


def test_a_command_killed_before_its_first_checkpoint_leaves_nothing_behind(tmp_path, image_folder, capsys):
    """
    Killed while writing its first checkpoint, a command leaves a run folder
    with no checkpoint and a temporary file in it. The same command trains
    the run in that folder and removes the temporary file: one run, no `*.tmp`.
    """
    logs = tmp_path / 'logs'
    killed = subprocess.run([sys.executable, '-c', KILLED_AT_FIRST_CHECKPOINT, *_small_command(image_folder, logs)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    [orphan] = (logs / 'small-smoke').iterdir()
    assert list(orphan.glob('checkpoints/*.tmp'))
    from labml_nn.distillation.cifar10.train import main
    main(['small', *_small_command(image_folder, logs)])
    assert f'run {orphan.name} ended before its first checkpoint' in capsys.readouterr().out
    [run] = find_runs(str(logs), 'small-smoke')
    assert run.finished and run.uuid == orphan.name
    assert list((logs / 'small-smoke').iterdir()) == [orphan] and not list(logs.rglob('*.tmp'))


def _contents(folder: Path) -> dict:
    """
    Every file under `folder`, by its path there, with its bytes.
    """
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob('*')) if path.is_file()}


def test_a_finished_run_cut_short_is_named_and_left_as_it_is(tmp_path, capsys, image_folder, cifar_data,
                                                             smoke_settings_for):
    """
    A finished run whose `checkpoint.pt` was cut short (a copy interrupted,
    a disk that filled) cannot be reused: the same command says that the
    checkpoint cannot be read and that the run is left as it is, trains a new
    run beside it, and does not touch the damaged run's folder.
    """
    settings = smoke_settings_for('small', image_folder, tmp_path, epochs=1)
    first = train(TinyConfigs(), settings, cifar_data)
    damaged = first.path.parent.parent
    first.path.write_bytes(first.path.read_bytes()[:first.path.stat().st_size // 2])
    before = _contents(damaged)
    capsys.readouterr()
    second = train(TinyConfigs(), settings, cifar_data)
    out = capsys.readouterr().out
    assert out.count(f'small-smoke: the checkpoint of run {first.uuid} cannot be read (damaged or cut short), '
                     f'so that run is left as it is and not used: {first.path}') == 1, out
    assert second.uuid != first.uuid and second.finished
    assert second.path.parent.parent.parent == damaged.parent
    assert _contents(damaged) == before
