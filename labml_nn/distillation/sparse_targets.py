r"""
---
title: Sparse teacher targets
summary: >
  Distilling from a teacher stored sparsely: its top-k log-probabilities for
  each token, a biased loss, or tokens drawn from its distribution with
  importance weights, an unbiased one. Bytes per token, the formulas, the
  bias, and one call for your own training loop.
---

# Sparse teacher targets

A teacher that is much larger than its student costs most of a distillation
step: its forward pass. Computing its outputs once and reading them back, for
every epoch and every student, removes that cost, as
[the teacher cache](cifar10/teacher_cache.html) does for CIFAR-10's ten classes. A
language model has one distribution over its whole vocabulary for every
token, and stored densely that is too much:

| stored for each token, $V = 151{,}936$ | bytes | for $10^9$ tokens |
|---|---|---|
| every log-probability, float16 | 303,872 | 304 TB |
| top 128: an int32 index and a float16 log-probability each | 768 | 768 GB |
| 12 sampled tokens, the same | 72 | 72 GB |

A vocabulary of more than 65,536 tokens needs 32-bit indices. The
log-probabilities of the sampled tokens only give the loss's value; its
gradient needs the indices alone (and the weights, when the tokens were not
drawn from the teacher's own distribution). Two kinds of sparse targets are
common, and they do not teach the same thing.

## Top-k targets

Store, for each token, the $k$ classes $K$ to which the teacher gives the
most probability at temperature $T$, with their log-probabilities
$\log p_c = \log \mathrm{softmax}(v / T)_c$, normalized over the whole
vocabulary. What the teacher gives the rest, $p_{rest} = 1 - \sum_{c \in K} p_c$,
is then known; how it spreads it over the other $V - k$ classes is not. The
loss here merges those classes into one outcome, the *rest*, for the teacher
and the student alike, $q_{rest} = \sum_{c \notin K} q_c$ with
$q = \mathrm{softmax}(z / T)$ over the whole vocabulary, and takes the KL
divergence of the two distributions over $k + 1$ outcomes:

$$\mathcal{L}_{top\text{-}k} = \frac{T^2}{n} \sum_{i\ \text{valid}} \Big(\sum_{c \in K_i} p_{i,c} \log \frac{p_{i,c}}{q_{i,c}} + p_{i,rest} \log \frac{p_{i,rest}}{q_{i,rest}}\Big)$$

It is a divergence: never negative, and zero when the student gives each of
the $k$ classes, and the rest, what the teacher gives them. Merging outcomes
never raises a KL divergence, so it is at most the full loss, and at $k = V$,
with no rest, it is the full loss. Renormalizing both distributions over the
$k$ classes, the other common choice, would let the student put any
probability outside $K$ without paying for it.

**Top-k targets are biased.** The gradient with respect to the student's
logit of a class outside $K$ is

$$\frac{\partial \mathcal{L}_{top\text{-}k}}{\partial z_c} \propto \frac{1}{T}\, q_c \Big(1 - \frac{p_{rest}}{q_{rest}}\Big)$$

where the full loss has $\frac{1}{T}\,(q_c - p_c)$. The two agree only when the student already spreads its rest the way the
teacher does. Otherwise the student learns the size of the teacher's tail but
not its shape, and since $K$ is the same every time the token is seen, the
error never averages out. [Anshumann et al. (2025)](https://arxiv.org/abs/2503.16870)
prove that top-k targets give a biased estimate of the teacher's distribution,
and find students distilled from them worse and less well calibrated than
with full distillation.

## Sampled targets

Draw $m$ tokens $x_1, \dots, x_m$ independently from a proposal distribution
$r$, the teacher's own $p$ or a flatter $\mathrm{softmax}(v / T_r)$ with
$T_r > T$ that reaches further into the tail, and give each the weight
$w_j = p_{x_j} / (m\, r_{x_j})$. For any $f$,
$\mathbb{E}\big[\sum_j w_j f(x_j)\big] = \sum_c p_c f(c)$: the weighted
draws are an unbiased estimate of any average over the teacher's
distribution. With $f(c) = \log p_c - \log q_c$,

$$\mathcal{L}_{sampled} = \frac{T^2}{n} \sum_{i\ \text{valid}} \sum_{j} w_{i,j} \log \frac{p_{i,x_{i,j}}}{q_{i,x_{i,j}}}$$

has the full loss as its expectation, and so does its gradient,

$$\frac{\partial \mathcal{L}_{sampled}}{\partial z_c} \propto \frac{1}{T} \Big(q_c \sum_j w_j - \sum_{j:\, x_j = c} w_j\Big)$$

whose expectation is the full loss's $\frac{1}{T}(q_c - p_c)$, since
$\mathbb{E}\big[\sum_j w_j\big] = 1$ and $\mathbb{E}\big[\sum_{j:\, x_j = c} w_j\big] = p_c$.
Each step sees a noisy gradient whose mean is the right one, and over many
steps and tokens the noise averages out, which the bias of top-k targets
never does. This is the random-sampling distillation of Anshumann et al.,
who report results comparable to full distillation's with about 12 tokens
per position. Drawn from $r = p$, every weight is $1 / m$, and the weights
need not be stored. A token drawn twice appears twice; a store may merge the
two by adding their weights, which leaves the loss the same. One draw's value
can be negative: it is an estimate, to be read averaged over many tokens.

Both kinds give the **forward KL** only. The reverse KL and the JSD weigh
each class by the student's probability, so they need the teacher's
probability of every class the student may choose, which sparse targets do
not have.
"""

