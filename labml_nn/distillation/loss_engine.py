r"""
---
title: The soft-target loss, engineered
summary: >
  How soft_target_loss computes the plain formula with little memory,
  precisely at high temperatures and without waiting for the GPU: chunks and
  work buffers, a form of the KL divergence that survives rounding, the exact
  first and second derivatives of the three divergences, dtypes, and the
  checks on its arguments.
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

**Precision at high temperatures.** As $T$ grows, $p$ and $q$ approach the
uniform distribution and the KL becomes a tiny number (about $10^{-7}$ per
sample at $T = 10^4$; the same happens at any $T$ once the student has nearly
learned the teacher), summed from terms $p_c (\log p_c - \log q_c)$ in which
both logarithms are close to $-\log N$. Each log-softmax subtracts a
normalizer $\log \sum_j \exp(z_j / T) \approx \log N$ that float32 rounds by
about $10^{-6}$, so $p$ and $q$ each sum to $1$ only up to that error, and
the plain sum inherits it: at $T = 100$ it is off by about $10^{-4}$ of the
result, at $T = 10^4$ by more than the result. The cure is a form of the
divergence that does not care, to first order, how well $p$ and $q$ are
normalized. With $r_c = \log p_c - \log q_c$,

$$\mathrm{KL} = \sum_c \big(p_c r_c - p_c + q_c\big)$$

is the same number when $p$ and $q$ each sum to $1$ (it is the KL divergence
of unnormalized distributions), and if they sum to $1 + a$ and $1 + b$ instead
it changes by about $a$ times the KL, plus $a^2$ and $b^2$, where the plain
sum changes by $a - b$. Each term is $\ge 0$, but it is the difference of
two nearly equal numbers when $r_c$ is small, unless $p_c - q_c$ is computed
from $r_c$ rather than by subtracting: since $p_c = q_c e^{r_c}$,

$$p_c - q_c = (p_c + q_c) \frac{e^{r_c} - 1}{e^{r_c} + 1} = (p_c + q_c) \tanh\frac{r_c}{2}$$

and $\tanh$ keeps its full precision for small arguments and never
overflows. What precision is left depends on how far the student is from
the teacher relative to the temperature: with $\Delta$ the typical difference
between a teacher's and a student's logit (beyond a shift of all of them),
the float32 result is within about $10^{-8}$ to $10^{-7}$ times $T / \Delta$ of
a float64 computation, $10^{-4}$ at $T / \Delta = 10^4$, for 2 to 32,000
classes. So $T \le 100$ is accurate to $10^{-3}$ or better as long as the
logits differ by $0.01$ or more, and $T = 10^4$ when they differ by about $1$;
the plain formula in float32 is already off by $10^{-3}$ at $T / \Delta = 100$.
At $T / \Delta = 10^6$ the log-softmaxes themselves run out of digits and the
result can be off by tens of percent: for such settings pass float64 logits.

**Waiting for the GPU.** Reading a number back to Python, such as the number of
valid samples or a check for `-inf`, makes the CPU wait until the GPU has
caught up, and stops `torch.compile(..., fullgraph=True)`. Here every count
stays a tensor and every special case is handled by arithmetic on all rows.
"""

import math
from numbers import Integral, Real
from typing import List, Optional, Tuple, Union

import torch


def _effective_divergence(divergence: str, beta: float) -> str:
    """
    The JSD at `beta=0` is the forward KL, and at `beta=1` the reverse KL.
    """
    if divergence == 'jsd' and beta in (0, 1):
        return 'forward_kl' if beta == 0 else 'reverse_kl'
    return divergence


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


# <a id="gradients"></a>
#
# ## The gradients
#
# All three divergences depend on the student's logits $z$ through
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
# multiplied by $T^2$. These are the formulas the backward pass uses;
# the tests check them against autograd with `gradcheck` and `gradgradcheck`.
# Where the teacher rules out a class that the student allows ($p_c = 0 < q_c$)
# the reverse KL is infinite, as its formula says; the JSD stays finite.

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


def _check_temperature(temperature: float, most: float):
    """
    The temperature divides the logits: it must be a positive number, at most
    `most`, the loss's `MAX_TEMPERATURE`.
    """
    if not isinstance(temperature, Real) or isinstance(temperature, bool):
        raise TypeError(f'temperature must be a number, got {type(temperature).__name__}')
    if not (0 < temperature < float('inf')):
        raise ValueError(f'temperature must be positive and finite, got {temperature}')
    if temperature > most:
        raise ValueError(f'temperature must be at most {most:g} (MAX_TEMPERATURE: the '
                         f'loss is multiplied by T^2, which must stay finite in float32), '
                         f'got {temperature:g}')


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
        found = sorted(set(target[outside].tolist()))
        shown = ', '.join(map(str, found[:5])) + (', ...' if len(found) > 5 else '')
        raise ValueError(f'target holds class indices outside 0 to {classes - 1}: {shown}; each target '
                         f'must be a class index from 0 to {classes - 1}, or ignore_index ({ignore_index}) '
                         f'to leave the sample out')
