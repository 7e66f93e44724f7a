"""
Tests of the language-model studies' command on tiny text: every study runs
in the `smoke` profile, writes its results and plot, shares the runs two
studies have in common, and reuses them when run again.
"""

import json
import re
import shlex

import pytest

from labml_nn.distillation.lm.pipeline import main
from tests.distillation.lm.test_lm_train import write_text

pytestmark = pytest.mark.usefixtures('outside_the_repository')


def test_all_studies_write_results_and_share_runs(tmp_path, capsys):
    text, logs, out = write_text(tmp_path / 'text'), tmp_path / 'logs', tmp_path / 'out'
    args = ['--study', 'all', '--profile', 'smoke', '--seeds', '1', '--limited-bytes', '300',
            '--data-dir', str(text), '--logs-dir', str(logs), '--out', str(out)]
    main(args)
    for study, variants in (('divergence', 4), ('limited', 2), ('on-policy', 2)):
        results = json.loads((out / study / 'results.json').read_text())
        assert len(results['runs']) == variants
        assert all(r['test_bpb'] > 0 and r['valid_history'] for r in results['runs'])
        # A folder of text: no Python version, which only the standard library has
        assert results['data']['python'] == '' and results['data']['files_hash']
        # What the results page shows of how they were made
        assert results['machine'] and 'torch' in results['machine']
        assert results['command'] == shlex.join(['python', '-m', 'labml_nn.distillation.lm.pipeline', *args])
        assert results['commit'] is None or re.fullmatch(r'[0-9a-f]{7,40}(\+changes)?', results['commit'])
        assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ', results['date'])
        assert (out / study / 'bpb.png').stat().st_size > 0
        assert '| student |' in (out / study / 'results.md').read_text()
    # The limited study's distilled student is the on-policy study's λ = 0
    limited = json.loads((out / 'limited' / 'results.json').read_text())
    on_policy = json.loads((out / 'on-policy' / 'results.json').read_text())
    assert ({r['uuid'] for r in limited['runs'] if r['variant'] == 'distilled'}
            == {r['uuid'] for r in on_policy['runs'] if r['variant'] == 'λ = 0'})
    # 1 teacher, and 4 + 1 + 2 distinct students
    assert len(list(logs.glob('lm-*-smoke/*/checkpoints/checkpoint.pt'))) == 1 + 7
    capsys.readouterr()
    main(args)
    assert 'reusing the finished run' in capsys.readouterr().out
    assert len(list(logs.glob('lm-*-smoke/*/checkpoints/checkpoint.pt'))) == 1 + 7


def test_too_many_limited_bytes_are_refused_before_the_teacher_trains(tmp_path, capsys):
    text = write_text(tmp_path / 'text')
    with pytest.raises(SystemExit) as exit_:
        main(['--study', 'limited', '--data-dir', str(text), '--profile', 'smoke', '--seeds', '1',
              '--limited-bytes', '1000000000000', '--logs-dir', str(tmp_path / 'logs'), '--out', str(tmp_path / 'out')])
    assert exit_.value.code == 2 and 'Traceback' not in capsys.readouterr().err
    assert not list((tmp_path / 'logs').glob('lm-teacher-smoke/*'))
