"""
Misuse of the loss library that used to fail late or silently: targets out of
range and on another device, the fused loss with layers of mixed dtypes, and
second derivatives through the fused loss.
"""

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

import labml_nn.distillation.loss_engine as engine
from labml_nn.distillation.fused_loss import fused_linear_distillation_loss
from labml_nn.distillation.loss import DistillationLoss

from test_distillation_loss import _HostReads, make_logits
from test_distillation_loss_fused import VOCAB, make_inputs, plain, value_and_grads


class _Ops(TorchDispatchMode):
    """
    Records the operations that run, to show that a refusal came before any work.
    """

    def __init__(self):
        super().__init__()
        self.ops = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.add(func.overloadpacket)
        return func(*args, **(kwargs or {}))


SOFTMAXES = {torch.ops.aten._log_softmax, torch.ops.aten._softmax, torch.ops.aten.log_softmax,
             torch.ops.aten.softmax}


# ## Targets out of range

@pytest.mark.parametrize('target', [[1, 2, 10, 4], [1, -1, 0, 4], [0, 1, 2, 300]])
@pytest.mark.parametrize('dtype', [torch.long, torch.int32, torch.int16])
def test_distillation_loss_refuses_targets_out_of_range_before_any_work(target, dtype):
    student, teacher = make_logits(4, 10, seed=1), make_logits(4, 10, seed=2)
    with _Ops() as ops, pytest.raises(ValueError, match=r'target holds class indices outside 0 to 9: .*'
                                                        r'or ignore_index \(-100\)'):
        DistillationLoss()(student, teacher, torch.tensor(target, dtype=dtype))
    assert not ops.ops & SOFTMAXES


def test_distillation_loss_takes_every_class_and_the_ignore_index():
    student, teacher = make_logits(4, 10, seed=3), make_logits(4, 10, seed=4)
    assert torch.isfinite(DistillationLoss()(student, teacher, torch.tensor([0, 9, -100, 5])))
    # An ignore index of its own, inside or outside the range of classes
    assert torch.isfinite(DistillationLoss(ignore_index=-1)(student, teacher, torch.tensor([0, 9, -1, 5])))
    assert torch.isfinite(DistillationLoss(ignore_index=3)(student, teacher, torch.tensor([0, 9, 3, 5])))


@pytest.mark.parametrize('bad', [VOCAB, -5, -1])
def test_fused_loss_refuses_targets_out_of_range_before_any_work(bad):
    inputs, target = make_inputs(seed=20)
    target.view(-1)[3] = bad
    with _Ops() as ops, pytest.raises(ValueError, match=f'target holds class indices outside 0 to {VOCAB - 1}'):
        fused_linear_distillation_loss(target=target, label_loss_weight=0.5, **inputs)
    assert not ops.ops & ({torch.ops.aten.mm, torch.ops.aten.addmm} | SOFTMAXES)


def test_the_range_is_not_read_where_reading_would_wait_for_the_device(monkeypatch):
    # On a GPU the check would make the CPU wait for the device: it is left out,
    # and `cross_entropy` reports the target itself. Modelled here by taking the
    # CPU off the list of devices whose targets are read
    monkeypatch.setattr(engine, 'RANGE_CHECKED_DEVICES', ())
    student, teacher = make_logits(4, 10, seed=5), make_logits(4, 10, seed=6)
    with pytest.raises(IndexError):
        DistillationLoss()(student, teacher, torch.tensor([1, 2, 10, 4]))
    # and then nothing is read back to the host
    student.requires_grad_()
    with _HostReads():
        DistillationLoss()(student, teacher, torch.tensor([1, 2, 9, -100])).backward()


def test_a_target_on_another_device_is_named():
    student, teacher = make_logits(4, 10, seed=7), make_logits(4, 10, seed=8)
    with pytest.raises(ValueError, match=r'target must be on the device of the logits, cpu, got meta'):
        DistillationLoss()(student, teacher, torch.zeros(4, dtype=torch.long, device='meta'))


# ## The fused loss with mixed dtypes

def _cast(inputs: dict, **dtypes) -> dict:
    return {name: tensor.to(dtypes.get(name, tensor.dtype)) for name, tensor in inputs.items()}


