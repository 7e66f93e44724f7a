"""
Tests of the reverse KL and the generalized Jensen-Shannon divergence of
`labml_nn.distillation.loss.soft_target_loss`, against the module's plain
formula: values, first and second derivatives, the ends of $\\beta$, `-inf`
logits, chunks, low precision, no host reads; and the checks added with them
(the divergence, `beta`, the largest temperature, both weights zero, two
vocabularies).
"""

import math

import pytest
import torch
import torch.nn.functional as F

import labml_nn.distillation.loss_engine as engine
from labml_nn.distillation.loss import (DIVERGENCES, MAX_TEMPERATURE, DistillationLoss,
                                        plain_soft_target_loss, soft_target_loss)

from test_distillation_loss import _HostReads, make_logits, make_mask, student_grad

# Each divergence with the settings it takes
SETTINGS = [dict(divergence='forward_kl'), dict(divergence='reverse_kl'),
            dict(divergence='jsd', beta=0.5), dict(divergence='jsd', beta=0.1),
            dict(divergence='jsd', beta=0.9)]
IDS = ['forward_kl', 'reverse_kl', 'jsd0.5', 'jsd0.1', 'jsd0.9']


def reference(student, teacher, temperature, mask=None, **settings):
    """
    The plain formula in float64.
    """
    return plain_soft_target_loss(student.double(), teacher.double(), temperature, mask, **settings)


def kl(a_logits, b_logits, temperature):
    """
    $\\mathrm{KL}(a \\| b)$ of each row, written out from the definition, in float64.
    """
    log_a = F.log_softmax(a_logits.double() / temperature, dim=-1)
    log_b = F.log_softmax(b_logits.double() / temperature, dim=-1)
    return (log_a.exp() * (log_a - log_b)).sum(dim=-1)


def test_plain_formula_is_the_definition():
    # The reference itself, against the definitions written out row by row
    student, teacher = make_logits(6, 9, seed=1), make_logits(6, 9, seed=2)
    temperature, beta = 2.0, 0.3
    forward = kl(teacher, student, temperature).mean() * temperature ** 2
    reverse = kl(student, teacher, temperature).mean() * temperature ** 2
    p = F.softmax(teacher.double() / temperature, dim=-1)
    q = F.softmax(student.double() / temperature, dim=-1)
    m = beta * p + (1 - beta) * q
    jsd = (beta * (p * (p / m).log()).sum(-1) + (1 - beta) * (q * (q / m).log()).sum(-1))
    torch.testing.assert_close(reference(student, teacher, temperature), forward)
    torch.testing.assert_close(reference(student, teacher, temperature, divergence='reverse_kl'), reverse)
    torch.testing.assert_close(reference(student, teacher, temperature, divergence='jsd', beta=beta),
                               jsd.mean() * temperature ** 2)


@pytest.mark.parametrize('settings', SETTINGS, ids=IDS)
@pytest.mark.parametrize('temperature', [0.5, 1.0, 4.0])
@pytest.mark.parametrize('shape, masked', [((8, 10), False), ((3, 5, 17), True)])
def test_value_and_gradient_match_plain_formula(settings, temperature, shape, masked):
    student, teacher = make_logits(*shape, seed=3), make_logits(*shape, seed=4)
    mask = make_mask(shape[:-1], seed=5) if masked else None
    value, grad = student_grad(soft_target_loss, student, teacher, temperature, mask, **settings)
    expected_value, expected_grad = student_grad(reference, student.double(), teacher, temperature,
                                                 mask, **settings)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value.double(), expected_value, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad.double(), expected_grad, rtol=1e-4, atol=1e-7)
    if masked:
        assert (grad[~mask] == 0).all()


@pytest.mark.parametrize('settings', SETTINGS[1:3], ids=IDS[1:3])
@pytest.mark.parametrize('masked', [False, True])
def test_gradcheck_and_gradgradcheck_float64(settings, masked):
    student = make_logits(2, 3, 4, seed=6, scale=2.0, dtype=torch.float64).requires_grad_()
    teacher = make_logits(2, 3, 4, seed=7, scale=2.0, dtype=torch.float64)
    mask = make_mask((2, 3), seed=8) if masked else None

    def loss(s):
        return soft_target_loss(s, teacher, 3.0, mask, **settings)

    assert torch.autograd.gradcheck(loss, (student,))
    assert torch.autograd.gradgradcheck(loss, (student,))


@pytest.mark.parametrize('settings', SETTINGS[1:3], ids=IDS[1:3])
def test_gradient_with_graph_equals_chunked_gradient(settings):
    student, teacher = make_logits(5, 4, 7, seed=9), make_logits(5, 4, 7, seed=10)
    mask = make_mask((5, 4), seed=11)
    _, chunked = student_grad(soft_target_loss, student, teacher, 3.0, mask, **settings)
    leaf = student.clone().requires_grad_()
    (with_graph,) = torch.autograd.grad(soft_target_loss(leaf, teacher, 3.0, mask, **settings),
                                        leaf, create_graph=True)
    assert with_graph.requires_grad
    torch.testing.assert_close(with_graph.detach(), chunked, rtol=1e-5, atol=1e-8)


