"""
Tests of the language-model studies' command on tiny text: every study runs
in the `smoke` profile, writes its results and plot, shares the runs two
studies have in common, and reuses them when run again; the studies are the
variants they promise.
"""

import json
import re
import shlex
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Dict, List

import pytest

from labml_nn.distillation.lm import pipeline
from labml_nn.distillation.lm.pipeline import main, studies
from tests.distillation.lm.test_lm_train import write_text

pytestmark = pytest.mark.usefixtures('outside_the_repository')

# Every study, with one size of sparse targets and two fractions after a warm start, to keep the test short
STUDY_RUNS = {'divergence': 4, 'limited': 2, 'on-policy': 2, 'sparse-targets': 5, 'on-policy-warm': 4}


@pytest.fixture(scope='module')
def made(tmp_path_factory) -> Dict[str, Any]:
    """
    `--study all` once, in the smoke profile with one seed; its arguments,
    folders, and what it printed.
    """
    folder = tmp_path_factory.mktemp('pipeline')
    text, logs, out = write_text(folder / 'text'), folder / 'logs', folder / 'out'
    args = ['--study', 'all', '--profile', 'smoke', '--seeds', '1', '--limited-bytes', '300',
            '--data-dir', str(text), '--logs-dir', str(logs), '--out', str(out)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, 'SPARSE_SIZES', (4,))
        patch.setattr(pipeline, 'WARM_FRACTIONS', (0.0, 1.0))
        patch.setattr(pipeline, 'WARM_DIVERGENCES', pipeline.WARM_DIVERGENCES[:1])
        main(args)
    return {'args': args, 'logs': logs, 'out': out}


def _results(made, study: str) -> Dict[str, Any]:
    return json.loads((made['out'] / study / 'results.json').read_text())


def _uuids(results: Dict[str, Any], variant: str) -> List[str]:
    return [r['uuid'] for r in results['runs'] if r['variant'] == variant]


@pytest.mark.parametrize('study', STUDY_RUNS)
def test_every_study_writes_results_and_plot(made, study):
    results = _results(made, study)
    assert len(results['runs']) == STUDY_RUNS[study]
    assert all(r['test_bpb'] > 0 and r['valid_history'] for r in results['runs'])
    # A folder of text: no Python version, which only the standard library has
    assert results['data']['python'] == '' and results['data']['files_hash']
    # What the results page shows of how they were made
    assert results['machine'] and 'torch' in results['machine']
    assert results['command'] == shlex.join(['python', '-m', 'labml_nn.distillation.lm.pipeline', *made['args']])
    assert results['commit'] is None or re.fullmatch(r'[0-9a-f]{7,40}(\+changes)?', results['commit'])
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ', results['date'])
    assert (made['out'] / study / 'bpb.png').stat().st_size > 0
    assert '| student |' in (made['out'] / study / 'results.md').read_text()


def test_runs_are_shared_between_studies_and_reused(made, capsys):
    limited, on_policy = _results(made, 'limited'), _results(made, 'on-policy')
    sparse, warm = _results(made, 'sparse-targets'), _results(made, 'on-policy-warm')
    # The limited study's distilled student is the on-policy study's λ = 0 and the sparse study's online one,
    # and its labels-only student is the sparse study's and the warm start
    assert _uuids(limited, 'distilled') == _uuids(on_policy, 'λ = 0') == _uuids(sparse, 'online')
    assert _uuids(limited, 'labels only') == _uuids(sparse, 'labels only') == _uuids(warm, 'labels only')
    # 1 teacher, and 4 + 1 + 2 + 3 (dense, top-4, 4 sampled) + 3 (continued, λ = 0 and 1) distinct students
    checkpoints = 1 + 13
    assert len(list(made['logs'].glob('lm-*-smoke/*/checkpoints/checkpoint.pt'))) == checkpoints
    capsys.readouterr()
    main(made['args'][:1] + ['limited'] + made['args'][2:])
    assert 'reusing the finished run' in capsys.readouterr().out
    assert len(list(made['logs'].glob('lm-*-smoke/*/checkpoints/checkpoint.pt'))) == checkpoints


def test_the_sparse_study_records_the_bytes_each_student_stored(made):
    results = _results(made, 'sparse-targets')
    stored = {r['variant']: r['bytes_per_token'] for r in results['runs']}
    assert stored == {'labels only': None, 'online': None, 'dense': 512, 'top-4': 12, '4 sampled': 12}
    assert results['summary']['top-4']['bytes_per_token'] == 12
    # Each stored form's cache was built once
    assert sorted(p.name.rsplit('-', 1)[0] for p in (made['logs'] / 'lm-target-cache').glob('*.pt')) == [
        'dense', 'sampled-4', 'top-k-4']


def test_the_warm_started_runs_start_from_the_labels_only_run_of_their_seed(made):
    results = _results(made, 'on-policy-warm')
    [start] = _uuids(results, 'labels only')
    warm = [r for r in results['runs'] if r['variant'] != 'labels only']
    assert [r['variant'] for r in warm] == ['labels only, continued', 'forward KL, λ = 0', 'forward KL, λ = 1']
    assert all(r['warm_start'] == start and r['warm_steps'] == 4 for r in warm)


