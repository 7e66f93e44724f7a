"""
The study-time benchmark: bad arguments end with a message and status 2,
and a short run prints bounds that follow from the step time it measured.
"""

import math
import re

import pytest


@pytest.fixture(scope='module')
def script(load_benchmark):
    return load_benchmark('study_time')


@pytest.mark.parametrize('argv, message', [(['--cores', '0'], 'must be positive'),
                                           (['--steps', '-1'], 'must be positive'),
                                           (['--rounds', 'x'], "invalid int value: 'x'"),
                                           (['--seeds', '0'], 'must be positive')])
def test_bad_arguments(script, benchmark_fails, argv, message):
    err = benchmark_fails(script, *argv)
    assert 'usage:' in err and message in err


def test_bounds_follow_from_the_measured_step(script, monkeypatch, capsys):
    monkeypatch.setattr('sys.argv', ['study_time.py', '--cores', '2', '--steps', '1', '--rounds', '1',
                                     '--seeds', '1'])
    script.main()
    out = capsys.readouterr().out
    step_ms = float(re.search(r'training step: [\d.]+ GFLOP counted, median ([\d.]+) ms', out).group(1))
    steps = int(re.search(r'one run: 50 epochs x 31 steps = (\d+) steps', out).group(1))
    assert steps == 1550
    # One seed: 6 runs of the temperature sweep and 5 of the weight sweep, 3 on the busiest core of 2
    for name, runs in (('temperature', 6), ('weight', 5)):
        found = re.search(rf'{name}: {runs} runs, at least ([\d.]+) min at the measured step time, '
                          rf'([\d.]+) min at the matrix product', out)
        assert found, out
        expected = math.ceil(runs / 2) * steps * step_ms / 1000 / 60
        assert float(found.group(1)) == pytest.approx(expected, abs=0.06)
        assert 0 < float(found.group(2))
