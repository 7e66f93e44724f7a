r"""
---
title: The soft-target loss of knowledge distillation
summary: >
  The temperature-scaled soft-target loss from "Distilling the Knowledge in a
  Neural Network", first as the plain formula, then as a memory-lean,
  precise and synchronisation-free PyTorch implementation with masking,
  token-level shapes and low-precision inputs; with the reverse KL and the
  generalized JSD, and a fused loss for language models that never holds
  their full logits.
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

The first function below writes exactly this with PyTorch's own functions.
The rest of the page computes the same number in a way that costs less memory,
stays precise at high temperatures and never waits for the GPU.

## Mistakes this module avoids

* `F.kl_div(..., reduction='mean')` averages over samples **and classes**,
  which quietly divides the loss by the number of classes. Sum over the
  classes, or use `'batchmean'`, or this module.
* Forgetting $T^2$ makes the soft term fade as the temperature grows.
* Letting gradients flow into the teacher: here the teacher's logits are
  constants.

The [`DistillationLoss`](#distillation-loss) module at the end combines this
term with the usual cross-entropy on the true labels.
"""

import math
from numbers import Integral, Real
from typing import List, NamedTuple, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import nn


def plain_soft_target_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                           temperature: float = 1.0, mask: Optional[torch.Tensor] = None, *,
                           divergence: str = 'forward_kl', beta: float = 0.5) -> torch.Tensor:
    r"""
    ## The plain formula

    The loss as it is usually written: two softmaxes and `F.kl_div`, with
    autograd differentiating it. It takes the arguments of
    [`soft_target_loss`](#soft-target-loss) and computes in the dtype of the
    logits, without checking them. The tests compare `soft_target_loss` with it
    (in float64) and `benchmarks/loss_memory.py` measures against it.
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


# ## Three divergences
#
# Forward KL is not the only way to compare two distributions, and for language
# models it is often not the best: a student too small to cover every mode of
# the teacher spreads its probability over all of them under
# $\mathrm{KL}(p \| q)$, and puts it on words the teacher would never say.
# The loss offers three divergences $D$, chosen with `divergence`:
#
# * `'forward_kl'`, $\mathrm{KL}(p \| q)$, Hinton's loss and the default;
# * `'reverse_kl'`, $\mathrm{KL}(q \| p) = \sum_c q_c (\log q_c - \log p_c)$, which
#   punishes the student for putting probability where the teacher puts
#   little, so the student picks modes rather than covering them
#   ([MiniLLM, Gu et al. 2023](https://arxiv.org/abs/2306.08543));
# * `'jsd'`, the generalized Jensen-Shannon divergence of
#   [GKD (Agarwal et al. 2023)](https://arxiv.org/abs/2306.13649), with the
#   mixture $m = \beta p + (1 - \beta) q$:
#
# $$\mathrm{JSD}_\beta = \beta\, \mathrm{KL}(p \| m) + (1 - \beta)\, \mathrm{KL}(q \| m)$$
#
# $\mathrm{JSD}_\beta$ is bounded, and finite even where one model rules out a
# class the other allows. As $\beta \to 0$ it shrinks like
# $\beta\, \mathrm{KL}(p \| q)$, and as $\beta \to 1$ like
# $(1 - \beta)\, \mathrm{KL}(q \| p)$, so it interpolates between the two KLs
# only up to those vanishing factors. Like TRL's GKD trainer, `beta=0` and
# `beta=1` are therefore taken to mean the forward and the reverse KL themselves
# (the limits of $\mathrm{JSD}_\beta / \beta$ and $\mathrm{JSD}_\beta / (1 - \beta)$);
# between them the value is the formula above, so it jumps at the two ends.
#
# **Gradients.** All three depend on the student's logits $z$ through
# $q = \mathrm{softmax}(z / T)$, and for any $D$ with
# $g_c = \partial D / \partial q_c$ the softmax gives
# $\frac{\partial D}{\partial z_c} = \frac{1}{T} q_c \big(g_c - \sum_j q_j g_j\big)$.
# For the forward KL, $g_c = -p_c / q_c$, and this is the familiar
# $\frac{1}{T}(q_c - p_c)$. For the reverse KL, $g_c = \log q_c - \log p_c + 1$,
# and the constant $1$ cancels:
#
# $$\frac{\partial\, \mathrm{KL}(q \| p)}{\partial z_c} = \frac{1}{T} q_c \big(d_c - \mathrm{KL}(q \| p)\big), \quad d_c = \log q_c - \log p_c$$
#
# For the JSD, $m$ depends on $q$ too, but its terms cancel
# ($\beta p_c / m_c + (1 - \beta) q_c / m_c = 1$), which leaves
# $g_c = (1 - \beta)(\log q_c - \log m_c)$ and
#
# $$\frac{\partial\, \mathrm{JSD}_\beta}{\partial z_c} = \frac{1 - \beta}{T} q_c \big(d_c - \mathrm{KL}(q \| m)\big), \quad d_c = \log q_c - \log m_c$$
#
# Each gradient falls like $1 / T^2$ at high temperatures, so each loss is
# multiplied by $T^2$, as above. These are the formulas the backward pass uses;
# the tests check them against autograd with `gradcheck` and `gradgradcheck`.
# Where the teacher rules out a class that the student allows ($p_c = 0 < q_c$)
# the reverse KL is infinite, as its formula says; the JSD stays finite.
#
# **Averaging.** The loss is the sum over valid tokens divided by their
# number $n$, never by the number of padded positions, so a batch of short
# sequences weighs each real token as much as a batch of long ones.
# *Gradient accumulation* breaks this if you are not careful (TRL's trainers
# had this bug): averaging each micro-batch by its own $n_k$ and then
# averaging the micro-batches gives a token in a micro-batch with few valid
# tokens more weight than one in a full micro-batch. To weigh every token of
# the accumulated batch alike, multiply micro-batch $k$'s loss by
# $n_k / N$, where $N = \sum_k n_k$ is the number of valid tokens in all of
# them (count them before the first micro-batch), and add rather than average.
#
# The largest temperature the loss accepts: the result is multiplied by $T^2$,
# which must stay finite in float32, the dtype the loss computes in for
# float32, bfloat16 and float16 logits; $\sqrt{3.4 \cdot 10^{38}} \approx 1.8 \cdot 10^{19}$.
# Far below that limit the answer runs out of digits (see the precision notes
# below: about $T / \Delta \le 10^6$ in float32), but it never becomes NaN or infinite
MAX_TEMPERATURE = 1e19
# The divergences, by name
DIVERGENCES = ('forward_kl', 'reverse_kl', 'jsd')


def _effective_divergence(divergence: str, beta: float) -> str:
    """
    The JSD at `beta=0` is the forward KL, and at `beta=1` the reverse KL.
    """
    if divergence == 'jsd' and beta in (0, 1):
        return 'forward_kl' if beta == 0 else 'reverse_kl'
    return divergence


# ## Why the module computes it differently
#
# The plain formula is right, and it has three costs.
#
# **Memory.** Autograd keeps the softmaxes and the products it needs for the
# backward pass: several full `[samples, classes]` float32 tensors, alive
# until `backward()`. For a language model, with 4,096 tokens and a
# 32,000-word vocabulary, each of them is half a gigabyte. Here the forward pass
# walks over the rows in chunks and keeps nothing but its inputs; the backward
# pass recomputes both softmaxes chunk by chunk and forms the gradient
# $\frac{T^2}{n} \cdot \frac{1}{T}(q - p) = \frac{T}{n}(q - p)$ directly.
# `benchmarks/loss_memory.py` measures both versions; the README has its numbers.
#
# **Precision at high temperatures.** As $T$ grows, $p$ and $q$ approach the
# uniform distribution and the KL becomes a tiny number (about $10^{-7}$ per
# sample at $T = 10^4$; the same happens at any $T$ once the student has nearly
# learned the teacher), summed from terms $p_c (\log p_c - \log q_c)$ in which
# both logarithms are close to $-\log N$. Each log-softmax subtracts a
# normalizer $\log \sum_j \exp(z_j / T) \approx \log N$ that float32 rounds by
# about $10^{-6}$, so $p$ and $q$ each sum to $1$ only up to that error, and
# the plain sum inherits it: at $T = 100$ it is off by about $10^{-4}$ of the
# result, at $T = 10^4$ by more than the result. The cure is a form of the
# divergence that does not care, to first order, how well $p$ and $q$ are
# normalized. With $r_c = \log p_c - \log q_c$,
#
# $$\mathrm{KL} = \sum_c \big(p_c r_c - p_c + q_c\big)$$
#
# is the same number when $p$ and $q$ each sum to $1$ (it is the KL divergence
# of unnormalized distributions), and if they sum to $1 + a$ and $1 + b$ instead
# it changes by about $a$ times the KL, plus $a^2$ and $b^2$, where the plain
# sum changes by $a - b$. Each term is $\ge 0$, but it is the difference of
# two nearly equal numbers when $r_c$ is small, unless $p_c - q_c$ is computed
# from $r_c$ rather than by subtracting: since $p_c = q_c e^{r_c}$,
#
# $$p_c - q_c = (p_c + q_c) \frac{e^{r_c} - 1}{e^{r_c} + 1} = (p_c + q_c) \tanh\frac{r_c}{2}$$
#
# and $\tanh$ keeps its full precision for small arguments and never
# overflows. What precision is left depends on how far the student is from
# the teacher relative to the temperature: with $\Delta$ the typical difference
# between a teacher's and a student's logit (beyond a shift of all of them),
# the float32 result is within about $10^{-8}$ to $10^{-7}$ times $T / \Delta$ of
# a float64 computation, $10^{-4}$ at $T / \Delta = 10^4$, for 2 to 32,000
# classes. So $T \le 100$ is accurate to $10^{-3}$ or better as long as the
# logits differ by $0.01$ or more, and $T = 10^4$ when they differ by about $1$;
# the plain formula in float32 is already off by $10^{-3}$ at $T / \Delta = 100$.
# At $T / \Delta = 10^6$ the log-softmaxes themselves run out of digits and the
# result can be off by tens of percent: for such settings pass float64 logits.
#
# **Waiting for the GPU.** Reading a number back to Python, such as the number of
# valid samples or a check for `-inf`, makes the CPU wait until the GPU has
# caught up, and stops `torch.compile(..., fullgraph=True)`. Here every count
# stays a tensor and every special case is handled by arithmetic on all rows.

def _kl_rows(log_a: torch.Tensor, log_b: torch.Tensor,
             a_buffer: torch.Tensor, b_buffer: torch.Tensor) -> torch.Tensor:
    r"""
    ## The divergence of one chunk

    $\mathrm{KL}(a_i \| b_i)$ for each row $i$ of a chunk, from the
    log-probabilities $\log a$ and $\log b$, in the form explained above. It
    overwrites `log_a` and two buffers of the chunk's size, and keeps `log_b`.
    """
    # $a$ and $b$
    a = torch.exp(log_a, out=a_buffer)
    b = torch.exp(log_b, out=b_buffer)
    # $r = \log a - \log b$, in `log_a`'s buffer
    r = log_a.sub_(log_b)
    # Classes that $a$ rules out (`-inf`, $a_c = 0$) have $r_c = -\infty$, or
    # NaN when $b$ rules them out too. They must add nothing to
    # $\sum_c a_c r_c$, where $0 \cdot \infty$ would be NaN: a very negative finite
    # $r_c$ adds $0$ there, and gives $a_c - b_c = -b_c$ below, as it should
    r.nan_to_num_(nan=0., posinf=math.inf, neginf=torch.finfo(r.dtype).min)
    # $a_c r_c - (a_c - b_c)$ for each class, with $a_c - b_c = (a_c + b_c) \tanh(r_c / 2)$:
    # $a + b$ in $b$'s buffer, $a_c r_c$ in $a$'s and $\tanh(r / 2)$ in $r$'s
    a_plus_b = b.add_(a)
    terms = a.mul_(r)
    terms.addcmul_(a_plus_b, r.mul_(0.5).tanh_(), value=-1.)
    # $\mathrm{KL}(a_i \| b_i) = \sum_c \big(a_{i,c} r_{i,c} - (a_{i,c} - b_{i,c})\big)$; PyTorch's
    # sums add in a tree, which keeps the rounding error of 32,000 terms small
    return terms.sum(dim=-1)


def _log_mixture(log_p: torch.Tensor, log_q: torch.Tensor, beta: float,
                 p_buffer: torch.Tensor, q_buffer: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    r"""
    $\log m = \log\big(\beta p + (1 - \beta) q\big)$, computed as a
    `logaddexp` of $\log p + \log \beta$ and $\log q + \log(1 - \beta)$, so that
    it stays finite wherever $p$ or $q$ is not zero.
    """
    weighted_p = torch.add(log_p, math.log(beta), out=p_buffer)
    weighted_q = torch.add(log_q, math.log1p(-beta), out=q_buffer)
    return torch.logaddexp(weighted_p, weighted_q, out=out)


def _divergence_rows(student: torch.Tensor, teacher: torch.Tensor, temperature: float,
                     divergence: str, beta: float, buffers: List[torch.Tensor]) -> torch.Tensor:
    r"""
    The divergence $D_i$ of each row $i$ of a chunk, in four buffers of the
    chunk's size, five for the JSD.
    """
    scaled, log_p, log_q, spare = buffers[:4]
    # $\log p = \text{log-softmax}(v / T)$ and $\log q = \text{log-softmax}(z / T)$
    torch.log_softmax(_scaled(teacher, temperature, scaled), dim=-1, out=log_p)
    torch.log_softmax(_scaled(student, temperature, scaled), dim=-1, out=log_q)
    if divergence == 'forward_kl':
        return _kl_rows(log_p, log_q, scaled, spare)
    if divergence == 'reverse_kl':
        return _kl_rows(log_q, log_p, scaled, spare)
    # $\beta\, \mathrm{KL}(p \| m) + (1 - \beta)\, \mathrm{KL}(q \| m)$, with $\log m$ in the fifth buffer
    log_m = _log_mixture(log_p, log_q, beta, scaled, spare, out=buffers[4])
    to_teacher = _kl_rows(log_p, log_m, scaled, spare)
    return beta * to_teacher + (1 - beta) * _kl_rows(log_q, log_m, scaled, spare)


def _gradient_rows(student: torch.Tensor, teacher: torch.Tensor, temperature: float,
                   divergence: str, beta: float, buffers: List[torch.Tensor],
                   out: torch.Tensor) -> torch.Tensor:
    r"""
    $T\, \partial D_i / \partial z_{i,c}$ for each row $i$ of a chunk, the
    gradient with respect to the scaled logits $z / T$, written into `out`,
    with three buffers of the chunk's size.
    """
    scaled, log_q, log_t = buffers
    if divergence == 'forward_kl':
        # $q - p$, from both softmaxes
        q = torch.softmax(_scaled(student, temperature, scaled), dim=-1, out=log_q)
        p = torch.softmax(_scaled(teacher, temperature, scaled), dim=-1, out=log_t)
        return torch.sub(q, p, out=out)
    # $\log q$ and $\log p$
    torch.log_softmax(_scaled(student, temperature, scaled), dim=-1, out=log_q)
    torch.log_softmax(_scaled(teacher, temperature, scaled), dim=-1, out=log_t)
    # $\log t$ is $\log p$ for the reverse KL and $\log m$ for the JSD, in place
    weight = 1.
    if divergence == 'jsd':
        _log_mixture(log_t, log_q, beta, log_t, scaled, out=log_t)
        weight = 1 - beta
    # $d = \log q - \log t$; classes the student rules out ($q_c = 0$) get $d_c = 0$
    d = torch.sub(log_q, log_t, out=log_t).nan_to_num_(nan=0., posinf=math.inf, neginf=0.)
    q = log_q.exp_()
    # $w\, q_c \big(d_c - \sum_j q_j d_j\big)$
    mean = torch.mul(q, d, out=scaled).sum(dim=-1, keepdim=True)
    return torch.mul(q, d.sub_(mean), out=out).mul_(weight)


def _gradient_in_chunks(student: torch.Tensor, teacher: torch.Tensor,
                        valid: Optional[torch.Tensor], temperature: float, divergence: str,
                        beta: float, scale: torch.Tensor) -> torch.Tensor:
    r"""
    ## The gradient

    The gradient with respect to the student's logits is
    $\text{scale} \cdot T \frac{\partial D}{\partial z}$ with
    $\text{scale} = \frac{T}{n}$ times the incoming gradient. The backward pass
    computes it here chunk by chunk, written straight into the gradient it
    returns; masked rows get exactly zero, even if their teacher row was all `-inf`.
    """
    # Float32 (or float64) gradients are written straight into `grad`;
    # lower-precision ones are rounded once, at the end of each chunk, from a fourth buffer
    in_place = student.dtype == _compute_dtype(student, teacher)
    rows, buffers = _work_buffers(student, teacher, 3 if in_place else 4)
    grad = torch.empty_like(student)
    for start in range(0, student.shape[0], rows):
        end = min(start + rows, student.shape[0])
        work = [b[:end - start] for b in buffers]
        # $\text{scale} \cdot T \frac{\partial D}{\partial z}$
        diff = _gradient_rows(student[start:end], teacher[start:end], temperature, divergence,
                              beta, work[:3], out=grad[start:end] if in_place else work[3])
        diff.mul_(scale)
        if valid is not None:
            diff.masked_fill_(~valid[start:end].unsqueeze(-1), 0.)
        if not in_place:
            grad[start:end] = diff
    return grad


def _gradient_with_graph(student: torch.Tensor, teacher: torch.Tensor,
                         valid: Optional[torch.Tensor], temperature: float, divergence: str,
                         beta: float, scale: torch.Tensor) -> torch.Tensor:
    r"""
    The same gradient in one piece, with operations that autograd records, so
    that it can be differentiated again (a gradient penalty,
    `create_graph=True`). It keeps the softmaxes, as the plain formula does.
    """
    dtype = scale.dtype
    # $z / T$ and $v / T$
    z, v = student.to(dtype) / temperature, teacher.to(dtype) / temperature
    if divergence == 'forward_kl':
        # $q - p$; $q$ depends on the student
        grad = torch.softmax(z, dim=-1) - torch.softmax(v, dim=-1)
    else:
        log_q = torch.log_softmax(z, dim=-1)
        log_p = torch.log_softmax(v, dim=-1)
        q = log_q.exp()
        # $w\, q_c \big(d_c - \sum_j q_j d_j\big)$ with $d = \log q - \log t$
        weight, log_t = 1., log_p
        if divergence == 'jsd':
            weight = 1 - beta
            log_t = torch.logaddexp(log_p + math.log(beta), log_q + math.log1p(-beta))
        d = (log_q - log_t).nan_to_num(nan=0., posinf=math.inf, neginf=0.)
        grad = weight * q * (d - (q * d).sum(dim=-1, keepdim=True))
    grad = grad * scale
    if valid is not None:
        grad = torch.where(valid.unsqueeze(-1), grad, 0.)
    return grad.to(student.dtype)


class _SoftTargetLoss(torch.autograd.Function):
    """
    ## The chunked autograd function

    It works on 2-D inputs `[samples, classes]` with a bool mask `valid` of
    `[samples]`, or `None` when every sample counts; `soft_target_loss` below
    does the reshaping and checking.
    """

    @staticmethod
    def forward(ctx, student: torch.Tensor, teacher: torch.Tensor,
                valid: Optional[torch.Tensor], temperature: float, divergence: str, beta: float):
        rows, buffers = _work_buffers(student, teacher, 5 if divergence == 'jsd' else 4)
        total = torch.zeros((), dtype=buffers[0].dtype, device=student.device)
        for start in range(0, student.shape[0], rows):
            end = min(start + rows, student.shape[0])
            # $D_i$ for the chunk's rows, in the buffers cut to them
            per_sample = _divergence_rows(student[start:end], teacher[start:end], temperature,
                                          divergence, beta, [b[:end - start] for b in buffers])
            # Masked-out rows add nothing, even if they hold NaN
            if valid is not None:
                per_sample = torch.where(valid[start:end], per_sample, 0.)
            total += per_sample.sum()
        # Keep only the inputs for the backward pass, never the softmaxes
        ctx.save_for_backward(student, teacher, valid)
        ctx.settings = temperature, divergence, beta
        # $\frac{T^2}{n} \sum_i D_i$
        return total * temperature ** 2 / _sample_count(valid, student.shape[0])

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        student, teacher, valid = ctx.saved_tensors
        temperature = ctx.settings[0]
        # $\frac{\partial \mathcal{L}}{\partial z_{i,c}} = \frac{T^2}{n} \frac{\partial D_i}{\partial z_{i,c}}$,
        # times the incoming gradient; the functions above give $T \frac{\partial D_i}{\partial z_{i,c}}$
        dtype = _compute_dtype(student, teacher)
        scale = grad_output.to(dtype) * temperature / _sample_count(valid, student.shape[0])
        # Autograd runs this with gradients enabled only when it is asked to
        # build a graph of the backward pass (`create_graph=True`)
        gradient = _gradient_with_graph if torch.is_grad_enabled() else _gradient_in_chunks
        grad = gradient(student, teacher, valid, *ctx.settings, scale)
        # The teacher is a constant: no gradient for it, the mask or the settings
        return grad, None, None, None, None, None


def soft_target_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                     temperature: float = 1.0, mask: Optional[torch.Tensor] = None, *,
                     divergence: str = 'forward_kl', beta: float = 0.5) -> torch.Tensor:
    r"""
    <a id="soft-target-loss"></a>

    ## Soft-target loss

    * `student_logits` and `teacher_logits` have the same shape, classes last:
      `[batch, classes]`, `[batch, seq, vocab]`, or any other leading shape.
      Each position in the leading shape is a sample.
    * `temperature` is $T$, at most `MAX_TEMPERATURE`.
    * `mask` is a bool tensor of the leading shape; `False` samples are left
      out of the sum and of $n$. `None` means every sample counts.
    * `divergence` is `'forward_kl'` (the default), `'reverse_kl'` or `'jsd'`,
      and `beta` is the $\beta$ of the JSD.

    Returns a float32 scalar, $\frac{T^2}{n} \sum_{i} D_i$,
    computed in float32 whatever the dtype of the logits (float64 logits give
    a float64 result). Gradients flow to `student_logits` only, and can be
    differentiated again. Nothing is read back to the CPU, so the function can
    be compiled with `torch.compile(..., fullgraph=True)`.
    """
    _check_logits(student_logits, teacher_logits)
    _check_temperature(temperature)
    _check_divergence(divergence, beta)
    leading_shape = student_logits.shape[:-1]
    if mask is not None:
        _check_mask(mask, leading_shape, student_logits.device)

    # Flatten every leading dimension into one sample dimension; `reshape` makes a
    # copy only when the logits are not contiguous
    classes = student_logits.shape[-1]
    student = student_logits.reshape(-1, classes)
    teacher = teacher_logits.detach().reshape(-1, classes)
    valid = None if mask is None else mask.reshape(-1)
    return _SoftTargetLoss.apply(student, teacher, valid, float(temperature),
                                 _effective_divergence(divergence, beta), float(beta))


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

    $$\mathcal{L} = \alpha\, \mathcal{L}_{soft} + \beta\, \mathcal{L}_{label}$$

    where $\mathcal{L}_{label}$ is the cross-entropy with the labels at $T = 1$,
    $\alpha$ is `soft_target_weight` and $\beta$ is `label_loss_weight` (not the
    $\beta$ of the JSD, which is `beta`); they must not both be zero.
    `divergence` and `beta` choose $D$, as in `soft_target_loss`.

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
                 label_loss_weight: float = 0.1, ignore_index: int = -100, *,
                 divergence: str = 'forward_kl', beta: float = 0.5):
        super().__init__()
        _check_temperature(temperature)
        _check_weights(soft_target_weight, label_loss_weight)
        _check_ignore_index(ignore_index)
        _check_divergence(divergence, beta)
        self.temperature = temperature
        self.divergence = divergence
        self.beta = beta
        self.soft_target_weight = soft_target_weight
        self.label_loss_weight = label_loss_weight
        self.ignore_index = ignore_index

    def terms(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor,
              target: torch.Tensor) -> DistillationTerms:
        """
        The total loss and its two terms. `target` holds class indices, of any
        integer dtype, and has the leading shape of the logits.
        """
        _check_logits(student_logits, teacher_logits)
        _check_target(target, student_logits.shape[:-1])
        # `cross_entropy` takes int64 class indices
        target = target.long()
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
        # $\alpha\, \mathcal{L}_{soft} + \beta\, \mathcal{L}_{label}$
        total = self.soft_target_weight * soft + self.label_loss_weight * label
        return DistillationTerms(total, soft, label)

    def forward(self, student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                target: torch.Tensor) -> torch.Tensor:
        """
        The scalar loss to call `backward()` on.
        """
        return self.terms(student_logits, teacher_logits, target).total


# <a id="fused"></a>
#
# ## A fused linear distillation loss
#
# A language model's logits come from its last layer, $z = h W^\top + b$, with
# hidden states $h$ of `[tokens, hidden]` and an output weight $W$ of
# `[vocab, hidden]`. Computing them first and the loss afterwards holds the whole
# `[tokens, vocab]` logits of both models, and their softmaxes and gradients,
# at once: 823 MB per copy for 4,096 tokens of a 50,257-word vocabulary in
# float32, and many copies. The fused loss never does. It walks over the tokens
# in chunks; for each chunk it computes both models' logits, the loss of its
# rows and, right away, the gradient of the loss with respect to the chunk's
# student logits, $G = \partial \mathcal{L} / \partial z$, from the formulas
# above. That gradient goes straight through the output layer,
#
# $$\frac{\partial \mathcal{L}}{\partial h} = G W, \qquad \frac{\partial \mathcal{L}}{\partial W} = \sum_{\text{chunks}} G^\top h, \qquad \frac{\partial \mathcal{L}}{\partial b} = \sum_{\text{chunks}} \sum_i G_i$$
#
# and the chunk's logits are dropped. Nothing is approximated: each token's
# loss and gradient depend on its own row of logits only, so the rows can be
# taken in any grouping, and the weight's gradient is a sum over tokens,
# which the chunks add up piece by piece. The only thing a chunk needs from the
# others is $n$, the number of valid tokens, which is counted (as a tensor, with
# no host read) before the first chunk.
#
# The backward pass then only scales the stored gradients by the incoming
# gradient. The memory beyond the inputs is those gradients (which a backward
# pass returns anyway; the backward pass holds them twice, scaled and not, for a
# moment) and a few buffers of one chunk's logits.
# `benchmarks/fused_loss.py` measures it against the plain formula.
#
# The optional label term is the cross-entropy at $T = 1$ with `target`, whose
# gradient is $\mathrm{softmax}(z) - \text{one-hot}(y)$; the total is
#
# $$\mathcal{L} = \frac{1}{n} \sum_{i\ \text{valid}} \Big(\alpha\, T^2 D_i + \beta_{label}\, \mathrm{CE}_i\Big)$$
#
# with $\alpha$ `soft_target_weight` and $\beta_{label}$ `label_loss_weight`.

class _FusedSettings(NamedTuple):
    """
    Everything the fused function needs besides its tensors.
    """
    temperature: float
    divergence: str
    beta: float
    soft_target_weight: float
    label_loss_weight: float
    ignore_index: int
    rows: int
    gradients: bool


def _linear(hidden: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
            out: torch.Tensor) -> torch.Tensor:
    r"""
    The logits $h W^\top + b$ of a chunk, written into `out` (in the compute dtype).
    """
    if hidden.dtype == weight.dtype == out.dtype and (bias is None or bias.dtype == out.dtype):
        if bias is None:
            return torch.mm(hidden, weight.t(), out=out)
        return torch.addmm(bias, hidden, weight.t(), out=out)
    # Lower-precision layers compute in their own dtype, as the model does
    return out.copy_(F.linear(hidden, weight, bias))


def _fused_chunk_loss(logits: torch.Tensor, teacher_logits: torch.Tensor,
                      target: Optional[torch.Tensor], valid: Optional[torch.Tensor],
                      settings: _FusedSettings, work: List[torch.Tensor]) -> torch.Tensor:
    r"""
    The sum over a chunk's valid rows of $\alpha T^2 D_i + \beta_{label} \mathrm{CE}_i$.
    """
    temperature = settings.temperature
    per_token = _divergence_rows(logits, teacher_logits, temperature, settings.divergence, settings.beta,
                                 work).mul_(settings.soft_target_weight * temperature ** 2)
    if settings.label_loss_weight:
        cross_entropy = F.cross_entropy(logits, target, ignore_index=settings.ignore_index, reduction='none')
        per_token.add_(cross_entropy, alpha=settings.label_loss_weight)
    # Masked-out rows add nothing, even if they hold NaN
    if valid is not None:
        per_token = torch.where(valid, per_token, 0.)
    return per_token.sum()


def _fused_chunk_gradient(logits: torch.Tensor, teacher_logits: torch.Tensor,
                          target: Optional[torch.Tensor], valid: Optional[torch.Tensor],
                          count: Union[torch.Tensor, int], settings: _FusedSettings,
                          work: List[torch.Tensor]) -> torch.Tensor:
    r"""
    The gradient of a chunk's rows, zero for masked-out ones, in the fourth work buffer:

    $$G = \frac{1}{n}\big(\alpha T^2 \frac{\partial D}{\partial z} + \beta_{label} (\mathrm{softmax}(z) - \text{one-hot}(y))\big)$$
    """
    # `_gradient_rows` gives $T \frac{\partial D}{\partial z}$
    grad = _gradient_rows(logits, teacher_logits, settings.temperature, settings.divergence,
                          settings.beta, work[:3], out=work[3])
    grad.mul_(settings.soft_target_weight * settings.temperature)
    if settings.label_loss_weight:
        # $\mathrm{softmax}(z) - \text{one-hot}(y)$, with any class for masked-out rows
        labels = torch.where(valid, target, 0).unsqueeze(-1)
        label_grad = torch.softmax(logits, dim=-1, out=work[0])
        label_grad.scatter_add_(-1, labels, torch.full_like(labels, -1, dtype=label_grad.dtype))
        grad.add_(label_grad, alpha=settings.label_loss_weight)
    grad.div_(count)
    if valid is not None:
        grad.masked_fill_(~valid.unsqueeze(-1), 0.)
    return grad


class _FusedLinearDistillation(torch.autograd.Function):
    """
    The fused loss on 2-D hidden states, with its gradients computed in the forward pass.
    """

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                teacher_hidden: torch.Tensor, teacher_weight: Optional[torch.Tensor],
                teacher_bias: Optional[torch.Tensor], target: Optional[torch.Tensor],
                settings: _FusedSettings):
        tokens, vocab, rows = hidden.shape[0], weight.shape[0], settings.rows
        dtype = _compute_dtype(hidden, teacher_hidden)
        valid = None if target is None else target != settings.ignore_index
        count = _sample_count(valid, tokens)
        # Two buffers for the chunk's logits, and four (five for the JSD) for the work on them
        buffers = [torch.empty(min(rows, tokens), vocab, dtype=dtype, device=hidden.device)
                   for _ in range(7 if settings.divergence == 'jsd' else 6)]
        # The gradients, filled chunk by chunk; the weight's and bias's are sums, kept in `dtype`
        grad_hidden = grad_weight = grad_bias = None
        if settings.gradients:
            grad_hidden = torch.empty_like(hidden)
            # The first chunk overwrites it; without tokens there is no chunk, and it is zero
            grad_weight = torch.empty(weight.shape, dtype=dtype, device=hidden.device)
            if tokens == 0:
                grad_weight.zero_()
            grad_bias = None if bias is None else torch.zeros(vocab, dtype=dtype, device=hidden.device)
        total = torch.zeros((), dtype=dtype, device=hidden.device)
        for start in range(0, tokens, rows):
            chunk = slice(start, min(start + rows, tokens))
            h = hidden[chunk]
            chunk_target = None if target is None else target[chunk]
            chunk_valid = None if valid is None else valid[chunk]
            logits, teacher_logits, *work = (b[:h.shape[0]] for b in buffers)
            # Both models' logits for the chunk; the teacher's may be given as they are
            _linear(h, weight, bias, out=logits)
            if teacher_weight is None:
                teacher_logits = teacher_hidden[chunk]
            else:
                _linear(teacher_hidden[chunk], teacher_weight, teacher_bias, out=teacher_logits)
            total += _fused_chunk_loss(logits, teacher_logits, chunk_target, chunk_valid, settings, work)
            if not settings.gradients:
                continue
            grad = _fused_chunk_gradient(logits, teacher_logits, chunk_target, chunk_valid, count,
                                         settings, work)
            # $G W$ for the chunk's hidden states; $G^\top h$ and $\sum_i G_i$ added up, the
            # first chunk's $G^\top h$ replacing what the empty tensor held (`beta=0` ignores it)
            _linear(grad.to(weight.dtype), weight.t(), None, out=grad_hidden[chunk])
            grad_weight.addmm_(grad.t(), h.to(dtype), beta=0 if start == 0 else 1)
            if grad_bias is not None:
                grad_bias += grad.sum(dim=0)
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias)
        ctx.dtypes = weight.dtype, None if bias is None else bias.dtype
        # $\frac{1}{n} \sum_i \big(\alpha T^2 D_i + \beta_{label} \mathrm{CE}_i\big)$
        return total / count

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_output: torch.Tensor):
        grad_hidden, grad_weight, grad_bias = ctx.saved_tensors
        weight_dtype, bias_dtype = ctx.dtypes
        # The stored gradients times the incoming gradient, in the layers' dtypes
        grad_weight = (grad_weight * grad_output).to(weight_dtype)
        grad_bias = None if grad_bias is None else (grad_bias * grad_output).to(bias_dtype)
        grad_hidden = grad_hidden * grad_output.to(grad_hidden.dtype)
        return grad_hidden, grad_weight, grad_bias, None, None, None, None, None


def fused_linear_distillation_loss(student_hidden: torch.Tensor, student_weight: torch.Tensor,
                                   teacher_hidden: torch.Tensor, teacher_weight: Optional[torch.Tensor],
                                   target: Optional[torch.Tensor] = None, *,
                                   temperature: float = 1.0, divergence: str = 'forward_kl',
                                   beta: float = 0.5, soft_target_weight: float = 1.0,
                                   label_loss_weight: float = 0.0, ignore_index: int = -100,
                                   student_bias: Optional[torch.Tensor] = None,
                                   teacher_bias: Optional[torch.Tensor] = None,
                                   chunk_size: Optional[int] = None) -> torch.Tensor:
    r"""
    <a id="fused-linear-distillation-loss"></a>

    ### Fused linear distillation loss

    * `student_hidden` is `[..., hidden]`, the student's last hidden states, and
      `student_weight` (`[vocab, hidden]`) and `student_bias` (`[vocab]` or
      `None`) its output layer.
    * `teacher_hidden` and `teacher_weight`, `teacher_bias` are the teacher's,
      whose hidden size may differ; with `teacher_weight=None`,
      `teacher_hidden` holds the teacher's logits, `[..., vocab]`.
    * `target` (the leading shape, integer) gives the labels of the label term
      and, through `ignore_index`, the tokens that count; `None` counts every
      token and needs `label_loss_weight=0`.
    * `temperature`, `divergence` and `beta` are those of `soft_target_loss`.
    * `chunk_size` is the number of tokens in a chunk; by default a chunk holds
      at most `CHUNK_ELEMENTS` logits, as in `soft_target_loss`.

    Returns the mean over valid tokens of `soft_target_weight` times the soft
    term plus `label_loss_weight` times the cross-entropy: the same number as
    `soft_target_weight * soft_target_loss(...) + label_loss_weight * cross_entropy`
    on the full logits. Gradients flow to the student's hidden states, weight
    and bias, once (no second derivatives); they are computed during the
    forward pass when gradients are enabled.
    """
    _check_fused(student_hidden, student_weight, student_bias, teacher_hidden, teacher_weight,
                 teacher_bias, target, chunk_size)
    _check_temperature(temperature)
    _check_divergence(divergence, beta)
    _check_weights(soft_target_weight, label_loss_weight)
    _check_ignore_index(ignore_index)
    if target is None and label_loss_weight:
        raise ValueError(f'label_loss_weight is {label_loss_weight} but there is no target: '
                         f'pass the labels as target, or set label_loss_weight=0')
    # Every leading dimension becomes one token dimension
    student = student_hidden.reshape(-1, student_hidden.shape[-1])
    teacher = teacher_hidden.detach().reshape(-1, teacher_hidden.shape[-1])
    labels = None if target is None else target.reshape(-1).long()
    vocab = student_weight.shape[0]
    gradients = torch.is_grad_enabled() and any(
        t is not None and t.requires_grad for t in (student_hidden, student_weight, student_bias))
    settings = _FusedSettings(float(temperature), _effective_divergence(divergence, beta),
                              float(beta), float(soft_target_weight), float(label_loss_weight),
                              int(ignore_index), chunk_size or _chunk_rows(student.shape[0], vocab),
                              gradients)
    return _FusedLinearDistillation.apply(
        student, student_weight, student_bias, teacher,
        None if teacher_weight is None else teacher_weight.detach(),
        None if teacher_bias is None else teacher_bias.detach(), labels, settings)


# ## Chunks, buffers and dtypes
#
# A chunk of rows holds at most this many logits, 32 MiB in float32: with 4,096
# tokens of a 32,000-word vocabulary that is 16 chunks. Every operation on a chunk
# has a fixed cost (waking the CPU threads, launching a GPU kernel), so chunks
# must not be too small, and up to four of them are alive at a time, so they must
# not be too large either
CHUNK_ELEMENTS = 1 << 23
# Smaller inputs are still cut into `MIN_CHUNKS` chunks, so that the work
# buffers stay well below the size of the input, unless that would make a chunk
# smaller than `MIN_CHUNK_ELEMENTS` logits (1 MiB in float32)
MIN_CHUNKS = 4
MIN_CHUNK_ELEMENTS = 1 << 18


def _compute_dtype(student: torch.Tensor, teacher: torch.Tensor) -> torch.dtype:
    """
    The loss is computed in float32, so bfloat16 and float16 logits lose no
    precision in the softmax; float64 logits (for `gradcheck`) stay float64.
    """
    if torch.float64 in (student.dtype, teacher.dtype):
        return torch.float64
    return torch.float32


def _chunk_rows(samples: int, classes: int) -> int:
    """
    The number of rows in a chunk.
    """
    most = max(1, CHUNK_ELEMENTS // classes)
    fewest = max(1, MIN_CHUNK_ELEMENTS // classes)
    return min(most, max(fewest, math.ceil(samples / MIN_CHUNKS)))


def _work_buffers(student: torch.Tensor, teacher: torch.Tensor,
                  count: int) -> Tuple[int, List[torch.Tensor]]:
    """
    The number of rows in a chunk, and `count` buffers of one chunk each, in
    the compute dtype. Every chunk reuses them, so the memory the loss needs
    beyond its inputs (and the gradient it returns) is these buffers.
    """
    rows = _chunk_rows(student.shape[0], student.shape[-1])
    shape = (min(rows, student.shape[0]), student.shape[-1])
    dtype = _compute_dtype(student, teacher)
    return rows, [torch.empty(shape, dtype=dtype, device=student.device) for _ in range(count)]


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


def _sample_count(valid: Optional[torch.Tensor], samples: int) -> Union[torch.Tensor, int]:
    r"""
    $\max(n, 1)$: the number of valid samples, as a tensor when a mask decides
    it (reading it back would make the CPU wait for the GPU), and at least one,
    so that a batch with no valid sample gives $0$ rather than NaN.
    """
    if valid is None:
        return max(samples, 1)
    return valid.sum().clamp(min=1)


# ## Checking the arguments
#
# Bad input is caught before any work, with a message that says what is wrong.

def _check_logits(student_logits: torch.Tensor, teacher_logits: torch.Tensor):
    """
    Both logits: floating-point tensors of one shape, with a class dimension
    last, on one device.
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
    if student_logits.shape[-1] != teacher_logits.shape[-1]:
        raise ValueError(f'student_logits and teacher_logits must have the same shape, but their '
                         f'vocabularies differ: the student has {student_logits.shape[-1]} classes '
                         f'and the teacher {teacher_logits.shape[-1]}; distillation compares them '
                         f'class by class, so both models must use the same tokenizer or class list')
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f'student_logits and teacher_logits must have the same shape, got '
                         f'{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}')
    if student_logits.device != teacher_logits.device:
        raise ValueError(f'student_logits and teacher_logits must be on the same device, got '
                         f'{student_logits.device} and {teacher_logits.device}')


