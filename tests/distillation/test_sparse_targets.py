"""
Tests of `labml_nn.distillation.sparse_targets`: top-k targets of every class
are the dense loss (values and gradients); fewer classes give the KL
divergence over the k classes and the rest, and a biased gradient; sampled
targets give the dense loss and gradient in expectation (a statistical test
that the top-k gradient fails); masks, padded vocabularies, stored dtypes,
reproducible draws, `SparseDistillationLoss`, and the refusal of bad input.

Everything runs on small tensors on the CPU, in a few seconds.
"""

import math
import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from labml_nn.distillation import sparse_targets
from labml_nn.distillation.loss import DistillationLoss, soft_target_loss
from labml_nn.distillation.sparse_targets import (SampledTargets, SparseDistillationLoss, TopKTargets,
                                                  sample_targets, sparse_target_loss, top_k_targets)

from test_distillation_loss import make_logits, make_mask, student_grad

TEMPERATURES = [0.5, 1.0, 4.0]


# ## Top-k targets

@pytest.mark.parametrize('temperature', TEMPERATURES)
@pytest.mark.parametrize('masked', [False, True])
def test_top_k_of_every_class_is_the_dense_loss(temperature, masked):
    student, teacher = make_logits(3, 5, 17, seed=1), make_logits(3, 5, 17, seed=2)
    mask = make_mask((3, 5), seed=3) if masked else None
    targets = top_k_targets(teacher, 17, temperature)
    value, grad = student_grad(sparse_target_loss, student, targets, temperature, mask)
    expected, expected_grad = student_grad(soft_target_loss, student, teacher, temperature, mask)
    torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-4, atol=1e-6)
    # The order of the classes does not matter
    order = torch.randperm(17, generator=torch.Generator().manual_seed(4))
    shuffled = TopKTargets(targets.indices[..., order], targets.log_probs[..., order])
    torch.testing.assert_close(sparse_target_loss(student, shuffled, temperature, mask), value)


def _coarse_kl(student, teacher, k, temperature):
    """
    The KL divergence over the teacher's top k classes and one outcome for
    the rest, written out in float64, per sample.
    """
    log_p = torch.log_softmax(teacher.double() / temperature, dim=-1)
    log_q = torch.log_softmax(student.double() / temperature, dim=-1)
    top = log_p.topk(k, dim=-1).indices
    in_top = torch.zeros_like(log_p, dtype=torch.bool).scatter(-1, top, True)
    p, q = log_p.exp(), log_q.exp()
    top_terms = torch.where(in_top, p * (log_p - log_q), 0.).sum(-1)
    p_rest, q_rest = torch.where(in_top, 0., p).sum(-1), torch.where(in_top, 0., q).sum(-1)
    return top_terms + p_rest * (p_rest.log() - q_rest.log())


@pytest.mark.parametrize('k', [1, 4, 16])
def test_top_k_is_the_kl_over_the_k_classes_and_the_rest(k):
    student, teacher = make_logits(6, 17, seed=5), make_logits(6, 17, seed=6)
    temperature = 2.0
    value = sparse_target_loss(student, top_k_targets(teacher, k, temperature), temperature)
    coarse = _coarse_kl(student, teacher, k, temperature)
    torch.testing.assert_close(value.double(), temperature ** 2 * coarse.mean(), rtol=1e-5, atol=1e-6)
    # A divergence, and at most the full loss: merging classes never raises it
    assert (coarse >= 0).all()
    assert value <= soft_target_loss(student, teacher, temperature) + 1e-6


def test_a_student_that_matches_the_teacher_on_the_k_classes_and_the_rest_has_zero_loss():
    # The student has the teacher's top 3 logits and a rest of the same mass spread evenly
    teacher = torch.tensor([[4., 3., 2., 1., 0., -1.]])
    log_p = torch.log_softmax(teacher, dim=-1)
    rest = log_p[0, 3:].exp().sum()
    student = torch.cat([log_p[0, :3], (rest / 3).log().repeat(3)]).unsqueeze(0)
    assert sparse_target_loss(student, top_k_targets(teacher, 3), 1.0).abs() < 1e-6
    assert soft_target_loss(student, teacher, 1.0) > 1e-3


