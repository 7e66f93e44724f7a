r"""
---
title: The soft-target loss of knowledge distillation
summary: >
  A memory-lean PyTorch implementation of the temperature-scaled soft-target
  loss from "Distilling the Knowledge in a Neural Network", with masking,
  token-level shapes and low-precision inputs.
---

# The soft-target loss

A large *teacher* knows more than its top answer. When it sees a BMW it gives
"garbage truck" a tiny probability and "carrot" a far tinier one, and the
ratio between those two small numbers says a lot about how the teacher sees
the world. [Hinton, Vinyals and Dean (2015)](https://arxiv.org/abs/1503.02531)
call this the *dark knowledge* and transfer it by training a small *student*
to match the teacher's whole output distribution, its *soft targets*.

## Temperature

With logits $z_c$, a softmax at temperature $T$ is

$$q_c = \frac{\exp(z_c / T)}{\sum_j \exp(z_j / T)}$$

At $T = 1$ the teacher's small probabilities are so close to zero that they
hardly move a cross-entropy. A higher $T$ flattens the distribution and lifts
them up, so the student learns the ratios between the wrong classes too.

Let $p = \mathrm{softmax}(v / T)$ be the teacher's soft targets (logits $v$)
and $q = \mathrm{softmax}(z / T)$ the student's. The loss on one sample is the
Kullback-Leibler divergence

$$\mathrm{KL}(p \,\|\, q) = \sum_c p_c \left(\log p_c - \log q_c\right)$$

which equals the cross-entropy $-\sum_c p_c \log q_c$ minus the teacher's
entropy, a constant for the student: both give the same gradients, but the KL
is zero when the student matches the teacher exactly, which makes it easier
to read in logs.

## Why multiply by $T^2$

The gradient of the KL divergence with respect to a student logit is

$$\frac{\partial\, \mathrm{KL}}{\partial z_c} = \frac{1}{T} \left(q_c - p_c\right)$$

For large $T$, with logits of zero mean, $q_c - p_c \approx (z_c - v_c) / (N T)$
for $N$ classes, so the gradient shrinks like $1 / T^2$. Multiplying the loss
by $T^2$ keeps the size of the soft-target gradients roughly the same when
you try different temperatures, and keeps the balance with the ordinary
label loss (computed at $T = 1$) unchanged. That is what the paper recommends.

The whole loss, averaged over the $n$ valid samples, is

$$\mathcal{L}_{soft} = \frac{T^2}{n} \sum_{i\ \text{valid}} \sum_c p_{i,c}\left(\log p_{i,c} - \log q_{i,c}\right)$$

## Memory

The obvious way to write this is two `log_softmax` calls and `F.kl_div`.
Autograd then keeps several full `[samples, classes]` float32 tensors alive
until the backward pass. For a language model, with 4,096 tokens and a
32,000-word vocabulary, each of them is half a gigabyte.

Here the forward pass walks over the rows in chunks, keeps nothing but its
inputs, and the backward pass recomputes both softmaxes chunk by chunk to
form the gradient $\frac{T^2}{n} \cdot \frac{1}{T}(q - p) = \frac{T}{n}(q - p)$
directly. `benchmarks/loss_memory.py` measures it against the obvious version;
the README has its numbers.

## Mistakes this module avoids

* `F.kl_div(..., reduction='mean')` averages over samples **and classes**,
  which quietly divides the loss by the number of classes. Use `'batchmean'`,
  or this module.
* Forgetting $T^2$ makes the soft term fade as the temperature grows.
* Letting gradients flow into the teacher: here the teacher's logits are
  constants.

The [`DistillationLoss`](#distillation-loss) module at the end combines this
term with the usual cross-entropy on the true labels.
"""

import math
from numbers import Real
from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

# A chunk of rows holds at most this many logits, 32 MiB in float32: with 4,096
# tokens of a 32,000-word vocabulary that is 16 chunks. Every operation on a chunk
# has a fixed cost (waking the CPU threads, launching a GPU kernel), so chunks
# must not be too small, and three of them are alive at a time, so they must not
# be too large either
CHUNK_ELEMENTS = 1 << 23
# Smaller inputs are still cut into `MIN_CHUNKS` chunks, so that the three
# chunks stay well below the size of the input, unless that would make a chunk
# smaller than `MIN_CHUNK_ELEMENTS` logits (1 MiB in float32)
MIN_CHUNKS = 4
MIN_CHUNK_ELEMENTS = 1 << 18