def test_jsd_ends_are_the_two_kls_and_its_limits_agree():
    student, teacher = make_logits(6, 11, seed=12), make_logits(6, 11, seed=13)
    forward = soft_target_loss(student, teacher, 2.0)
    reverse = soft_target_loss(student, teacher, 2.0, divergence='reverse_kl')
    torch.testing.assert_close(soft_target_loss(student, teacher, 2.0, divergence='jsd', beta=0), forward)
    torch.testing.assert_close(soft_target_loss(student, teacher, 2.0, divergence='jsd', beta=1), reverse)
    assert not torch.isclose(forward, reverse, rtol=1e-2)
    # Near the ends the JSD is the KL times the vanishing factor (float64, to see the limit)
    s64, t64 = student.double(), teacher.double()
    for beta, kl_value in ((1e-6, forward), (1 - 1e-6, reverse)):
        value = soft_target_loss(s64, t64, 2.0, divergence='jsd', beta=beta)
        factor = min(beta, 1 - beta)
        torch.testing.assert_close(value / factor, kl_value.double(), rtol=1e-4, atol=0)
    # The gradients of the ends are the KLs' gradients
    for beta, divergence in ((0, 'forward_kl'), (1, 'reverse_kl')):
        _, grad = student_grad(soft_target_loss, student, teacher, 2.0, divergence='jsd', beta=beta)
        _, expected = student_grad(soft_target_loss, student, teacher, 2.0, divergence=divergence)
        torch.testing.assert_close(grad, expected)


def test_all_divergences_are_zero_for_identical_logits_and_positive_otherwise():
    logits, other = make_logits(4, 2, 9, seed=14), make_logits(4, 2, 9, seed=15)
    for settings in SETTINGS:
        assert soft_target_loss(logits, logits.clone(), 3.0, **settings).abs() < 1e-6
        assert soft_target_loss(other, logits, 3.0, **settings) > 1e-3


def test_inf_teacher_logits():
    # The teacher rules out class 0 of every row; the student does not
    student, teacher = make_logits(5, 8, seed=16), make_logits(5, 8, seed=17)
    teacher[:, 0] = -math.inf
    # The reverse KL is infinite, as its formula says
    assert soft_target_loss(student, teacher, 2.0, divergence='reverse_kl') == math.inf
    # The JSD stays finite, equal to the plain formula, with a finite gradient
    value, grad = student_grad(soft_target_loss, student, teacher, 2.0, divergence='jsd', beta=0.5)
    _, expected = student_grad(reference, student.double(), teacher, 2.0, divergence='jsd', beta=0.5)
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    torch.testing.assert_close(value.double(), reference(student, teacher, 2.0, divergence='jsd'),
                               rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad.double(), expected, rtol=1e-4, atol=1e-7)
    # When both rule the class out, the reverse KL is that over the other classes
    student[:, 0] = -math.inf
    value, grad = student_grad(soft_target_loss, student, teacher, 2.0, divergence='reverse_kl')
    _, expected = student_grad(soft_target_loss, student[:, 1:], teacher[:, 1:], 2.0,
                               divergence='reverse_kl')
    torch.testing.assert_close(value, soft_target_loss(student[:, 1:], teacher[:, 1:], 2.0,
                                                       divergence='reverse_kl'))
    torch.testing.assert_close(grad[:, 1:], expected)
    assert (grad[:, 0] == 0).all()