from numbers import Integral
from typing import NamedTuple, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn

from labml_nn.distillation.loss import MAX_TEMPERATURE, MIN_TEMPERATURE, DistillationTerms
from labml_nn.distillation.loss_engine import (RANGE_CHECKED_DEVICES, _check_ignore_index, _check_mask,
                                               _check_target, _check_target_range, _check_temperature,
                                               _check_vocab_size_type, _check_weights, _compute_dtype,
                                               _first_classes, _listed, _sample_count)


# ## The two kinds of targets
#
# Each holds tensors of the logits' leading shape and one more dimension, the
# stored entries of each sample.

class TopKTargets(NamedTuple):
    """
    <a id="top-k-targets"></a>

    The teacher's top-k classes for each sample, `[..., k]` each: `indices`, any
    integer dtype, distinct in each row, and `log_probs`, their log-probabilities
    at the loss's temperature, normalized over the whole vocabulary (float16 is
    enough to store them).
    """
    indices: torch.Tensor
    log_probs: torch.Tensor


class SampledTargets(NamedTuple):
    r"""
    <a id="sampled-targets"></a>

    Tokens drawn for each sample, `[..., m]` each: `indices`, any integer dtype;
    `log_probs`, the teacher's log-probabilities of them at the loss's
    temperature; and `weights`, $w_j = p_{x_j} / (m\, r_{x_j})$, or `None` for
    draws from the teacher's own distribution, where every weight is $1 / m$.
    """
    indices: torch.Tensor
    log_probs: torch.Tensor
    weights: Optional[torch.Tensor] = None


# The teacher's probabilities of a sample's stored classes add up to at most
# $1$, with this much room for the rounding of float16 log-probabilities; more
# means that they are not log-probabilities (logits, or another temperature's)
MASS_TOLERANCE = 1e-2


def top_k_targets(teacher_logits: torch.Tensor, k: int, temperature: float = 1.0, *,
                  vocab_size: Optional[int] = None) -> TopKTargets:
    r"""
    <a id="top_k_targets"></a>

    ## Making top-k targets

    The `k` largest of $\log \mathrm{softmax}(v / T)$ for each sample of
    `teacher_logits` (`[..., vocab]`), over its first `vocab_size` classes when
    given, with their indices; in float32 (float64 for float64 logits).
    """
    classes = _check_logits_tensor('teacher_logits', teacher_logits, vocab_size)
    _check_temperature(temperature, MAX_TEMPERATURE, least=MIN_TEMPERATURE)
    _check_count('k', k, classes)
    log_p = _teacher_log_probs(teacher_logits, temperature, vocab_size)
    log_probs, indices = torch.topk(log_p, k, dim=-1)
    return TopKTargets(indices, log_probs)


