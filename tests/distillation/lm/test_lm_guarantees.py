"""
The guarantees the README makes for every command, held by the language
model's commands too: identical commands train one run, mistakes end with
one line before any work, a teacher must be a finished, finite teacher, a
full disk keeps the last checkpoint, a run resumes only on its kind of
device, and `--help` answers without importing PyTorch.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from labml_nn.distillation.lm.train import main
from labml_nn.experiments import training
from tests.distillation.lm.test_lm_train import _args, _checkpoints

pytestmark = pytest.mark.usefixtures('outside_the_repository')


@pytest.fixture(scope='module')
def teacher(tmp_path_factory, text) -> Path:
    """
    A finished smoke teacher, in a logs folder of its own.
    """
    logs = tmp_path_factory.mktemp('teacher-logs')
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(logs)
        main(_args(text, logs, 'teacher'))
    [path] = _checkpoints(logs, 'teacher')
    return path


def _refused(capsys, argv) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and 'Traceback' not in err
    return err


def test_two_identical_commands_started_together_train_one_run(tmp_path, text):
    argv = [sys.executable, '-m', 'labml_nn.distillation.lm.train', *_args(text, tmp_path / 'logs', 'student')]
    processes = [subprocess.Popen(argv, cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
                 for _ in range(2)]
    done = [(p.wait(timeout=300), *p.communicate()) for p in processes]
    assert [code for code, _, _ in done] == [0, 0], done
    assert len(list((tmp_path / 'logs' / 'lm-student-smoke').iterdir())) == 1
    assert sum('reusing the finished run' in out for _, out, _ in done) == 1


def test_both_weights_zero_is_refused_before_any_work(tmp_path, text, teacher, capsys):
    err = _refused(capsys, _args(text, tmp_path / 'logs', 'distilled', '--teacher', str(teacher),
                                 '--soft-target-weight', '0', '--label-loss-weight', '0'))
    assert 'both 0' in err and not (tmp_path / 'logs').exists()


@pytest.mark.parametrize('option, value', [('--temperature', '1e20'), ('--seed', str(2 ** 64)),
                                           ('--device', 'cpu:3'), ('--logs-dir', '')])
def test_values_refused_by_the_parser(tmp_path, text, capsys, option, value):
    argv = _args(text, tmp_path / 'logs', 'distilled') + [option, value]
    if option == '--logs-dir':
        argv = [a if a != str(tmp_path / 'logs') else '' for a in argv]
    err = _refused(capsys, argv)
    assert option in err and not (tmp_path / 'logs').exists()


def test_only_a_finished_finite_teacher_teaches(tmp_path, text, teacher, capsys):
    state = torch.load(teacher, weights_only=False)
    cases = {
        'student': (state | {'model_name': 'student'}, "student's checkpoint"),
        'unfinished': (state | {'finished': False, 'step': 3}, 'stopped at step 3'),
        'nan': (state | {'model': {k: torch.full_like(v, float('nan')) for k, v in state['model'].items()}},
                'not finite'),
        'cifar': ({'key': 'k', 'epochs': 1, 'model': {}}, 'not a checkpoint of the language-model trainer'),
    }
    for name, (content, message) in cases.items():
        path = tmp_path / f'{name}.pt'
        torch.save(content, path)
        err = _refused(capsys, _args(text, tmp_path / 'logs', 'distilled', '--teacher', str(path)))
        assert message in err, (name, err)
    assert not _checkpoints(tmp_path / 'logs', 'distilled')


def test_a_full_disk_ends_with_one_message_and_keeps_the_checkpoint(tmp_path, text, capsys, monkeypatch):
    """
    The second checkpoint's write fails as on a full disk: one message, and
    the first checkpoint as it was.
    """
    real_write, writes = training.write_atomic, []

    def full_after_first(path, write):
        writes.append(path)
        if len(writes) > 1:
            raise OSError(28, 'No space left on device')
        real_write(path, write)

    monkeypatch.setattr(training, 'write_atomic', full_after_first)
    with pytest.raises(SystemExit) as exit_:
        main(_args(text, tmp_path / 'logs', 'student'))
    err = capsys.readouterr().err
    assert exit_.value.code == 1 and 'Traceback' not in err
    assert 'cannot write the checkpoint of step 4' in err and 'the checkpoint of step 2 is kept' in err
    [path] = _checkpoints(tmp_path / 'logs', 'student')
    assert torch.load(path, weights_only=False)['step'] == 2


def test_a_run_resumes_only_on_its_kind_of_device(tmp_path, text, capsys):
    main(_args(text, tmp_path / 'logs', 'student', '--steps', '8'))
    [path] = _checkpoints(tmp_path / 'logs', 'student')
    state = torch.load(path, weights_only=False)
    assert state['device_type'] == 'cpu'
    torch.save(state | {'finished': False, 'step': 4, 'device_type': 'cuda'}, path)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(_args(text, tmp_path / 'logs', 'student', '--steps', '8'))
    assert exit_.value.code == 2 and 'was started on cuda, not cpu' in capsys.readouterr().err


@pytest.mark.parametrize('command', ['labml_nn.distillation.lm.train', 'labml_nn.distillation.lm.pipeline'])
def test_help_answers_without_importing_pytorch(command):
    done = subprocess.run([sys.executable, '-X', 'importtime', '-m', command, '--help'],
                          capture_output=True, text=True, timeout=60)
    imported = [line.split('|')[-1].strip() for line in done.stderr.splitlines() if line.startswith('import time:')]
    assert done.returncode == 0 and '--threads' in done.stdout
    assert 'labml_nn.experiments.checks' in imported and 'torch' not in imported


def test_results_say_what_the_corpus_is(text):
    """
    A folder of text is named by its folder, with no Python version; the
    standard library by its Python version. The results page says the same.
    """
    from labml_nn.distillation.lm.data import corpus_words, describe, load_corpus
    from labml_nn.literate.measures import WORDS
    from labml_nn.literate.results import _corpus
    folder = describe(load_corpus(str(text)))
    assert folder['python'] == '' and 'Python' not in corpus_words(folder)
    assert corpus_words(folder).startswith('the folder text: 40 files')
    assert _corpus(folder, WORDS['en']).startswith('the text files of the folder text:')
    stdlib = folder | {'source': 'python-stdlib', 'python': '3.11.7'}
    assert corpus_words(stdlib).startswith("the standard library's source of Python 3.11.7")
    assert _corpus(stdlib, WORDS['en']).startswith('the standard library of Python 3.11.7')


def test_the_interrupt_message_names_the_step_the_checkpoint_holds(tmp_path, text, capsys, monkeypatch):
    """
    Ctrl-C while step 4 is being measured, after the checkpoint of step 2:
    the message says step 2, where the same command resumes.
    """
    from labml_nn.distillation.lm import trainer
    real, calls = trainer.bits_per_byte, []

    def interrupt_second_measure(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(trainer, 'bits_per_byte', interrupt_second_measure)
    with pytest.raises(SystemExit) as exit_:
        main(_args(text, tmp_path / 'logs', 'student'))
    assert exit_.value.code == 130 and 'interrupted after step 2;' in capsys.readouterr().err
    monkeypatch.setattr(trainer, 'bits_per_byte', real)
    main(_args(text, tmp_path / 'logs', 'student'))
    assert 'after step 2' in capsys.readouterr().out
