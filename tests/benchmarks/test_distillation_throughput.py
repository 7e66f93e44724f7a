"""
The throughput benchmark's command line: bad arguments and data too small
for its settings end with a message naming options it has, before any timing.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / 'benchmarks' / 'distillation_throughput.py'


@pytest.fixture(scope='module')
def benchmark():
    """
    The benchmark script as a module, to call its `main` in this process.
    """
    spec = importlib.util.spec_from_file_location('distillation_throughput', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fails(benchmark, monkeypatch, capsys, *argv) -> str:
    monkeypatch.setattr(sys, 'argv', [str(SCRIPT), *argv])
    with pytest.raises(SystemExit) as exit_:
        benchmark.main()
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_small_folder_advises_options_the_benchmark_has(benchmark, monkeypatch, capsys, image_folder):
    """
    16 images cannot hold out the default 5,000: the message names
    `--valid-size`, which the benchmark accepts; with it, too few images for
    a round say so and name `--train-size` and `--steps`.
    """
    err = _fails(benchmark, monkeypatch, capsys, '--data-dir', str(image_folder))
    assert '--valid-size 5000 leaves no training images' in err
    help_text = _fails(benchmark, monkeypatch, capsys, '--data-dir', str(image_folder), '--valid-size')
    assert '--valid-size' in help_text and 'expected one argument' in help_text
    err = _fails(benchmark, monkeypatch, capsys, '--data-dir', str(image_folder), '--valid-size', '8',
                 '--train-size', '8')
    assert 'fewer than the 22 batches of 64' in err and '--train-size' in err and '--steps' in err


@pytest.mark.parametrize('argv', [['--steps', '0'], ['--rounds', '-1'], ['--valid-size', '0'],
                                  ['--train-size', 'many'], ['--epochs', 'nan']])
def test_bad_arguments(benchmark, monkeypatch, capsys, tmp_path, argv):
    err = _fails(benchmark, monkeypatch, capsys, '--data-dir', str(tmp_path), *argv)
    assert 'usage:' in err
