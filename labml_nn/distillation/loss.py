r"""
---
title: The soft-target loss of knowledge distillation
summary: >
  The temperature-scaled soft-target loss from "Distilling the Knowledge in a
  Neural Network": the formula, why it is multiplied by T², a worked example
  with numbers, the forward and reverse KL and the generalized JSD, and how to
  use it in your own training loop.
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

the cross-entropy $-\sum_c p_c \log q_c$ less the teacher's entropy, a
constant: the same gradients, and zero when the student matches the teacher.

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

The first function below writes exactly this with PyTorch's own functions;
[`soft_target_loss`](#soft-target-loss) returns the same number with little
memory and without waiting for the GPU ([the loss, engineered](loss_engine.html),
with [its limit at high $T$](loss_engine.html#large-temperatures): matching the
logits by squared error), and [the fused loss](fused_loss.html) computes it for
language models from their last hidden states.

## Mistakes to avoid

* `F.kl_div(..., reduction='mean')` divides by the number of classes too:
  use `'batchmean'`.
* Without $T^2$ the soft term fades as the temperature grows.
* No gradient may flow into the teacher.
"""

from typing import NamedTuple, Optional

import torch
import torch.nn.functional as F
from torch import nn

from labml_nn.distillation.loss_engine import (_check_divergence, _check_ignore_index, _check_logits, _check_mask,
                                               _check_target, _check_target_range, _check_temperature,
                                               _check_vocab_size_type, _check_weights, _chunked_soft_target_loss,
                                               _effective_divergence, _first_classes)


def plain_soft_target_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                           temperature: float = 1.0, mask: Optional[torch.Tensor] = None, *,
                           divergence: str = 'forward_kl', beta: float = 0.5) -> torch.Tensor:
    r"""
    ## The plain formula

    The loss as it is usually written: two softmaxes and `F.kl_div`, with
    autograd differentiating it. It takes the arguments of
    [`soft_target_loss`](#soft-target-loss) and computes in the dtype of the
    logits, without checking them.
    """
    # $\log q_c = \log \mathrm{softmax}(z / T)_c$, the student's log-probabilities
    log_q = F.log_softmax(student_logits / temperature, dim=-1)
    # $p_c = \mathrm{softmax}(v / T)_c$, the teacher's soft targets, a constant for the student
    log_p = F.log_softmax(teacher_logits.detach() / temperature, dim=-1)
    p = log_p.exp()
    divergence = _effective_divergence(divergence, beta)
    # `kl_div(log_b, a)` is $\mathrm{KL}(a_i \| b_i) = \sum_c a_{i,c} (\log a_{i,c} - \log b_{i,c})$
    # for each sample $i$: it takes the log-probabilities of $b$ first, and counts
    # $0 \log 0$ as $0$
    if divergence == 'forward_kl':
        # $\mathrm{KL}(p \| q)$
        per_sample = F.kl_div(log_q, p, reduction='none').sum(dim=-1)
    elif divergence == 'reverse_kl':
        # $\mathrm{KL}(q \| p)$
        per_sample = F.kl_div(log_p, log_q.exp(), reduction='none').sum(dim=-1)
    else:
        # $\beta\, \mathrm{KL}(p \| m) + (1 - \beta)\, \mathrm{KL}(q \| m)$ with $m = \beta p + (1 - \beta) q$
        log_m = torch.log(beta * p + (1 - beta) * log_q.exp())
        per_sample = (beta * F.kl_div(log_m, p, reduction='none').sum(dim=-1) +
                      (1 - beta) * F.kl_div(log_m, log_q.exp(), reduction='none').sum(dim=-1))
    # Without a mask every sample counts
    if mask is None:
        mask = torch.ones_like(per_sample, dtype=torch.bool)
    # $\frac{T^2}{n} \sum_{i\ \text{valid}} D_i$, and $0$ when $n = 0$
    return temperature ** 2 * torch.where(mask, per_sample, 0.).sum() / mask.sum().clamp(min=1)


# ## A worked example
#
# A teacher looks at a handwritten 2 that has something of a 3 and a little of
# a 7. Keep only those three classes, with the teacher's logits $v$ and a
# student's logits $z$:
#
# | | 2 | 3 | 7 |
# |---|---|---|---|
# | teacher's logits $v$ | 6 | 2 | 1 |
# | student's logits $z$ | 3 | 0 | 1 |
# | $p$ at $T = 1$ | 0.976 | 0.018 | 0.007 |
# | $p$ at $T = 4$ | 0.604 | 0.222 | 0.173 |
# | $q$ at $T = 4$ | 0.481 | 0.227 | 0.292 |
# | gradient $T (q - p)$ | -0.494 | 0.019 | 0.474 |
#
# At $T = 1$ the 3 and the 7 get 1.8% and 0.7%, too little to teach anything;
# at $T = 4$ they get 22% and 17%. The student gives the 7 too much:
# $\mathrm{KL}(p \| q) = 0.0429$, the loss is $T^2 \cdot 0.0429 = 0.687$, and a step
# against its gradient $T^2 \cdot \frac{1}{T}(q - p)$ raises the 2, lowers the 7
# and leaves the 3 nearly alone. Without $T^2$ the gradient would be 16 times
# smaller, (-0.031, 0.001, 0.030).

