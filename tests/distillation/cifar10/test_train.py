"""
Tests of the training commands: the command line refuses bad settings before
any work and reports missing data without a traceback; `--teacher` finds the
right checkpoint; the teacher stays a fixed function during distillation; and
an interrupted run resumes to exactly the result of an uninterrupted one.

Runs use the `smoke` profile on the CPU, on the session's tiny image folder.
"""

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from labml_nn.distillation.cifar10 import trainer
from labml_nn.distillation.cifar10.distill import DistillationConfigs
from labml_nn.distillation.cifar10.fixed_teacher import PackedForCPU, fold_batch_norm
from labml_nn.distillation.cifar10.small import SmallConfigs
from labml_nn.distillation.cifar10.teacher import TeacherNotFound, find_teacher
from labml_nn.distillation.cifar10.train import configs_for, main
from labml_nn.distillation.cifar10.trainer import train
from labml_nn.experiments.runs import find_runs


# labml skips recording the git state outside a repository (see conftest.py)
pytestmark = pytest.mark.usefixtures('outside_the_repository')


# The commands, as typed after `python -m`, and a word each one's `--help` says
TRAIN = 'labml_nn.distillation.cifar10.train'
HELP = {f'{TRAIN} large': 'teacher', f'{TRAIN} small': 'baseline', f'{TRAIN} distilled': '--teacher',
        'labml_nn.distillation.cifar10.pipeline': '--seeds'}


def usage(help_text: str) -> list:
    """
    The command a `--help` names on its usage line, as the words typed after
    `python -m` (argparse breaks a long usage line after them).
    """
    words = help_text.split()
    assert words[:3] == ['usage:', 'python', '-m'], help_text[:200]
    return list(itertools.takewhile(lambda word: not word.startswith('['), words[3:]))


@pytest.fixture(scope='module')
def fresh_interpreters(tmp_path_factory):
    """
    The commands that need a fresh interpreter, started side by side (each
    spends seconds importing torch): `--help` of the four commands, and the
    baseline on an empty data folder with no network, the network being a
    proxy nobody listens on. Returns `{name: (status, stdout, stderr)}` and
    the folders of the data-less run.
    """
    folder = tmp_path_factory.mktemp('no-data')
    empty, logs = folder / 'empty', folder / 'logs'
    empty.mkdir()
    unreachable = 'http://127.0.0.1:9'
    offline = {k: v for k, v in os.environ.items() if k.lower() not in ('no_proxy', 'http_proxy', 'https_proxy')}
    offline |= {'http_proxy': unreachable, 'https_proxy': unreachable,
                'HTTP_PROXY': unreachable, 'HTTPS_PROXY': unreachable}
    commands = {command: (['-m', *command.split(), '--help'], None) for command in HELP}
    commands['no-data'] = (['-m', TRAIN, 'small', '--data-dir', str(empty), '--logs-dir', str(logs),
                            '--profile', 'smoke', '--device', 'cpu'], offline)
    running = {name: subprocess.Popen([sys.executable, *args], cwd=folder, env=env, text=True,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for name, (args, env) in commands.items()}
    done = {}
    try:
        for name, process in running.items():
            out, err = process.communicate(timeout=300)
            done[name] = (process.returncode, out, err)
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
                process.wait()
    return done, empty, logs


# ## The command line

@pytest.mark.parametrize('model_name, argv, message', [
    ('small', ['--epochs', '0'], 'must be positive and finite, got 0'),
    ('large', ['--epochs', '-3'], 'must be positive and finite, got -3'),
    ('small', ['--train-size', '-5'], 'must be 0 or more and finite, got -5'),
    ('small', ['--train-size=-1'], 'must be 0 or more and finite, got -1'),
    ('small', ['--profile', 'huge'], "invalid choice: 'huge'"),
    ('small', ['--batch-size', '0'], 'must be positive'),
    ('small', ['--learning-rate', 'fast'], "invalid float value: 'fast'"),
    ('distilled', ['--temperature', '0'], 'must be from 1e-18 to 1e+19, got 0'),
    ('distilled', ['--seed', '-1'], 'must be 0 to 18446744073709551615, got -1'),
    ('small', ['--seed', str(2 ** 64)], 'must be 0 to 18446744073709551615, got 18446744073709551616'),
    ('small', ['--valid-size', 'many'], "invalid int value: 'many'"),
    ('small', ['--train-size', '1.5'], "invalid int value: '1.5'"),
    ('distilled', ['--soft-target-weight', '-1'], 'must be 0 or more and finite, got -1'),
    ('distilled', ['--label-loss-weight', 'nan'], 'must be 0 or more and finite, got nan'),
    ('distilled', ['--temperature', 'inf'], 'must be from 1e-18 to 1e+19, got inf'),
    ('distilled', ['--temperature', '1e300'], 'must be from 1e-18 to 1e+19, got 1e300'),
    ('distilled', ['--temperature', '1e-40'], 'must be from 1e-18 to 1e+19, got 1e-40'),
    ('distilled', ['--soft-target-weight', '0', '--label-loss-weight', '0'],
     '--soft-target-weight and --label-loss-weight are both 0'),
    ('small', ['--learning-rate', '1e999'], 'must be positive and finite'),
    ('small', ['--device', 'bogus'], "unknown device 'bogus'; use cpu, cuda or cuda:N"),
    ('small', ['--device', 'meta'], "device 'meta' is not supported; use cpu or cuda"),
])
def test_bad_arguments_stop_before_any_work(tmp_path, capsys, model_name, argv, message):
    logs, data = tmp_path / 'logs', tmp_path / 'data'
    with pytest.raises(SystemExit) as exit_:
        main([model_name, '--data-dir', str(data), '--logs-dir', str(logs), *argv])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert 'usage:' in err and message in err
    # Nothing was written: not the logs folder, not a download
    assert not logs.exists() and not data.exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason='this machine has a CUDA device')