def sample_targets(teacher_logits: torch.Tensor, samples: int, temperature: float = 1.0, *,
                   generator: Optional[torch.Generator] = None, proposal_temperature: Optional[float] = None,
                   vocab_size: Optional[int] = None) -> SampledTargets:
    r"""
    <a id="sample_targets"></a>

    ## Drawing sampled targets

    `samples` tokens $x_j$ for each sample of `teacher_logits` (`[..., vocab]`),
    drawn with replacement from $r = \mathrm{softmax}(v / T_r)$ with
    $T_r$ = `proposal_temperature`; `None`, the default, draws from the
    teacher's own $p = \mathrm{softmax}(v / T)$ and leaves the weights `None`.
    `generator` makes the draws reproducible, and must be on the logits'
    device. Over the first `vocab_size` classes when given.
    """
    classes = _check_logits_tensor('teacher_logits', teacher_logits, vocab_size)
    _check_temperature(temperature, MAX_TEMPERATURE, least=MIN_TEMPERATURE)
    _check_count('samples', samples, None)
    if proposal_temperature is not None:
        _check_temperature(proposal_temperature, MAX_TEMPERATURE, least=MIN_TEMPERATURE)
    if generator is not None and (not isinstance(generator, torch.Generator)
                                  or generator.device.type != teacher_logits.device.type):
        raise ValueError(f'generator must be a torch.Generator on the device of teacher_logits, '
                         f'{teacher_logits.device}, or None, got {_describe_generator(generator)}')
    # $\log p$, and $\log r$, which is $\log p$ itself without a proposal temperature
    log_p = _teacher_log_probs(teacher_logits, temperature, vocab_size)
    log_r = log_p if proposal_temperature is None else _teacher_log_probs(teacher_logits, proposal_temperature,
                                                                          vocab_size)
    # $x_j \sim r$, with replacement; `multinomial` takes one row per sample
    rows = log_r.reshape(-1, classes)
    drawn = torch.multinomial(rows.exp(), samples, replacement=True, generator=generator)
    indices = drawn.reshape(*log_p.shape[:-1], samples)
    log_probs = log_p.gather(-1, indices)
    if proposal_temperature is None:
        return SampledTargets(indices, log_probs)
    # $w_j = p_{x_j} / (m\, r_{x_j})$
    weights = (log_probs - log_r.gather(-1, indices)).exp() / samples
    return SampledTargets(indices, log_probs, weights)


def _teacher_log_probs(teacher_logits: torch.Tensor, temperature: float,
                       vocab_size: Optional[int]) -> torch.Tensor:
    r"""
    $\log \mathrm{softmax}(v / T)$ over the first `vocab_size` classes, in the compute dtype.
    """
    logits = _first_classes(teacher_logits.detach(), vocab_size)
    return torch.log_softmax(logits.to(_compute_dtype(logits)) / temperature, dim=-1)