# ## Three divergences
#
# A student too small to cover every mode of the teacher spreads its probability
# over all of them under $\mathrm{KL}(p \| q)$, and puts some on words the
# teacher would never say. `divergence` chooses $D$:
#
# * `'forward_kl'`, $\mathrm{KL}(p \| q)$, Hinton's loss and the default;
# * `'reverse_kl'`, $\mathrm{KL}(q \| p)$, which punishes the student for putting
#   probability where the teacher puts little, so it picks modes rather than
#   covering them ([MiniLLM, Gu et al., 2024](https://arxiv.org/abs/2306.08543));
# * `'jsd'`, the generalized Jensen-Shannon divergence of
#   [GKD (Agarwal et al., 2024)](https://arxiv.org/abs/2306.13649), finite even
#   where one model rules out a class the other allows, with $m = \beta p + (1 - \beta) q$:
#
# $$\mathrm{JSD}_\beta = \beta\, \mathrm{KL}(p \| m) + (1 - \beta)\, \mathrm{KL}(q \| m)$$
#
# **One meaning of $\beta$.** TRL's `GKDConfig.beta` and Liger-Kernel's
# `LigerJSD(beta=...)` document the same formula, with $p$ the teacher, and
# the same ends:
#
# | $D$ | here | TRL | Liger |
# |---|---|---|---|
# | $\mathrm{KL}(p \| q)$ | `'forward_kl'`, or `'jsd'` and `beta=0` | `beta=0` | `beta=0` |
# | $\mathrm{KL}(q \| p)$ | `'reverse_kl'`, or `'jsd'` and `beta=1` | `beta=1` | `beta=1` |
# | $\mathrm{JSD}_\beta$ | `'jsd'` and `beta` $= \beta$ | `beta` $= \beta$ | `beta` $= \beta$ |
#
# Neither multiplies by $T^2$: this loss is $T^2$ times theirs at the same
# temperature (Liger's takes log-probabilities, so $T$ is applied before it).
# Some releases of Liger's fused `LigerFusedLinearJSDLoss` mixed
# $m = \beta q + (1 - \beta) p$ instead, with no special ends.
#
# **The ends.** As $\beta \to 0$, $\mathrm{JSD}_\beta \approx \beta\, \mathrm{KL}(p \| q)$,
# and as $\beta \to 1$, $\approx (1 - \beta)\, \mathrm{KL}(q \| p)$, while `beta=0`
# and `beta=1` are the KLs themselves: the value and the gradient's size jump
# there (its direction does not), as in TRL and Liger. A small $\beta$ trains
# like the forward KL with a learning rate $\beta$ times smaller. A `beta`
# outside $[0, 1]$ is refused, never clamped.
#
# The smallest and the largest temperature the loss accepts: the loss is
# multiplied by $T^2$, which must stay a normal float32 number. Between them
# [the engineered loss](loss_engine.html) keeps every digit of its dtype, float32
# as well as float64, and reaches [the large-temperature limit](loss_engine.html#large-temperatures).
# Then the names of the three divergences
MIN_TEMPERATURE = 1e-18
MAX_TEMPERATURE = 1e19
DIVERGENCES = ('forward_kl', 'reverse_kl', 'jsd')


def soft_target_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                     temperature: float = 1.0, mask: Optional[torch.Tensor] = None, *,
                     divergence: str = 'forward_kl', beta: float = 0.5,
                     vocab_size: Optional[int] = None) -> torch.Tensor:
    r"""
    <a id="soft-target-loss"></a>

    ## Soft-target loss

    * `student_logits` and `teacher_logits` have the same shape, classes last:
      `[batch, classes]`, `[batch, seq, vocab]`, or any other leading shape.
      Each position in the leading shape is a sample.
    * `temperature` is $T$, from `MIN_TEMPERATURE` to `MAX_TEMPERATURE`.
    * `mask` is a bool tensor of the leading shape; `False` samples are left
      out of the sum and of $n$. `None` means every sample counts.
    * `divergence` is `'forward_kl'` (the default), `'reverse_kl'` or `'jsd'`,
      and `beta` is the $\beta$ of the JSD.
    * `vocab_size`, if given, keeps the first `vocab_size` classes of both
      logits, for output layers padded past the last real token; without it
      the two must have the same number of classes.

    Returns $\frac{T^2}{n} \sum_{i} D_i$, computed in float32 whatever the
    dtype of the logits (float64 for float64 logits). Gradients flow to
    `student_logits` only, and can be differentiated again.
    """
    _check_logits(student_logits, teacher_logits, vocab_size)
    _check_temperature(temperature, MAX_TEMPERATURE, least=MIN_TEMPERATURE)
    _check_divergence(divergence, beta, DIVERGENCES)
    if mask is not None:
        _check_mask(mask, student_logits.shape[:-1], student_logits.device)
    return _chunked_soft_target_loss(_first_classes(student_logits, vocab_size),
                                     _first_classes(teacher_logits, vocab_size), temperature, mask,
                                     _effective_divergence(divergence, beta), beta)


