"""
The command line of `benchmarks/loss_memory.py`: bad arguments end with a
usage error (exit status 2) that names the option, before any measurement.

The script's `main` runs in this process, so that each case costs no new
Python and PyTorch start-up.
"""

import pytest


@pytest.fixture(scope='module')
def script(load_benchmark):
    return load_benchmark('loss_memory')


@pytest.mark.parametrize('argv, message', [
    (['--repeats', '0'], 'argument --repeats: must be at least 1, got 0'),
    (['--rows', '-5'], 'argument --rows: must be at least 1, got -5'),
    (['--classes', '0'], 'argument --classes: must be at least 1, got 0'),
    (['--rows', 'many'], "argument --rows: expected a whole number, got 'many'"),
    (['--threads', '0'], 'argument --threads: must be at least 1, got 0'),
    (['--device', 'bogus'], "--device: not a device name: 'bogus'"),
    (['--device', 'mps'], "only 'cpu' and 'cuda' are measured"),
    (['--device', 'cuda:99'], '--device: no'),
])
def test_bad_arguments(script, benchmark_fails, monkeypatch, argv, message):
    # Anything that got past the checks would start measuring: make that fail loudly
    monkeypatch.setattr(script, 'measure_memory', lambda *args: pytest.fail('measured'))
    error = benchmark_fails(script, *argv)
    assert 'usage:' in error and message in error


def test_plain_variant_is_the_module_formula(script):
    from labml_nn.distillation.loss import plain_soft_target_loss, soft_target_loss
    assert script.LOSSES == {'plain': plain_soft_target_loss, 'chunked': soft_target_loss}