def sparse_target_loss(student_logits: torch.Tensor, teacher_targets: Union[TopKTargets, SampledTargets],
                       temperature: float = 1.0, mask: Optional[torch.Tensor] = None, *,
                       vocab_size: Optional[int] = None) -> torch.Tensor:
    r"""
    <a id="sparse-target-loss"></a>

    ## Sparse-target loss

    * `student_logits` is `[..., vocab]`, each position of the leading shape a
      sample, as in [`soft_target_loss`](loss.html#soft-target-loss).
    * `teacher_targets` is a [`TopKTargets`](#top-k-targets), for
      $\mathcal{L}_{top\text{-}k}$, or a [`SampledTargets`](#sampled-targets),
      for $\mathcal{L}_{sampled}$, with the leading shape of the logits. Their
      log-probabilities must be at `temperature`.
    * `temperature` is $T$; `mask`, a bool tensor of the leading shape, leaves
      the `False` samples out of the sum and of $n$.
    * `vocab_size`, if given, keeps the student's first `vocab_size` classes,
      for an output layer padded past its last real token.

    Returns the loss, in float32 whatever the dtype of the logits (float64 for
    float64 inputs). Gradients flow to `student_logits` only.
    """
    _check_logits_tensor('student_logits', student_logits, vocab_size)
    student_logits = _first_classes(student_logits, vocab_size)
    _check_temperature(temperature, MAX_TEMPERATURE, least=MIN_TEMPERATURE)
    if mask is not None:
        _check_mask(mask, student_logits.shape[:-1], student_logits.device)
    _check_targets(teacher_targets, student_logits, mask)
    classes, width = student_logits.shape[-1], teacher_targets.indices.shape[-1]
    weights = teacher_targets.weights if isinstance(teacher_targets, SampledTargets) else None
    dtype = _compute_dtype(student_logits, teacher_targets.log_probs, weights)
    # One row per sample; masked-out rows become zeros (and class 0), so that
    # nothing they hold, NaN or an index out of range included, reaches the
    # value or the gradient
    valid = None if mask is None else mask.reshape(-1, 1)
    scaled = student_logits.reshape(-1, classes).to(dtype) / temperature
    indices = teacher_targets.indices.reshape(-1, width).long()
    log_p = teacher_targets.log_probs.reshape(-1, width).to(dtype)
    if valid is not None:
        scaled, log_p = torch.where(valid, scaled, 0.), torch.where(valid, log_p, 0.)
        indices = torch.where(valid, indices, 0)
    # $\log q_c = z_c / T - \log \sum_j \exp(z_j / T)$ at the stored classes only
    log_norm = torch.logsumexp(scaled, dim=-1, keepdim=True)
    log_q = scaled.gather(-1, indices) - log_norm
    if isinstance(teacher_targets, TopKTargets):
        per_sample = _top_k_divergence(scaled, log_norm, indices, log_p, log_q, valid)
    else:
        per_sample = _sampled_estimate(weights, log_p, log_q, valid, dtype)
    # $\frac{T^2}{n} \sum_{i\ \text{valid}} D_i$, and $0$ when $n = 0$
    return temperature ** 2 * per_sample.sum() / _sample_count(None if valid is None else valid.reshape(-1),
                                                                scaled.shape[0])


def _top_k_divergence(scaled: torch.Tensor, log_norm: torch.Tensor, indices: torch.Tensor,
                      log_p: torch.Tensor, log_q: torch.Tensor, valid: Optional[torch.Tensor]) -> torch.Tensor:
    r"""
    The KL divergence over the $k$ classes and the rest, for each row.
    """
    # $p_c$ for $c \in K$, zero in masked-out rows
    p = log_p.exp()
    if valid is not None:
        p = torch.where(valid, p, 0.)
    # $\sum_{c \in K} p_c (\log p_c - \log q_c)$; a class the teacher rules out adds $0$
    divergence = (_p_log_p(p, log_p) - p * log_q).sum(dim=-1)
    if indices.shape[-1] == scaled.shape[-1]:
        # At $k = V$ there is no rest: its mass is $0$, whatever rounding leaves of $1 - \sum_c p_c$
        return divergence
    # $p_{rest} = 1 - \sum_{c \in K} p_c$, never below $0$ (float16 log-probabilities may add up to
    # a little more than $1$), and zero in masked-out rows
    p_rest = (1 - p.sum(dim=-1)).clamp(min=0)
    if valid is not None:
        p_rest = torch.where(valid.squeeze(-1), p_rest, 0.)
    # $\log q_{rest} = \log \sum_{c \notin K} \exp(z_c / T) - \log \sum_j \exp(z_j / T)$, from the
    # classes outside $K$ themselves: $\log(1 - \sum_{c \in K} q_c)$ would lose a small rest to rounding
    log_q_rest = torch.logsumexp(scaled.scatter(-1, indices, -torch.inf), dim=-1) - log_norm.squeeze(-1)
    # $+ p_{rest} (\log p_{rest} - \log q_{rest})$
    return divergence + torch.xlogy(p_rest, p_rest) - p_rest * log_q_rest