def _check_temperature(temperature: float):
    """
    The temperature divides the logits: it must be a positive number, at most
    `MAX_TEMPERATURE`.
    """
    if not isinstance(temperature, Real) or isinstance(temperature, bool):
        raise TypeError(f'temperature must be a number, got {type(temperature).__name__}')
    if not (0 < temperature < float('inf')):
        raise ValueError(f'temperature must be positive and finite, got {temperature}')
    if temperature > MAX_TEMPERATURE:
        raise ValueError(f'temperature must be at most {MAX_TEMPERATURE:g} (MAX_TEMPERATURE: the '
                         f'loss is multiplied by T^2, which must stay finite in float32), '
                         f'got {temperature:g}')


def _check_divergence(divergence: str, beta: float):
    r"""
    One of the three divergences, and a $\beta$ between $0$ and $1$.
    """
    if divergence not in DIVERGENCES:
        raise ValueError(f'divergence must be one of {", ".join(map(repr, DIVERGENCES))}, '
                         f'got {divergence!r}')
    if not isinstance(beta, Real) or isinstance(beta, bool):
        raise TypeError(f'beta must be a number, got {type(beta).__name__}')
    if not 0 <= beta <= 1:
        raise ValueError(f'beta must be between 0 and 1, got {beta!r}')


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