@pytest.mark.parametrize('name', ['cuda', 'cuda:1'])
def test_absent_cuda_device_is_a_usage_error(tmp_path, capsys, name):
    with pytest.raises(SystemExit) as exit_:
        main(['small', '--data-dir', str(tmp_path / 'data'), '--logs-dir', str(tmp_path / 'logs'), '--device', name])
    assert exit_.value.code == 2
    assert 'no CUDA device here; use --device cpu' in capsys.readouterr().err
    assert not (tmp_path / 'logs').exists()


def test_cuda_device_beyond_the_count_is_a_usage_error(tmp_path, capsys):
    """
    Where CUDA devices exist, an index past them is refused, naming how many there are.
    """
    if not torch.cuda.is_available():
        pytest.skip('no CUDA device here')
    with pytest.raises(SystemExit) as exit_:
        main(['small', '--logs-dir', str(tmp_path / 'logs'), '--device', f'cuda:{torch.cuda.device_count()}'])
    assert exit_.value.code == 2
    assert 'no CUDA device' in capsys.readouterr().err


@pytest.mark.skipif(torch.backends.mps.is_available(), reason='this machine has an MPS device')
def test_absent_mps_device_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(['small', '--logs-dir', str(tmp_path / 'logs'), '--device', 'mps'])
    assert exit_.value.code == 2
    assert 'no MPS device here; use --device cpu' in capsys.readouterr().err


def test_no_data_is_a_message_not_a_traceback(fresh_interpreters):
    """
    With no data and no network, the command ends with status 2 and the
    loader's message.
    """
    done, empty, logs = fresh_interpreters
    status, out, err = done['no-data']
    assert status == 2, err
    assert 'Traceback' not in err and 'Traceback' not in out
    assert f'error: No CIFAR-10 data in {empty}' in err
    assert 'The download failed' in err
    # No run was started
    assert not list(logs.glob('*/*'))


def test_help_of_every_command(fresh_interpreters):
    done, _, _ = fresh_interpreters
    for command, mentions in HELP.items():
        status, out, err = done[command]
        assert status == 0, (command, err)
        assert usage(out) == command.split() and '--data-dir' in out and '--profile' in out, command
        assert mentions in out, command
        assert err == '', command