def test_top_k_gradient_has_the_formula_of_the_page():
    student, teacher = make_logits(4, 11, seed=7, dtype=torch.float64), make_logits(4, 11, seed=8)
    temperature, k = 2.0, 3
    targets = top_k_targets(teacher, k, temperature)
    _, grad = student_grad(sparse_target_loss, student, targets, temperature)
    q = torch.softmax(student / temperature, dim=-1)
    in_top = torch.zeros_like(q, dtype=torch.bool).scatter(-1, targets.indices, True)
    p_rest = 1 - targets.log_probs.double().exp().sum(-1, keepdim=True)
    q_rest = torch.where(in_top, 0., q).sum(-1, keepdim=True)
    # Outside K: T^2 / n * 1 / T * q_c (1 - p_rest / q_rest)
    expected = temperature / 4 * q * (1 - p_rest / q_rest)
    torch.testing.assert_close(grad[~in_top], expected[~in_top])


def test_gradients_match_finite_differences():
    student, teacher = make_logits(2, 3, 7, seed=9, dtype=torch.float64), make_logits(2, 3, 7, seed=10)
    mask = make_mask((2, 3), seed=11)
    for targets in (top_k_targets(teacher, 3, 2.0),
                    sample_targets(teacher, 5, 2.0, generator=torch.Generator().manual_seed(0),
                                   proposal_temperature=4.0)):
        targets = type(targets)(*(t.double() if t.is_floating_point() else t for t in targets))
        assert torch.autograd.gradcheck(lambda s: sparse_target_loss(s, targets, 2.0, mask),
                                        student.clone().requires_grad_())


# ## Sampled targets, unbiased; top-k targets, biased

def _draws(temperature, proposal_temperature, draws, samples):
    """
    The dense loss and gradient for three samples of twelve classes, and the
    value and gradient of `draws` independent sets of `samples` sampled
    targets each, one per row of the result.
    """
    student, teacher = make_logits(3, 12, seed=12, scale=1.0, dtype=torch.float64), make_logits(3, 12, seed=13)
    dense_value, dense_grad = student_grad(soft_target_loss, student, teacher, temperature)
    targets = sample_targets(teacher.expand(draws, 3, 12), samples, temperature,
                             generator=torch.Generator().manual_seed(14), proposal_temperature=proposal_temperature)
    value, grad = student_grad(sparse_target_loss, student.expand(draws, 3, 12), targets, temperature)
    # The loss is a mean over all draws' samples, so one draw's gradient is `draws` times its share
    grads = grad * draws
    # One draw's value, written out from the page's formula
    log_q = torch.log_softmax(student / temperature, dim=-1).expand(draws, 3, 12).gather(-1, targets.indices)
    weights = 1 / samples if targets.weights is None else targets.weights
    values = temperature ** 2 * (weights * (targets.log_probs - log_q)).sum(-1).mean(-1)
    torch.testing.assert_close(value, values.mean())
    return (dense_value, dense_grad), (values, grads), (student, teacher)


@pytest.mark.parametrize('proposal_temperature', [None, 6.0])
def test_sampled_targets_are_unbiased_and_top_k_targets_are_not(proposal_temperature):
    temperature, samples, draws = 2.0, 4, 4000
    (dense_value, dense_grad), (values, grads), (student, teacher) = _draws(temperature, proposal_temperature,
                                                                            draws, samples)
    # The mean of the draws and its standard error; the tolerance, five standard errors
    mean, standard_error = grads.mean(0), grads.std(0) / math.sqrt(draws)
    tolerance = 5 * standard_error
    assert ((mean - dense_grad).abs() <= tolerance).all()
    assert (values.mean() - dense_value).abs() <= 5 * values.std() / math.sqrt(draws)
    # Top-k targets of as many classes have one gradient, and it is far outside the same tolerance
    _, top_k_grad = student_grad(sparse_target_loss, student, top_k_targets(teacher, samples, temperature),
                                 temperature)
    assert ((top_k_grad - dense_grad).abs() / standard_error).max() > 20