def _check_weights(soft_target_weight: float, label_loss_weight: float):
    """
    The weights of the two terms: non-negative, finite, and not both zero,
    which would train on a loss of zero.
    """
    _check_weight('soft_target_weight', soft_target_weight)
    _check_weight('label_loss_weight', label_loss_weight)
    if soft_target_weight == 0 and label_loss_weight == 0:
        raise ValueError('soft_target_weight and label_loss_weight are both 0, so the loss would '
                         'be 0 and nothing would train: make at least one of them positive')


def _check_weight(name: str, weight: float):
    """
    A term's weight: a non-negative, finite number.
    """
    if not isinstance(weight, Real) or isinstance(weight, bool):
        raise TypeError(f'{name} must be a number, got {type(weight).__name__}')
    if not (weight >= 0 and math.isfinite(weight)):
        raise ValueError(f'{name} must be non-negative and finite, got {weight!r}')


def _check_ignore_index(ignore_index: int):
    """
    The class index that marks samples to leave out: an integer. A value that no
    target holds, such as the default $-100$, leaves nothing out.
    """
    if not isinstance(ignore_index, Integral) or isinstance(ignore_index, bool):
        raise TypeError(f'ignore_index must be an integer class index (the default, -100, '
                        f'matches no class), got {type(ignore_index).__name__}')


