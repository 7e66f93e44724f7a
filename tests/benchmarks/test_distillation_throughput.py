"""
The throughput benchmark's command line: bad arguments and data too small
for its settings end with a message naming options it has, before any timing.
"""

import pytest


@pytest.fixture(scope='module')
def script(load_benchmark):
    return load_benchmark('distillation_throughput')


def test_small_folder_advises_options_the_benchmark_has(script, benchmark_fails, image_folder):
    """
    16 images cannot hold out the default 5,000: the message names
    `--valid-size`, which the benchmark accepts; with it, too few images for
    a round say so and name `--train-size` and `--steps`.
    """
    err = benchmark_fails(script, '--data-dir', str(image_folder))
    assert '--valid-size 5000 leaves no training images' in err
    help_text = benchmark_fails(script, '--data-dir', str(image_folder), '--valid-size')
    assert '--valid-size' in help_text and 'expected one argument' in help_text
    err = benchmark_fails(script, '--data-dir', str(image_folder), '--valid-size', '8',
                          '--train-size', '8')
    assert 'fewer than the 22 batches of 64' in err and '--train-size' in err and '--steps' in err


@pytest.mark.parametrize('argv', [['--steps', '0'], ['--rounds', '-1'], ['--valid-size', '0'],
                                  ['--train-size', 'many'], ['--epochs', 'nan']])
def test_bad_arguments(script, benchmark_fails, tmp_path, argv):
    err = benchmark_fails(script, '--data-dir', str(tmp_path), *argv)
    assert 'usage:' in err
