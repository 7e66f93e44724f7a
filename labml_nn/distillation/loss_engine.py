r"""
---
title: The soft-target loss, engineered
summary: >
  How soft_target_loss computes the plain formula with little memory,
  exactly at any temperature and without waiting for the GPU: chunks and
  work buffers, the log-ratio from the logits' differences, a form of the
  KL divergence with no cancellation, the exact first and second derivatives
  of the three divergences, dtypes, and the checks on its arguments.
---

# The soft-target loss, engineered

The [soft-target loss](loss.html) is a few lines of PyTorch, and
[`plain_soft_target_loss`](loss.html#plain_soft_target_loss) writes it that way.
[`soft_target_loss`](loss.html#soft-target-loss) returns the same number,
computed by the functions on this page, because the plain formula is right
and has three costs.

**Memory.** Autograd keeps the softmaxes and the products it needs for the
backward pass: several full `[samples, classes]` float32 tensors, alive
until `backward()`. For a language model, with 4,096 tokens and a
32,000-word vocabulary, each of them is half a gigabyte. Here the forward pass
walks over the rows in chunks and keeps nothing but its inputs; the backward
pass recomputes both softmaxes chunk by chunk and forms the gradient
$\frac{T^2}{n} \cdot \frac{1}{T}(q - p) = \frac{T}{n}(q - p)$ directly.
`benchmarks/loss_memory.py` measures both versions; the README has its numbers.

**Precision.** As $T$ grows, $p$ and $q$ approach the uniform distribution.
With $\Delta$ the typical difference between a teacher's and a student's logit
(beyond a shift of all of them), each log-ratio $\log p_c - \log q_c$ is about
$\Delta / T$ and the KL about $(\Delta / T)^2$, while each log-probability is
a number near $-\log N$ whose last digit is worth about $10^{-7}$ in float32
and $10^{-16}$ in float64. Written as two log-softmaxes and a sum, the formula
takes the log-ratios as differences of such numbers, then adds terms of size
$\Delta / T$, of both signs, to get a result of size $(\Delta / T)^2$. On a
10-class example whose answer is 0.95, float64 gives 1.18 at $T = 10^8$ and
$10^{16}$ at $T = 10^{16}$, and float32 gives 0 from $T = 10^8$ on. The same
happens at any $T$ once the student has nearly learned the teacher. Here
nothing is subtracted that is known only to a few digits:

1. [the log-ratios](#log-ratio) come from the differences of the logits, and the
   normalizers' difference from $\mathrm{expm1}$ and $\mathrm{log1p}$, so
   $\log N$ never appears;
2. [the divergence](#divergence) is a sum of terms that are each $\ge 0$,
   $p_c\, \varphi(r_c)$ with $\varphi(r) = r - 1 + e^{-r}$, and $\varphi$ is a
   series where the subtraction would lose digits;
3. each term is multiplied by $T^2$ before the sum, so that $T^2\, \mathrm{KL}$,
   about $\Delta^2$, stays a normal number where the KL itself, $10^{-38}$ at
   $T = 10^{19}$, would not.

The result is then as exact as the logits themselves: its error is about what
rounding each logit in its last digit would change, $10^{-7} |x| / \Delta$ in
float32 and $10^{-16} |x| / \Delta$ in float64 for logits of size $|x|$, at every
temperature the loss accepts. For logits about 1 apart, the tests find float32
within $10^{-5}$ and float64 within $10^{-13}$ of 50-digit arithmetic from
$T = 10^{-18}$ to $10^{19}$, and both at the
[large-temperature limit](loss.html#large-temperatures) at $T = 10^{16}$ and
$10^{19}$. The price is time: the extra exponentials, the series and the
selections roughly double the elementwise work on each chunk.

**Waiting for the GPU.** Reading a number back to Python, such as the number of
valid samples or a check for `-inf`, makes the CPU wait until the GPU has
caught up, and stops `torch.compile(..., fullgraph=True)`. Here every count
stays a tensor and every special case is handled by arithmetic on all rows.

<a id="large-temperatures"></a>

## The two ends of the temperature

With the centred logits $\tilde z_c = z_c - \frac{1}{N} \sum_j z_j$ (and
$\tilde v_c$ likewise), expanding both softmaxes in $1 / T$ gives
$\log p_c - \log q_c = (\tilde v_c - \tilde z_c) / T + O(1 / T^2)$ and
$p_c = \frac{1}{N} + O(1 / T)$, and the KL divergence is half the $p$-weighted
sum of the squared log-ratios, up to $O(1 / T^3)$. So

$$\lim_{T \to \infty} T^2\, \mathrm{KL}(p \| q) = \frac{1}{2N} \sum_c \big(\tilde z_c - \tilde v_c\big)^2$$

which is matching the logits by squared error, the limit the paper's section 2.1
finds: its gradient, $\frac{1}{N}(\tilde z_c - \tilde v_c)$, is the paper's
$\frac{1}{N T^2}(z_c - v_c)$ times $T^2$. The reverse KL has the same limit, and
the JSD $\beta (1 - \beta)$ times it.
At the other end, as $T \to 0$ both distributions become one-hot, and with $a$
the teacher's top class, $T^2\, \mathrm{KL}(p \| q) \approx T \big(\max_j z_j - z_a\big) \to 0$:
the soft targets say nothing but the teacher's answer, and say it ever more quietly.
"""

