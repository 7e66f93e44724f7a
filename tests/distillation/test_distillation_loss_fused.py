"""
Tests of `labml_nn.distillation.fused_loss.fused_linear_distillation_loss`: the
same value and gradients as the plain computation (the logits, then
`soft_target_loss` and the cross-entropy), chunking, no `[tokens, vocab]`
tensor, no host reads, and its input checks.
"""

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

import labml_nn.distillation.loss_engine as engine
from labml_nn.distillation.fused_loss import fused_linear_distillation_loss
from labml_nn.distillation.loss import soft_target_loss

from test_distillation_loss import _HostReads

VOCAB, HIDDEN, TEACHER_HIDDEN = 23, 8, 6
SETTINGS = [dict(divergence='forward_kl'), dict(divergence='reverse_kl'),
            dict(divergence='jsd', beta=0.3)]
IDS = ['forward_kl', 'reverse_kl', 'jsd']


def make_inputs(leading=(3, 7), dtype=torch.float32, seed=0, ignored=0.3):
    """
    Student and teacher hidden states and output layers, and targets with some ignored.
    """
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=generator, dtype=torch.float64).to(dtype)

    inputs = dict(student_hidden=randn(*leading, HIDDEN), student_weight=randn(VOCAB, HIDDEN),
                  student_bias=randn(VOCAB), teacher_hidden=randn(*leading, TEACHER_HIDDEN),
                  teacher_weight=randn(VOCAB, TEACHER_HIDDEN), teacher_bias=randn(VOCAB))
    target = torch.randint(0, VOCAB, leading, generator=generator)
    target[torch.rand(leading, generator=generator) < ignored] = -100
    if target.numel():
        target.view(-1)[0] = 1
    return inputs, target


def plain(student_hidden, student_weight, teacher_hidden, teacher_weight, target, *,
          temperature=1.0, soft_target_weight=1.0, label_loss_weight=0.0, student_bias=None,
          teacher_bias=None, **settings):
    """
    The plain computation: both models' full logits, then the two terms.
    """
    logits = F.linear(student_hidden, student_weight, student_bias)
    teacher_logits = (teacher_hidden if teacher_weight is None else
                      F.linear(teacher_hidden, teacher_weight, teacher_bias))
    mask = None if target is None else target != -100
    soft = soft_target_loss(logits, teacher_logits, temperature, mask, **settings)
    if not label_loss_weight:
        return soft_target_weight * soft
    label = F.cross_entropy(logits.reshape(-1, logits.shape[-1]).to(soft.dtype), target.reshape(-1),
                            reduction='sum') / mask.sum().clamp(min=1)
    return soft_target_weight * soft + label_loss_weight * label


def value_and_grads(loss_fn, inputs, target, **kwargs):
    """
    The loss and its gradients for the student's hidden states, weight and bias.
    """
    inputs = {name: None if tensor is None else tensor.detach().clone() for name, tensor in inputs.items()}
    leaves = [inputs[name].requires_grad_() for name in ('student_hidden', 'student_weight', 'student_bias')]
    value = loss_fn(target=target, **inputs, **kwargs)
    value.backward()
    return value.detach(), [leaf.grad for leaf in leaves]


@pytest.mark.parametrize('settings', SETTINGS, ids=IDS)
@pytest.mark.parametrize('chunk_size', [None, 1, 5])
@pytest.mark.parametrize('label_loss_weight', [0.0, 0.4])
def test_equals_plain_formula_float32(settings, chunk_size, label_loss_weight):
    inputs, target = make_inputs()
    kwargs = dict(temperature=2.0, soft_target_weight=0.6, label_loss_weight=label_loss_weight, **settings)
    value, grads = value_and_grads(fused_linear_distillation_loss, inputs, target,
                                   chunk_size=chunk_size, **kwargs)
    expected_value, expected_grads = value_and_grads(plain, inputs, target, **kwargs)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, expected_value, rtol=1e-5, atol=0)
    for grad, expected in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize('settings', SETTINGS, ids=IDS)
def test_gradients_equal_plain_formula_float64(settings):
    inputs, target = make_inputs(dtype=torch.float64, seed=1)
    kwargs = dict(temperature=3.0, label_loss_weight=0.5, **settings)
    value, grads = value_and_grads(fused_linear_distillation_loss, inputs, target, chunk_size=4, **kwargs)
    expected_value, expected_grads = value_and_grads(plain, inputs, target, **kwargs)
    assert value.dtype == torch.float64
    torch.testing.assert_close(value, expected_value, rtol=1e-12, atol=0)
    for grad, expected in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected, rtol=1e-10, atol=1e-13)


