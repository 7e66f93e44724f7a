"""
Tests of `lm.sample`, the command that prints what each model writes: how a
run is named (by a study's variant and seed; an id is literal text or a
unique prefix, never a pattern), the default prompt in the corpus's language,
and the one-line errors for runs it cannot pick, a prompt, a temperature or
weights it cannot sample from.
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List

import pytest
import torch

from labml_nn.distillation.lm.data import load_corpus
from labml_nn.distillation.lm.distill import load_model
from labml_nn.distillation.lm.pipeline import main as pipeline_main
from labml_nn.distillation.lm.sample import PYTHON_PROMPT, main as sample_main, option_name
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


def _copy_run(run: Path, uuid: str, change: Callable[[Dict], None] = lambda state: None) -> Path:
    """
    A copy of the run folder `run` beside it under the id `uuid`, its checkpoint changed by `change`.
    """
    copy = Path(shutil.copytree(run, run.parent / uuid))
    path = copy / 'checkpoints' / 'checkpoint.pt'
    state = torch.load(path, weights_only=False)
    state['uuid'] = uuid
    change(state)
    torch.save(state, path)
    return copy


def _sample(logs: Path, *argv: str):
    """
    The command on `logs`, with a prompt that fits the smoke profile's context of 16 bytes unless `argv` gives one.
    """
    sample_main(['--logs-dir', str(logs), '--profile', 'smoke', '--prompt', 'x_', *argv])


def _refused(capsys, command: Callable[..., None], *args) -> str:
    """
    The one line of standard error `command(*args)` ends with, nothing printed before it.
    """
    with pytest.raises(SystemExit) as exit_:
        command(*args)
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and out == ''
    assert err.startswith('error: ') and err.count('\n') == 1, err
    return err


def test_help_answers_without_importing_pytorch():
    done = subprocess.run([sys.executable, '-X', 'importtime', '-m', 'labml_nn.distillation.lm.sample', '--help'],
                          capture_output=True, text=True, timeout=60)
    imported = [line.split('|')[-1].strip() for line in done.stderr.splitlines() if line.startswith('import time:')]
    assert done.returncode == 0 and '--variant' in done.stdout
    assert 'labml_nn.distillation.lm.pipeline' in imported and 'torch' not in imported


# ## Naming a run

@pytest.mark.parametrize('pattern', ['*', '?' * 32, '[0-9a-f]*'])
def test_a_run_id_is_not_a_pattern(logs, capsys, pattern):
    """
    `*`, `?`s as long as an id and `[...]` match the teacher's run as glob
    patterns; as ids they name no run.
    """
    err = _refused(capsys, _sample, logs, pattern)
    assert f'no run {pattern} in {logs}' in err


def test_a_unique_prefix_names_a_run_and_the_run_is_named(logs, capsys):
    teacher = _the_teacher(logs)
    _sample(logs, teacher.name[:6])
    out = capsys.readouterr().out
    assert out.startswith(f'--- lm-teacher-smoke/{teacher.name}: teacher, seed 0')


def test_an_ambiguous_prefix_names_every_run_it_could_be(logs, capsys):
    teacher = _the_teacher(logs)
    twin = _copy_run(teacher, teacher.name[:6] + 'f' * 26)
    err = _refused(capsys, _sample, logs, teacher.name[:6])
    assert f'{teacher.name[:6]} is the start of 2 runs' in err
    assert f'lm-teacher-smoke/{teacher.name}' in err and f'lm-teacher-smoke/{twin.name}' in err


def test_an_empty_run_id_is_refused(logs, capsys):
    assert 'an empty run id' in _refused(capsys, _sample, logs, '')


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
    run = _copy_run(_the_teacher(logs), 'a' * 32, _not_finite)
    err = _refused(capsys, _sample, logs, run.name)
    assert 'has weights that are not finite numbers (its training diverged)' in err


def test_without_runs_named_a_diverged_run_is_passed_over(logs, capsys):
    """
    By default the newest finished run with finite weights is sampled from, and named.
    """
    teacher = _the_teacher(logs)
    _copy_run(teacher, 'b' * 32, lambda state: (_not_finite(state), state.update(updated=state['updated'] + 1)))
    _sample(logs)
    assert capsys.readouterr().out.startswith(f'--- lm-teacher-smoke/{teacher.name}: teacher, seed 0')


# ## Naming runs by study, variant and seed

@pytest.fixture(scope='module')
def study_folder(tmp_path_factory) -> Path:
    """
    The limited study in the smoke profile, seeds 0 and 1, on 300 training bytes of a folder of text, run
    once for the module: `logs/`, `out/limited/results.json` and the folder `text/`.
    """
    root = tmp_path_factory.mktemp('study')
    text = write_text(root / 'text')
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(root)
        pipeline_main(['--study', 'limited', '--profile', 'smoke', '--seeds', '2', '--limited-bytes', '300',
                       '--data-dir', str(text), '--logs-dir', str(root / 'logs'), '--out', str(root / 'out')])
    return root


@pytest.fixture
def study(tmp_path, study_folder) -> Dict:
    """
    A copy of the study's logs that a test may add runs to, and the id of each run: `'teacher'`, and
    `(variant, seed)` for the students.
    """
    logs = Path(shutil.copytree(study_folder / 'logs', tmp_path / 'logs'))
    results = json.loads((study_folder / 'out' / 'limited' / 'results.json').read_text())
    ids = {(run['variant'], run['seed']): run['uuid'] for run in results['runs']}
    return {'logs': logs, 'text': study_folder / 'text', 'teacher': results['teacher']['uuid'], **ids}


def _sample_study(study: Dict, *argv: str):
    sample_main(['--logs-dir', str(study['logs']), '--profile', 'smoke', '--limited-bytes', '300', *argv])


# A sample's heading, and the id of its run
HEADING = r'^--- lm-\w+-smoke/(\w+): .*\n'


def _headed(out: str) -> List[str]:
    """
    The run id of each sample's heading, in order.
    """
    return re.findall(HEADING, out, flags=re.MULTILINE)


def _texts(out: str) -> List[str]:
    """
    The text of each sample, the prompt first.
    """
    return re.split(HEADING, out, flags=re.MULTILINE)[2::2]


def _study_run(study: Dict, model: str, uuid: str) -> Path:
    return study['logs'] / f'lm-{model}-smoke' / uuid


def test_a_variant_and_a_seed_name_one_run(study, capsys):
    _sample_study(study, '--study', 'limited', '--variant', 'distilled', '--seed', '1', '--prompt', 'x_')
    assert _headed(capsys.readouterr().out) == [study['distilled', 1]]
    _sample_study(study, '--study', 'limited', '--variant', 'distilled', '--prompt', 'x_')
    assert _headed(capsys.readouterr().out) == [study['distilled', 0]]


def test_a_study_without_variants_samples_the_teacher_and_each_variant(study, capsys):
    _sample_study(study, '--study', 'limited', '--seed', '1', '--prompt', 'x_')
    assert _headed(capsys.readouterr().out) == [study['teacher'], study['labels only', 1], study['distilled', 1]]


@pytest.mark.parametrize('spelling', ['labels only', 'labels-only', 'Labels-Only'])
def test_a_variant_is_named_as_the_tables_name_it_or_with_hyphens(study, capsys, spelling):
    _sample_study(study, '--study', 'limited', '--variant', spelling, '--variant', 'teacher', '--prompt', 'x_')
    assert _headed(capsys.readouterr().out) == [study['labels only', 0], study['teacher']]


def test_variant_option_names():
    assert option_name('JSD, λ = 0.5') == 'jsd-lambda-0.5'
    assert option_name('labels only, continued') == 'labels-only-continued'
    assert option_name('4 sampled') == '4-sampled'


def test_the_teacher_needs_no_study(study, capsys):
    _sample_study(study, '--variant', 'teacher', '--prompt', 'x_')
    assert _headed(capsys.readouterr().out) == [study['teacher']]


def test_an_unfinished_run_is_not_a_variants_run(study, capsys):
    """
    A copy of the distilled student of seed 1, not finished, is not a second run of that variant.
    """
    _copy_run(_study_run(study, 'distilled', study['distilled', 1]), 'c' * 32,
              lambda state: state.update(finished=False))
    _sample_study(study, '--study', 'limited', '--variant', 'distilled', '--seed', '1', '--prompt', 'x_')
    assert _headed(capsys.readouterr().out) == [study['distilled', 1]]


def test_a_warm_started_variant_is_the_run_started_from_its_variants_run(study, capsys):
    """
    The on-policy-warm study's `labels only, continued` has the settings of its `labels only` (the limited
    study's) and starts from that run of the same seed: a copy of it that says so is that variant, and the
    run it starts from stays the `labels only` one.
    """
    labels_only = _study_run(study, 'student', study['labels only', 0])
    continued = _copy_run(labels_only, 'a' * 32, lambda state: state['settings'].update(warm_start=labels_only.name))
    _sample_study(study, '--study', 'on-policy-warm', '--variant', 'labels-only-continued', '--variant',
                  'labels only', '--prompt', 'x_')
    out = capsys.readouterr().out
    assert _headed(out) == [continued.name, labels_only.name]
    assert f'started from run {labels_only.name[:8]}' in out


def test_a_run_made_before_the_added_settings_is_its_variants_run(study, capsys):
    """
    A run made before warm starts and stored targets existed has neither in its settings; it is still the run
    of the variant whose settings give them the values it had.
    """
    run = _study_run(study, 'distilled', study['distilled', 1])
    state = torch.load(run / 'checkpoints' / 'checkpoint.pt', weights_only=False)
    assert {'warm_start', 'targets', 'target_size'} <= set(state['settings'])
    for name in ('warm_start', 'targets', 'target_size'):
        del state['settings'][name]
    torch.save(state, run / 'checkpoints' / 'checkpoint.pt')
    _sample_study(study, '--study', 'limited', '--variant', 'distilled', '--seed', '1', '--prompt', 'x_')
    assert _headed(capsys.readouterr().out) == [study['distilled', 1]]


# ## Runs the options do not name

def test_two_runs_of_a_variant_are_both_named(study, capsys):
    """
    The same study on another copy of the corpus: two runs fit, and the message names both and their folders.
    """
    twin = 'd' * 32
    _copy_run(_study_run(study, 'distilled', study['distilled', 1]), twin,
              lambda state: state['settings'].update(data_dir='/elsewhere/text'))
    err = _refused(capsys, _sample_study, study, '--study', 'limited', '--variant', 'distilled', '--seed', '1')
    assert '2 finished runs are the distilled variant of the limited study with seed 1 (profile smoke)' in err
    assert f"lm-distilled-smoke/{study['distilled', 1]} (on {study['text']})" in err
    assert f'lm-distilled-smoke/{twin} (on /elsewhere/text)' in err
    assert 'sample the one you mean by its id' in err


def test_a_seed_not_trained_is_refused_with_the_command_that_trains_it(study, capsys):
    err = _refused(capsys, _sample_study, study, '--study', 'limited', '--variant', 'distilled', '--seed', '5')
    assert 'no finished run of the distilled variant of the limited study with seed 5 (profile smoke)' in err
    assert (f"python -m labml_nn.distillation.lm.pipeline --study limited --seeds 6 --limited-bytes 300 "
            f"--profile smoke --logs-dir {study['logs']}") in err


def test_a_teacher_not_trained_is_refused_with_its_command(study, capsys):
    err = _refused(capsys, _sample_study, study, '--variant', 'teacher', '--profile', 'cpu')
    assert 'no finished run of the teacher (profile cpu)' in err
    assert f"python -m labml_nn.distillation.lm.train teacher --profile cpu --logs-dir {study['logs']}" in err
    assert 'give the options it was trained with (--profile)' in err


def test_other_limited_bytes_name_no_run(study, capsys):
    """
    The limited study's runs are those of its `--limited-bytes`; without it, the default's, which did not run.
    """
    with pytest.raises(SystemExit) as exit_:
        sample_main(['--logs-dir', str(study['logs']), '--profile', 'smoke', '--study', 'limited',
                     '--variant', 'labels-only'])
    assert exit_.value.code == 2
    assert 'give the options it was trained with (--profile, --limited-bytes)' in capsys.readouterr().err


@pytest.mark.parametrize('argv, message', [
    (['--variant', 'jsd'], '--variant jsd names a variant of a study: give the study too'),
    (['--study', 'limited', '--variant', 'jsd'],
     'the limited study has no variant jsd; its variants are teacher, labels-only, distilled'),
    (['--seed', '1'], '--seed picks the students of a study: give the study too'),
    (['--study', 'limited', 'abc'], 'runs are named by id or by --study, --variant and --seed, not both'),
])
def test_options_that_name_no_run_are_refused(study, capsys, argv, message):
    assert message in _refused(capsys, _sample_study, study, *argv)


def test_an_unknown_study_is_refused(study, capsys):
    with pytest.raises(SystemExit) as exit_:
        _sample_study(study, '--study', 'limit')
    assert exit_.value.code == 2 and "argument --study: invalid choice: 'limit'" in capsys.readouterr().err


# ## The default prompt

def test_the_default_prompt_of_a_folder_is_its_first_validation_bytes(study, capsys):
    """
    Half the smoke profile's context of 16 bytes, from the validation split of the folder the runs trained on.
    """
    first_bytes = bytes(load_corpus(str(study['text'])).valid[:8].tolist())
    for argv in (['--study', 'limited'], [study['teacher']]):
        _sample_study(study, *argv)
        texts = _texts(capsys.readouterr().out)
        assert texts and all(text.startswith(first_bytes.decode()) for text in texts)


def test_the_default_prompt_of_the_standard_library_is_python(study, capsys):
    python = _copy_run(_study_run(study, 'teacher', study['teacher']), 'e' * 32,
                       lambda state: state['settings'].update(data_dir=''))
    _sample_study(study, python.name)
    # Cut, as any prompt, to half the context
    [text] = _texts(capsys.readouterr().out)
    assert text.startswith(PYTHON_PROMPT[:8].decode())


def test_a_default_prompt_needs_one_corpus_that_is_there(study, capsys):
    teacher = _study_run(study, 'teacher', study['teacher'])
    gone = _copy_run(teacher, 'f' * 32, lambda state: state['settings'].update(data_dir=str(study['text'] / 'gone')))
    err = _refused(capsys, _sample_study, study, gone.name)
    assert f"was trained on the folder {study['text'] / 'gone'}, which is not there; give a --prompt" in err
    other = _copy_run(teacher, '9' * 32, lambda state: state.update(data_fingerprint='0' * 16))
    err = _refused(capsys, _sample_study, study, teacher.name, other.name)
    assert 'the runs were trained on different corpora' in err
