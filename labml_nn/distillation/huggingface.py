r"""
---
title: Distilling Hugging Face language models
summary: >
  One call that distils a Hugging Face causal language model into another
  with the fused loss: the last hidden states from the base models, the
  weights of the output layers, labels shifted the way Hugging Face shifts
  them, -100 for padding, and vocab_size for vocabularies padded to different
  sizes.
---

# Distilling Hugging Face language models

A model from `transformers.AutoModelForCausalLM` is two parts: a base model
(`model.base_model`: the embeddings, the decoder blocks and the final norm),
which turns the tokens into hidden states $h$, and an output layer
(`model.get_output_embeddings()`, usually `lm_head`), which turns them into
logits, $z = h W^\top$. [The fused loss](fused_loss.html) takes exactly those
two parts of each model and never holds the logits of the whole batch.
Calling the model itself, even with `output_hidden_states=True`, computes
those logits first; calling the base model does not.

Three conventions of Hugging Face decide the rest.

* **Shifted labels.** `labels` are given aligned with `input_ids`, often
  `labels = input_ids`, and the model shifts them: position $t$ predicts the
  token at $t + 1$. So the hidden states lose their last position and the
  labels their first.
* **`-100` marks what does not count**: padding, and in chat data the prompt.
  Passed as the fused loss's `target` with `ignore_index=-100`, it leaves those
  tokens out of both terms and out of $n$. Without `labels`, the function
  makes them from `input_ids`, with `-100` where `attention_mask` is $0$.
* **Padded vocabularies.** An output layer often has more rows than the
  tokenizer has tokens, rounded up for fast matrix products, and two sizes of
  one family may round differently: Qwen2.5's have 151,936 or 152,064 rows for
  151,665 tokens. Pass `vocab_size=len(tokenizer)`, and both models compare
  their first `vocab_size` logits; the rows past it get no gradient. Two
  different sizes without it are refused, with both sizes named.

Teacher and student must share the tokenizer: distillation compares their
distributions token by token. The function assumes that a model's logits are
its output layer applied to its last hidden state, which holds for GPT-2,
Llama, Mistral, Qwen2 and many others; models that cap or scale their
logits afterwards (Gemma 2's `final_logit_softcapping`, Cohere's
`logit_scale`, Granite's `logits_scaling`) are refused rather than distilled
from the wrong logits.

```python
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from labml_nn.distillation.huggingface import (
    causal_lm_distillation_loss)

tokenizer = AutoTokenizer.from_pretrained('Qwen/Qwen2.5-7B')
teacher = AutoModelForCausalLM.from_pretrained(
    'Qwen/Qwen2.5-7B', dtype=torch.bfloat16).eval()
student = AutoModelForCausalLM.from_pretrained('Qwen/Qwen2.5-0.5B')
opt = torch.optim.AdamW(student.parameters(), lr=1e-5)

batch = tokenizer(['Distillation moves what a large model knows',
                   'into a small one'], return_tensors='pt', padding=True)
loss = causal_lm_distillation_loss(
    student, teacher, batch['input_ids'], batch['attention_mask'],
    temperature=1.0, soft_target_weight=0.5, label_loss_weight=0.5,
    vocab_size=len(tokenizer))
loss.backward()
opt.step()
opt.zero_grad()
```

With the `Trainer` of `transformers`, the same call is the body of an
overridden `compute_loss`. `pip install labml_nn[hf]` installs
`transformers`; the rest of the package does not need it, and this module
does not import it: it uses only the two parts every causal language model has.
"""

from typing import Optional

import torch
from torch import nn

from labml_nn.distillation.fused_loss import fused_linear_distillation_loss

# The label of a token that does not count, Hugging Face's convention
IGNORE_INDEX = -100
# Settings of a model's configuration that change its logits after the output
# layer, and the values with which they leave them as they are
LOGIT_TRANSFORMS = {'final_logit_softcapping': (None,), 'logit_scale': (None, 1), 'logits_scaling': (None, 1),
                    'output_multiplier': (None, 1)}


