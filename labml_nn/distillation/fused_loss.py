r"""
---
title: The fused loss for language models
summary: >
  A distillation loss for language models that takes both models' last hidden
  states and output layers and never holds their full logits: the soft-target
  loss and the label loss computed chunk by chunk, with their gradients formed
  on the way.
---

# The fused loss for language models

A language model's logits come from its last layer, $z = h W^\top + b$, with
hidden states $h$ of `[tokens, hidden]` and an output weight $W$ of
`[vocab, hidden]`. Computing them first and the loss afterwards holds the whole
`[tokens, vocab]` logits of both models, and their softmaxes and gradients,
at once: 823 MB per copy for 4,096 tokens of a 50,257-word vocabulary in
float32, and many copies. The fused loss never does. It walks over the tokens
in chunks; for each chunk it computes both models' logits, the loss of its
rows and, right away, the gradient of the loss with respect to the chunk's
student logits, $G = \partial \mathcal{L} / \partial z$, from
[the formulas](loss_engine.html#gradients) that the
[soft-target loss](loss.html) uses. That gradient goes straight through the output layer,

$$\frac{\partial \mathcal{L}}{\partial h} = G W, \qquad \frac{\partial \mathcal{L}}{\partial W} = \sum_{\text{chunks}} G^\top h, \qquad \frac{\partial \mathcal{L}}{\partial b} = \sum_{\text{chunks}} \sum_i G_i$$

and the chunk's logits are dropped. Nothing is approximated: each token's
loss and gradient depend on its own row of logits only, so the rows can be
taken in any grouping, and the weight's gradient is a sum over tokens,
which the chunks add up piece by piece. The only thing a chunk needs from the
others is $n$, the number of valid tokens, which is counted (as a tensor, with
no host read) before the first chunk.

The backward pass then only scales the stored gradients by the incoming
gradient. The memory beyond the inputs is those gradients (which a backward
pass returns anyway; the backward pass holds them twice, scaled and not, for a
moment) and a few buffers of one chunk's logits. The inputs are kept until the
backward pass, for [second derivatives](#_gradients_with_graph); with
`teacher_weight=None` they include the teacher's full logits.
`benchmarks/fused_loss.py` measures it against the plain formula.

The optional label term is the cross-entropy at $T = 1$ with `target`, whose
gradient is $\mathrm{softmax}(z) - \text{one-hot}(y)$; the total is

$$\mathcal{L} = \frac{1}{n} \sum_{i\ \text{valid}} \Big(w_{soft}\, T^2 D_i + w_{label}\, \mathrm{CE}_i\Big)$$

with the weights $w_{soft}$ (`soft_target_weight`) and $w_{label}$ (`label_loss_weight`).

## Averaging over tokens

The loss is the sum over valid tokens divided by their
number $n$, never by the number of padded positions, so a batch of short
sequences weighs each real token as much as a batch of long ones.
*Gradient accumulation* breaks this if you are not careful (TRL's trainers
had this bug): averaging each micro-batch by its own $n_k$ and then
averaging the micro-batches gives a token in a micro-batch with few valid
tokens more weight than one in a full micro-batch. To weigh every token of
the accumulated batch alike, multiply micro-batch $k$'s loss by
$n_k / N$, where $N = \sum_k n_k$ is the number of valid tokens in all of
them (count them before the first micro-batch), and add rather than average.
"""

from numbers import Integral
from typing import List, NamedTuple, Optional, Tuple, Union

import torch
import torch.nn.functional as F

from labml_nn.distillation.loss import DIVERGENCES, MAX_TEMPERATURE, MIN_TEMPERATURE
from labml_nn.distillation.loss_engine import (_check_divergence, _check_ignore_index, _check_target,
                                               _check_target_range, _check_temperature, _check_vocab_size,
                                               _check_weights, _chunk_rows,
                                               _compute_dtype, _divergence_rows, _effective_divergence,
                                               _gradient_rows, _gradient_with_graph, _sample_count)


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