def test_the_studies_are_the_variants_asked_for():
    every = studies(100_000)
    limited = {'train_bytes': 100_000}
    assert pipeline.argument_parser().parse_args([]).seeds == 3
    # Sparse targets: labels only, online and dense distillation, then top-k and sampled at equal bytes
    sparse = every['sparse-targets']
    assert [v.name for v in sparse[:3]] == ['labels only', 'online', 'dense']
    assert sparse[0].settings == limited and sparse[2].settings['targets'] == 'dense'
    for form in ('top-k', 'sampled'):
        sizes = [v.settings['target_size'] for v in sparse if v.settings.get('targets') == form]
        assert sizes == [4, 8, 16, 32]
    assert all(v.settings['train_bytes'] == 100_000 and v.settings.get('divergence', 'forward_kl') == 'forward_kl'
               for v in sparse)
    # After a warm start on labels: λ = 0, 0.5 and 1 with forward KL and with JSD (β at its default, 0.5)
    warm = every['on-policy-warm']
    assert warm[0] == every['limited'][0]
    distilled = [(v.settings['divergence'], v.settings['on_policy']) for v in warm if v.model_name == 'distilled']
    assert distilled == [(d, f) for d in ('forward_kl', 'jsd') for f in (0.0, 0.5, 1.0)]
    assert all(v.warm_start == 'labels only' and v.settings['train_bytes'] == 100_000 for v in warm[1:])
    assert studies(100_000, warm_steps=150)['on-policy-warm'][0].settings == limited | {'steps': 150}
    # The cold-start study as it was
    assert [(v.name, v.settings) for v in every['on-policy']] == [
        ('λ = 0', limited | {'divergence': 'forward_kl'}),
        ('λ = 0.5', limited | {'divergence': 'forward_kl', 'on_policy': 0.5})]


def test_the_help_gives_the_sparse_targets_in_entries_of_the_bytes_they_take():
    from labml_nn.distillation.lm.target_cache import bytes_per_token
    text = ' '.join(pipeline.argument_parser().format_help().split())
    assert f'of 4 to 32 entries (a byte and its log-probability, {bytes_per_token("top-k", 1)} bytes each)' in text


def test_a_distilled_students_settings_name_its_teacher_only_when_given_one():
    """
    The pipeline's settings of a run, which `lm.sample` also names runs by: without a teacher, those of the
    distilled student whatever its teacher, and otherwise the same.
    """
    args = pipeline.argument_parser().parse_args(['--profile', 'smoke', '--logs-dir', 'logs'])
    teacher = SimpleNamespace(name='lm-teacher-smoke', uuid='abc')
    named = pipeline.run_settings(args, 'distilled', {'divergence': 'jsd'}, 1, teacher)
    assert named['teacher'] == str(Path('logs') / 'lm-teacher-smoke' / 'abc' / 'checkpoints' / 'checkpoint.pt')
    assert named['divergence'] == 'jsd' and named['seed'] == 1
    unnamed = pipeline.run_settings(args, 'distilled', {'divergence': 'jsd'}, 1)
    assert unnamed == {name: value for name, value in named.items() if name != 'teacher'}


def test_too_many_limited_bytes_are_refused_before_the_teacher_trains(tmp_path, capsys):
    text = write_text(tmp_path / 'text')
    with pytest.raises(SystemExit) as exit_:
        main(['--study', 'limited', '--data-dir', str(text), '--profile', 'smoke', '--seeds', '1', '--limited-bytes',
              '1000000000000', '--logs-dir', str(tmp_path / 'logs'), '--out', str(tmp_path / 'out')])
    assert exit_.value.code == 2 and 'Traceback' not in capsys.readouterr().err
    assert not list((tmp_path / 'logs').glob('lm-teacher-smoke/*'))


@pytest.mark.parametrize('study', ['sparse-targets', 'on-policy-warm'])
def test_the_new_plots_name_every_line_above_the_axes(made, study, tmp_path, monkeypatch):
    import matplotlib.pyplot as plt
    from labml_nn.distillation.lm.report import PLOTS, plot_history
    figures = []
    monkeypatch.setattr(plt, 'close', figures.append)
    PLOTS.get(study, plot_history)(_results(made, study), tmp_path / 'plot.png', 'en')
    [figure] = figures
    axes = figure.axes[0]
    renderer = figure.canvas.get_renderer()
    [legend] = figure.legends
    assert not legend.get_window_extent(renderer).overlaps(axes.get_window_extent(renderer))
    named = {text.get_text() for text in legend.get_texts()}
    drawn = {line.get_label() for line in axes.lines if not line.get_label().startswith('_')}
    drawn |= {container.get_label() for container in axes.containers}
    assert drawn == named and len(named) >= 4
    plt.close(figure)
