"""
The teacher-cache benchmark's command line: bad arguments and data too small
for its settings end with a message and status 2, before any timing.
"""

import pytest


@pytest.fixture(scope='module')
def script(load_benchmark):
    return load_benchmark('teacher_cache')


def test_small_folder_says_which_options_to_change(script, benchmark_fails, image_folder):
    err = benchmark_fails(script, '--data-dir', str(image_folder))
    assert '--valid-size 5000 leaves no training images' in err
    err = benchmark_fails(script, '--data-dir', str(image_folder), '--valid-size', '8')
    assert '--train-size 2000 is more than the 8 training images' in err
    err = benchmark_fails(script, '--data-dir', str(image_folder), '--valid-size', '8',
                          '--train-size', '8', '--build-images', '8')
    assert 'fewer than the 22 batches of 64' in err and '--train-size' in err and '--steps' in err
    err = benchmark_fails(script, '--data-dir', str(image_folder), '--valid-size', '8',
                          '--train-size', '8', '--build-images', '9')
    assert '--build-images 9 is more than the 8 training images' in err


@pytest.mark.parametrize('argv, message', [(['--steps', '0'], 'must be positive'),
                                           (['--rounds', '-1'], 'must be positive'),
                                           (['--train-size', 'many'], "invalid int value: 'many'"),
                                           (['--valid-size', 'nan'], "invalid int value: 'nan'"),
                                           (['--build-images', '0'], 'must be positive')])
def test_bad_arguments(script, benchmark_fails, tmp_path, argv, message):
    err = benchmark_fails(script, '--data-dir', str(tmp_path), *argv)
    assert 'usage:' in err and message in err