def test_draws_from_the_teacher_have_weights_of_one_over_m():
    teacher = make_logits(4, 9, seed=15)
    drawn = sample_targets(teacher, 6, 2.0, generator=torch.Generator().manual_seed(0))
    assert drawn.weights is None and drawn.indices.shape == (4, 6)
    torch.testing.assert_close(drawn.log_probs, torch.log_softmax(teacher / 2.0, dim=-1).gather(-1, drawn.indices))
    weighted = SampledTargets(drawn.indices, drawn.log_probs, torch.full((4, 6), 1 / 6))
    student = make_logits(4, 9, seed=16)
    torch.testing.assert_close(sparse_target_loss(student, drawn, 2.0), sparse_target_loss(student, weighted, 2.0))
    # Draws from a flatter proposal carry p / (m r)
    flatter = sample_targets(teacher, 6, 2.0, generator=torch.Generator().manual_seed(0), proposal_temperature=5.0)
    log_r = torch.log_softmax(teacher / 5.0, dim=-1).gather(-1, flatter.indices)
    torch.testing.assert_close(flatter.weights, (flatter.log_probs - log_r).exp() / 6)


def test_merging_repeated_draws_leaves_the_loss_the_same():
    student = make_logits(1, 5, seed=17)
    log_p = torch.log_softmax(make_logits(1, 5, seed=18), dim=-1)
    indices = torch.tensor([[2, 0, 2, 2]])
    repeated = SampledTargets(indices, log_p.gather(-1, indices))
    merged = SampledTargets(torch.tensor([[2, 0]]), log_p[:, [2, 0]], torch.tensor([[0.75, 0.25]]))
    torch.testing.assert_close(sparse_target_loss(student, repeated), sparse_target_loss(student, merged))


def test_a_generator_makes_the_draws_reproducible():
    teacher = make_logits(5, 30, seed=19)

    def draw(seed):
        return sample_targets(teacher, 8, generator=torch.Generator().manual_seed(seed)).indices

    assert torch.equal(draw(0), draw(0)) and not torch.equal(draw(0), draw(1))


# ## Masks, padded vocabularies, stored dtypes

def _break(tensor, mask, broken_value):
    return torch.where(mask.unsqueeze(-1), tensor, broken_value)


def test_masked_out_samples_count_nowhere_even_holding_nan_or_no_class():
    student, teacher = make_logits(4, 6, 10, seed=20), make_logits(4, 6, 10, seed=21)
    mask = make_mask((4, 6), seed=22)
    for targets in (top_k_targets(teacher, 3), sample_targets(teacher, 3, generator=torch.Generator(),
                                                              proposal_temperature=2.0)):
        value, grad = student_grad(sparse_target_loss, student, targets, 1.0, mask)
        # Masked-out samples: NaN logits and targets, and an index of no class (as padding in a store may be)
        broken_student = _break(student, mask, torch.nan)
        broken = type(targets)(_break(targets.indices, mask, -1),
                               *(_break(t, mask, torch.nan) for t in targets[1:]))
        broken_value, broken_grad = student_grad(sparse_target_loss, broken_student, broken, 1.0, mask)
        torch.testing.assert_close(broken_value, value)
        torch.testing.assert_close(broken_grad, grad)
        assert (grad[~mask] == 0).all()
    # No sample counts: zero, not NaN
    assert sparse_target_loss(student, top_k_targets(teacher, 3), 1.0, torch.zeros(4, 6, dtype=torch.bool)) == 0


def test_vocab_size_uses_the_student_s_first_classes():
    real, student_rows, teacher_rows = 20, 24, 28
    student, teacher = make_logits(3, 4, student_rows, seed=23), make_logits(3, 4, teacher_rows, seed=24)
    targets = top_k_targets(teacher, 6, 2.0, vocab_size=real)
    assert torch.equal(targets.indices, top_k_targets(teacher[..., :real], 6, 2.0).indices)
    value, grad = student_grad(sparse_target_loss, student, targets, 2.0, vocab_size=real)
    expected, expected_grad = student_grad(lambda s: sparse_target_loss(s[..., :real], targets, 2.0), student)
    torch.testing.assert_close(value, expected, rtol=0, atol=0)
    torch.testing.assert_close(grad, expected_grad, rtol=0, atol=0)
    assert (grad[..., real:] == 0).all()
    # Draws never reach the padding, and a padded index is refused without vocab_size
    drawn = sample_targets(teacher, 50, generator=torch.Generator().manual_seed(0), vocab_size=real)
    assert drawn.indices.max() < real
    padded = TopKTargets(torch.full((3, 4, 1), real + 1), torch.zeros(3, 4, 1))
    with pytest.raises(ValueError, match='outside 0 to 19: 21. With a padded output layer, pass vocab_size='):
        sparse_target_loss(student, padded, vocab_size=real)