def test_gradcheck_float64():
    inputs, target = make_inputs(leading=(5,), dtype=torch.float64, seed=2)

    def loss(hidden, weight, bias):
        return fused_linear_distillation_loss(
            hidden, weight, inputs['teacher_hidden'], inputs['teacher_weight'], target,
            temperature=2.0, divergence='jsd', label_loss_weight=0.5, student_bias=bias, chunk_size=2)

    leaves = [inputs[name].requires_grad_() for name in ('student_hidden', 'student_weight', 'student_bias')]
    assert torch.autograd.gradcheck(loss, leaves)


def test_teacher_logits_and_no_bias():
    inputs, target = make_inputs(seed=3)
    teacher_logits = F.linear(inputs.pop('teacher_hidden'), inputs.pop('teacher_weight'),
                              inputs.pop('teacher_bias'))
    inputs.update(teacher_hidden=teacher_logits, teacher_weight=None)
    value, grads = value_and_grads(fused_linear_distillation_loss, inputs, target, temperature=2.0,
                                   divergence='reverse_kl', chunk_size=4)
    expected_value, expected_grads = value_and_grads(plain, inputs, target, temperature=2.0,
                                                     divergence='reverse_kl')
    torch.testing.assert_close(value, expected_value, rtol=1e-5, atol=0)
    for grad, expected in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-7)


def test_no_target_counts_every_token_and_scales_with_incoming_gradient():
    inputs, _ = make_inputs(seed=4)
    value, grads = value_and_grads(lambda **kw: 2.5 * fused_linear_distillation_loss(**kw),
                                   inputs, None, temperature=2.0)
    expected_value, expected_grads = value_and_grads(lambda **kw: 2.5 * plain(**kw), inputs, None,
                                                     temperature=2.0)
    torch.testing.assert_close(value, expected_value, rtol=1e-5, atol=0)
    for grad, expected in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected, rtol=1e-5, atol=1e-7)


def test_all_tokens_ignored_gives_zero():
    inputs, target = make_inputs(seed=5)
    value, grads = value_and_grads(fused_linear_distillation_loss, inputs, torch.full_like(target, -100),
                                   label_loss_weight=1.0)
    assert value == 0 and all((grad == 0).all() for grad in grads)


def test_no_tokens_gives_zero():
    inputs, target = make_inputs(leading=(0, 3), seed=12)
    value, grads = value_and_grads(fused_linear_distillation_loss, inputs, target, label_loss_weight=1.0)
    assert value == 0 and all((grad == 0).all() for grad in grads)
    assert grads[0].shape == (0, 3, HIDDEN) and grads[1].shape == (VOCAB, HIDDEN)


def test_low_precision_layers():
    inputs, target = make_inputs(dtype=torch.bfloat16, seed=6)
    value, grads = value_and_grads(fused_linear_distillation_loss, inputs, target, temperature=2.0,
                                   label_loss_weight=0.5, chunk_size=4)
    expected_value, expected_grads = value_and_grads(plain, inputs, target, temperature=2.0,
                                                     label_loss_weight=0.5)
    assert value.dtype == torch.float32 and all(grad.dtype == torch.bfloat16 for grad in grads)
    torch.testing.assert_close(value, expected_value, rtol=1e-4, atol=0)
    for grad, expected in zip(grads, expected_grads):
        torch.testing.assert_close(grad, expected, rtol=2e-2, atol=1e-3)


class _LargestTensor(TorchDispatchMode):
    """
    Records the largest number of elements of any tensor with a last dimension
    of the vocabulary's size that an operation returns.
    """

    def __init__(self):
        super().__init__()
        self.largest = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for tensor in (out if isinstance(out, (tuple, list)) else [out]):
            if isinstance(tensor, torch.Tensor) and tensor.dim() and tensor.shape[-1] == VOCAB:
                self.largest = max(self.largest, tensor.numel())
        return out


