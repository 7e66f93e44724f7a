r"""
---
title: A small decoder-only transformer over bytes
summary: >
  The teacher and the student of the language-model track: token and
  position embeddings, pre-norm blocks of causal self-attention and an MLP,
  and sampling one byte at a time.
---

# A small decoder-only transformer

Both models of the [language-model track](index.html) are this network, in
two sizes. It reads a window of bytes $x_1 \dots x_n$ and gives, at every
position $i$, logits $z_i \in \mathbb{R}^{256}$ over the next byte
$x_{i+1}$: a language model is a classifier applied at every position, which
is why Hinton's soft targets carry over unchanged, one softmax per position.

Each position may only look at itself and earlier positions (*causal*
attention), so one forward pass trains all $n$ predictions at once and the
model can generate text one byte at a time.
"""

import math
from typing import Dict, List, Optional

import torch
from torch import nn

# Bytes: the vocabulary is every value of a byte
VOCABULARY = 256


class CausalSelfAttention(nn.Module):
    r"""
    ## Causal self-attention

    With $h$ heads of size $d_h = d / h$, each head projects the inputs to
    queries $Q$, keys $K$ and values $V$ and computes
    $$\mathrm{softmax}\Big(\frac{Q K^\top}{\sqrt{d_h}} + M\Big) V$$
    where the mask $M_{ij}$ is $0$ for $j \le i$ and $-\infty$ for $j > i$:
    position $i$ attends to positions up to itself only.
    """

    def __init__(self, d_model: int, heads: int):
        super().__init__()
        if d_model % heads:
            raise ValueError(f'd_model {d_model} is not a multiple of heads {heads}')
        self.heads = heads
        # $Q$, $K$ and $V$ of every head in one matrix multiplication, and the output projection
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.out = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, cache: Optional[Dict[str, torch.Tensor]] = None) -> torch.Tensor:
        batch, length, d_model = x.shape
        # Split into $Q$, $K$, $V$, each `[batch, heads, length, d_h]`
        q, k, v = self.qkv(x).view(batch, length, 3, self.heads, d_model // self.heads).permute(2, 0, 3, 1, 4)
        # When sampling, `cache` keeps the keys and values of the positions
        # already read, so that each new byte costs one position's work: its
        # query attends to every earlier key, and no mask is needed
        if cache is not None:
            if cache:
                k, v = torch.cat([cache['k'], k], dim=2), torch.cat([cache['v'], v], dim=2)
            cache['k'], cache['v'] = k, v
        # PyTorch's fused attention applies the causal mask and the $1 / \sqrt{d_h}$
        # scale, without making the `[length, length]` matrix of scores when it can avoid it
        attended = nn.functional.scaled_dot_product_attention(q, k, v, is_causal=length > 1)
        # Join the heads back into `[batch, length, d_model]`
        return self.out(attended.transpose(1, 2).reshape(batch, length, d_model))


class Block(nn.Module):
    r"""
    ## A transformer block

    Pre-norm residual sub-layers, as in GPT-2:
    $x \leftarrow x + \mathrm{Attention}(\mathrm{LN}(x))$, then
    $x \leftarrow x + \mathrm{MLP}(\mathrm{LN}(x))$, where the MLP widens each
    position to $4d$, applies GELU, and projects back.
    """

    def __init__(self, d_model: int, heads: int, dropout: float):
        super().__init__()
        self.attention_norm = nn.LayerNorm(d_model)
        self.attention = CausalSelfAttention(d_model, heads)
        self.mlp_norm = nn.LayerNorm(d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, cache: Optional[Dict[str, torch.Tensor]] = None) -> torch.Tensor:
        x = x + self.dropout(self.attention(self.attention_norm(x), cache))
        return x + self.dropout(self.mlp(self.mlp_norm(x)))


class ByteTransformer(nn.Module):
    r"""
    ## The model

    Byte embeddings plus learned position embeddings, `layers` blocks, a
    final layer norm, and an output layer that shares its weights with the
    byte embeddings (so a $256 \times d$ matrix is stored once).
    """

    def __init__(self, context: int, d_model: int, layers: int, heads: int, dropout: float = 0.0):
        super().__init__()
        self.context = context
        self.embedding = nn.Embedding(VOCABULARY, d_model)
        self.position = nn.Embedding(context, d_model)
        self.blocks = nn.ModuleList([Block(d_model, heads, dropout) for _ in range(layers)])
        self.norm = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, VOCABULARY, bias=False)
        self.head.weight = self.embedding.weight
        # GPT-2's initialization: normal with standard deviation 0.02, and the
        # projections into the residual stream scaled down by $1 / \sqrt{2 \cdot \text{layers}}$
        # so that the stream's variance does not grow with depth
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * layers) if name.endswith(('out.weight', 'mlp.2.weight')) else 0.02
                nn.init.normal_(p, std=std)
            elif name.endswith('bias'):
                nn.init.zeros_(p)

    def forward(self, tokens: torch.Tensor, caches: Optional[List[Dict[str, torch.Tensor]]] = None,
                start: int = 0, hidden: bool = False) -> torch.Tensor:
        """
        `tokens` is `[batch, length]` byte values at positions `start`
        onwards, which end at the context at most; returns the logits
        `[batch, length, 256]`, or with `hidden` the last hidden states
        `[batch, length, d_model]` that `head` turns into logits (for the
        [fused loss](../fused_loss.html)). `caches`, one dictionary per block, is for sampling.
        """
        positions = torch.arange(start, start + tokens.shape[1], device=tokens.device)
        x = self.embedding(tokens) + self.position(positions)
        for i, block in enumerate(self.blocks):
            x = block(x, caches[i] if caches is not None else None)
        x = self.norm(x)
        return x if hidden else self.head(x)


