"""
The fused-loss benchmark, `benchmarks/fused_loss.py`: bad arguments end with
a usage error (exit status 2) that names the option, before any measurement;
a run at tiny sizes prints both variants with the same loss and gradients.
"""

import re

import pytest


@pytest.fixture(scope='module')
def script(load_benchmark):
    return load_benchmark('fused_loss')


@pytest.mark.parametrize('argv, message', [
    (['--repeats', '0'], 'argument --repeats: must be at least 1, got 0'),
    (['--tokens', '-5'], 'argument --tokens: must be at least 1, got -5'),
    (['--vocab', '32000', '0'], 'argument --vocab: must be at least 1, got 0'),
    (['--hidden', 'wide'], "argument --hidden: expected a whole number, got 'wide'"),
    (['--divergence', 'kl'], "argument --divergence: invalid choice: 'kl'"),
    (['--device', 'mps'], "only 'cpu' and 'cuda' are measured"),
])
def test_bad_arguments(script, benchmark_fails, monkeypatch, argv, message):
    # Anything that got past the checks would start measuring: make that fail loudly
    monkeypatch.setattr(script, 'measure_memory', lambda *args: pytest.fail('measured'))
    error = benchmark_fails(script, *argv)
    assert 'usage:' in error and message in error


def test_variants_are_the_module_functions(script):
    from labml_nn.distillation.fused_loss import fused_linear_distillation_loss
    from labml_nn.distillation.loss import plain_soft_target_loss
    inputs = script.make_inputs(6, 4, 9, 'cpu')
    for variant in script.VARIANTS:
        assert script.LOSSES[variant](**inputs, divergence='jsd') > 0
    # The plain variant computes the logits, then the plain formula
    logits = inputs['student_hidden'] @ inputs['student_weight'].t()
    teacher_logits = inputs['teacher_hidden'] @ inputs['teacher_weight'].t()
    assert script.LOSSES['plain'](**inputs, divergence='jsd') == plain_soft_target_loss(
        logits, teacher_logits, script.TEMPERATURE, divergence='jsd')
    assert script.LOSSES['fused'](**inputs, divergence='jsd') == fused_linear_distillation_loss(
        inputs['student_hidden'], inputs['student_weight'], inputs['teacher_hidden'],
        inputs['teacher_weight'], temperature=script.TEMPERATURE, divergence='jsd')


def test_tiny_run(script, monkeypatch, capsys):
    monkeypatch.setattr('sys.argv', ['fused_loss.py', '--tokens', '32', '--hidden', '8', '--vocab', '50',
                                     '--repeats', '1', '--divergence', 'reverse_kl', '--threads', '1'])
    script.main()
    out = capsys.readouterr().out
    assert 'tokens 32, hidden 8, vocab 50:' in out
    rows = re.findall(r'^(plain|fused)\s+([\d.]+)\s+(-?[\d.]+)\s+([\d.]+)$', out, flags=re.MULTILINE)
    assert [row[0] for row in rows] == ['plain', 'fused']
    # Both variants report the same loss, and the same gradients
    assert float(rows[1][1]) == pytest.approx(float(rows[0][1]), rel=1e-5)
    differences = re.findall(r'relative difference \(fused vs plain\): loss (\S+), student_hidden (\S+), '
                             r'student_weight (\S+)', out)
    assert len(differences) == 1 and all(float(value) < 1e-5 for value in differences[0])
    assert 'time ratio   (fused / plain): ' in out