def _check_logits(student_logits: torch.Tensor, teacher_logits: torch.Tensor):
    """
    Bad input is caught here, with a message that says what is wrong.
    """
    for name, logits in (('student_logits', student_logits), ('teacher_logits', teacher_logits)):
        if not isinstance(logits, torch.Tensor):
            raise TypeError(f'{name} must be a torch.Tensor, got {type(logits).__name__}')
        if not logits.is_floating_point():
            raise TypeError(f'{name} must be floating point (logits, not class indices or '
                            f'probabilities stored as integers), got dtype {logits.dtype}')
        if logits.dim() == 0:
            raise ValueError(f'{name} must have a class dimension (the last one), got a scalar')
        if logits.shape[-1] == 0:
            raise ValueError(f'{name} must have at least one class, got shape {tuple(logits.shape)}')
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f'student_logits and teacher_logits must have the same shape, got '
                         f'{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}')
    if student_logits.device != teacher_logits.device:
        raise ValueError(f'student_logits and teacher_logits must be on the same device, got '
                         f'{student_logits.device} and {teacher_logits.device}')


def _check_temperature(temperature: float):
    """
    The temperature divides the logits: it must be a positive, finite number.
    """
    if not isinstance(temperature, Real) or isinstance(temperature, bool):
        raise TypeError(f'temperature must be a number, got {type(temperature).__name__}')
    if not (0 < temperature < float('inf')):
        raise ValueError(f'temperature must be positive and finite, got {temperature}')


def _check_mask(mask: torch.Tensor, leading_shape: torch.Size, device: torch.device):
    """
    A mask marks which samples count: one boolean per sample.
    """
    if not isinstance(mask, torch.Tensor) or mask.dtype != torch.bool:
        raise TypeError(f'mask must be a bool tensor, got '
                        f'{mask.dtype if isinstance(mask, torch.Tensor) else type(mask).__name__}')
    if mask.shape != leading_shape:
        raise ValueError(f'mask must have the shape of the logits without their last (class) '
                         f'dimension, {tuple(leading_shape)}, got {tuple(mask.shape)}')
    if mask.device != device:
        raise ValueError(f'mask must be on the device of the logits, {device}, got {mask.device}')


def _compute_dtype(student: torch.Tensor, teacher: torch.Tensor) -> torch.dtype:
    """
    The loss is computed in float32, so bfloat16 and float16 logits lose no
    precision in the softmax; float64 logits (for `gradcheck`) stay float64.
    """
    if torch.float64 in (student.dtype, teacher.dtype):
        return torch.float64
    return torch.float32


def _scaled(logits: torch.Tensor, temperature: float, buffer: torch.Tensor) -> torch.Tensor:
    """
    $z / T$ for one chunk, in the compute dtype of `buffer`, written into
    `buffer`; at $T = 1$ logits that already have that dtype are used as they are.
    """
    if logits.dtype == buffer.dtype:
        return logits if temperature == 1.0 else torch.div(logits, temperature, out=buffer)
    # Lower-precision logits are converted first, so that the division is done in float32
    buffer.copy_(logits)
    return buffer if temperature == 1.0 else buffer.div_(temperature)


def _teacher_rules_out_classes(teacher: torch.Tensor, dtype: torch.dtype, temperature: float) -> bool:
    r"""
    Does the teacher give some class a probability of exactly zero with
    $\log p_c = -\infty$? That happens when it has `-inf` logits (a masked
    vocabulary entry, for example), or, in theory, when its logits span more
    than the largest float. Then $p_c (\log p_c - \log q_c)$ is $0 \cdot \infty$
    and has to be set to zero. One read-only pass over the teacher's logits
    finds out, so that the common case skips the masking.
    """
    if teacher.numel() == 0:
        return False
    low, high = (float(x.to(dtype) / temperature) for x in torch.aminmax(teacher))
    # A NaN teacher fails both tests, and its NaN goes into the loss as it should
    return low == -math.inf or low - high - math.log(teacher.shape[-1]) < -torch.finfo(dtype).max