def _check_target(target: torch.Tensor, leading_shape: torch.Size):
    """
    The labels: an integer tensor of class indices, one per sample.
    """
    if (not isinstance(target, torch.Tensor) or target.is_floating_point() or target.is_complex()
            or target.dtype == torch.bool):
        raise TypeError('target must be an integer tensor of class indices, got '
                        f'{target.dtype if isinstance(target, torch.Tensor) else type(target).__name__}')
    if target.shape != leading_shape:
        raise ValueError(f'target must have the shape of the logits without their last (class) '
                         f'dimension, {tuple(leading_shape)}, got {tuple(target.shape)}')


def _check_fused(student_hidden: torch.Tensor, student_weight: torch.Tensor,
                 student_bias: Optional[torch.Tensor], teacher_hidden: torch.Tensor,
                 teacher_weight: Optional[torch.Tensor], teacher_bias: Optional[torch.Tensor],
                 target: Optional[torch.Tensor], chunk_size: Optional[int]):
    """
    The tensors of the fused loss: floating point, on one device, with shapes
    that fit together, and one vocabulary for both models.
    """
    named = {'student_hidden': student_hidden, 'student_weight': student_weight,
             'teacher_hidden': teacher_hidden, 'teacher_weight': teacher_weight,
             'student_bias': student_bias, 'teacher_bias': teacher_bias}
    for name, tensor in named.items():
        if tensor is None and name in ('student_hidden', 'student_weight', 'teacher_hidden'):
            raise TypeError(f'{name} must be a torch.Tensor, got None')
        if tensor is not None and not isinstance(tensor, torch.Tensor):
            raise TypeError(f'{name} must be a torch.Tensor, got {type(tensor).__name__}')
        if tensor is not None and not tensor.is_floating_point():
            raise TypeError(f'{name} must be floating point, got dtype {tensor.dtype}')
        if tensor is not None and tensor.device != student_hidden.device:
            raise ValueError(f'{name} must be on the device of student_hidden, '
                             f'{student_hidden.device}, got {tensor.device}')
    if teacher_bias is not None and teacher_weight is None:
        raise ValueError('teacher_bias needs teacher_weight: with teacher_weight=None, '
                         'teacher_hidden already holds the logits')
    for side, hidden, weight in (('student', student_hidden, student_weight),
                                 ('teacher', teacher_hidden, teacher_weight)):
        if hidden.dim() == 0:
            raise ValueError(f'{side}_hidden must have a hidden dimension (the last one), got a scalar')
        if weight is not None and (weight.dim() != 2 or weight.shape[1] != hidden.shape[-1]):
            raise ValueError(f'{side}_weight must be [vocab, hidden] with hidden = '
                             f'{side}_hidden.shape[-1] = {hidden.shape[-1]}, got {tuple(weight.shape)}')
    teacher_vocab, teacher_source = ((teacher_hidden.shape[-1], 'teacher logits, teacher_hidden.shape[-1]')
                                     if teacher_weight is None else
                                     (teacher_weight.shape[0], 'teacher_weight.shape[0]'))
    if student_weight.shape[0] != teacher_vocab:
        raise ValueError(f"the student's and the teacher's vocabularies differ: the student has "
                         f'{student_weight.shape[0]} (student_weight.shape[0]) and the teacher '
                         f'{teacher_vocab} ({teacher_source}); distillation compares them token by '
                         f'token, so both models must use the same tokenizer')
    if student_hidden.shape[:-1] != teacher_hidden.shape[:-1]:
        raise ValueError(f'student_hidden and teacher_hidden must have the same leading (token) '
                         f'shape, got {tuple(student_hidden.shape[:-1])} and '
                         f'{tuple(teacher_hidden.shape[:-1])}')
    for name, bias in (('student_bias', student_bias), ('teacher_bias', teacher_bias)):
        if bias is not None and tuple(bias.shape) != (student_weight.shape[0],):
            raise ValueError(f'{name} must be [vocab] = ({student_weight.shape[0]},), '
                             f'got {tuple(bias.shape)}')
    if target is not None:
        _check_target(target, student_hidden.shape[:-1])
        if target.device != student_hidden.device:
            raise ValueError(f'target must be on the device of student_hidden, '
                             f'{student_hidden.device}, got {target.device}')
    if chunk_size is not None and (not isinstance(chunk_size, Integral) or isinstance(chunk_size, bool)
                                   or chunk_size < 1):
        raise ValueError(f'chunk_size must be a positive number of tokens or None, got {chunk_size!r}')