class DistillationTerms(NamedTuple):
    """
    The loss and its two terms, each a float32 scalar (float64 for float64
    logits), for logging.
    """
    total: torch.Tensor
    soft_target: torch.Tensor
    label: torch.Tensor


class DistillationLoss(nn.Module):
    r"""
    <a id="distillation-loss"></a>

    ## Distillation loss

    The student learns from the teacher's soft targets and from the true labels:

    $$\mathcal{L} = w_{soft}\, \mathcal{L}_{soft} + w_{label}\, \mathcal{L}_{label}$$

    where $\mathcal{L}_{label}$ is the cross-entropy with the labels at $T = 1$,
    and the weights $w_{soft}$ (`soft_target_weight`) and $w_{label}$
    (`label_loss_weight`) must not both be zero. `divergence` and `beta` choose
    $D$, as in `soft_target_loss`.

    The defaults, $T = 4$, $w_{soft} = 0.9$ and $w_{label} = 0.1$, are starting
    points to tune on held-out data: the paper did best with a much lower
    weight on the label term, and with $T^2$ in $\mathcal{L}_{soft}$ the
    weights need not change with $T$.

    Samples whose `target` equals `ignore_index` (padding, for example) are left
    out of **both** terms, and each term is an average over the samples that count.
    `vocab_size` is that of `soft_target_loss`, for both terms.
    """

    def __init__(self, temperature: float = 4.0, soft_target_weight: float = 0.9,
                 label_loss_weight: float = 0.1, ignore_index: int = -100, *,
                 divergence: str = 'forward_kl', beta: float = 0.5, vocab_size: Optional[int] = None):
        super().__init__()
        _check_temperature(temperature, MAX_TEMPERATURE, least=MIN_TEMPERATURE)
        _check_weights(soft_target_weight, label_loss_weight)
        _check_ignore_index(ignore_index)
        _check_divergence(divergence, beta, DIVERGENCES)
        _check_vocab_size_type(vocab_size)
        self.temperature = temperature
        self.divergence = divergence
        self.beta = beta
        self.soft_target_weight = soft_target_weight
        self.label_loss_weight = label_loss_weight
        self.ignore_index = ignore_index
        self.vocab_size = vocab_size

    def terms(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor,
              target: torch.Tensor) -> DistillationTerms:
        """
        The total loss and its two terms. `target` holds class indices, of any
        integer dtype, and has the leading shape of the logits.
        """
        _check_logits(student_logits, teacher_logits, self.vocab_size)
        _check_target(target, student_logits.shape[:-1], student_logits.device, 'the logits')
        # The classes both terms use, and int64 class indices, which `cross_entropy` takes
        student_logits = _first_classes(student_logits, self.vocab_size)
        teacher_logits = _first_classes(teacher_logits, self.vocab_size)
        target = target.long()
        _check_target_range(target, student_logits.shape[-1], self.ignore_index)
        # Samples that count in both terms
        valid = target != self.ignore_index
        soft = soft_target_loss(student_logits, teacher_logits, self.temperature, valid,
                                divergence=self.divergence, beta=self.beta)
        # Cross-entropy with the labels, in the dtype of the soft term, summed over
        # the valid samples and divided by their number, so that a batch with every
        # sample ignored gives $0$, not NaN
        label_sum = F.cross_entropy(student_logits.reshape(-1, student_logits.shape[-1]).to(soft.dtype),
                                    target.reshape(-1), ignore_index=self.ignore_index,
                                    reduction='sum')
        label = label_sum / valid.sum().clamp(min=1)
        # $w_{soft}\, \mathcal{L}_{soft} + w_{label}\, \mathcal{L}_{label}$
        total = self.soft_target_weight * soft + self.label_loss_weight * label
        return DistillationTerms(total, soft, label)

    def forward(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        """
        The scalar loss to call `backward()` on.
        """
        return self.terms(student_logits, teacher_logits, target).total


# ## In your own training loop
#
# A complete example, with stand-ins for a trained teacher and its student:
#
# ```python
# import torch
# from torch import nn
# from labml_nn.distillation.loss import (
#     DistillationLoss, soft_target_loss)
#
# teacher = nn.Linear(32, 10).eval()
# student = nn.Linear(32, 10)
# opt = torch.optim.SGD(student.parameters(), 0.1)
# loss_fn = DistillationLoss(temperature=4.0)
#
# for step in range(100):
#     x = torch.randn(64, 32)
#     y = torch.randint(0, 10, (64,))
#     # No gradient for the teacher
#     with torch.no_grad():
#         teacher_logits = teacher(x)
#     loss = loss_fn(student(x), teacher_logits, y)
#     opt.zero_grad()
#     loss.backward()
#     opt.step()
#
# # Without labels, the soft term alone
# loss = soft_target_loss(student(x), teacher_logits,
#                         temperature=4.0)
# ```
#
# `loss_fn.terms(...)` gives both terms, for logging. For sequences, labels of
# `-100` leave padding out of both terms; `soft_target_loss` takes
# `mask=labels != -100`.