@pytest.mark.parametrize('model_name', [None, 'large', 'small', 'distilled'])
def test_help_does_not_import_pytorch(model_name):
    """
    `--help`, of the command and of each model, answers without importing
    PyTorch, which takes seconds: the command imports it only once it runs.
    """
    argv = [model_name, '--help'] if model_name else ['--help']
    script = (f'import runpy, sys\nsys.argv = [{TRAIN!r}, *{argv!r}]\n'
              f'try:\n    runpy.run_module({TRAIN!r}, run_name="__main__", alter_sys=True)\n'
              f'except SystemExit:\n    pass\n'
              f'print("torch imported" if "torch" in sys.modules else "torch not imported", file=sys.stderr)')
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=120)
    assert usage(result.stdout) == [TRAIN, *argv[:-1]], result.stderr
    assert result.stderr.strip() == 'torch not imported'
    # The command's own help names the three models
    assert model_name or all(f'\n    {name}' in result.stdout for name in ('large', 'small', 'distilled'))


@pytest.mark.parametrize('model_name', ['large', 'small', 'distilled'])
def test_the_help_shows_the_configurations_defaults(model_name):
    """
    The defaults `--help` reads from the source are the configurations' own.
    """
    from labml_nn.distillation.cifar10.train import BY_MACHINE, options, written_defaults
    written, configs = written_defaults(model_name), configs_for(model_name)
    for name in options(model_name):
        if name not in BY_MACHINE:
            assert written[name] == getattr(configs, name), name