import math
from numbers import Integral, Real
from typing import List, Optional, Sequence, Tuple, Union

import torch


def _effective_divergence(divergence: str, beta: float) -> str:
    """
    The JSD at `beta=0` is the forward KL, and at `beta=1` the reverse KL.
    """
    if divergence == 'jsd' and beta in (0, 1):
        return 'forward_kl' if beta == 0 else 'reverse_kl'
    return divergence


# <a id="log-ratio"></a>
#
# ## The log-ratio, exactly
#
# For a row of logits $x$ (the teacher's $v$ or the student's $z$), let
# $y_c = (x_c - \max_j x_j) / T$ and $\ell = \log \frac{1}{N} \sum_j e^{y_j}$.
# The log-softmax is $y_c - \log N - \ell$, so
#
# $$r_c = \log p_c - \log q_c = \big(y^v_c - y^z_c\big) - \big(\ell_v - \ell_z\big)$$
#
# in which $\log N$ has cancelled exactly. Near the uniform distribution,
# $\ell = \mathrm{log1p}\big(\frac{1}{N} \sum_j \mathrm{expm1}(y_j)\big)$ is a small
# number that $\mathrm{expm1}$ and $\mathrm{log1p}$ give to its last digit; far from
# it ($\frac{1}{N} \sum_j e^{y_j} < \frac{1}{2}$), $\ell$ is at least $\log 2$ in
# size and $\log \frac{1}{N} \sum_j e^{y_j}$ is as exact. (When one class holds
# nearly all of both distributions, its own log-ratio is then known to about one
# unit in the last place of $1$, as in the plain formula; it adds nothing to the
# loss, and that much to that class's gradient.) The shift by the largest logit
# comes before the division, so that $e^{y}$ never overflows and a tiny $T$ gives
# $-\infty$ rather than $\infty - \infty$.
#
# These functions take their work buffers as arguments, or `None` to make new
# tensors with operations that autograd records, which is how
# [the gradient is differentiated again](#gradient-with-graph).

def _shifted(logits: torch.Tensor, temperature: float, out: Optional[torch.Tensor]) -> torch.Tensor:
    r"""
    $y = (x - \max_j x_j) / T$ for each row of a chunk, written into `out`, in its dtype.
    """
    if out is not None and logits.dtype != out.dtype:
        # Lower-precision logits are converted first, so that the arithmetic is done in float32
        logits = out.copy_(logits)
    shifted = torch.sub(logits, logits.amax(dim=-1, keepdim=True), out=out)
    return shifted if temperature == 1.0 else torch.div(shifted, temperature, out=out)


