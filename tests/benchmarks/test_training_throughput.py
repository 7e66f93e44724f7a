"""
The training-throughput benchmark: bad arguments end with a message and
status 2, and a short eager run on the CPU prints a speed for each model and
the study time that follows from those speeds.
"""

import re

import pytest

from labml_nn.distillation.cifar10.train import PROFILES


@pytest.fixture(scope='module')
def script(load_benchmark):
    return load_benchmark('training_throughput')


@pytest.mark.parametrize('argv, message', [(['--batch-size', '0'], 'must be positive'),
                                           (['--steps', 'x'], "invalid int value: 'x'"),
                                           (['--device', 'cuda:99'], 'CUDA device'),
                                           (['--compile', 'maybe'], 'must be true or false')])
def test_bad_arguments(script, benchmark_fails, argv, message):
    err = benchmark_fails(script, *argv)
    assert 'usage:' in err and message in err


def test_study_time_follows_from_the_measured_speeds(script, monkeypatch, capsys):
    monkeypatch.setattr('sys.argv', ['training_throughput.py', '--device', 'cpu', '--batch-size', '4',
                                     '--steps', '1', '--rounds', '1', '--compile', 'false', '--seeds', '2'])
    script.main()
    out = capsys.readouterr().out
    speed = {name: float(re.search(rf'{name}, batch 4: eager ([\d,.]+) ', out).group(1).replace(',', ''))
             for name in ('large', 'small', 'distilled')}
    assert all(value > 0 for value in speed.values())
    minutes = float(re.search(r'eager: the 2-seed full study\'s training steps take at least ([\d.]+) min', out)
                    .group(1))
    # The full profile's teacher once, then 2 seeds of two students; an epoch is 11,250 steps of 4
    teacher, students = PROFILES['full']['large']['epochs'], PROFILES['full']['small']['epochs']
    expected = (teacher * 45_000 / speed['large']
                + 2 * students * 45_000 * (1 / speed['small'] + 1 / speed['distilled'])) / 60
    assert minutes == pytest.approx(expected, rel=0.02)
    assert 'compiled' not in out