def test_valid_size_too_large_is_a_message(tmp_path, image_folder, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(['small', '--data-dir', str(image_folder), '--logs-dir', str(tmp_path), '--profile', 'smoke',
                       '--device', 'cpu', '--valid-size', '1000'])
    assert exit_.value.code == 2
    assert 'error: --valid-size 1000 leaves no training images' in capsys.readouterr().err
    assert not list(tmp_path.glob('small-smoke/*/*'))


def test_a_batch_larger_than_the_training_images_is_a_message(tmp_path, image_folder, capsys):
    """
    The smoke profile holds out 8 of the 16 images and trains on batches of
    8: one more, and an epoch would be one smaller batch counted as a full one.
    """
    with pytest.raises(SystemExit) as exit_:
        main(['small', '--data-dir', str(image_folder), '--logs-dir', str(tmp_path), '--profile', 'smoke',
                       '--device', 'cpu', '--batch-size', '9'])
    assert exit_.value.code == 2
    assert ('error: --batch-size 9 is more than the 8 images there are to train on; choose --batch-size 8 or less'
            in capsys.readouterr().err)
    assert not list(tmp_path.glob('small-smoke/*/*'))


def test_images_counted_are_the_images_trained_on(tmp_path, image_folder, cifar_data, smoke_settings_for):
    """
    Without its 2 cats, the smoke profile's 8 training images are 6, fewer
    than a batch: each of the 2 epochs trains on 6 images, and counts 6.
    """
    settings = smoke_settings_for('small', image_folder, tmp_path, omit_class='cat')
    record = train(configs_for('small'), settings, cifar_data)
    assert record.finished and record.images == 2 * 6


def test_distilling_without_a_teacher_is_a_message(tmp_path, image_folder, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(['distilled', '--data-dir', str(image_folder), '--logs-dir', str(tmp_path), '--profile', 'smoke'])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert 'no finished teacher of the smoke profile' in err
    assert 'python -m labml_nn.distillation.cifar10.train large --profile smoke' in err


# ## Finding the teacher

def test_latest_with_no_runs(tmp_path):
    with pytest.raises(TeacherNotFound) as error:
        find_teacher('latest', str(tmp_path), 'smoke')
    assert 'python -m labml_nn.distillation.cifar10.train large' in str(error.value)
    assert '--profile smoke' in str(error.value) and str(tmp_path) in str(error.value)


def test_teacher_by_latest_run_id_and_path(teacher_run):
    logs = str(teacher_run['logs_dir'])
    path = Path(teacher_run['path'])
    assert path.is_file()
    assert Path(find_teacher('latest', logs, 'smoke')).resolve() == path.resolve()
    assert Path(find_teacher(teacher_run['uuid'], logs, 'smoke')).resolve() == path.resolve()
    # A run id finds the teacher whatever profile is asked for
    assert Path(find_teacher(teacher_run['uuid'], logs, 'cpu')).resolve() == path.resolve()
    # A path is taken as it is, wherever the logs are
    assert find_teacher(str(path), '/nonexistent', 'smoke') == path
    with pytest.raises(TeacherNotFound):
        find_teacher('0123456789abcdef', logs, 'smoke')
    with pytest.raises(TeacherNotFound, match='no finished teacher of the cpu profile'):
        find_teacher('latest', logs, 'cpu')


def _fake_run(logs: Path, name: str, uuid: str, finished: bool, updated: float):
    """
    A checkpoint with what `find_runs` reads, and one finite weight.
    """
    path = logs / name / uuid / 'checkpoints' / 'checkpoint.pt'
    path.parent.mkdir(parents=True)
    torch.save({'uuid': uuid, 'key': uuid, 'finished': finished, 'updated': updated, 'seed': 0, 'epochs': 1,
                'settings': {}, 'model_name': name.split('-')[0], 'model': {'w': torch.ones(2)}}, path)
    return path


def test_latest_skips_unfinished_runs_and_other_profiles(tmp_path):
    now = time.time()
    old = _fake_run(tmp_path, 'large-smoke', 'aaaa', finished=True, updated=now - 300)
    newer = _fake_run(tmp_path, 'large-smoke', 'bbbb', finished=True, updated=now - 200)
    _fake_run(tmp_path, 'large-smoke', 'cccc', finished=False, updated=now - 100)
    _fake_run(tmp_path, 'large-cpu', 'dddd', finished=True, updated=now)
    _fake_run(tmp_path, 'small-smoke', 'eeee', finished=True, updated=now)
    _fake_run(tmp_path, 'distilled-smoke', 'ffff', finished=True, updated=now)
    # An unreadable checkpoint is skipped, not fatal
    broken = tmp_path / 'large-smoke' / 'gggg' / 'checkpoints' / 'checkpoint.pt'
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b'half a checkpoint')

    assert find_teacher('latest', str(tmp_path), 'smoke') == newer
    assert find_teacher('aaaa', str(tmp_path), 'smoke') == old
    assert find_teacher('dddd', str(tmp_path), 'smoke').parent.parent.name == 'dddd'
    # An unfinished teacher is not a teacher, even by its id
    with pytest.raises(TeacherNotFound):
        find_teacher('cccc', str(tmp_path), 'smoke')
    # Nor is a student
    for student in ('eeee', 'ffff'):
        with pytest.raises(TeacherNotFound):
            find_teacher(student, str(tmp_path), 'smoke')
    # Without the finished smoke teachers, the cpu one does not stand in
    for path in (old, newer):
        path.unlink()
    with pytest.raises(TeacherNotFound):
        find_teacher('latest', str(tmp_path), 'smoke')


def test_student_checkpoint_is_not_a_teacher(tmp_path, image_folder, cifar_data, smoke_settings_for, capsys):
    """
    A checkpoint path that holds a small model is refused with a message
    before the distilled run starts, not with a `load_state_dict` traceback.
    """
    student = train(SmallConfigs(), smoke_settings_for('small', image_folder, tmp_path / 'students', epochs=1),
                    cifar_data)
    logs = tmp_path / 'logs'
    with pytest.raises(SystemExit) as exit_:
        main(['distilled', '--data-dir', str(image_folder), '--logs-dir', str(logs), '--profile', 'smoke',
                           '--device', 'cpu', '--teacher', str(student.path)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert 'error:' in err and 'small' in err and str(student.path) in err
    assert not list(logs.glob('distilled-smoke/*'))


# ## The teacher during distillation

def test_teacher_is_fixed_during_distillation(tmp_path, monkeypatch, image_folder, cifar_data, teacher_run,
                                              smoke_settings_for):
    """
    In every step the teacher is in evaluation mode (dropout off, batch
    normalization on running statistics), has no gradients, and gives none to
    the loss; after the run its weights are those of its checkpoint, with batch
    normalization folded into the convolutions.
    """
    seen = []
    original = DistillationConfigs.step

    def recording_step(self, images, labels, generator):
        teacher = self.teacher_model
        loss = original(self, images, labels, generator)
        seen.append({'training': any(m.training for m in teacher.modules()),
                     'requires_grad': any(p.requires_grad for p in teacher.parameters()),
                     'grad': any(p.grad is not None for p in teacher.parameters()),
                     'student_grad': loss.requires_grad})
        return loss

    monkeypatch.setattr(DistillationConfigs, 'step', recording_step)
    c = configs_for('distilled')
    assert isinstance(c, DistillationConfigs)
    settings = smoke_settings_for('distilled', image_folder, tmp_path, teacher=str(teacher_run['path']), epochs=1)
    result = train(c, settings, cifar_data)

    assert result.finished and result.epoch == settings['epochs']
    batches = (len(cifar_data.train.labels) - settings['valid_size']) // settings['batch_size']
    assert len(seen) == settings['epochs'] * batches
    assert all(s == {'training': False, 'requires_grad': False, 'grad': False, 'student_grad': True}
               for s in seen), seen
    teacher = c.teacher_model
    assert not any(p.grad is not None for p in teacher.parameters())
    # On the CPU the teacher's weights are packed for oneDNN, around the folded model
    assert isinstance(teacher, PackedForCPU) and teacher.dtype == (torch.bfloat16 if c.bf16 else torch.float32)
    teacher = teacher.model
    # The teacher is its checkpoint with batch normalization folded in, unchanged by training
    from labml_nn.distillation.cifar10.large import LargeModel
    expected = LargeModel(len(cifar_data.classes))
    expected.load_state_dict(torch.load(teacher_run['path'], map_location='cpu', weights_only=False)['model'])
    expected = fold_batch_norm(expected.eval()).state_dict()
    now = teacher.state_dict()
    assert expected.keys() == now.keys()
    for name in expected:
        assert torch.equal(expected[name], now[name].cpu()), name


def test_distillation_step_is_the_distillation_loss(teacher_run):
    """
    The step's loss is `DistillationLoss` of the student's and the teacher's
    logits on the same augmented batch; only the student gets gradients.
    """
    from types import SimpleNamespace
    from labml_nn.distillation.cifar10.data import augment, normalize
    from labml_nn.distillation.cifar10.large import LargeModel
    from labml_nn.distillation.cifar10.small import SmallModel
    from labml_nn.distillation.loss import DistillationLoss
    classes = len(teacher_run['record'].classes)
    teacher = LargeModel(classes)
    teacher.load_state_dict(torch.load(teacher_run['path'], map_location='cpu', weights_only=False)['model'])
    teacher.eval().requires_grad_(False)
    torch.manual_seed(0)
    student = SmallModel(classes)
    # In one process the replica the step calls is the model itself
    c = SimpleNamespace(teacher_model=teacher, teacher_cache=False, model=student, replica=student, device='cpu',
                        bf16=False, temperature=4.0, soft_target_weight=0.9, label_loss_weight=0.1)
    images = torch.randint(0, 256, (8, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    labels = torch.tensor([0, 1, 2, 3, 3, 2, 1, 0])
    loss = DistillationConfigs.step(c, images, labels, torch.Generator().manual_seed(2))
    # The same batch, augmented with the same random numbers, through the importable loss
    x = normalize(augment(images, torch.Generator().manual_seed(2)))
    with torch.no_grad():
        expected = DistillationLoss(4.0, 0.9, 0.1)(student(x), teacher(x), labels)
    torch.testing.assert_close(loss.detach(), expected)
    loss.backward()
    assert all(p.grad is not None for p in student.parameters())
    assert all(p.grad is None for p in teacher.parameters())


# ## Resuming

def _weights(path):
    return torch.load(path, map_location='cpu', weights_only=False)['model']


def test_interrupted_run_resumes_to_the_same_result(tmp_path, monkeypatch, capsys, image_folder, cifar_data,
                                                    smoke_settings_for, ctrl_c_in_second_epoch):
    settings = smoke_settings_for('small', image_folder, tmp_path / 'interrupted', epochs=2)
    original = trainer._train_epoch.__wrapped__
    epochs_trained = ctrl_c_in_second_epoch
    with pytest.raises(KeyboardInterrupt):
        train(SmallConfigs(), settings, cifar_data)

    # The checkpoint of the first epoch is there, complete, and loads into a model
    runs = find_runs(settings['logs_dir'], 'small-smoke')
    assert len(runs) == 1
    checkpoint = runs[0]
    assert checkpoint.epoch == 1 and not checkpoint.finished and len(checkpoint.history) == 1
    from labml_nn.distillation.cifar10.small import SmallModel
    SmallModel(len(cifar_data.classes)).load_state_dict(_weights(checkpoint.path))
    assert not list(Path(checkpoint.path).parent.glob('*.tmp'))

    # The same command again picks it up after the first epoch
    def counting(*args, **kwargs):
        epochs_trained.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(trainer, '_train_epoch', counting)
    epochs_trained.clear()
    capsys.readouterr()
    resumed = train(SmallConfigs(), settings, cifar_data)
    assert f'Resuming small-smoke run {checkpoint.uuid} after epoch 1' in capsys.readouterr().out
    assert len(epochs_trained) == 1
    assert resumed.uuid == checkpoint.uuid and resumed.finished and resumed.epoch == 2
    assert len(resumed.history) == 2 and resumed.history[0] == checkpoint.history[0]

    # An uninterrupted run with the same settings, elsewhere, gives the same numbers and weights
    straight = train(SmallConfigs(), settings | {'logs_dir': str(tmp_path / 'straight')}, cifar_data)
    assert straight.uuid != resumed.uuid
    for key in ('history', 'valid_accuracy', 'test_accuracy', 'images', 'parameters'):
        assert getattr(resumed, key) == getattr(straight, key), key
    a, b = _weights(resumed.path), _weights(straight.path)
    assert all(torch.equal(a[name], b[name]) for name in a)

    # Once finished, the same command trains nothing and returns the run
    epochs_trained.clear()
    again = train(SmallConfigs(), settings, cifar_data)
    assert not epochs_trained and again.uuid == resumed.uuid and again.history == resumed.history
    assert 'reusing the finished run' in capsys.readouterr().out


def test_fresh_runs_with_one_seed_are_identical(tmp_path, image_folder, cifar_data, smoke_settings_for):
    settings = smoke_settings_for('small', image_folder, tmp_path, epochs=1)
    first = train(SmallConfigs(), settings, cifar_data, fresh=True)
    second = train(SmallConfigs(), settings, cifar_data, fresh=True)
    assert first.uuid != second.uuid
    assert first.history == second.history and first.test_accuracy == second.test_accuracy
    a, b = _weights(first.path), _weights(second.path)
    assert all(torch.equal(a[name], b[name]) for name in a)
    assert len(find_runs(settings['logs_dir'], 'small-smoke')) == 2
    # Another seed is another model
    third = train(SmallConfigs(), settings | {'seed': 1}, cifar_data, fresh=True)
    c = _weights(third.path)
    assert not all(torch.equal(a[name], c[name]) for name in a)


def test_measuring_less_often_changes_only_the_history(tmp_path, image_folder, cifar_data, smoke_settings_for,
                                                      capsys):
    """
    `valid_every` 2 over 3 epochs measures after epochs 2 and 3 and trains
    the same weights as measuring after every epoch; it is not part of the
    run's identity, so the run it made is reused by the other setting.
    """
    every = smoke_settings_for('small', image_folder, tmp_path / 'every', epochs=3)
    dense = train(SmallConfigs(), every, cifar_data)
    sparse = train(SmallConfigs(), every | {'logs_dir': str(tmp_path / 'sparse'), 'valid_every': 2}, cifar_data)
    assert sparse.history == [None, dense.history[1], dense.history[2]]
    assert sparse.valid_accuracy == dense.valid_accuracy and sparse.key == dense.key
    a, b = _weights(dense.path), _weights(sparse.path)
    assert all(torch.equal(a[name], b[name]) for name in a)
    capsys.readouterr()
    again = train(SmallConfigs(), every | {'valid_every': 2}, cifar_data)
    assert again.uuid == dense.uuid and 'reusing the finished run' in capsys.readouterr().out


def test_a_compiled_run_trains_what_an_eager_one_does(tmp_path, image_folder, cifar_data, smoke_settings_for,
                                                     capsys):
    """
    `compile` changes the speed, not what is trained: a compiled run's
    weights match the eager run's up to rounding, and it is the same run,
    so the eager command reuses the compiled one. In float32: with bfloat16
    autocast (on CPUs that have it) the two round differently.
    """
    settings = smoke_settings_for('small', image_folder, tmp_path / 'compiled', epochs=1) | {'bf16': False}
    compiled = train(SmallConfigs(), settings | {'compile': True}, cifar_data)
    eager = train(SmallConfigs(), settings | {'logs_dir': str(tmp_path / 'eager'), 'compile': False}, cifar_data)
    assert compiled.key == eager.key
    a, b = _weights(compiled.path), _weights(eager.path)
    assert all(torch.allclose(a[name].float(), b[name].float(), rtol=1e-3, atol=1e-4) for name in a)
    capsys.readouterr()
    again = train(SmallConfigs(), settings, cifar_data)
    assert again.uuid == compiled.uuid and 'reusing the finished run' in capsys.readouterr().out


def test_command_line_run_and_rerun(tmp_path, image_folder, capsys):
    """
    `main` trains, prints the result, and the same command again reuses the run.
    """
    argv = ['--data-dir', str(image_folder), '--logs-dir', str(tmp_path), '--profile', 'smoke',
            '--device', 'cpu', '--epochs', '1']
    main(['small', *argv])
    out = capsys.readouterr().out
    assert 'small: validation accuracy' in out and 'test accuracy' in out
    runs = find_runs(str(tmp_path), 'small-smoke')
    assert len(runs) == 1 and runs[0].finished and runs[0].epochs == 1
    main(['small', *argv])
    assert f'reusing the finished run {runs[0].uuid}' in capsys.readouterr().out
    assert len(find_runs(str(tmp_path), 'small-smoke')) == 1


# ## Each command's configurations

@pytest.mark.parametrize('model_name, model_class', [('large', 'LargeModel'), ('small', 'SmallModel'),
                                                     ('distilled', 'SmallModel')])
def test_each_command_builds_its_own_model(model_name, model_class):
    """
    Each model module gives its own configurations' `model` its option: the
    teacher's option must not stand in for the student's, whatever was
    imported first.
    """
    c = configs_for(model_name)
    c.device, c.classes = 'cpu', 3
    assert type(c.model).__name__ == model_class and c.model.fc.out_features == 3


def test_command_line_is_derived_from_the_settings():
    """
    Every setting the command line can change is a configuration with a
    default, and has an option; every profile sets only such configurations.
    """
    from labml_nn.distillation.cifar10.train import BY_MACHINE, PROFILES, argument_parser, options, profile_settings
    for model_name in ('large', 'small', 'distilled'):
        parser_options = set(vars(argument_parser().parse_args([model_name])))
        assert set(options(model_name)) <= parser_options
        settings = profile_settings('cpu', model_name)
        assert set(options(model_name)) - set(BY_MACHINE) <= set(settings)
        assert not set(BY_MACHINE) & set(settings)
        c = configs_for(model_name)
        for profile in PROFILES.values():
            parts = {'large': ['large'], 'small': ['small'], 'distilled': ['small', 'distilled']}[model_name]
            for part in parts:
                for name in profile.get(part, {}):
                    assert hasattr(c, name), name
    # The defaults have one home: the configurations
    assert profile_settings('full', 'small')['valid_size'] == 5000 == configs_for('small').valid_size
    assert profile_settings('full', 'distilled')['temperature'] == configs_for('distilled').temperature == 4.0


@pytest.mark.parametrize('profile', ['full', 'labml'])
def test_the_gpu_profiles_train_on_the_cpu(tmp_path, image_folder, cifar_data, teacher_run, profile):
    """
    The `full` and `labml` profiles, made for a GPU, train the students on
    the CPU too: one epoch, one batch of the tiny data, with each profile's
    optimizer, schedule and distillation settings.
    """
    from labml_nn.distillation.cifar10.train import profile_settings
    tiny = {'data_dir': str(image_folder), 'logs_dir': str(tmp_path), 'device': 'cpu', 'epochs': 1,
            'batch_size': 8, 'valid_size': 8}
    for model_name in ('small', 'distilled'):
        settings = profile_settings(profile, model_name) | tiny
        if model_name == 'distilled':
            settings['teacher'] = str(teacher_run['path'])
        c = configs_for(model_name)
        record = train(c, settings, cifar_data)
        assert record.finished and record.name == f'{model_name}-{profile}'
        assert c.optimizer_name == ('sgd' if profile == 'full' else 'adam') and not c.compile
        if model_name == 'distilled':
            assert c.temperature == (4.0 if profile == 'full' else 5.0)


# labml's own reduction, which PyTorch warns about, is the point of this test
@pytest.mark.filterwarnings('ignore:reduction.*divides the total loss')
def test_the_labml_profile_is_labmls_loss_in_our_weights():
    """
    labml's loss, $100 \\cdot \\mathrm{KLDivLoss}_{mean} + 0.5 \\cdot \\mathrm{CE}$ at $T = 5$ over 10
    classes, is $0.4 \\, T^2 \\, \\mathrm{KL} + 0.5 \\, \\mathrm{CE}$: its distilled student gets
    $T = 5$, $\\alpha = 0.4$, $\\beta = 0.5$, its baseline none of them, and both Adam at labml's rate.
    """
    from labml_nn.distillation.cifar10.train import profile_settings
    distilled, small = profile_settings('labml', 'distilled'), profile_settings('labml', 'small')
    assert (distilled['temperature'], distilled['soft_target_weight'], distilled['label_loss_weight']) == (5.0, 0.4, 0.5)
    assert 'temperature' not in small
    for settings in (distilled, small):
        assert (settings['learning_rate'], settings['batch_size'], settings['epochs']) == (2.5e-4, 64, 10)
        # Adam with no schedule, the configurations' defaults
        assert settings.get('optimizer_name', 'adam') == configs_for('small').optimizer_name == 'adam'
        assert settings.get('schedule', 'constant') == configs_for('small').schedule == 'constant'
    assert profile_settings('labml', 'large')['epochs'] == 20
    # 100 * KLDivLoss(reduction='mean') averages over the batch and the 10 classes
    student, teacher = torch.randn(6, 10), torch.randn(6, 10)
    log_q, p = torch.log_softmax(student / 5, -1), torch.softmax(teacher / 5, -1)
    labml_soft = 100 * torch.nn.functional.kl_div(log_q, p, reduction='mean')
    ours = distilled['soft_target_weight'] * 5 ** 2 * torch.nn.functional.kl_div(log_q, p, reduction='batchmean')
    assert torch.allclose(labml_soft, ours)


def test_the_command_lines_temperature_limit_is_the_losss():
    """
    The command line refuses the temperatures the loss refuses: its limit,
    read from the loss's source without importing PyTorch, is the loss's own.
    """
    from labml_nn.distillation import loss
    from labml_nn.experiments import checks
    assert (checks.MIN_TEMPERATURE, checks.MAX_TEMPERATURE) == (loss.MIN_TEMPERATURE, loss.MAX_TEMPERATURE)
