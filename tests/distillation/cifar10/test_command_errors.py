"""
Tests of the commands under misuse: each mistake ends with one clear message
and its exit status, before any work, with no traceback and no empty run
folder. (Bad option values are in `test_train.py`.)

Runs use the `smoke` profile on the CPU, on tiny image folders.
"""

import os
import tempfile

import pytest
import torch

from labml_nn.distillation.cifar10 import pipeline, study, trainer
from labml_nn.distillation.cifar10.small import SmallModel
from labml_nn.distillation.cifar10.train import main
from labml_nn.experiments.runs import find_runs

# labml skips recording the git state outside a repository (see conftest.py)
pytestmark = pytest.mark.usefixtures('outside_the_repository')


def _fails(capsys, command, argv, status=2) -> str:
    """
    Run a command that must fail; returns what it printed on standard error.
    """
    with pytest.raises(SystemExit) as exit_:
        command(argv)
    assert exit_.value.code == status
    err = capsys.readouterr().err
    assert 'Traceback' not in err
    return err


def _distill(data, logs, *more):
    return ['--data-dir', str(data), '--logs-dir', str(logs), '--profile', 'smoke', '--device', 'cpu', *more]


# ## The teacher

@pytest.mark.parametrize('content', [os.urandom(2000), b'# labml_nn\n\nAn annotated PyTorch implementation.\n'])
def test_teacher_that_is_not_a_checkpoint(tmp_path, capsys, image_folder, content):
    path = tmp_path / 'teacher.pt'
    path.write_bytes(content)
    err = _fails(capsys, lambda a: main(['distilled', *a]), _distill(image_folder, tmp_path / 'logs',
                                                                    '--teacher', str(path)))
    assert f'{path} is not a checkpoint of this trainer' in err
    assert not (tmp_path / 'logs' / 'distilled-smoke').exists()


def test_teacher_whose_weights_do_not_fit_the_large_model(tmp_path, capsys, image_folder, cifar_data, teacher_run):
    """
    A teacher's checkpoint that holds other weights: the message names the
    keys and shapes that do not fit.
    """
    path = tmp_path / 'teacher.pt'
    state = torch.load(teacher_run['path'], map_location='cpu', weights_only=False)
    state['model'] = SmallModel(len(cifar_data.classes)).state_dict()
    torch.save(state, path)
    err = _fails(capsys, lambda a: main(['distilled', *a]), _distill(image_folder, tmp_path / 'logs',
                                                                    '--teacher', str(path)))
    assert 'do not fit the large model' in err and 'missing: layers.' in err
    assert 'wrong shapes: layers.' in err and '(expected (' in err
    assert not (tmp_path / 'logs' / 'distilled-smoke').exists()


def test_teacher_with_other_classes_than_the_data(tmp_path, capsys, make_image_folder, teacher_run):
    """
    The session's teacher knows 4 classes; data with 3 is refused by both
    the distillation command and the study, before any training.
    """
    data = make_image_folder(tmp_path / 'three', classes=('cat', 'dog', 'ship'), train=4, test=None)
    expected = f"the teacher {teacher_run['path']} has 4 classes and the data has 3"
    err = _fails(capsys, lambda a: main(['distilled', *a]), _distill(data, tmp_path / 'logs',
                                                                    '--teacher', str(teacher_run['path'])))
    assert expected in err
    err = _fails(capsys, pipeline.main, _distill(data, tmp_path / 'logs', '--teacher', str(teacher_run['path']),
                                                 '--out', str(tmp_path / 'out')))
    assert expected in err
    assert not (tmp_path / 'logs').exists() or not list((tmp_path / 'logs').iterdir())