def causal_lm_distillation_loss(student: nn.Module, teacher: nn.Module, input_ids: torch.Tensor,
                                attention_mask: Optional[torch.Tensor] = None,
                                labels: Optional[torch.Tensor] = None, *,
                                temperature: float = 1.0, divergence: str = 'forward_kl', beta: float = 0.5,
                                soft_target_weight: float = 1.0, label_loss_weight: float = 0.0,
                                vocab_size: Optional[int] = None, chunk_size: Optional[int] = None) -> torch.Tensor:
    r"""
    <a id="causal_lm_distillation_loss"></a>

    ## Causal LM distillation loss

    * `student` and `teacher` are causal language models of `transformers`
      (any module with `base_model` and `get_output_embeddings()`); the
      teacher runs without gradients, in whatever mode it is in (call
      `teacher.eval()` to turn off its dropout).
    * `input_ids` is `[batch, seq]`, with at least two positions;
      `attention_mask`, of the same shape, is $1$ for real tokens and $0$ for padding.
    * `labels`, of the same shape, unshifted, with `-100` for the tokens that do
      not count; by default `input_ids` with `-100` where `attention_mask` is $0$.
    * `temperature`, `divergence`, `beta`, `soft_target_weight`,
      `label_loss_weight`, `vocab_size` and `chunk_size` are those of
      [`fused_linear_distillation_loss`](fused_loss.html#fused-linear-distillation-loss).

    Returns the mean over the tokens that count of
    $w_{soft}\, T^2 D + w_{label}\, \mathrm{CE}$, the same number as from
    both models' full logits, with gradients for the student's parameters.
    """
    _check_tokens(input_ids, attention_mask, labels)
    if labels is None:
        labels = input_ids if attention_mask is None else input_ids.masked_fill(attention_mask == 0, IGNORE_INDEX)
    # The teacher's last hidden states and output layer, without gradients
    with torch.no_grad():
        teacher_hidden, teacher_layer = _hidden_and_output_layer('teacher', teacher, input_ids, attention_mask)
    student_hidden, student_layer = _hidden_and_output_layer('student', student, input_ids, attention_mask)
    # Position $t$ predicts the token at $t + 1$: the last position predicts
    # nothing, and the first token is predicted by nothing
    return fused_linear_distillation_loss(
        student_hidden[:, :-1], student_layer.weight, teacher_hidden[:, :-1], teacher_layer.weight,
        labels[:, 1:], temperature=temperature, divergence=divergence, beta=beta,
        soft_target_weight=soft_target_weight, label_loss_weight=label_loss_weight, ignore_index=IGNORE_INDEX,
        student_bias=student_layer.bias, teacher_bias=teacher_layer.bias, chunk_size=chunk_size,
        vocab_size=vocab_size)


def _hidden_and_output_layer(name: str, model: nn.Module, input_ids: torch.Tensor,
                             attention_mask: Optional[torch.Tensor]):
    """
    A model's last hidden states, `[batch, seq, hidden]`, from its base model,
    and its output layer, whose `weight` (and `bias`, if it has one) make the logits.
    """
    _check_causal_lm(name, model)
    output = model.base_model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False)
    return output.last_hidden_state, model.get_output_embeddings()


def _check_causal_lm(name: str, model: nn.Module):
    """
    A causal language model whose logits are its output layer applied to its
    last hidden state.
    """
    layer = model.get_output_embeddings() if callable(getattr(model, 'get_output_embeddings', None)) else None
    if not hasattr(model, 'base_model') or not isinstance(getattr(layer, 'weight', None), torch.Tensor):
        raise TypeError(f'{name} must be a causal language model of transformers (AutoModelForCausalLM), with '
                        f'base_model and an output layer from get_output_embeddings(), got {type(model).__name__}')
    config = getattr(model, 'config', None)
    for setting, neutral in LOGIT_TRANSFORMS.items():
        value = getattr(config, setting, None)
        if value not in neutral:
            raise ValueError(f'{name} ({type(model).__name__}) changes its logits after the output layer '
                             f'({setting}={value}), which the fused loss does not do: distil its full logits '
                             f'with soft_target_loss instead')


def _check_tokens(input_ids: torch.Tensor, attention_mask: Optional[torch.Tensor], labels: Optional[torch.Tensor]):
    """
    Token ids `[batch, seq]` with at least two positions, and a mask and
    labels of the same shape on their device.
    """
    if (not isinstance(input_ids, torch.Tensor) or input_ids.is_floating_point() or input_ids.is_complex()
            or input_ids.dtype == torch.bool):
        raise TypeError(f'input_ids must be an integer tensor of token ids, got '
                        f'{input_ids.dtype if isinstance(input_ids, torch.Tensor) else type(input_ids).__name__}')
    if input_ids.dim() != 2 or input_ids.shape[1] < 2:
        raise ValueError(f'input_ids must be [batch, seq] with seq at least 2 (each position predicts the next '
                         f'token), got shape {tuple(input_ids.shape)}')
    for other_name, other in (('attention_mask', attention_mask), ('labels', labels)):
        if other is None:
            continue
        if not isinstance(other, torch.Tensor) or other.is_floating_point():
            raise TypeError(f'{other_name} must be an integer tensor, got '
                            f'{other.dtype if isinstance(other, torch.Tensor) else type(other).__name__}')
        if other.shape != input_ids.shape or other.device != input_ids.device:
            raise ValueError(f'{other_name} must have the shape and device of input_ids, {tuple(input_ids.shape)} '
                             f'on {input_ids.device}, got {tuple(other.shape)} on {other.device}')