def test_targets_stored_as_int32_and_float16_give_nearly_the_same_loss():
    student, teacher = make_logits(8, 50, seed=25), make_logits(8, 50, seed=26)
    targets = top_k_targets(teacher, 10, 2.0)
    stored = TopKTargets(targets.indices.int(), targets.log_probs.half())
    value = sparse_target_loss(student, targets, 2.0)
    low = sparse_target_loss(student.bfloat16(), stored, 2.0)
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, value, rtol=2e-2, atol=0)


def test_no_gradient_reaches_the_targets():
    teacher = make_logits(3, 8, seed=27).requires_grad_()
    targets = top_k_targets(teacher, 2)
    assert not targets.log_probs.requires_grad
    loss = sparse_target_loss(make_logits(3, 8, seed=28).requires_grad_(), targets)
    loss.backward()
    assert teacher.grad is None


# ## Both terms

def test_sparse_distillation_loss_of_every_class_is_distillation_loss():
    student, teacher = make_logits(3, 5, 13, seed=29), make_logits(3, 5, 13, seed=30)
    target = torch.randint(0, 13, (3, 5), generator=torch.Generator().manual_seed(31))
    target[0, :2] = -100
    terms = SparseDistillationLoss(3.0, 0.7, 0.3).terms(student, top_k_targets(teacher, 13, 3.0), target)
    expected = DistillationLoss(3.0, 0.7, 0.3).terms(student, teacher, target)
    for got, want in zip(terms, expected):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


def test_sparse_distillation_loss_leaves_ignored_labels_out_of_both_terms():
    student, teacher = make_logits(2, 6, 9, seed=32), make_logits(2, 6, 9, seed=33)
    target = torch.randint(0, 9, (2, 6), generator=torch.Generator().manual_seed(34))
    target[1, 3:] = 7
    targets = sample_targets(teacher, 4, 2.0, generator=torch.Generator().manual_seed(35))
    loss_fn = SparseDistillationLoss(2.0, 0.5, 0.5, ignore_index=7)
    total, soft, label = loss_fn.terms(student, targets, target)
    valid = target != 7
    torch.testing.assert_close(soft, sparse_target_loss(student, targets, 2.0, valid))
    torch.testing.assert_close(label, F.cross_entropy(student[valid], target[valid]))
    torch.testing.assert_close(total, 0.5 * soft + 0.5 * label)
    value, grad = student_grad(loss_fn, student, targets, target)
    assert value == total and (grad[~valid] == 0).all()


# ## Bad input

def _inputs():
    student = make_logits(2, 3, 10, seed=36)
    return student, top_k_targets(make_logits(2, 3, 10, seed=37), 4)


@pytest.mark.parametrize('change, error, message', [
    (lambda s, t: (s, (t.indices, t.log_probs)), TypeError, 'must be TopKTargets or SampledTargets'),
    (lambda s, t: (s, TopKTargets(t.indices.float(), t.log_probs)), TypeError,
     'TopKTargets.indices must be an integer tensor'),
    (lambda s, t: (s, TopKTargets(t.indices, t.indices)), TypeError, 'log_probs must be a floating-point tensor'),
    (lambda s, t: (s, TopKTargets(t.indices[:1], t.log_probs[:1])), ValueError,
     r'leading shape of the logits, \(2, 3\), and at least one entry, got \(1, 3, 4\)'),
    (lambda s, t: (s, TopKTargets(t.indices[..., :0], t.log_probs[..., :0])), ValueError, 'at least one entry'),
    (lambda s, t: (s, TopKTargets(t.indices, t.log_probs[..., :3])), ValueError,
     r'log_probs must have the shape of TopKTargets.indices, \(2, 3, 4\), got \(2, 3, 3\)'),
    (lambda s, t: (s, SampledTargets(t.indices, t.log_probs, torch.ones(2, 3))), ValueError,
     'SampledTargets.weights must have the shape'),
    (lambda s, t: (s[..., :3], t), ValueError, 'TopKTargets hold 4 classes a sample, more than the 3'),
    (lambda s, t: (s, TopKTargets(t.indices - 12, t.log_probs)), ValueError, 'outside 0 to 9'),
    (lambda s, t: (s, TopKTargets(t.indices[..., [0, 0, 1, 2]], t.log_probs)), ValueError,
     'must be distinct classes within each sample'),
    (lambda s, t: (s, TopKTargets(t.indices, t.log_probs + 2)), ValueError,
     'are not log-probabilities: .* Store log_softmax'),
    (lambda s, t: (s, SampledTargets(t.indices, torch.full_like(t.log_probs, 0.5))), ValueError,
     'SampledTargets.log_probs are not log-probabilities'),
    (lambda s, t: (s, TopKTargets(t.indices, torch.full_like(t.log_probs, torch.nan))), ValueError, 'NaN'),
    (lambda s, t: (s, SampledTargets(t.indices, t.log_probs, -torch.ones(2, 3, 4))), ValueError,
     'weights must be non-negative and finite'),
    (lambda s, t: (s.long(), t), TypeError, 'student_logits must be floating point'),
    (lambda s, t: (s[0, 0, 0], t), ValueError, 'student_logits must have a class dimension'),
])
def test_bad_targets_are_refused(change, error, message):
    student, targets = change(*_inputs())
    with pytest.raises(error, match=message):
        sparse_target_loss(student, targets)