@pytest.mark.parametrize('dtypes', [
    dict(student_hidden=torch.float16),
    dict(student_hidden=torch.bfloat16, teacher_hidden=torch.bfloat16),
    dict(teacher_hidden=torch.bfloat16),
    dict(student_bias=torch.float64),
    dict(student_weight=torch.bfloat16, teacher_bias=torch.float16),
], ids=['f16 hidden', 'bf16 both hidden', 'bf16 teacher hidden', 'f64 bias', 'bf16 weight, f16 bias'])
def test_fused_loss_computes_mixed_dtypes_in_the_promoted_dtype(dtypes):
    inputs, target = make_inputs(seed=21)
    mixed = _cast(inputs, **dtypes)
    value, grads = value_and_grads(fused_linear_distillation_loss, mixed, target, temperature=2.0,
                                   label_loss_weight=0.5, chunk_size=4)
    # The stated rule: each layer in the dtype PyTorch promotes its three tensors to,
    # the loss in float32, or float64 if any tensor is float64
    promoted = {}
    for side in ('student', 'teacher'):
        names = [f'{side}_hidden', f'{side}_weight', f'{side}_bias']
        dtype = torch.promote_types(torch.promote_types(mixed[names[0]].dtype, mixed[names[1]].dtype),
                                    mixed[names[2]].dtype)
        promoted.update({name: mixed[name].to(dtype) for name in names})
    expected_value, expected_grads = value_and_grads(plain, promoted, target, temperature=2.0,
                                                     label_loss_weight=0.5)
    loss_dtype = torch.float64 if torch.float64 in {t.dtype for t in mixed.values()} else torch.float32
    assert value.dtype == loss_dtype
    torch.testing.assert_close(value, expected_value.to(loss_dtype), rtol=1e-5, atol=0)
    for name, grad, expected in zip(('student_hidden', 'student_weight', 'student_bias'), grads, expected_grads):
        assert grad.dtype == mixed[name].dtype
        torch.testing.assert_close(grad, expected.to(grad.dtype), rtol=1e-2, atol=1e-3)


# ## Second derivatives through the fused loss

def test_the_issues_second_derivative_is_exact():
    inputs, target = make_inputs(seed=22, dtype=torch.float64)
    derivatives = []
    for loss_fn in (fused_linear_distillation_loss, plain):
        hidden = inputs['student_hidden'].clone().requires_grad_()
        loss = loss_fn(**dict(inputs, student_hidden=hidden), target=target, temperature=2.0, divergence='jsd',
                       label_loss_weight=0.5)
        (gradient,) = torch.autograd.grad(loss, hidden, create_graph=True)
        (gradient.pow(2).sum() + (hidden * 0).sum()).backward()
        derivatives.append((gradient.detach(), hidden.grad))
    # The first derivatives, taken with a graph, and the second
    for fused, expected in zip(*derivatives):
        assert expected.abs().max() > 1e-3
        torch.testing.assert_close(fused, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize('settings', [dict(divergence='forward_kl'), dict(divergence='reverse_kl'),
                                      dict(divergence='jsd', beta=0.3)], ids=['forward_kl', 'reverse_kl', 'jsd'])
def test_gradgradcheck_float64(settings):
    inputs, target = make_inputs(leading=(5,), dtype=torch.float64, seed=23)

    def loss(hidden, weight, bias):
        return fused_linear_distillation_loss(
            hidden, weight, inputs['teacher_hidden'], inputs['teacher_weight'], target, temperature=2.0,
            label_loss_weight=0.5, student_bias=bias, teacher_bias=inputs['teacher_bias'], chunk_size=2, **settings)

    leaves = [inputs[name].requires_grad_() for name in ('student_hidden', 'student_weight', 'student_bias')]
    assert torch.autograd.gradgradcheck(loss, leaves)


def test_second_derivatives_for_the_weight_and_the_incoming_gradient():
    # A penalty on the weight's gradient, differentiated for the weight and for
    # a scale in front of the loss (the incoming gradient of the fused function)
    inputs, target = make_inputs(seed=24, dtype=torch.float64)
    derivatives = []
    for loss_fn in (fused_linear_distillation_loss, plain):
        weight = inputs['student_weight'].clone().requires_grad_()
        scale = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
        loss = scale * loss_fn(**dict(inputs, student_weight=weight), target=target, label_loss_weight=0.5)
        (gradient,) = torch.autograd.grad(loss, weight, create_graph=True)
        derivatives.append(torch.autograd.grad(gradient.square().sum(), (scale, weight)))
    for fused, expected in zip(*derivatives):
        assert expected.abs().max() > 1e-3
        torch.testing.assert_close(fused, expected, rtol=1e-10, atol=1e-12)
