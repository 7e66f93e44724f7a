"""
Tests of the warm start: a run started from a finished run begins with that
run's weights, a run that cannot be one is refused before any work, and
runs trained before the setting existed are still found.
"""

from pathlib import Path

import pytest
import torch

from labml_nn.distillation.lm import trainer
from labml_nn.distillation.lm.train import main, profile_settings
from tests.distillation.lm.test_lm_train import _args, _checkpoints

pytestmark = pytest.mark.usefixtures('outside_the_repository')


@pytest.fixture(scope='module')
def finished(tmp_path_factory, text) -> Path:
    """
    The checkpoint of a finished smoke student, in a logs folder of its own.
    """
    logs = tmp_path_factory.mktemp('logs')
    main(_args(text, logs, 'student'))
    [path] = _checkpoints(logs, 'student')
    return path


def _first_weights(monkeypatch) -> list:
    """
    The weights each run's steps start from, as they start.
    """
    started, real = [], trainer._train_steps

    def capture(c, *args):
        started.append({k: v.clone() for k, v in c.model.state_dict().items()})
        return real(c, *args)

    monkeypatch.setattr(trainer, '_train_steps', capture)
    return started


def test_a_warm_start_begins_with_the_finished_runs_weights(text, finished, monkeypatch):
    logs = finished.parents[3]
    warm = torch.load(finished, weights_only=False)
    started = _first_weights(monkeypatch)
    main(_args(text, logs, 'student', '--warm-start', warm['uuid'], '--steps', '2', '--seed', '1'))
    [with_warm_start] = started
    assert all(torch.equal(with_warm_start[k], v) for k, v in warm['model'].items())
    # A run of its own, named by the run it started from, with its own steps
    runs = [torch.load(p, weights_only=False) for p in _checkpoints(logs, 'student')]
    [run] = [r for r in runs if r['settings'].get('warm_start')]
    assert run['settings']['warm_start'] == warm['uuid'] and run['step'] == 2 and run['uuid'] != warm['uuid']


def test_warm_starts_that_cannot_be_are_refused_before_any_work(tmp_path, text, finished, capsys):
    logs = finished.parents[3]
    state = torch.load(finished, weights_only=False)
    unfinished = logs / 'lm-student-smoke' / 'unfinished' / 'checkpoints' / 'checkpoint.pt'
    unfinished.parent.mkdir(parents=True)
    torch.save(state | {'uuid': 'unfinished', 'finished': False, 'step': 2}, unfinished)
    for run, more, message in (('0123abcd', [], 'no run with that id'), ('*', [], 'no run with that id'),
                               ('unfinished', [], 'stopped at step 2 of 4'),
                               (state['uuid'], ['--d-model', '32'], '--d-model 16 against 32')):
        folders = sorted(logs.glob('lm-*/*'))
        with pytest.raises(SystemExit) as exit_:
            main(_args(text, logs, 'student', '--warm-start', run, *more))
        err = capsys.readouterr().err
        assert exit_.value.code == 2 and message in err and 'Traceback' not in err, (run, err)
        assert sorted(logs.glob('lm-*/*')) == folders


def test_runs_trained_before_the_new_settings_are_found(tmp_path, text):
    """
    A run whose settings have no warm start, as every run trained before the
    setting existed, is the run of a command with no warm start.
    """
    settings = profile_settings('smoke', 'student') | {'data_dir': str(text), 'logs_dir': str(tmp_path)}
    assert settings['warm_start'] == ''
    earlier = trainer.train(trainer.LMConfigs(), {k: v for k, v in settings.items() if k != 'warm_start'})
    assert trainer.train(trainer.LMConfigs(), settings).uuid == earlier.uuid
    assert trainer.train(trainer.LMConfigs(), settings | {'steps': 2}).uuid != earlier.uuid