# <a id="dtypes"></a>
#
# ## Dtypes
#
# Each model's logits are computed in the dtype that PyTorch's type promotion
# gives its hidden states, weight and bias: a bfloat16 layer stays in bfloat16,
# as the model computes it, and float16 hidden states with a float32 weight (a
# model trained under `torch.autocast`) give float32 logits. A tensor of
# another dtype is converted once, before the first chunk, which holds a copy
# of it. The loss itself is computed in float32, or in float64 when any of the
# tensors is float64, and each gradient is returned in its tensor's dtype.

def _layer_dtype(hidden: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor]) -> torch.dtype:
    """
    The dtype of one model's logits: the promotion of its three tensors' dtypes.
    """
    dtype = torch.promote_types(hidden.dtype, weight.dtype)
    return dtype if bias is None else torch.promote_types(dtype, bias.dtype)


def _layer(weight: torch.Tensor, bias: Optional[torch.Tensor],
           dtype: torch.dtype) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """
    A model's output layer in the dtype of its logits; no copy when it has it already.
    """
    return weight.to(dtype), None if bias is None else bias.to(dtype)


def _linear(hidden: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
            out: torch.Tensor) -> torch.Tensor:
    r"""
    The logits $h W^\top + b$ of a chunk, in the dtype of `weight` and `bias`,
    written into `out`.
    """
    hidden = hidden.to(weight.dtype)
    if weight.dtype == out.dtype:
        if bias is None:
            return torch.mm(hidden, weight.t(), out=out)
        return torch.addmm(bias, hidden, weight.t(), out=out)
    return out.copy_(F.linear(hidden, weight, bias))