def test_teacher_with_other_class_names_than_the_data(tmp_path, capsys, make_image_folder, teacher_run):
    """
    The session's teacher knows bird, cat, dog and ship; the same images
    with `bird` renamed `zz_bird` number the classes differently, and every
    soft target would belong to another label: refused with both lists.
    """
    data = make_image_folder(tmp_path / 'renamed', classes=('zz_bird', 'cat', 'dog', 'ship'), train=4, test=None)
    expected = (f"the teacher {teacher_run['path']} was trained on the classes bird, cat, dog, ship and the data "
                f"has cat, dog, ship, zz_bird (in label order)")
    teacher = ['--teacher', str(teacher_run['path'])]
    err = _fails(capsys, lambda a: main(['distilled', *a]), _distill(data, tmp_path / 'logs', *teacher))
    assert expected in err
    err = _fails(capsys, pipeline.main, _distill(data, tmp_path / 'logs', *teacher, '--out', str(tmp_path / 'out')))
    assert expected in err
    assert not (tmp_path / 'logs').exists() or not list((tmp_path / 'logs').iterdir())


def test_diverged_teacher_is_not_a_teacher(tmp_path, capsys, image_folder, teacher_run):
    """
    A finished teacher run whose weights are not finite (saved by a trainer
    without the divergence check) is found neither as `latest` nor by path.
    """
    from labml_nn.distillation.cifar10.teacher import TeacherNotFound, find_teacher
    import shutil
    logs = tmp_path / 'logs'
    shutil.copytree(teacher_run['logs_dir'], logs)
    [record] = find_runs(str(logs), 'large-smoke')
    state = torch.load(record.path, map_location='cpu', weights_only=False)
    state['model']['fc.bias'].fill_(float('inf'))
    torch.save(state, record.path)
    with pytest.raises(TeacherNotFound):
        find_teacher('latest', str(logs), 'smoke')
    err = _fails(capsys, lambda a: main(['distilled', *a]), _distill(image_folder, logs, '--teacher', str(record.path)))
    assert 'weights that are not finite numbers' in err


# ## Output folders

def _read_only(monkeypatch, folder):
    """
    Make writing a file into `folder` fail as on a read-only folder. The
    tests run as root in CI, where `chmod` does not stop writes.
    """
    original = tempfile.TemporaryFile

    def refuse(*args, dir=None, **kwargs):
        if dir is not None and os.path.abspath(dir) == os.path.abspath(folder):
            raise PermissionError(13, 'Permission denied')
        return original(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, 'TemporaryFile', refuse)


def test_unfinished_teacher_is_not_a_teacher_but_a_kept_epoch_is(tmp_path, capsys, image_folder, teacher_run):
    """
    A teacher's checkpoint from before its last epoch is refused with what
    to do; the epoch it kept, `epoch-1.pt`, is a finished teacher of one epoch.
    """
    state = torch.load(teacher_run['path'], map_location='cpu', weights_only=False)
    path = tmp_path / 'unfinished.pt'
    torch.save(state | {'finished': False, 'epoch': 1}, path)
    argv = _distill(image_folder, tmp_path / 'logs', '--teacher', str(path))
    err = _fails(capsys, lambda a: main(['distilled', *a]), argv)
    assert 'stopped after epoch 1 of 2, not finished' in err and 'epoch-N.pt' in err
    kept = teacher_run['path'].parent / 'epoch-1.pt'
    main(['distilled', *_distill(image_folder, tmp_path / 'logs', '--teacher', str(kept), '--epochs', '1')])
    assert 'distilled: validation accuracy' in capsys.readouterr().out


def test_a_mistyped_data_folder_makes_no_folder(tmp_path, monkeypatch, capsys):
    """
    Refused for its data, a command leaves behind no logs or output folder it would have made.
    """
    monkeypatch.chdir(tmp_path)
    _fails(capsys, lambda a: main(['small', *a]), ['--data-dir', 'dta', '--profile', 'smoke'])
    _fails(capsys, pipeline.main, ['--data-dir', 'dta', '--profile', 'smoke'])
    assert list(tmp_path.iterdir()) == []