@pytest.mark.parametrize('settings', SETTINGS[1:3], ids=IDS[1:3])
def test_chunks_give_the_same_result(monkeypatch, settings):
    student, teacher = make_logits(37, 11, seed=18), make_logits(37, 11, seed=19)
    mask = make_mask((37,), seed=20)
    value, grad = student_grad(soft_target_loss, student, teacher, 3.0, mask, **settings)
    monkeypatch.setattr(engine, 'CHUNK_ELEMENTS', 50)
    assert engine._chunk_rows(37, 11) == 4
    chunked_value, chunked_grad = student_grad(soft_target_loss, student, teacher, 3.0, mask, **settings)
    torch.testing.assert_close(chunked_value, value, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(chunked_grad, grad, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize('settings', SETTINGS[1:3], ids=IDS[1:3])
def test_low_precision_inputs(settings):
    student = make_logits(4, 6, 33, seed=21, dtype=torch.bfloat16)
    teacher = make_logits(4, 6, 33, seed=22, dtype=torch.bfloat16)
    value, grad = student_grad(soft_target_loss, student, teacher, 2.0, **settings)
    expected_value, expected_grad = student_grad(reference, student.double(), teacher, 2.0, **settings)
    assert value.dtype == torch.float32 and grad.dtype == torch.bfloat16
    torch.testing.assert_close(value.double(), expected_value, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad.double(), expected_grad, rtol=1e-2, atol=1e-5)


@pytest.mark.parametrize('settings', SETTINGS[1:3], ids=IDS[1:3])
@pytest.mark.parametrize('temperature, spread', [(1.0, 1.0), (100.0, 1.0), (100.0, 0.01)])
def test_float32_precision_at_high_temperatures(settings, temperature, spread):
    teacher = make_logits(16, 32000, seed=23)
    student = teacher + make_logits(16, 32000, seed=24, scale=spread) + 5
    value = soft_target_loss(student, teacher, temperature, **settings)
    assert abs(value.double() / reference(student, teacher, temperature, **settings) - 1) < 3e-4


@pytest.mark.parametrize('settings', SETTINGS[1:3], ids=IDS[1:3])
def test_no_host_reads(settings):
    student = make_logits(3, 4, 6, seed=25).requires_grad_()
    teacher, mask = make_logits(3, 4, 6, seed=26), make_mask((3, 4), seed=27)
    with _HostReads() as recorder:
        loss = soft_target_loss(student, teacher, 2.0, mask, **settings)
        forward_ops = len(recorder.ops)
        loss.backward()
    # The backward pass ran under the recorder too: its exponentials were seen
    assert torch.ops.aten.exp in recorder.ops[forward_ops:] and student.grad is not None


def test_distillation_loss_takes_a_divergence():
    student, teacher = make_logits(4, 3, 7, seed=28), make_logits(4, 3, 7, seed=29)
    target = torch.randint(0, 7, (4, 3), generator=torch.Generator().manual_seed(30))
    terms = DistillationLoss(2.0, divergence='jsd', beta=0.3).terms(student, teacher, target)
    torch.testing.assert_close(terms.soft_target,
                               soft_target_loss(student, teacher, 2.0, divergence='jsd', beta=0.3))


# ## Bad input

@pytest.mark.parametrize('kwargs, error, message', [
    (dict(divergence='kl'), ValueError, "divergence must be one of 'forward_kl', 'reverse_kl', 'jsd', got 'kl'"),
    (dict(divergence='jsd', beta=1.5), ValueError, 'beta must be between 0 and 1, got 1.5'),
    (dict(divergence='jsd', beta=-0.1), ValueError, 'beta must be between 0 and 1'),
    (dict(divergence='jsd', beta=math.nan), ValueError, 'beta must be between 0 and 1'),
    (dict(divergence='jsd', beta='0.5'), TypeError, 'beta must be a number'),
])
def test_bad_divergence(kwargs, error, message):
    with pytest.raises(error, match=message):
        soft_target_loss(torch.zeros(2, 3), torch.zeros(2, 3), 2.0, **kwargs)
    with pytest.raises(error, match=message):
        DistillationLoss(**kwargs)


@pytest.mark.parametrize('temperature', [1e30, 1e200, 1e300, MAX_TEMPERATURE * 1.01])
def test_too_high_temperature_is_refused(temperature):
    # 1e30 used to give NaN, 1e200 an OverflowError from T ** 2
    for make_loss in (lambda: soft_target_loss(torch.zeros(2, 3), torch.ones(2, 3), temperature),
                      lambda: DistillationLoss(temperature)):
        with pytest.raises(ValueError, match=r'temperature must be at most 1e\+19 \(MAX_TEMPERATURE'):
            make_loss()


@pytest.mark.parametrize('settings', SETTINGS[:3], ids=IDS[:3])
def test_largest_temperature_gives_finite_values(settings):
    assert MAX_TEMPERATURE ** 2 < torch.finfo(torch.float32).max
    student = make_logits(4, 50, seed=31, scale=1e12).requires_grad_()
    teacher = make_logits(4, 50, seed=32, scale=1e12)
    value = soft_target_loss(student, teacher, MAX_TEMPERATURE, **settings)
    value.backward()
    assert torch.isfinite(value) and torch.isfinite(student.grad).all()


def test_both_weights_zero_is_refused():
    with pytest.raises(ValueError, match='soft_target_weight and label_loss_weight are both 0'):
        DistillationLoss(2.0, 0, 0)
    # One weight zero is a valid choice
    DistillationLoss(2.0, 0, 1)
    DistillationLoss(2.0, 1, 0.0)


def test_different_vocabularies_name_both_sizes():
    message = 'vocabularies differ: the student has 32000 classes and the teacher 32128'
    with pytest.raises(ValueError, match=message):
        soft_target_loss(torch.zeros(2, 32000), torch.zeros(2, 32128), 2.0)
    with pytest.raises(ValueError, match=message):
        DistillationLoss()(torch.zeros(2, 32000), torch.zeros(2, 32128), torch.zeros(2, dtype=torch.long))


def test_names_are_exported():
    assert DIVERGENCES == ('forward_kl', 'reverse_kl', 'jsd')
