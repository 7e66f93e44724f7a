"""
Tests of `lm.sample`, the command that prints what each model writes: how a
run is named (an id is literal text or a unique prefix, never a pattern),
and the one-line errors for a prompt, a temperature or weights it cannot
sample from.
"""

import shutil
from pathlib import Path
from typing import Callable, Dict

import pytest
import torch

from labml_nn.distillation.lm.distill import load_model
from labml_nn.distillation.lm.sample import main as sample_main
from labml_nn.distillation.lm.train import main as train_main
from labml_nn.distillation.lm.transformer import sample

from tests.distillation.lm.test_lm_train import write_text

pytestmark = pytest.mark.usefixtures('outside_the_repository')


@pytest.fixture(scope='module')
def teacher_logs(tmp_path_factory) -> Path:
    """
    A logs folder with one finished smoke-profile teacher, trained once for the module.
    """
    root = tmp_path_factory.mktemp('sample')
    text = write_text(root / 'text')
    with pytest.MonkeyPatch.context() as patch:
        # Outside a git repository labml does not record its state, which takes seconds
        patch.chdir(root)
        train_main(['teacher', '--data-dir', str(text), '--logs-dir', str(root / 'logs'), '--profile', 'smoke',
                    '--device', 'cpu'])
    return root / 'logs'


@pytest.fixture
def logs(tmp_path, teacher_logs) -> Path:
    """
    A copy of the teacher's logs folder that a test may add runs to.
    """
    return Path(shutil.copytree(teacher_logs, tmp_path / 'logs'))


def _runs(logs: Path) -> Path:
    return logs / 'lm-teacher-smoke'


def _the_teacher(logs: Path) -> Path:
    [run] = _runs(logs).iterdir()
    return run


def _copy_run(logs: Path, uuid: str, change: Callable[[Dict], None] = lambda state: None) -> Path:
    """
    A copy of the teacher's run under the id `uuid`, its checkpoint changed by `change`.
    """
    run = Path(shutil.copytree(_the_teacher(logs), _runs(logs) / uuid))
    path = run / 'checkpoints' / 'checkpoint.pt'
    state = torch.load(path, weights_only=False)
    state['uuid'] = uuid
    change(state)
    torch.save(state, path)
    return run


def _sample(logs: Path, *argv: str):
    """
    The command on `logs`, with a prompt that fits the smoke profile's context of 16 bytes unless `argv` gives one.
    """
    sample_main(['--logs-dir', str(logs), '--profile', 'smoke', '--prompt', 'x_', *argv])


def _refused(capsys, logs: Path, *argv: str) -> str:
    """
    The one line of standard error a refused command ends with, nothing printed before it.
    """
    with pytest.raises(SystemExit) as exit_:
        _sample(logs, *argv)
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and out == ''
    assert err.startswith('error: ') and err.count('\n') == 1, err
    return err


# ## Naming a run

@pytest.mark.parametrize('pattern', ['*', '?' * 32, '[0-9a-f]*'])
def test_a_run_id_is_not_a_pattern(logs, capsys, pattern):
    """
    `*`, `?`s as long as an id and `[...]` match the teacher's run as glob
    patterns; as ids they name no run.
    """
    err = _refused(capsys, logs, pattern)
    assert f'no run {pattern} in {logs}' in err


def test_a_unique_prefix_names_a_run_and_the_run_is_named(logs, capsys):
    teacher = _the_teacher(logs)
    _sample(logs, teacher.name[:6])
    out = capsys.readouterr().out
    assert out.startswith(f'--- lm-teacher-smoke/{teacher.name}: teacher, seed 0')


def test_an_ambiguous_prefix_names_every_run_it_could_be(logs, capsys):
    teacher = _the_teacher(logs)
    twin = _copy_run(logs, teacher.name[:6] + 'f' * 26)
    err = _refused(capsys, logs, teacher.name[:6])
    assert f'{teacher.name[:6]} is the start of 2 runs' in err
    assert f'lm-teacher-smoke/{teacher.name}' in err and f'lm-teacher-smoke/{twin.name}' in err


def test_an_empty_run_id_is_refused(logs, capsys):
    assert 'an empty run id' in _refused(capsys, logs, '')


def test_an_unknown_profile_is_refused(logs, capsys):
    """
    The profile names a folder of runs too: `*` would be every profile's.
    """
    with pytest.raises(SystemExit) as exit_:
        _sample(logs, '--profile', '*')
    assert exit_.value.code == 2 and "invalid choice: '*'" in capsys.readouterr().err


# ## The prompt

def test_an_empty_prompt_is_refused(logs, capsys):
    with pytest.raises(SystemExit) as exit_:
        _sample(logs, '--prompt', '')
    assert exit_.value.code == 2
    assert 'argument --prompt: an empty prompt' in capsys.readouterr().err


def test_a_prompt_is_its_bytes_even_those_not_utf8(logs, capsys):
    """
    A byte that is not UTF-8 reaches Python's `argv` as a surrogate
    (`\\udcff` for `\\xff`); the model reads the byte itself.
    """
    _sample(logs, '--prompt', 'x\udcff')
    assert '\n' + b'x\xff'.decode(errors='replace') in capsys.readouterr().out


# ## The temperature

def test_any_positive_temperature_samples(logs, capsys):
    """
    At $\tau = 10^{-300}$, $z / \tau$ overflows float32 (before the sampler
    shifted the logits, the probabilities were not numbers); shifted, the
    sample is the most likely byte each time, the same as at $10^{-30}$.
    """
    model = load_model(str(_the_teacher(logs) / 'checkpoints' / 'checkpoint.pt'), 1)
    prompt = torch.tensor([list(b'x_')])
    tiny, small = (sample(model, prompt, 4, torch.Generator().manual_seed(seed), tau)
                   for seed, tau in ((0, 1e-300), (1, 1e-30)))
    assert torch.equal(tiny, small)
    _sample(logs, '--temperature', '1e-300')
    assert capsys.readouterr().out.startswith('--- lm-teacher-smoke/')


# ## The weights

def _not_finite(state: Dict):
    state['model'] = {name: torch.full_like(w, float('nan')) if w.is_floating_point() else w
                      for name, w in state['model'].items()}


def test_a_run_with_weights_that_are_not_numbers_is_refused(logs, capsys):
    run = _copy_run(logs, 'a' * 32, _not_finite)
    err = _refused(capsys, logs, run.name)
    assert 'has weights that are not finite numbers (its training diverged)' in err


def test_without_runs_named_a_diverged_run_is_passed_over(logs, capsys):
    """
    By default the newest finished run with finite weights is sampled from, and named.
    """
    teacher = _the_teacher(logs)
    _copy_run(logs, 'b' * 32, lambda state: (_not_finite(state), state.update(updated=state['updated'] + 1)))
    _sample(logs)
    assert capsys.readouterr().out.startswith(f'--- lm-teacher-smoke/{teacher.name}: teacher, seed 0')