def _p_log_p(p: torch.Tensor, log_p: torch.Tensor) -> torch.Tensor:
    r"""
    $p \log p$, with $0 \log 0 = 0$ where $\log p = -\infty$.
    """
    return torch.where(p > 0, p * log_p, 0.)


def _sampled_estimate(weights: Optional[torch.Tensor], log_p: torch.Tensor, log_q: torch.Tensor,
                      valid: Optional[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    r"""
    $\sum_j w_j (\log p_{x_j} - \log q_{x_j})$ for each row.
    """
    # $w_j$, $1 / m$ each for draws from the teacher's own distribution
    if weights is None:
        weights = torch.full_like(log_p, 1 / log_p.shape[-1])
    weights = weights.reshape(log_p.shape).to(dtype)
    if valid is not None:
        weights = torch.where(valid, weights, 0.)
    return (weights * (log_p - log_q)).sum(dim=-1)


class SparseDistillationLoss(nn.Module):
    r"""
    <a id="sparse-distillation-loss"></a>

    ## Sparse distillation loss

    [`DistillationLoss`](loss.html#distillation-loss) with sparse teacher targets:

    $$\mathcal{L} = w_{soft}\, \mathcal{L}_{sparse} + w_{label}\, \mathcal{L}_{label}$$

    with $\mathcal{L}_{sparse}$ from `sparse_target_loss` and
    $\mathcal{L}_{label}$ the cross-entropy with the labels at $T = 1$. Samples
    whose `target` equals `ignore_index` are left out of both terms, each an
    average over the samples that count; `vocab_size` is that of
    `sparse_target_loss`, for both terms.
    """

    def __init__(self, temperature: float = 4.0, soft_target_weight: float = 0.9,
                 label_loss_weight: float = 0.1, ignore_index: int = -100, *, vocab_size: Optional[int] = None):
        super().__init__()
        _check_temperature(temperature, MAX_TEMPERATURE, least=MIN_TEMPERATURE)
        _check_weights(soft_target_weight, label_loss_weight)
        _check_ignore_index(ignore_index)
        _check_vocab_size_type(vocab_size)
        self.temperature = temperature
        self.soft_target_weight = soft_target_weight
        self.label_loss_weight = label_loss_weight
        self.ignore_index = ignore_index
        self.vocab_size = vocab_size

    def terms(self, student_logits: torch.Tensor, teacher_targets: Union[TopKTargets, SampledTargets],
              target: torch.Tensor) -> DistillationTerms:
        """
        The total loss and its two terms. `target` holds class indices, of any
        integer dtype, and has the leading shape of the logits.
        """
        _check_logits_tensor('student_logits', student_logits, self.vocab_size)
        _check_target(target, student_logits.shape[:-1], student_logits.device, 'the logits')
        student_logits = _first_classes(student_logits, self.vocab_size)
        target = target.long()
        _check_target_range(target, student_logits.shape[-1], self.ignore_index)
        # Samples that count in both terms
        valid = target != self.ignore_index
        soft = sparse_target_loss(student_logits, teacher_targets, self.temperature, valid)
        # Cross-entropy with the labels, summed over the valid samples and divided by their number
        label_sum = F.cross_entropy(student_logits.reshape(-1, student_logits.shape[-1]).to(soft.dtype),
                                    target.reshape(-1), ignore_index=self.ignore_index, reduction='sum')
        label = label_sum / valid.sum().clamp(min=1)
        # $w_{soft}\, \mathcal{L}_{sparse} + w_{label}\, \mathcal{L}_{label}$
        total = self.soft_target_weight * soft + self.label_loss_weight * label
        return DistillationTerms(total, soft, label)

    def forward(self, student_logits: torch.Tensor, teacher_targets: Union[TopKTargets, SampledTargets],
                target: torch.Tensor) -> torch.Tensor:
        """
        The scalar loss to call `backward()` on.
        """
        return self.terms(student_logits, teacher_targets, target).total


# ## Checking the arguments
#
# Bad input is caught before any work, with a message that says what is wrong.
# Reading the values of the targets (the range of the indices, the sums of
# the probabilities) would make the CPU wait for a GPU, so, as with the
# labels' range, those checks are made where the targets are in CPU memory,
# as they are when they are read from a store.

def _check_logits_tensor(name: str, logits: torch.Tensor, vocab_size: Optional[int]) -> int:
    """
    Logits of one model: a floating-point tensor with a class dimension last,
    with at least `vocab_size` classes when it is given. Returns the number of
    classes the loss uses.
    """
    if not isinstance(logits, torch.Tensor):
        raise TypeError(f'{name} must be a torch.Tensor, got {type(logits).__name__}')
    if not logits.is_floating_point():
        raise TypeError(f'{name} must be floating point (logits), got dtype {logits.dtype}')
    if logits.dim() == 0 or logits.shape[-1] == 0:
        raise ValueError(f'{name} must have a class dimension (the last one) with at least one class, '
                         f'got shape {tuple(logits.shape)}')
    _check_vocab_size_type(vocab_size)
    if vocab_size is None:
        return logits.shape[-1]
    if not 1 <= vocab_size <= logits.shape[-1]:
        raise ValueError(f'vocab_size must be between 1 and the number of classes of {name}, '
                         f'{logits.shape[-1]}, got {vocab_size}')
    return vocab_size


def _check_count(name: str, count: int, most: Optional[int]):
    """
    `k` or `samples`: a positive integer, at most `most` when it is given.
    """
    if not isinstance(count, Integral) or isinstance(count, bool):
        raise TypeError(f'{name} must be an integer, got {type(count).__name__}')
    if count < 1 or (most is not None and count > most):
        bound = f'between 1 and the number of classes, {most}' if most is not None else 'at least 1'
        raise ValueError(f'{name} must be {bound}, got {count}')


def _describe_generator(generator) -> str:
    if isinstance(generator, torch.Generator):
        return f'a generator on {generator.device}'
    return type(generator).__name__


def _check_targets(targets: Union[TopKTargets, SampledTargets], student_logits: torch.Tensor,
                   mask: Optional[torch.Tensor]):
    """
    The teacher's targets: one of the two kinds, with tensors of one shape,
    the leading shape of the logits and a last dimension of at least one
    entry, on their device; the values of the samples that `mask` keeps are
    checked by `_check_target_values`.
    """
    if not isinstance(targets, (TopKTargets, SampledTargets)):
        raise TypeError(f'teacher_targets must be TopKTargets or SampledTargets (made by top_k_targets or '
                        f'sample_targets), got {type(targets).__name__}')
    kind = type(targets).__name__
    indices, log_probs = targets.indices, targets.log_probs
    weights = targets.weights if isinstance(targets, SampledTargets) else None
    if (not isinstance(indices, torch.Tensor) or indices.is_floating_point() or indices.is_complex()
            or indices.dtype == torch.bool):
        raise TypeError(f'{kind}.indices must be an integer tensor of class indices, got '
                        f'{indices.dtype if isinstance(indices, torch.Tensor) else type(indices).__name__}')
    for name, values in (('log_probs', log_probs), ('weights', weights)):
        if values is not None and (not isinstance(values, torch.Tensor) or not values.is_floating_point()):
            raise TypeError(f'{kind}.{name} must be a floating-point tensor, got '
                            f'{values.dtype if isinstance(values, torch.Tensor) else type(values).__name__}')
    leading = tuple(student_logits.shape[:-1])
    if indices.dim() == 0 or tuple(indices.shape[:-1]) != leading or indices.shape[-1] == 0:
        raise ValueError(f'{kind}.indices must be [*leading, entries] with the leading shape of the logits, '
                         f'{leading}, and at least one entry, got {tuple(indices.shape)}')
    for name, values in (('log_probs', log_probs), ('weights', weights)):
        if values is not None and values.shape != indices.shape:
            raise ValueError(f'{kind}.{name} must have the shape of {kind}.indices, {tuple(indices.shape)}, '
                             f'got {tuple(values.shape)}')
    for name, values in (('indices', indices), ('log_probs', log_probs), ('weights', weights)):
        if values is not None and values.device != student_logits.device:
            raise ValueError(f'{kind}.{name} must be on the device of the logits, {student_logits.device}, '
                             f'got {values.device}')
    if isinstance(targets, TopKTargets) and indices.shape[-1] > student_logits.shape[-1]:
        raise ValueError(f'TopKTargets hold {indices.shape[-1]} classes a sample, more than the '
                         f'{student_logits.shape[-1]} classes of the logits')
    if indices.device.type in RANGE_CHECKED_DEVICES:
        # The samples that count, each a row
        kept = targets if mask is None else type(targets)(*(None if t is None else t[mask] for t in targets))
        _check_target_values(kept, student_logits.shape[-1])


def _check_target_values(targets: Union[TopKTargets, SampledTargets], classes: int):
    r"""
    Each index a class, distinct within a sample for top-k targets; each
    log-probability a log-probability, not NaN, with the $p_c$ of a sample
    adding up to at most $1$ for top-k targets; each weight non-negative and finite.
    """
    kind = type(targets).__name__
    indices = targets.indices.long()
    outside = (indices < 0) | (indices >= classes)
    if outside.any():
        raise ValueError(f'{kind}.indices hold class indices outside 0 to {classes - 1}: '
                         f'{_listed(indices[outside])}. With a padded output layer, pass vocab_size= the real '
                         f'number of classes; indices must be classes of the teacher and the student alike')
    if isinstance(targets, TopKTargets):
        ordered = indices.sort(dim=-1).values
        if (ordered[..., 1:] == ordered[..., :-1]).any():
            raise ValueError('TopKTargets.indices must be distinct classes within each sample; a class that '
                             'appears twice would count twice (sampled tokens may repeat: use SampledTargets)')
    log_probs = targets.log_probs.double()
    if log_probs.isnan().any() or (log_probs == torch.inf).any():
        raise ValueError(f'{kind}.log_probs hold NaN or +inf; log-probabilities are at most 0')
    mass = log_probs.exp().sum(dim=-1) if isinstance(targets, TopKTargets) else log_probs.exp()
    if (mass > 1 + MASS_TOLERANCE).any():
        raise ValueError(f'{kind}.log_probs are not log-probabilities: their probabilities reach '
                         f'{mass.max().item():.4g}, more than 1 for a sample. Store log_softmax(logits / T), '
                         f'computed over the whole vocabulary, not the logits')
    weights = targets.weights if isinstance(targets, SampledTargets) else None
    if weights is not None and not (weights.isfinite() & (weights >= 0)).all():
        raise ValueError('SampledTargets.weights must be non-negative and finite')


# ## In your own training loop
#
# Store the targets once, with the teacher, and distil from them, with or
# without the labels:
#
# ```python
# import torch
# from labml_nn.distillation.sparse_targets import (
#     SampledTargets, SparseDistillationLoss, sample_targets,
#     sparse_target_loss)
#
# T = 2.0
# tokens = torch.randint(0, 1000, (8, 64))
# labels = tokens.roll(-1, dims=1)
# teacher = torch.nn.Sequential(torch.nn.Embedding(1000, 32),
#                               torch.nn.Linear(32, 1000))
# student = torch.nn.Sequential(torch.nn.Embedding(1000, 16),
#                               torch.nn.Linear(16, 1000))
#
# # Once: 12 draws a token, int32 indices and float16 log-probabilities
# generator = torch.Generator().manual_seed(0)
# with torch.no_grad():
#     drawn = sample_targets(teacher(tokens), 12, T, generator=generator)
# torch.save({'indices': drawn.indices.int(),
#             'log_probs': drawn.log_probs.half()}, 'targets.pt')
#
# # Every epoch after: read them back and distil
# targets = SampledTargets(**torch.load('targets.pt'))
# loss = sparse_target_loss(student(tokens), targets, T,
#                           mask=labels != -100)
# # or both terms, leaving out labels of -100
# loss = SparseDistillationLoss(T)(student(tokens), targets, labels)
# loss.backward()
# ```
#
# `top_k_targets(logits, 128, T)` makes top-k targets instead, which the same
# two calls take.