def test_read_only_logs_folder(tmp_path, monkeypatch, capsys, image_folder):
    logs = tmp_path / 'logs'
    logs.mkdir()
    _read_only(monkeypatch, logs)
    err = _fails(capsys, lambda a: main(['small', *a]), _distill(image_folder, logs))
    assert f'error: cannot write to --logs-dir {logs}: Permission denied' in err
    assert list(logs.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes into read-only folders')
def test_read_only_logs_folder_by_its_mode(tmp_path, capsys, image_folder):
    logs = tmp_path / 'logs'
    logs.mkdir(mode=0o555)
    err = _fails(capsys, lambda a: main(['small', *a]), _distill(image_folder, logs))
    assert f'cannot write to --logs-dir {logs}' in err


def test_read_only_study_output_is_refused_before_training(tmp_path, monkeypatch, capsys, image_folder):
    out = tmp_path / 'out'
    out.mkdir()
    _read_only(monkeypatch, out)
    monkeypatch.setattr(trainer, '_train_epoch', lambda *a, **k: pytest.fail('trained before checking --out'))
    err = _fails(capsys, pipeline.main, _distill(image_folder, tmp_path / 'logs', '--out', str(out)))
    assert f'error: cannot write to --out {out}: Permission denied' in err


def test_stray_checkpoint_in_the_logs(tmp_path, capsys, image_folder, teacher_run):
    """
    A `checkpoint.pt` that another program left under `logs/` is skipped by
    the training commands and the teacher lookup.
    """
    import shutil
    logs = tmp_path / 'logs'
    shutil.copytree(teacher_run['logs_dir'], logs)
    for name in ('small-smoke', 'large-smoke', 'distilled-smoke'):
        stray = logs / name / 'stray' / 'checkpoints' / 'checkpoint.pt'
        stray.parent.mkdir(parents=True)
        torch.save({'epoch': 1, 'weights': torch.ones(3)}, stray)
    main(['small', *_distill(image_folder, logs, '--epochs', '1')])
    main(['distilled', *_distill(image_folder, logs, '--epochs', '1', '--teacher', 'latest')])
    out = capsys.readouterr().out
    assert 'small: validation accuracy' in out and 'distilled: validation accuracy' in out


# ## Ctrl-C

@pytest.mark.parametrize('command', ['small', 'pipeline'])
@pytest.mark.usefixtures('ctrl_c_in_second_epoch')
def test_ctrl_c_is_one_line_and_status_130(tmp_path, capsys, image_folder, teacher_run, command):
    if command == 'small':
        err = _fails(capsys, lambda a: main(['small', *a]), _distill(image_folder, tmp_path / 'logs', '--epochs', '2'),
                     status=130)
    else:
        err = _fails(capsys, pipeline.main, _distill(image_folder, tmp_path / 'logs', '--teacher',
                                                     str(teacher_run['path']), '--out', str(tmp_path / 'out')),
                     status=130)
    assert err.strip() == 'interrupted after epoch 1; run the same command to resume'
    [record] = find_runs(str(tmp_path / 'logs'), 'small-smoke')
    assert record.epoch == 1 and not record.finished


def test_ctrl_c_stops_the_runs_side_by_side(tmp_path, capsys, monkeypatch, image_folder, teacher_run):
    """
    Ctrl-C while runs train side by side (here, as the first of them
    finishes) stops every worker and ends with the one line.
    """
    import multiprocessing

    def ctrl_c_at_the_first_result(message):
        if 'validation accuracy' in message:
            raise KeyboardInterrupt

    monkeypatch.setattr(study, 'say', ctrl_c_at_the_first_result)
    err = _fails(capsys, pipeline.main, _distill(image_folder, tmp_path / 'logs', '--study', 'weight', '--jobs', '2',
                                                 '--teacher', str(teacher_run['path']), '--out', str(tmp_path / 'out')),
                 status=130)
    assert err.strip() == 'interrupted; run the same command to resume'
    assert not multiprocessing.active_children() and not (tmp_path / 'out').exists()
    # Stopped, not left to finish: of the five runs, the first and at most the two that started next
    finished = [r for name in ('small-smoke', 'distilled-smoke') for r in find_runs(str(tmp_path / 'logs'), name)
                if r.finished]
    assert 1 <= len(finished) <= 3


def test_divergence_from_the_command_line(tmp_path, capsys, image_folder):
    err = _fails(capsys, lambda a: main(['small', *a]),
                 _distill(image_folder, tmp_path, '--epochs', '3', '--learning-rate', '1e30'), status=1)
    assert 'diverged in epoch 3' in err and 'The checkpoint of epoch 2 is kept' in err
    [record] = find_runs(str(tmp_path), 'small-smoke')
    assert not record.finished


def test_divergence_message_is_a_line_of_its_own(tmp_path, capsys, image_folder, monkeypatch):
    """
    Diverging in the first epoch (made so by the weights' check): the
    progress line is ended before the message, which says that nothing was
    saved rather than naming a checkpoint of epoch 0.
    """
    monkeypatch.setattr(trainer, 'weights_are_finite', lambda model: False)
    with pytest.raises(SystemExit) as exit_:
        main(['small', *_distill(image_folder, tmp_path)])
    assert exit_.value.code == 1
    captured = capsys.readouterr()
    assert 'diverged in epoch 1' in captured.err and 'Nothing was saved' in captured.err
    assert 'checkpoint' not in captured.err
    assert captured.out.endswith('\n')


def test_a_full_disk_while_saving_is_one_message(tmp_path, capsys, image_folder, monkeypatch):
    """
    The disk fills up during the second epoch's checkpoint: `torch.save`
    fails (as it does, with a `RuntimeError` of its stream), and so does
    labml's own last write as the run ends. One message, the first epoch's
    checkpoint kept whole, no temporary file left.
    """
    from labml.internal.experiment import Experiment
    saves = []
    real_save = torch.save

    def save(state, path, *args, **kwargs):
        saves.append(path)
        if len(saves) == 2:
            raise RuntimeError('basic_ios::clear: iostream error')
        return real_save(state, path, *args, **kwargs)

    def finish(*args, **kwargs):
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(torch, 'save', save)
    monkeypatch.setattr(Experiment, 'finish', finish)
    err = _fails(capsys, lambda a: main(['small', *a]), _distill(image_folder, tmp_path), status=1)
    assert err.count('error:') == 1 and 'cannot write the checkpoint of epoch 2' in err
    assert 'the checkpoint of epoch 1 is kept' in err
    [record] = find_runs(str(tmp_path), 'small-smoke')
    assert record.epoch == 1 and not list(tmp_path.rglob('*.tmp'))


def test_ctrl_c_while_the_workers_start(tmp_path, image_folder, teacher_run):
    """
    Ctrl-C (SIGINT to the command's process group, as a terminal sends it)
    as the workers are still starting: one line, status 130, no worker's
    traceback, and no process of the group left a few seconds later.
    """
    import signal
    import subprocess
    import sys
    import time
    argv = [sys.executable, '-m', 'labml_nn.distillation.cifar10.pipeline', *_distill(
        image_folder, tmp_path / 'logs', '--teacher', str(teacher_run['path']), '--out', str(tmp_path / 'out'),
        '--jobs', '2', '--seeds', '2')]
    out = tmp_path / 'out.txt'
    # A process started by a shell in the background ignores SIGINT; a terminal's command does not
    command = subprocess.Popen(argv, cwd=tmp_path, stdout=out.open('w'), stderr=subprocess.PIPE, text=True,
                               start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        while 'side by side' not in out.read_text() and command.poll() is None:
            time.sleep(0.1)
        # The workers take seconds to start
        time.sleep(0.3)
        os.killpg(command.pid, signal.SIGINT)
        _, err = command.communicate(timeout=60)
    finally:
        if command.poll() is None:
            command.kill()
    assert command.returncode == 130 and err.strip() == 'interrupted; run the same command to resume', err
    for _ in range(50):
        if subprocess.run(['pgrep', '-g', str(command.pid)], capture_output=True).returncode != 0:
            break
        time.sleep(0.2)
    else:
        pytest.fail('processes of the command are still running 10 s after it ended')