@pytest.mark.parametrize('kwargs, error, message', [
    (dict(temperature=0.0), ValueError, 'temperature must be positive'),
    (dict(mask=torch.ones(2, 3)), TypeError, 'mask must be a bool tensor'),
    (dict(mask=torch.ones(3, 2, dtype=torch.bool)), ValueError, r'mask must have the shape .* \(2, 3\)'),
    (dict(vocab_size=11), ValueError, 'vocab_size must be between 1 and the number of classes of student_logits, 10'),
    (dict(vocab_size=2.5), TypeError, 'vocab_size must be an integer'),
])
def test_bad_arguments_are_refused(kwargs, error, message):
    student, targets = _inputs()
    with pytest.raises(error, match=message):
        sparse_target_loss(student, targets, **kwargs)


@pytest.mark.parametrize('make, error, message', [
    (lambda t: top_k_targets(t, 11), ValueError, 'k must be between 1 and the number of classes, 10, got 11'),
    (lambda t: top_k_targets(t, 0), ValueError, 'k must be between 1'),
    (lambda t: top_k_targets(t, 2.0), TypeError, 'k must be an integer'),
    (lambda t: top_k_targets(t, 4, vocab_size=3), ValueError, 'k must be between 1 and the number of classes, 3'),
    (lambda t: top_k_targets(t.long(), 4), TypeError, 'teacher_logits must be floating point'),
    (lambda t: sample_targets(t, 0), ValueError, 'samples must be at least 1, got 0'),
    (lambda t: sample_targets(t, 4, generator=0), ValueError, 'generator must be a torch.Generator .* got int'),
    (lambda t: sample_targets(t, 4, proposal_temperature=-1.0), ValueError, 'temperature must be positive'),
])
def test_bad_arguments_to_the_helpers_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make(make_logits(2, 10, seed=38))


@pytest.mark.parametrize('make, error, message', [
    (lambda: SparseDistillationLoss(ignore_index=0.5), TypeError, 'ignore_index must be an integer'),
    (lambda: SparseDistillationLoss(soft_target_weight=0, label_loss_weight=0), ValueError, 'both 0'),
    (lambda: SparseDistillationLoss(vocab_size='20'), TypeError, 'vocab_size must be an integer'),
])
def test_bad_settings_of_the_loss_are_refused(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_labels_out_of_range_or_of_the_wrong_shape_are_refused():
    student, targets = _inputs()
    loss_fn = SparseDistillationLoss()
    with pytest.raises(ValueError, match=r'target holds class indices outside 0 to 9: 10; .* ignore_index \(-100\)'):
        loss_fn(student, targets, torch.full((2, 3), 10))
    with pytest.raises(ValueError, match='target must have the shape of the logits'):
        loss_fn(student, targets, torch.zeros(2, dtype=torch.long))
    with pytest.raises(TypeError, match='target must be an integer tensor'):
        loss_fn(student, targets, torch.zeros(2, 3))


def test_source_compiles_without_warnings():
    # LaTeX in a docstring that is not raw would turn `\f` and `\a` into control characters
    path = Path(sparse_targets.__file__)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        compile(path.read_text(encoding='utf-8'), str(path), 'exec')