def test_never_holds_the_full_logits():
    inputs, target = make_inputs(leading=(4, 25), seed=7)
    tokens = target.numel()
    for name in ('student_hidden', 'student_weight', 'student_bias'):
        inputs[name].requires_grad_()
    with _LargestTensor() as fused:
        fused_linear_distillation_loss(target=target, label_loss_weight=0.5, divergence='jsd',
                                       chunk_size=10, **inputs).backward()
    # Chunks of 10 tokens' logits; the plain formula makes whole
    # `[tokens, vocab]` tensors, which the check would catch
    assert fused.largest == 10 * VOCAB < tokens * VOCAB
    with _LargestTensor() as plain_run:
        plain(target=target, label_loss_weight=0.5, divergence='jsd', **inputs).backward()
    assert plain_run.largest >= tokens * VOCAB


def test_no_host_reads(monkeypatch):
    # As on a GPU, where the targets' range is not read (see `RANGE_CHECKED_DEVICES`)
    monkeypatch.setattr(engine, 'RANGE_CHECKED_DEVICES', ())
    inputs, target = make_inputs(seed=8)
    inputs['student_hidden'].requires_grad_()
    with _HostReads() as recorder:
        fused_linear_distillation_loss(target=target, label_loss_weight=0.5, chunk_size=5,
                                       **inputs).backward()
    assert inputs['student_hidden'].grad is not None and recorder.ops


def test_backward_twice_gives_the_same_gradient():
    inputs, target = make_inputs(seed=9)
    weight = inputs['student_weight'].requires_grad_()
    loss = fused_linear_distillation_loss(target=target, **inputs)
    (first,) = torch.autograd.grad(3.0 * loss, weight, retain_graph=True)
    (second,) = torch.autograd.grad(3.0 * loss, weight)
    torch.testing.assert_close(first, second, rtol=0, atol=0)


def test_no_gradients_needed():
    inputs, target = make_inputs(seed=10)
    with torch.no_grad():
        value = fused_linear_distillation_loss(target=target, **inputs)
    torch.testing.assert_close(value, plain(target=target, **inputs), rtol=1e-5, atol=0)


# ## Bad input

def _bad(**changes):
    inputs, target = make_inputs(seed=11)
    kwargs = dict(inputs, target=target)
    kwargs.update(changes)
    return kwargs


@pytest.mark.parametrize('kwargs, error, message', [
    (_bad(teacher_weight=torch.zeros(VOCAB + 5, TEACHER_HIDDEN), teacher_bias=None), ValueError,
     r"vocabularies differ: the student has 23 \(student_weight.shape\[0\]\) and the teacher 28 "
     r"\(teacher_weight.shape\[0\]\)"),
    (_bad(teacher_hidden=torch.zeros(3, 7, 30), teacher_weight=None, teacher_bias=None), ValueError,
     r'the student has 23 .* and the teacher 30 \(teacher logits'),
    (_bad(student_weight=torch.zeros(VOCAB, HIDDEN + 1)), ValueError,
     r'student_weight must be \[vocab, hidden\] with hidden = student_hidden.shape\[-1\] = 8'),
    (_bad(teacher_hidden=torch.zeros(3, 6, TEACHER_HIDDEN)), ValueError, 'same leading'),
    (_bad(student_bias=torch.zeros(VOCAB + 1)), ValueError, r'student_bias must be \[vocab\]'),
    (_bad(teacher_weight=None), ValueError, 'teacher_bias needs teacher_weight'),
    (_bad(target=None, label_loss_weight=0.5), ValueError, 'label_loss_weight is 0.5 but there is no target'),
    (_bad(soft_target_weight=0, label_loss_weight=0), ValueError, 'both 0'),
    (_bad(chunk_size=0), ValueError, 'chunk_size must be a positive number'),
    (_bad(temperature=1e30), ValueError, 'temperature must be at most'),
    (_bad(divergence='js'), ValueError, 'divergence must be one of'),
    (_bad(target=torch.zeros(3, 7)), TypeError, 'target must be an integer tensor'),
    (_bad(student_hidden=torch.zeros(3, 7, HIDDEN, dtype=torch.long)), TypeError,
     'student_hidden must be floating point'),
    (_bad(teacher_weight=[[0.0]]), TypeError, 'teacher_weight must be a torch.Tensor'),
    (_bad(teacher_bias=torch.zeros(VOCAB, device='meta')), ValueError, 'teacher_bias must be on the device'),
])
def test_bad_input(kwargs, error, message):
    with pytest.raises(error, match=message):
        fused_linear_distillation_loss(**kwargs)