def _fused_chunk_loss(logits: torch.Tensor, teacher_logits: torch.Tensor,
                      target: Optional[torch.Tensor], valid: Optional[torch.Tensor],
                      settings: _FusedSettings, work: List[torch.Tensor]) -> torch.Tensor:
    r"""
    The sum over a chunk's valid rows of $w_{soft} T^2 D_i + w_{label} \mathrm{CE}_i$.
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

    $$G = \frac{1}{n}\big(w_{soft} T^2 \frac{\partial D}{\partial z} + w_{label} (\mathrm{softmax}(z) - \text{one-hot}(y))\big)$$
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
        dtype = _compute_dtype(hidden, weight, bias, teacher_hidden, teacher_weight, teacher_bias)
        layer = _layer_dtype(hidden, weight, bias)
        layer_weight, layer_bias = _layer(weight, bias, layer)
        if teacher_weight is not None:
            teacher_weight, teacher_bias = _layer(teacher_weight, teacher_bias,
                                                  _layer_dtype(teacher_hidden, teacher_weight, teacher_bias))
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
            _linear(h, layer_weight, layer_bias, out=logits)
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
            _linear(grad, layer_weight.t(), None, out=grad_hidden[chunk])
            grad_weight.addmm_(grad.t(), h.to(dtype), beta=0 if start == 0 else 1)
            if grad_bias is not None:
                grad_bias += grad.sum(dim=0)
        # The gradients, and the inputs for a second derivative (references, not copies)
        ctx.save_for_backward(grad_hidden, grad_weight, grad_bias, hidden, weight, bias, teacher_hidden,
                              teacher_weight, teacher_bias, target)
        ctx.settings = settings
        # $\frac{1}{n} \sum_i \big(w_{soft} T^2 D_i + w_{label} \mathrm{CE}_i\big)$
        return total / count

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        grad_hidden, grad_weight, grad_bias, hidden, weight, bias, *teacher_and_target = ctx.saved_tensors
        # Autograd runs this with gradients enabled only when it is asked to
        # build a graph of the backward pass (`create_graph=True`)
        if torch.is_grad_enabled():
            grads = _gradients_with_graph(hidden, weight, bias, *teacher_and_target, ctx.settings, grad_output)
        else:
            # The stored gradients times the incoming gradient, in the inputs' dtypes
            grads = (grad_hidden * grad_output.to(grad_hidden.dtype), (grad_weight * grad_output).to(weight.dtype),
                     None if bias is None else (grad_bias * grad_output).to(bias.dtype))
        return *grads, None, None, None, None, None


def _gradients_with_graph(hidden: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
                          teacher_hidden: torch.Tensor, teacher_weight: Optional[torch.Tensor],
                          teacher_bias: Optional[torch.Tensor], target: Optional[torch.Tensor],
                          settings: _FusedSettings, grad_output: torch.Tensor) -> tuple:
    r"""
    ## Second derivatives

    The gradients for the hidden states, the weight and the bias, from
    operations that autograd records, so that they can be differentiated again
    (a gradient penalty, `create_graph=True`): $G$ from
    [the soft-target loss's formulas](loss_engine.html#gradients) and the label
    term's, then $G W$, $G^\top h$ and $\sum_i G_i$. This holds both models'
    full logits, as the plain computation does; the first derivatives alone
    never need it.
    """
    dtype = _compute_dtype(hidden, weight, bias, teacher_hidden, teacher_weight, teacher_bias)
    layer_weight, layer_bias = _layer(weight, bias, _layer_dtype(hidden, weight, bias))
    logits = F.linear(hidden.to(layer_weight.dtype), layer_weight, layer_bias).to(dtype)
    if teacher_weight is not None:
        teacher_weight, teacher_bias = _layer(teacher_weight, teacher_bias,
                                              _layer_dtype(teacher_hidden, teacher_weight, teacher_bias))
        teacher_hidden = F.linear(teacher_hidden.to(teacher_weight.dtype), teacher_weight, teacher_bias)
    valid = None if target is None else target != settings.ignore_index
    # $\frac{1}{n}$ times the incoming gradient
    scale = grad_output.to(dtype) / _sample_count(valid, hidden.shape[0])
    # $w_{soft} T^2 \frac{\partial D}{\partial z}$; `_gradient_with_graph` gives
    # $T \frac{\partial D}{\partial z}$ times the scale it is given
    grad = _gradient_with_graph(logits, teacher_hidden, valid, settings.temperature, settings.divergence,
                                settings.beta, scale * settings.soft_target_weight * settings.temperature)
    if settings.label_loss_weight:
        # $w_{label} (\mathrm{softmax}(z) - \text{one-hot}(y))$, zero for masked-out rows
        one_hot = torch.zeros_like(logits).scatter(-1, torch.where(valid, target, 0).unsqueeze(-1), 1.)
        label_grad = torch.where(valid.unsqueeze(-1), torch.softmax(logits, dim=-1) - one_hot, 0.)
        grad = grad + label_grad * (scale * settings.label_loss_weight)
    grad_hidden = (grad.to(layer_weight.dtype) @ layer_weight).to(hidden.dtype)
    grad_weight = (grad.t() @ hidden.to(dtype)).to(weight.dtype)
    grad_bias = None if bias is None else grad.sum(dim=0).to(bias.dtype)
    return grad_hidden, grad_weight, grad_bias


def fused_linear_distillation_loss(student_hidden: torch.Tensor, student_weight: torch.Tensor,
                                   teacher_hidden: torch.Tensor, teacher_weight: Optional[torch.Tensor],
                                   target: Optional[torch.Tensor] = None, *,
                                   temperature: float = 1.0, divergence: str = 'forward_kl',
                                   beta: float = 0.5, soft_target_weight: float = 1.0,
                                   label_loss_weight: float = 0.0, ignore_index: int = -100,
                                   student_bias: Optional[torch.Tensor] = None,
                                   teacher_bias: Optional[torch.Tensor] = None,
                                   chunk_size: Optional[int] = None,
                                   vocab_size: Optional[int] = None) -> torch.Tensor:
    r"""
    <a id="fused-linear-distillation-loss"></a>

    ## Fused linear distillation loss

    * `student_hidden` is `[..., hidden]`, the student's last hidden states, and
      `student_weight` (`[vocab, hidden]`) and `student_bias` (`[vocab]` or
      `None`) its output layer.
    * `teacher_hidden` and `teacher_weight`, `teacher_bias` are the teacher's,
      whose hidden size may differ; with `teacher_weight=None`,
      `teacher_hidden` holds the teacher's logits, `[..., vocab]`.
    * `target` (the leading shape, integer) gives the labels of the label term
      and, through `ignore_index`, the tokens that count; `None` counts every
      token and needs `label_loss_weight=0`.
    * `temperature`, `divergence` and `beta` are those of
      [`soft_target_loss`](loss.html#soft-target-loss).
    * `chunk_size` is the number of tokens in a chunk; by default a chunk holds
      at most [`CHUNK_ELEMENTS`](loss_engine.html#chunks) logits,
      as in `soft_target_loss`.
    * `vocab_size`, if given, keeps the first `vocab_size` rows of both output
      layers (or classes of the teacher's logits), for layers padded past the
      last real token; the padding rows get a zero gradient. Without it both
      vocabularies must have the same size.

    Returns the mean over valid tokens of `soft_target_weight` times the soft
    term plus `label_loss_weight` times the cross-entropy: the same number as
    `soft_target_weight * soft_target_loss(...) + label_loss_weight * cross_entropy`
    on the full logits. Gradients flow to the student's hidden states, weight
    and bias; they are computed during the forward pass when gradients are
    enabled, and can be differentiated again. [Dtypes](#dtypes) may be mixed.
    """
    _check_fused(student_hidden, student_weight, student_bias, teacher_hidden, teacher_weight,
                 teacher_bias, target, chunk_size, vocab_size)
    _check_temperature(temperature, MAX_TEMPERATURE, least=MIN_TEMPERATURE)
    _check_divergence(divergence, beta, DIVERGENCES)
    _check_weights(soft_target_weight, label_loss_weight)
    _check_ignore_index(ignore_index)
    if target is None and label_loss_weight:
        raise ValueError(f'label_loss_weight is {label_loss_weight} but there is no target: '
                         f'pass the labels as target, or set label_loss_weight=0')
    # The rows (or classes) both models use; slicing keeps a view, and autograd
    # gives the rows left out a zero gradient
    if vocab_size is not None:
        student_weight = student_weight[:vocab_size]
        student_bias = None if student_bias is None else student_bias[:vocab_size]
        if teacher_weight is None:
            teacher_hidden = teacher_hidden[..., :vocab_size]
        else:
            teacher_weight = teacher_weight[:vocab_size]
            teacher_bias = None if teacher_bias is None else teacher_bias[:vocab_size]
    # Every leading dimension becomes one token dimension
    student = student_hidden.reshape(-1, student_hidden.shape[-1])
    teacher = teacher_hidden.detach().reshape(-1, teacher_hidden.shape[-1])
    labels = None if target is None else target.reshape(-1).long()
    vocab = student_weight.shape[0]
    if labels is not None:
        _check_target_range(labels, vocab, ignore_index)
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


def _check_fused(student_hidden: torch.Tensor, student_weight: torch.Tensor,
                 student_bias: Optional[torch.Tensor], teacher_hidden: torch.Tensor,
                 teacher_weight: Optional[torch.Tensor], teacher_bias: Optional[torch.Tensor],
                 target: Optional[torch.Tensor], chunk_size: Optional[int], vocab_size: Optional[int]):
    """
    The tensors of the fused loss: floating point, on one device, with shapes
    that fit together, and one vocabulary for both models, or `vocab_size`
    entries in each.
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
    _check_vocab_size(vocab_size, student_weight.shape[0], teacher_vocab,
                      f"the student's and the teacher's vocabularies differ: the student has "
                      f'{student_weight.shape[0]} (student_weight.shape[0]) and the teacher '
                      f'{teacher_vocab} ({teacher_source})')
    if student_hidden.shape[:-1] != teacher_hidden.shape[:-1]:
        raise ValueError(f'student_hidden and teacher_hidden must have the same leading (token) '
                         f'shape, got {tuple(student_hidden.shape[:-1])} and '
                         f'{tuple(teacher_hidden.shape[:-1])}')
    for side, bias, weight in (('student', student_bias, student_weight), ('teacher', teacher_bias, teacher_weight)):
        if bias is not None and tuple(bias.shape) != (weight.shape[0],):
            raise ValueError(f'{side}_bias must be [vocab] = ({side}_weight.shape[0],) = ({weight.shape[0]},), '
                             f'got {tuple(bias.shape)}')
    if target is not None:
        _check_target(target, student_hidden.shape[:-1], student_hidden.device, 'student_hidden')
    if chunk_size is not None and (not isinstance(chunk_size, Integral) or isinstance(chunk_size, bool)
                                   or chunk_size < 1):
        raise ValueError(f'chunk_size must be a positive number of tokens or None, got {chunk_size!r}')