@torch.no_grad()
def sample(model: ByteTransformer, prompt: torch.Tensor, count: int, generator: torch.Generator,
           temperature: float = 1.0) -> torch.Tensor:
    r"""
    ## Sampling

    Continues each row of `prompt` (`[batch, length]`) by `count` bytes, each
    drawn from $\mathrm{softmax}(z / \tau)$ at the last position and fed
    back in; the prompt and the continuation together fit in the context
    (the last byte is never read). Returns `[batch, length + count]`.
    Gradients are off, but the result is an ordinary tensor that a training
    step may use.

    Any $\tau > 0$ works: the logits are shifted by their largest before they
    are divided, $\mathrm{softmax}((z - \max_j z_j) / \tau)$, the same
    distribution, so the largest is $0$ and the others are negative; a tiny
    $\tau$ sends them to $-\infty$, probability $0$, and the sample is the
    most likely byte, where dividing $z$ itself would overflow to $\infty - \infty$.
    The division is in float64, where every positive temperature a Python
    float can hold is a positive number (in float32, $10^{-300}$ is $0$).
    """
    if prompt.shape[1] + count - 1 > model.context:
        raise ValueError(f'a prompt of {prompt.shape[1]} bytes and {count} more do not fit the context of '
                         f'{model.context} bytes')
    was_training = model.training
    model.eval()
    # The prompt is read once, filling the caches; then each new byte is read alone
    caches = [{} for _ in model.blocks]
    logits = model(prompt, caches)[:, -1]
    tokens = prompt
    for _ in range(count):
        # In float64, where every positive Python float is a positive number
        logits = logits.double()
        probabilities = torch.softmax((logits - logits.amax(-1, keepdim=True)) / temperature, dim=-1)
        following = torch.multinomial(probabilities.cpu(), 1, generator=generator).to(tokens.device)
        tokens = torch.cat([tokens, following], dim=1)
        if tokens.shape[1] <= model.context:
            logits = model(following, caches, start=tokens.shape[1] - 1)[:, -1]
    model.train(was_training)
    return tokens