def _softmax_and_log_mean(shifted: torch.Tensor,
                          out: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""
    The softmax of shifted logits $y$, written into `out`, and
    $\ell = \log \frac{1}{N} \sum_j e^{y_j}$ for each row.
    """
    classes = shifted.shape[-1]
    # $\frac{1}{N} \sum_j \mathrm{expm1}(y_j)$, exact near the uniform distribution
    near_uniform = torch.special.expm1(shifted, out=out).sum(dim=-1, keepdim=True) / classes
    exp = torch.exp(shifted, out=out)
    total = exp.sum(dim=-1, keepdim=True)
    log_mean = torch.where(near_uniform > -0.5, torch.log1p(near_uniform), torch.log(total / classes))
    return torch.div(exp, total, out=out), log_mean


def _log_ratio(student: torch.Tensor, teacher: torch.Tensor, temperature: float,
               buffers: Sequence[Optional[torch.Tensor]]) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    r"""
    $r = \log p - \log q$ and the softmaxes $p$ and $q$ for each row of a chunk, in
    four buffers: $r$ in the first, $p$ in the second and $q$ in the fourth; the
    third is free afterwards.
    """
    teacher_shifted = _shifted(teacher, temperature, buffers[0])
    p, teacher_log_mean = _softmax_and_log_mean(teacher_shifted, buffers[1])
    student_shifted = _shifted(student, temperature, buffers[2])
    q, student_log_mean = _softmax_and_log_mean(student_shifted, buffers[3])
    # $(y^v - y^z) - (\ell_v - \ell_z)$
    r = torch.sub(teacher_shifted, student_shifted, out=buffers[0])
    r = torch.sub(r, teacher_log_mean - student_log_mean, out=buffers[0])
    # A class both rule out ($p_c = q_c = 0$) gets $r_c = 0$ rather than NaN: it adds nothing.
    # A class only one of them rules out keeps its infinite $r_c$
    return torch.nan_to_num(r, nan=0., posinf=math.inf, neginf=-math.inf, out=buffers[0]), p, q


# <a id="divergence"></a>
#
# ## The divergence, without cancellation
#
# Since $q_c = p_c e^{-r_c}$, the KL divergence is a sum of terms that are each $\ge 0$:
#
# $$\mathrm{KL}(p \| q) = \sum_c p_c\, \varphi(r_c), \qquad
# \varphi(r) = r - 1 + e^{-r} = \frac{r^2}{2} - \frac{r^3}{6} + \dots$$
#
# Where $|r_c| \ge \frac{1}{2}$, the term is computed as $p_c r_c - p_c + q_c$,
# which loses at most about 20 units in the last place to the subtraction.
# Where $|r_c| < \frac{1}{2}$ it would lose more and more as $r_c$ shrinks, and the
# term is $p_c r_c^2 \psi(r_c)$ instead, with the series
#
# $$\psi(r) = \frac{\varphi(r)}{r^2} = \sum_{k \ge 0} \frac{(-r)^k}{(k + 2)!}$$
#
# cut after as many terms as the dtype has digits for (7 in float32, 14 in float64).
# The reverse KL is the same with $p$ and $q$ swapped and $-r$ for $r$.
#
# Every term is multiplied by $T^2$ before the sum, as $p_c (T r_c)^2 \psi(r_c)$
# in the series: the loss $T^2\, \mathrm{KL}$ stays about $\Delta^2$ at any $T$.
SERIES_RADIUS = 0.5


def _series_terms(dtype: torch.dtype) -> int:
    r"""
    The number of terms of $\psi$'s series for `dtype`: the first one left out,
    $\rho^K / (K + 2)!$ at the radius $\rho$, is under half a unit in the last
    place of $\psi$, which is more than $0.4$ for $|r| \le \rho$.
    """
    half_unit = torch.finfo(dtype).eps / 2
    terms = 1
    while SERIES_RADIUS ** terms / math.factorial(terms + 2) >= 0.4 * half_unit:
        terms += 1
    return terms


def _phi_series(r: torch.Tensor, a: torch.Tensor, factor: float, out: torch.Tensor) -> torch.Tensor:
    r"""
    $\text{factor} \cdot a_c r_c^2 \psi(r_c)$ for each class, written into `out`.
    The factor goes into the series' coefficients, so that with $T^2$ for it
    nothing underflows at a high temperature.
    """
    coefficients = [factor * (-1) ** k / math.factorial(k + 2) for k in range(_series_terms(out.dtype))]
    # Horner's rule, from the last coefficient down to $\frac{1}{2}$: $s \leftarrow c_k + s\, r$,
    # with each coefficient a tensor, so that each step is one pass
    series = out.fill_(coefficients[-1])
    for coefficient in reversed(coefficients[:-1]):
        torch.addcmul(out.new_full((), coefficient), series, r, out=series)
    return series.mul_(a).mul_(r).mul_(r)


def _scaled_kl_rows(a: torch.Tensor, b: torch.Tensor, r: torch.Tensor, temperature: float,
                    spare: torch.Tensor) -> torch.Tensor:
    r"""
    $T^2\, \mathrm{KL}(a_i \| b_i) = T^2 \sum_c a_{i,c}\, \varphi(r_{i,c})$ for each row
    $i$ of a chunk, from $a$, $b$ and $r = \log a - \log b$. It overwrites `b`,
    `r` and `spare`.
    """
    # A class $a$ rules out ($a_c = 0$, $r_c = -\infty$) adds $b_c$: a very negative
    # finite $r_c$ gives that, where $0 \cdot \infty$ would be NaN
    r.clamp_(min=torch.finfo(r.dtype).min)
    small = torch.abs(r, out=spare) < SERIES_RADIUS
    # $T^2 (a_c r_c - a_c + b_c)$, and $T^2 a_c r_c^2 \psi(r_c)$ where $|r_c| < \frac{1}{2}$
    direct = b.sub_(a).addcmul_(a, r).mul_(temperature ** 2)
    series = _phi_series(r, a, temperature ** 2, spare)
    return torch.where(small, series, direct, out=series).sum(dim=-1)


# For the JSD, with $m = \beta p + (1 - \beta) q$, the two log-ratios to the mixture are
#
# $$\log m_c - \log q_c = h(r_c, \beta), \quad \log m_c - \log p_c = h(-r_c, 1 - \beta), \quad
# h(s, w) = \log\big(1 - w + w e^s\big)$$
#
# and the terms of $\beta\, \mathrm{KL}(p \| m) + (1 - \beta)\, \mathrm{KL}(q \| m)$
# are $\beta p_c \varphi(\log p_c - \log m_c) + (1 - \beta) q_c \varphi(\log q_c - \log m_c)$.
# Their parts $-p_c + m_c$ and $-q_c + m_c$ cancel between the two halves, which
# leaves $\beta p_c \log \frac{p_c}{m_c} + (1 - \beta) q_c \log \frac{q_c}{m_c}$ where
# $|r_c| \ge \frac{1}{2}$, and the series where $|r_c| < \frac{1}{2}$ (both log-ratios
# to $m$ are then smaller than $r_c$).

def _log_mixture_ratio(s: torch.Tensor, weight: float, out: Optional[torch.Tensor],
                       spare: Optional[torch.Tensor]) -> torch.Tensor:
    r"""
    $h(s, w) = \log(1 - w + w e^s)$ for each class, written into `out`:
    $\mathrm{log1p}\big(w\, \mathrm{expm1}(s)\big)$ for $|s| < 1$, exact where $h$ is
    small, and $\mathrm{logaddexp}(s + \log w, \log(1 - w))$ elsewhere, exact
    where it is not and finite for any $s$. `spare` may be `s`, which is then
    overwritten.
    """
    near_zero = torch.abs(s, out=out) < 1
    # The clamp keeps the unused side finite, and its derivative zero
    close = torch.special.expm1(torch.clamp(s, -1., 1., out=out), out=out)
    close = torch.log1p(torch.mul(close, weight, out=out), out=out)
    far = torch.logaddexp(torch.add(s, math.log(weight), out=spare), s.new_full((), math.log1p(-weight)),
                          out=spare)
    return torch.where(near_zero, close, far, out=out)


def _scaled_jsd_half(a: torch.Tensor, log_a_over_m: torch.Tensor, weight: float, temperature: float,
                     small: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    r"""
    One half of the JSD's terms, $T^2 w\, a_c \log \frac{a_c}{m_c}$, or its series where
    `small`, written into `out`; it overwrites `log_a_over_m`.
    """
    # A class $a$ rules out adds nothing to this half
    log_a_over_m.clamp_(min=torch.finfo(log_a_over_m.dtype).min)
    series = _phi_series(log_a_over_m, a, weight * temperature ** 2, out)
    direct = log_a_over_m.mul_(a).mul_(weight * temperature ** 2)
    return torch.where(small, series, direct, out=out)


def _scaled_jsd_rows(p: torch.Tensor, q: torch.Tensor, r: torch.Tensor, beta: float, temperature: float,
                     spares: Sequence[torch.Tensor]) -> torch.Tensor:
    r"""
    $T^2\, \mathrm{JSD}_\beta(p_i, q_i)$ for each row $i$ of a chunk, from $p$, $q$
    and $r = \log p - \log q$, with two spare buffers; it overwrites `r` and them.
    """
    small = torch.abs(r, out=spares[0]) < SERIES_RADIUS
    # $\log q - \log m$, then $\log p - \log m$ with $r$'s buffer as the spare
    log_q_over_m = _log_mixture_ratio(r, beta, out=spares[0], spare=spares[1]).neg_()
    log_p_over_m = _log_mixture_ratio(r.neg_(), 1 - beta, out=spares[1], spare=r).neg_()
    total = _scaled_jsd_half(p, log_p_over_m, beta, temperature, small, out=r)
    total += _scaled_jsd_half(q, log_q_over_m, 1 - beta, temperature, small, out=spares[1])
    return total.sum(dim=-1)


def _scaled_divergence_rows(student: torch.Tensor, teacher: torch.Tensor, temperature: float,
                            divergence: str, beta: float, buffers: List[torch.Tensor]) -> torch.Tensor:
    r"""
    $T^2 D_i$ for each row $i$ of a chunk, in four buffers of the chunk's size,
    five for the JSD.
    """
    r, p, q = _log_ratio(student, teacher, temperature, buffers[:4])
    if divergence == 'forward_kl':
        return _scaled_kl_rows(p, q, r, temperature, spare=buffers[2])
    if divergence == 'reverse_kl':
        return _scaled_kl_rows(q, p, r.neg_(), temperature, spare=buffers[2])
    return _scaled_jsd_rows(p, q, r, beta, temperature, [buffers[2], buffers[4]])


def _divergence_rows(student: torch.Tensor, teacher: torch.Tensor, temperature: float,
                     divergence: str, beta: float, buffers: List[torch.Tensor]) -> torch.Tensor:
    r"""
    $D_i$ itself, for a caller that multiplies by $T^2$ afterwards.
    """
    return _scaled_divergence_rows(student, teacher, temperature, divergence, beta, buffers).div_(temperature ** 2)


# <a id="gradients"></a>
#
# ## The gradients
#
# All three divergences depend on the student's logits $z$ through
# $q = \mathrm{softmax}(z / T)$, and for any $D$ with
# $g_c = \partial D / \partial q_c$ the softmax gives
# $\frac{\partial D}{\partial z_c} = \frac{1}{T} q_c \big(g_c - \sum_j q_j g_j\big)$.
# For the forward KL, $g_c = -p_c / q_c$, and this is the familiar
# $\frac{1}{T}(q_c - p_c)$, computed as $-\frac{1}{T}(p_c + q_c) \tanh\frac{r_c}{2}$
# (since $p_c = q_c e^{r_c}$), which keeps its digits where $p_c \approx q_c$.
# For the reverse KL, $g_c = \log q_c - \log p_c + 1$, and the constant $1$ cancels:
#
# $$\frac{\partial\, \mathrm{KL}(q \| p)}{\partial z_c} = \frac{1}{T} q_c \big(d_c - \mathrm{KL}(q \| p)\big), \quad
# d_c = \log q_c - \log p_c = -r_c$$
#
# For the JSD, $m$ depends on $q$ too, but its terms cancel
# ($\beta p_c / m_c + (1 - \beta) q_c / m_c = 1$), which leaves
# $g_c = (1 - \beta)(\log q_c - \log m_c)$ and
#
# $$\frac{\partial\, \mathrm{JSD}_\beta}{\partial z_c} = \frac{1 - \beta}{T} q_c \big(d_c - \mathrm{KL}(q \| m)\big), \quad
# d_c = \log q_c - \log m_c = -h(r_c, \beta)$$
#
# In both, $\mathrm{KL} = \sum_j q_j d_j$ is far smaller than $d_c$ where it loses
# digits, so the plain sum serves. Each gradient falls like $1 / T^2$ at high
# temperatures, so each loss is multiplied by $T^2$. These are the formulas the
# backward pass uses; the tests check them against autograd with `gradcheck` and
# `gradgradcheck`. Where the teacher rules out a class that the student allows
# ($p_c = 0 < q_c$) the reverse KL is infinite, as its formula says; the JSD stays finite.

def _gradient_from_ratio(r: torch.Tensor, p: torch.Tensor, q: torch.Tensor, divergence: str, beta: float,
                         out: Optional[torch.Tensor], spare: Optional[torch.Tensor]) -> torch.Tensor:
    r"""
    $T\, \partial D_i / \partial z_{i,c}$ from $r$, $p$ and $q$, written into `out`,
    which may be `r`'s buffer, with one spare buffer.
    """
    if divergence == 'forward_kl':
        # $q - p = -(p + q) \tanh(r / 2)$
        tanh = torch.tanh(torch.mul(r, -0.5, out=out), out=out)
        return torch.mul(tanh, torch.add(p, q, out=spare), out=out)
    weight = 1.
    if divergence == 'reverse_kl':
        d = torch.neg(r, out=out)
    else:
        weight = 1 - beta
        d = torch.neg(_log_mixture_ratio(r, beta, out=spare, spare=r if out is not None else None), out=out)
    # Classes the student rules out ($q_c = 0$) get $d_c = 0$
    d = torch.nan_to_num(d, nan=0., posinf=math.inf, neginf=0., out=out)
    # $w\, q_c \big(d_c - \sum_j q_j d_j\big)$
    mean = torch.mul(q, d, out=spare).sum(dim=-1, keepdim=True)
    grad = torch.mul(torch.sub(d, mean, out=out), q, out=out)
    return grad if weight == 1. else torch.mul(grad, weight, out=out)


def _gradient_rows(student: torch.Tensor, teacher: torch.Tensor, temperature: float,
                   divergence: str, beta: float, buffers: List[torch.Tensor],
                   out: torch.Tensor) -> torch.Tensor:
    r"""
    $T\, \partial D_i / \partial z_{i,c}$ for each row $i$ of a chunk, the
    gradient with respect to the scaled logits $z / T$, written into `out`,
    with three buffers of the chunk's size.
    """
    r, p, q = _log_ratio(student, teacher, temperature, [out, *buffers])
    return _gradient_from_ratio(r, p, q, divergence, beta, out=out, spare=buffers[1])


def _gradient_in_chunks(student: torch.Tensor, teacher: torch.Tensor,
                        valid: Optional[torch.Tensor], temperature: float, divergence: str,
                        beta: float, scale: torch.Tensor) -> torch.Tensor:
    r"""
    ## The backward pass, chunk by chunk

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
    <a id="gradient-with-graph"></a>

    The same gradient in one piece, from the same functions given no buffers,
    so that autograd records it and it can be differentiated again (a gradient
    penalty, `create_graph=True`). It keeps the softmaxes, as the plain formula does.
    """
    dtype = scale.dtype
    r, p, q = _log_ratio(student.to(dtype), teacher.to(dtype), temperature, [None] * 4)
    grad = _gradient_from_ratio(r, p, q, divergence, beta, out=None, spare=None) * scale
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
            # $T^2 D_i$ for the chunk's rows, in the buffers cut to them
            per_sample = _scaled_divergence_rows(student[start:end], teacher[start:end], temperature,
                                                 divergence, beta, [b[:end - start] for b in buffers])
            # Masked-out rows add nothing, even if they hold NaN
            if valid is not None:
                per_sample = torch.where(valid[start:end], per_sample, 0.)
            total += per_sample.sum()
        # Keep only the inputs for the backward pass, never the softmaxes
        ctx.save_for_backward(student, teacher, valid)
        ctx.settings = temperature, divergence, beta
        # $\frac{1}{n} \sum_i T^2 D_i$
        return total / _sample_count(valid, student.shape[0])

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


def _chunked_soft_target_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                              temperature: float, mask: Optional[torch.Tensor], divergence: str,
                              beta: float) -> torch.Tensor:
    r"""
    `soft_target_loss` once its arguments are checked: $\frac{T^2}{n} \sum_i D_i$ for
    logits of any leading shape, by the chunked function above.
    """
    # Flatten every leading dimension into one sample dimension; `reshape` makes a
    # copy only when the logits are not contiguous
    classes = student_logits.shape[-1]
    student = student_logits.reshape(-1, classes)
    teacher = teacher_logits.detach().reshape(-1, classes)
    valid = None if mask is None else mask.reshape(-1)
    return _SoftTargetLoss.apply(student, teacher, valid, float(temperature), divergence, float(beta))


# <a id="chunks"></a>
#
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


def _compute_dtype(*tensors: Optional[torch.Tensor]) -> torch.dtype:
    """
    The loss is computed in float32, so bfloat16 and float16 logits lose no
    precision in the softmax; float64 inputs (for `gradcheck`) make it float64.
    """
    if any(tensor is not None and tensor.dtype == torch.float64 for tensor in tensors):
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

def _check_logits(student_logits: torch.Tensor, teacher_logits: torch.Tensor, vocab_size: Optional[int]):
    """
    Both logits: floating-point tensors of one shape, with a class dimension
    last, on one device; or, with `vocab_size`, of one leading shape and at
    least `vocab_size` classes each.
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
    student_classes, teacher_classes = student_logits.shape[-1], teacher_logits.shape[-1]
    _check_vocab_size(vocab_size, student_classes, teacher_classes,
                      f'student_logits and teacher_logits must have the same shape, but their vocabularies '
                      f'differ: the student has {student_classes} classes and the teacher {teacher_classes}')
    if student_logits.shape[:-1] != teacher_logits.shape[:-1]:
        raise ValueError(f'student_logits and teacher_logits must have the same shape, got '
                         f'{tuple(student_logits.shape)} and {tuple(teacher_logits.shape)}')
    if student_logits.device != teacher_logits.device:
        raise ValueError(f'student_logits and teacher_logits must be on the same device, got '
                         f'{student_logits.device} and {teacher_logits.device}')


def _check_vocab_size(vocab_size: Optional[int], student_size: int, teacher_size: int, difference: str):
    """
    Without `vocab_size`, the two vocabularies must have one size; with it, both
    must have at least `vocab_size` entries. `difference` says, in words, how
    the sizes differ, for the message.
    """
    _check_vocab_size_type(vocab_size)
    smaller = min(student_size, teacher_size)
    if vocab_size is None:
        if student_size != teacher_size:
            raise ValueError(f'{difference}. If both models use one tokenizer and an output layer is padded past '
                             f'its last real token, pass vocab_size= the number of real tokens (at most '
                             f'{smaller}) to use the first vocab_size entries of each; otherwise distillation, '
                             f'which compares the two class by class, needs one tokenizer or class list for both')
        return
    if not 1 <= vocab_size <= smaller:
        raise ValueError(f'vocab_size must be between 1 and the smaller vocabulary, {smaller} (the student has '
                         f'{student_size} and the teacher {teacher_size}), got {vocab_size}')


def _check_vocab_size_type(vocab_size: Optional[int]):
    """
    `vocab_size`: a number of classes, or `None`.
    """
    if vocab_size is not None and (not isinstance(vocab_size, Integral) or isinstance(vocab_size, bool)):
        raise TypeError(f'vocab_size must be an integer number of classes or None, got {type(vocab_size).__name__}')


def _first_classes(logits: torch.Tensor, vocab_size: Optional[int]) -> torch.Tensor:
    """
    The first `vocab_size` classes of the logits, a view; all of them for `None`.
    """
    return logits if vocab_size is None else logits[..., :vocab_size]


def _check_temperature(temperature: float, most: float, least: Optional[float] = None):
    """
    The temperature divides the logits: it must be a positive number, at most
    `most`, the loss's `MAX_TEMPERATURE`, and, given `least`, at least that, its
    `MIN_TEMPERATURE`.
    """
    if not isinstance(temperature, Real) or isinstance(temperature, bool):
        raise TypeError(f'temperature must be a number, got {type(temperature).__name__}')
    if not (0 < temperature < float('inf')):
        raise ValueError(f'temperature must be positive and finite, got {temperature}')
    if temperature > most:
        raise ValueError(f'temperature must be at most {most:g} (MAX_TEMPERATURE: the loss is multiplied by '
                         f'T^2, which must stay a normal float32 number), got {temperature:g}')
    if least is not None and temperature < least:
        raise ValueError(f'temperature must be at least {least:g} (MIN_TEMPERATURE: the loss is multiplied by '
                         f'T^2, which must stay a normal float32 number; at such a temperature the loss is '
                         f'about T times the gap between logits, next to nothing), got {temperature:g}')


def _check_divergence(divergence: str, beta: float, divergences: Tuple[str, ...]):
    r"""
    One of the loss's `divergences`, and a $\beta$ between $0$ and $1$.
    """
    if divergence not in divergences:
        raise ValueError(f'divergence must be one of {", ".join(map(repr, divergences))}, '
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


def _check_target(target: torch.Tensor, leading_shape: torch.Size, device: torch.device, logits_name: str):
    """
    The labels: an integer tensor of class indices, one per sample, on the
    device of the logits (or, for the fused loss, of the hidden states).
    """
    if (not isinstance(target, torch.Tensor) or target.is_floating_point() or target.is_complex()
            or target.dtype == torch.bool):
        raise TypeError('target must be an integer tensor of class indices, got '
                        f'{target.dtype if isinstance(target, torch.Tensor) else type(target).__name__}')
    if target.shape != leading_shape:
        raise ValueError(f'target must have the shape of the logits without their last (class) '
                         f'dimension, {tuple(leading_shape)}, got {tuple(target.shape)}')
    if target.device != device:
        raise ValueError(f'target must be on the device of {logits_name}, {device}, got {target.device}')


def _listed(values: torch.Tensor) -> str:
    """
    The distinct `values`, the first five of them, for a message.
    """
    found = sorted(set(values.tolist()))
    return ', '.join(map(str, found[:5])) + (', ...' if len(found) > 5 else '')


# The device types whose targets are read to check that each is a class index.
# Reading a CPU tensor costs nothing; reading a GPU tensor would make the CPU
# wait for the device, so there the check is left out, and where a label term
# is computed `cross_entropy` stops the program at an index out of range with
# an assertion on the device
RANGE_CHECKED_DEVICES = ('cpu',)


def _check_target_range(target: torch.Tensor, classes: int, ignore_index: int):
    """
    Each target a class index, $0$ to `classes - 1`, or `ignore_index`; `target`
    is int64, so that no comparison wraps around a smaller integer type.
    """
    if target.device.type not in RANGE_CHECKED_DEVICES:
        return
    outside = ((target < 0) | (target >= classes)) & (target != ignore_index)
    if outside.any():
        raise ValueError(f'target holds class indices outside 0 to {classes - 1}: {_listed(target[outside])}; '
                         f'each target must be a class index from 0 to {classes - 1}, or ignore_index '
                         f'({ignore_index}) to leave the sample out')
