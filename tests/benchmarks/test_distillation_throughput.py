"""
The throughput benchmark's command line: bad arguments and data too small
for its settings end with a message naming options it has, before any timing.
"""

import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / 'benchmarks' / 'distillation_throughput.py'


def _run(*argv, cwd):
    return subprocess.run([sys.executable, str(SCRIPT), *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=300)


@pytest.fixture(scope='module')
def small_folder(tmp_path_factory, make_image_folder):
    return make_image_folder(tmp_path_factory.mktemp('bench') / 'data', train=4, test=None)


def test_small_folder_advises_options_the_benchmark_has(small_folder, tmp_path):
    """
    16 images cannot hold out the default 5,000: the message names
    `--valid-size`, which the benchmark accepts; with it, too few images for
    a round say so and name `--train-size` and `--steps`.
    """
    done = _run('--data-dir', str(small_folder), cwd=tmp_path)
    assert done.returncode == 2 and 'Traceback' not in done.stderr
    assert '--valid-size 5000 leaves no training images' in done.stderr
    help_text = _run('--help', cwd=tmp_path).stdout
    assert '--valid-size' in help_text
    done = _run('--data-dir', str(small_folder), '--valid-size', '8', '--train-size', '8', cwd=tmp_path)
    assert done.returncode == 2 and 'Traceback' not in done.stderr
    assert 'fewer than the 22 batches of 64' in done.stderr and '--train-size' in done.stderr


@pytest.mark.parametrize('argv', [['--steps', '0'], ['--rounds', '-1'], ['--valid-size', '0'],
                                  ['--train-size', 'many'], ['--epochs', 'nan']])
def test_bad_arguments(tmp_path, argv):
    done = _run('--data-dir', str(tmp_path), *argv, cwd=tmp_path)
    assert done.returncode == 2 and 'usage:' in done.stderr and 'Traceback' not in done.stderr
