"""
Padded vocabularies: `vocab_size=` on `soft_target_loss`, `DistillationLoss`
and `fused_linear_distillation_loss` is the same as slicing both sides by
hand, values and gradients; the padding gets a zero gradient; and two sizes
without it are refused with both sizes and the keyword named.
"""

import pytest
import torch

from labml_nn.distillation.fused_loss import fused_linear_distillation_loss
from labml_nn.distillation.loss import DistillationLoss, soft_target_loss

from test_distillation_loss import make_logits
from test_distillation_loss_fused import HIDDEN, TEACHER_HIDDEN

# The real vocabulary and the two padded sizes of the models' output layers
REAL, STUDENT_ROWS, TEACHER_ROWS = 20, 24, 28


def _targets(shape, seed):
    generator = torch.Generator().manual_seed(seed)
    target = torch.randint(0, REAL, shape, generator=generator)
    target[torch.rand(shape, generator=generator) < 0.3] = -100
    return target


def _grad(loss_fn, student, *args, **kwargs):
    student = student.detach().clone().requires_grad_()
    value = loss_fn(student, *args, **kwargs)
    value.backward()
    return value.detach(), student.grad


@pytest.mark.parametrize('settings', [dict(divergence='forward_kl'), dict(divergence='jsd', beta=0.3)])
def test_soft_target_loss_uses_the_first_vocab_size_classes(settings):
    student, teacher = make_logits(3, 5, STUDENT_ROWS, seed=1), make_logits(3, 5, TEACHER_ROWS, seed=2)
    mask = _targets((3, 5), seed=3) != -100
    value, grad = _grad(soft_target_loss, student, teacher, 2.0, mask, vocab_size=REAL, **settings)
    expected, expected_grad = _grad(lambda s: soft_target_loss(s[..., :REAL], teacher[..., :REAL], 2.0, mask,
                                                               **settings), student)
    torch.testing.assert_close(value, expected, rtol=0, atol=0)
    torch.testing.assert_close(grad, expected_grad, rtol=0, atol=0)
    assert grad[..., :REAL].abs().max() > 0 and (grad[..., REAL:] == 0).all()


def test_distillation_loss_uses_the_first_vocab_size_classes_in_both_terms():
    student, teacher = make_logits(4, 6, STUDENT_ROWS, seed=4), make_logits(4, 6, TEACHER_ROWS, seed=5)
    target = _targets((4, 6), seed=6)
    loss_fn = DistillationLoss(2.0, 0.6, 0.4, vocab_size=REAL)
    value, grad = _grad(loss_fn, student, teacher, target)
    expected, expected_grad = _grad(lambda s: DistillationLoss(2.0, 0.6, 0.4)(s[..., :REAL], teacher[..., :REAL],
                                                                            target), student)
    torch.testing.assert_close(value, expected, rtol=0, atol=0)
    torch.testing.assert_close(grad, expected_grad, rtol=0, atol=0)
    assert (grad[..., REAL:] == 0).all()
    # A label past the real vocabulary is out of range
    target.view(-1)[0] = REAL
    with pytest.raises(ValueError, match=f'outside 0 to {REAL - 1}'):
        loss_fn(student, teacher, target)


def _fused_inputs(seed):
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape):
        return torch.randn(*shape, generator=generator)

    return dict(student_hidden=randn(3, 7, HIDDEN), student_weight=randn(STUDENT_ROWS, HIDDEN),
                student_bias=randn(STUDENT_ROWS), teacher_hidden=randn(3, 7, TEACHER_HIDDEN),
                teacher_weight=randn(TEACHER_ROWS, TEACHER_HIDDEN), teacher_bias=randn(TEACHER_ROWS))


def _fused_value_and_grads(inputs, target, **kwargs):
    inputs = {name: None if tensor is None else tensor.detach().clone() for name, tensor in inputs.items()}
    leaves = [inputs[name].requires_grad_() for name in ('student_hidden', 'student_weight', 'student_bias')]
    value = fused_linear_distillation_loss(target=target, **inputs, **kwargs)
    value.backward()
    return value.detach(), [leaf.grad for leaf in leaves]


