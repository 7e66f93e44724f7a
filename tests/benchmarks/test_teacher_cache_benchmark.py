"""
The teacher-cache benchmark's command line: bad arguments and data too small
for its settings end with a message and status 2, before any timing.
"""

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / 'benchmarks' / 'teacher_cache.py'


@pytest.fixture(scope='module')
def benchmark():
    """
    The benchmark script as a module, to call its `main` in this process.
    """
    spec = importlib.util.spec_from_file_location('teacher_cache_benchmark', SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _fails(benchmark, monkeypatch, capsys, *argv) -> str:
    monkeypatch.setattr(sys, 'argv', [str(SCRIPT), *argv])
    with pytest.raises(SystemExit) as exit_:
        benchmark.main()
    assert exit_.value.code == 2
    return capsys.readouterr().err


def test_small_folder_says_which_options_to_change(benchmark, monkeypatch, capsys, image_folder):
    err = _fails(benchmark, monkeypatch, capsys, '--data-dir', str(image_folder))
    assert '--valid-size 5000 leaves no training images' in err
    err = _fails(benchmark, monkeypatch, capsys, '--data-dir', str(image_folder), '--valid-size', '8')
    assert '--train-size 2000 is more than the 8 training images' in err
    err = _fails(benchmark, monkeypatch, capsys, '--data-dir', str(image_folder), '--valid-size', '8',
                 '--train-size', '8', '--build-images', '8')
    assert 'fewer than the 22 batches of 64' in err and '--train-size' in err and '--steps' in err
    err = _fails(benchmark, monkeypatch, capsys, '--data-dir', str(image_folder), '--valid-size', '8',
                 '--train-size', '8', '--build-images', '9')
    assert '--build-images 9 is more than the 8 training images' in err


@pytest.mark.parametrize('argv, message', [(['--steps', '0'], 'must be positive'),
                                           (['--rounds', '-1'], 'must be positive'),
                                           (['--train-size', 'many'], "invalid int value: 'many'"),
                                           (['--valid-size', 'nan'], "invalid int value: 'nan'"),
                                           (['--build-images', '0'], 'must be positive')])
def test_bad_arguments(benchmark, monkeypatch, capsys, tmp_path, argv, message):
    err = _fails(benchmark, monkeypatch, capsys, '--data-dir', str(tmp_path), *argv)
    assert 'usage:' in err and message in err