def _chunk_rows(samples: int, classes: int) -> int:
    """
    The number of rows in a chunk.
    """
    most = max(1, CHUNK_ELEMENTS // classes)
    fewest = max(1, MIN_CHUNK_ELEMENTS // classes)
    return min(most, max(fewest, math.ceil(samples / MIN_CHUNKS)))


def _work_buffers(student: torch.Tensor, teacher: torch.Tensor):
    """
    The number of rows in a chunk, and three buffers of one chunk each, in the
    compute dtype. Every chunk reuses them, so the memory the loss needs
    beyond its inputs (and the gradient it returns) is these three buffers.
    """
    rows = _chunk_rows(student.shape[0], student.shape[-1])
    shape = (min(rows, student.shape[0]), student.shape[-1])
    dtype = _compute_dtype(student, teacher)
    return rows, [torch.empty(shape, dtype=dtype, device=student.device) for _ in range(3)]


class _SoftTargetLoss(torch.autograd.Function):
    """
    ## The chunked autograd function

    It works on 2-D inputs `[samples, classes]` with a bool mask of
    `[samples]`; `soft_target_loss` below does the reshaping and checking.
    """

    @staticmethod
    def forward(ctx, student: torch.Tensor, teacher: torch.Tensor, valid: torch.Tensor,
                temperature: float, n_valid: int):
        rows, buffers = _work_buffers(student, teacher)
        dtype = buffers[0].dtype
        all_valid = n_valid == student.shape[0]
        rules_out = _teacher_rules_out_classes(teacher, dtype, temperature)
        total = torch.zeros((), dtype=dtype, device=student.device)
        for start in range(0, student.shape[0], rows):
            end = min(start + rows, student.shape[0])
            # The three buffers, cut to this chunk's rows
            scaled, log_q, log_p = (b[:end - start] for b in buffers)
            # $\log q = \text{log-softmax}(z / T)$ and $\log p = \text{log-softmax}(v / T)$
            torch.log_softmax(_scaled(student[start:end], temperature, scaled), dim=-1, out=log_q)
            torch.log_softmax(_scaled(teacher[start:end], temperature, scaled), dim=-1, out=log_p)
            # $p$, in the buffer the scaled logits are done with
            p = torch.exp(log_p, out=scaled)
            # $p_c (\log p_c - \log q_c)$, in `log_p`'s buffer
            terms = log_p.sub_(log_q).mul_(p)
            # Classes the teacher rules out ($p_c = 0$, from `-inf` logits) add nothing,
            # even where the student rules them out too and the product is $0 \cdot \infty$
            if rules_out:
                terms.masked_fill_(p == 0, 0.)
            # Sum each row, then drop the rows that are masked out
            per_sample = terms.sum(dim=-1)
            if not all_valid:
                per_sample = torch.where(valid[start:end], per_sample, 0.)
            total += per_sample.sum()
        # Keep only the inputs for the backward pass, never the softmaxes
        ctx.save_for_backward(student, teacher, valid)
        ctx.temperature = temperature
        ctx.n_valid = n_valid
        # $\frac{T^2}{n} \sum_i \mathrm{KL}(p_i \| q_i)$, and $0$ when $n = 0$
        return total * (temperature ** 2 / max(n_valid, 1))

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        student, teacher, valid = ctx.saved_tensors
        temperature = ctx.temperature
        rows, buffers = _work_buffers(student, teacher)
        dtype = buffers[0].dtype
        all_valid = ctx.n_valid == student.shape[0]
        grad = torch.empty_like(student)
        # Float32 (or float64) gradients are written straight into `grad`;
        # lower-precision ones are rounded once, at the end of each chunk
        in_place = grad.dtype == dtype
        # $\frac{\partial \mathcal{L}}{\partial z_{i,c}} = \frac{T}{n}(q_{i,c} - p_{i,c})$,
        # scaled by the incoming gradient
        scale = grad_output.to(dtype) * (temperature / max(ctx.n_valid, 1))
        for start in range(0, student.shape[0], rows):
            end = min(start + rows, student.shape[0])
            scaled, q, p = (b[:end - start] for b in buffers)
            # Both softmaxes again, $q = \text{softmax}(z / T)$ and $p = \text{softmax}(v / T)$
            torch.softmax(_scaled(student[start:end], temperature, scaled), dim=-1, out=q)
            torch.softmax(_scaled(teacher[start:end], temperature, scaled), dim=-1, out=p)
            # $\frac{T}{n}(q - p)$
            diff = torch.sub(q, p, out=grad[start:end] if in_place else q)
            diff.mul_(scale)
            # Masked rows get exactly zero, even if their teacher row was all `-inf`
            if not all_valid:
                diff.masked_fill_(~valid[start:end].unsqueeze(-1), 0.)
            if not in_place:
                grad[start:end] = diff
        # The teacher is a constant: no gradient for it, the mask or the numbers
        return grad, None, None, None, None


def soft_target_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                     temperature: float = 1.0, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
    r"""
    ## Soft-target loss

    * `student_logits` and `teacher_logits` have the same shape, classes last:
      `[batch, classes]`, `[batch, seq, vocab]`, or any other leading shape.
      Each position in the leading shape is a sample.
    * `temperature` is $T$.
    * `mask` is a bool tensor of the leading shape; `False` samples are left
      out of the sum and of $n$. `None` means every sample counts.

    Returns a float32 scalar, $\frac{T^2}{n} \sum_{i} \mathrm{KL}(p_i \| q_i)$,
    computed in float32 whatever the dtype of the logits (float64 logits give
    a float64 result). Gradients flow to `student_logits` only.
    """
    _check_logits(student_logits, teacher_logits)
    _check_temperature(temperature)
    leading_shape = student_logits.shape[:-1]
    if mask is None:
        mask = torch.ones(leading_shape, dtype=torch.bool, device=student_logits.device)
    else:
        _check_mask(mask, leading_shape, student_logits.device)

    # Flatten every leading dimension into one sample dimension; `reshape` makes a
    # copy only when the logits are not contiguous
    classes = student_logits.shape[-1]
    student = student_logits.reshape(-1, classes)
    teacher = teacher_logits.detach().reshape(-1, classes)
    valid = mask.reshape(-1)
    # $n$, the number of valid samples
    n_valid = int(valid.sum().item())
    return _SoftTargetLoss.apply(student, teacher, valid, float(temperature), n_valid)


class DistillationTerms(NamedTuple):
    """
    The loss and its two terms, each a float32 scalar, for logging.
    """
    total: torch.Tensor
    soft_target: torch.Tensor
    label: torch.Tensor


class DistillationLoss(nn.Module):
    r"""
    <a id="distillation-loss"></a>

    ## Distillation loss

    The student learns from the teacher's soft targets and from the true labels:

    $$\mathcal{L} = \alpha\, \mathcal{L}_{soft} + \beta\, \mathcal{L}_{label}$$

    where $\mathcal{L}_{label}$ is the cross-entropy with the labels at $T = 1$,
    $\alpha$ is `soft_target_weight` and $\beta$ is `label_loss_weight`.

    The defaults are $T = 4$, $\alpha = 0.9$ and $\beta = 0.1$. The paper
    reports its best results with a considerably lower weight on the label
    term, so the soft term dominates; since $\mathcal{L}_{soft}$ already
    carries the $T^2$ factor, the two weights compare the terms at their
    natural scale and do not need to change with $T$. $T = 4$ flattens a
    confident 10-class teacher enough that its second and third guesses get
    noticeable probability. Both are starting points, tune them on held-out data.

    Samples whose `target` equals `ignore_index` (padding, for example) are left
    out of **both** terms. Each term is an average over the samples that count;
    neither is divided by the number of classes, the mistake that
    `reduction='mean'` in `F.kl_div` makes.
    """

    def __init__(self, temperature: float = 4.0, soft_target_weight: float = 0.9,
                 label_loss_weight: float = 0.1, ignore_index: int = -100):
        super().__init__()
        _check_temperature(temperature)
        for name, weight in (('soft_target_weight', soft_target_weight),
                             ('label_loss_weight', label_loss_weight)):
            if not isinstance(weight, Real) or isinstance(weight, bool):
                raise TypeError(f'{name} must be a number, got {type(weight).__name__}')
            if not (weight >= 0 and math.isfinite(weight)):
                raise ValueError(f'{name} must be non-negative and finite, got {weight!r}')
        self.temperature = temperature
        self.soft_target_weight = soft_target_weight
        self.label_loss_weight = label_loss_weight
        self.ignore_index = ignore_index

    def terms(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor,
              target: torch.Tensor) -> DistillationTerms:
        """
        The total loss and its two terms. `target` holds class indices and has
        the leading shape of the logits.
        """
        _check_logits(student_logits, teacher_logits)
        if not isinstance(target, torch.Tensor) or target.is_floating_point() or target.dtype == torch.bool:
            raise TypeError('target must be an integer tensor of class indices, got '
                            f'{target.dtype if isinstance(target, torch.Tensor) else type(target).__name__}')
        if target.shape != student_logits.shape[:-1]:
            raise ValueError(f'target must have the shape of the logits without their last (class) '
                             f'dimension, {tuple(student_logits.shape[:-1])}, got {tuple(target.shape)}')
        # Samples that count in both terms
        valid = target != self.ignore_index
        soft = soft_target_loss(student_logits, teacher_logits, self.temperature, valid)
        # Cross-entropy with the labels, summed over valid samples and divided by
        # their number, so that a batch with every sample ignored gives $0$, not NaN
        label_sum = F.cross_entropy(student_logits.reshape(-1, student_logits.shape[-1]).float(),
                                    target.reshape(-1), ignore_index=self.ignore_index,
                                    reduction='sum')
        label = label_sum / valid.sum().clamp(min=1)
        # $\alpha\, \mathcal{L}_{soft} + \beta\, \mathcal{L}_{label}$
        total = self.soft_target_weight * soft + self.label_loss_weight * label
        return DistillationTerms(total, soft, label)

    def forward(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        """
        The scalar loss to call `backward()` on.
        """
        return self.terms(student_logits, teacher_logits, target).total