@pytest.mark.parametrize('teacher_logits', [False, True], ids=['teacher layer', 'teacher logits'])
def test_fused_loss_uses_the_first_vocab_size_rows(teacher_logits):
    inputs, target = _fused_inputs(seed=7), _targets((3, 7), seed=8)
    if teacher_logits:
        inputs['teacher_hidden'] = torch.nn.functional.linear(
            inputs['teacher_hidden'], inputs.pop('teacher_weight'), inputs.pop('teacher_bias'))
        inputs['teacher_weight'] = None
    settings = dict(temperature=2.0, label_loss_weight=0.5, divergence='reverse_kl', chunk_size=4)
    value, grads = _fused_value_and_grads(inputs, target, vocab_size=REAL, **settings)
    # By hand: the first REAL rows of each layer, or classes of the teacher's logits
    sliced = dict(inputs, student_weight=inputs['student_weight'][:REAL], student_bias=inputs['student_bias'][:REAL])
    if teacher_logits:
        sliced['teacher_hidden'] = inputs['teacher_hidden'][..., :REAL]
    else:
        sliced.update(teacher_weight=inputs['teacher_weight'][:REAL], teacher_bias=inputs['teacher_bias'][:REAL])
    expected, expected_grads = _fused_value_and_grads(sliced, target, **settings)
    torch.testing.assert_close(value, expected, rtol=0, atol=0)
    torch.testing.assert_close(grads[0], expected_grads[0], rtol=0, atol=0)
    for grad, expected_grad in zip(grads[1:], expected_grads[1:]):
        torch.testing.assert_close(grad[:REAL], expected_grad, rtol=0, atol=0)
        # The padding rows of the weight and the bias get a zero gradient
        assert grad.shape[0] == STUDENT_ROWS and (grad[REAL:] == 0).all() and grad[:REAL].abs().max() > 0


def test_two_sizes_without_vocab_size_name_both_sizes_and_the_keyword():
    student, teacher = torch.zeros(2, STUDENT_ROWS), torch.zeros(2, TEACHER_ROWS)
    message = (f'the student has {STUDENT_ROWS} classes and the teacher {TEACHER_ROWS}.*pass vocab_size= the number '
               f'of real tokens \\(at most {STUDENT_ROWS}\\)')
    with pytest.raises(ValueError, match=message):
        soft_target_loss(student, teacher, 2.0)
    with pytest.raises(ValueError, match=message):
        DistillationLoss()(student, teacher, torch.zeros(2, dtype=torch.long))
    inputs = _fused_inputs(seed=9)
    with pytest.raises(ValueError, match=f'the student has {STUDENT_ROWS} \\(student_weight.shape\\[0\\]\\) and the '
                                         f'teacher {TEACHER_ROWS} \\(teacher_weight.shape\\[0\\]\\).*vocab_size='):
        fused_linear_distillation_loss(**inputs)


@pytest.mark.parametrize('vocab_size, error, message', [
    (STUDENT_ROWS + 1, ValueError, f'vocab_size must be between 1 and the smaller vocabulary, {STUDENT_ROWS}'),
    (0, ValueError, 'vocab_size must be between 1'),
    (2.5, TypeError, 'vocab_size must be an integer number of classes or None'),
    (True, TypeError, 'vocab_size must be an integer'),
])
def test_bad_vocab_size(vocab_size, error, message):
    student, teacher = torch.zeros(2, STUDENT_ROWS), torch.zeros(2, TEACHER_ROWS)
    with pytest.raises(error, match=message):
        soft_target_loss(student, teacher, 2.0, vocab_size=vocab_size)
    with pytest.raises(error, match=message):
        fused_linear_distillation_loss(**_fused_inputs(seed=10), vocab_size=vocab_size)
    if error is TypeError:
        with pytest.raises(error, match=message):
            DistillationLoss(vocab_size=vocab_size)
