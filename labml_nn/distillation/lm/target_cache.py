r"""
---
title: The language-model teacher's targets, stored
summary: >
  The teacher's predictions at every position of the training bytes,
  computed once and kept on disk densely, as top-k log-probabilities or as
  sampled bytes, with a checksum; what a distilled student reads instead of
  running the teacher, and how many bytes each form keeps for each byte.
---

# The teacher's targets, stored

A [distilled student](distill.html) runs the teacher forward at every step,
and the teacher, 7 times the student's size, costs most of the step. The
teacher never changes, so its predictions can be computed once, written to
disk, and read back by every run that distils from it: every seed, and every
student of a study. Language models are distilled this way at scale, where
the teacher's outputs are stored sparsely, since a vocabulary of 150,000
tokens makes one distribution per token far too large to keep whole. The
[sparse targets](../sparse_targets.html) page explains the two sparse forms
and the loss each takes; this module stores them for the byte-level models.

## What is stored

The student trains on windows of `context + 1` bytes that start anywhere in
its training bytes $x_0 \dots x_{N-1}$, so the cache holds a target for every
position $j = 0 \dots N - 2$ of the training bytes: the teacher's prediction
of the byte $x_{j+1}$ after $x_j$. A window starting at $s$ looks up
positions $s$ to $s + \text{context} - 1$. With the limited-data regime's
100,000 training bytes that is 99,999 positions, and with all 9.9 MB of the
standard library, 9.9 million.

Online, the teacher reads the student's own window, so at the window's
$i$-th position it has seen $i + 1$ bytes, however far the window is into
the text. A stored target belongs to a position of the text, not of a
window, so it is computed once with as much context as the teacher can
cheaply have: the teacher reads windows of `context` bytes that start every
`context / 2` bytes, and each position takes its prediction from the window
in which it lies in the second half. Every position then has at least
`context / 2 + 1` bytes before it (the first `context` positions have all
the bytes there are), where online it has $(\text{context} + 1) / 2$ on
average, and the teacher reads each byte twice. The stored teacher is
therefore a little better informed than the online one. At the first
positions of a window the student sees fewer bytes than the teacher did; the
forward KL then teaches it the teacher's predictions averaged over the
contexts it cannot see, which is the best a model with that little context can do.

## Three forms

For each position, with a vocabulary of $V = 256$ bytes:

| form | stored for each position | bytes |
|---|---|---|
| `dense` | $\log p_c$ for every byte $c$, float16 | $2V = 512$ |
| `top-k` | the $k$ most likely bytes, a `uint8` each, and their $\log p_c$, float16 | $3k$ |
| `sampled` | $m$ bytes drawn from $p$, a `uint8` each, and their $\log p_c$, float16 | $3m$ |

A byte's index fits in one byte. The top-k form's *rest*, the probability
the teacher gives the other $V - k$ bytes, is $1 - \sum_{c \in K} p_c$ and
need not be stored. The sampled bytes are drawn from the teacher's own
distribution, so each weight is $1 / m$ and need not be stored either. So
$k$ and $m$ of the same size cost the same bytes, and a study can compare
the two forms at equal storage. The log-probabilities of the sampled bytes
only give the loss's value; its gradient needs the bytes alone.

Dense log-probabilities serve any temperature, since
$\mathrm{softmax}(\log p / T) = \mathrm{softmax}(v / T)$ for the teacher's
logits $v$; the sparse forms are made at the run's $T$ (top-k's rest and the
draws depend on it), so a cache of them is for one temperature.

## On disk

A cache is one file, `LOGS/lm-target-cache/<form>[-<size>]-<hash>.pt`, where
`<hash>` is a hash of everything its contents depend on: the layout's
version, the teacher's weights, the training bytes, the context, the form,
its size and, for the sparse forms, the temperature. Every run with the same
teacher, bytes and form reads the same file; the first one to need it builds
it, and writes it to a temporary file that is then renamed, so an
interrupted build leaves no file. A run that needs the same file while it is
being built waits for it, on a [lock](../../experiments/caches.html#lock)
beside it (`<form>[-<size>]-<hash>.lock`), then reads it. The draws of the sampled form come from a
fixed seed, so the same cache is built again anywhere.

The file also holds a checksum of its contents, checked each time it is
read: a file that cannot be read, or whose bytes changed on the disk, is an
error that names it and says to delete it. It is never used, or written
over, silently.

Under [torchrun](../../experiments/distributed.html) rank 0 looks for the
file and sends what it read to the other processes; when there is none,
every process builds the same cache (none waits for another in a collective
operation meanwhile), and rank 0 writes it.

## Cost

Timed with the `cpu` profile's shapes on one thread of a busy 2-core server
CPU (virtual machine), in 3 rounds of 6 steps each: a step of the student
from stored targets took 60 to 99 ms, against 50 to 56 ms on the next bytes
alone and 230 to 342 ms distilled online, where the teacher's forward pass
is most of the step. Building one cache over the limited regime's 100,000
bytes took 13 to 23 seconds, the time of about 60 online steps.
"""

from contextlib import nullcontext
from pathlib import Path
from typing import List, NamedTuple, Optional, Tuple, Union

import torch
from labml import monit
from torch import nn

from labml_nn.distillation.lm.data import DataError
from labml_nn.distillation.lm.transformer import VOCABULARY
from labml_nn.distillation.sparse_targets import SampledTargets, TopKTargets, sample_targets, top_k_targets
from labml_nn.experiments import distributed
from labml_nn.experiments.caches import building_lock, tensors_hash
from labml_nn.experiments.runs import write_atomic

# Where the teacher's targets come from: run at every step, or stored in one of three forms
TARGETS = ('online', 'dense', 'top-k', 'sampled')
# The stored types: a byte's index fits in `uint8`, a log-probability in float16
INDEX_DTYPE = torch.uint8
LOG_PROB_DTYPE = torch.float16
assert VOCABULARY <= torch.iinfo(INDEX_DTYPE).max + 1
# The version of the file's layout, part of its hash; the windows the teacher
# reads at once while building; and the seed of the sampled form's draws
VERSION = 1
BUILD_WINDOWS = 64
SAMPLING_SEED = 0


class TargetCacheError(DataError):
    """
    A cache file that cannot be read or does not match its checksum; the
    message names it and says what to do.
    """


def bytes_per_token(targets: str, size: int) -> Optional[int]:
    """
    <a id="bytes-per-token"></a>

    The bytes stored for each position by the form `targets` with `size`
    entries, or `None` for `'online'`, which stores nothing.
    """
    if targets == 'online':
        return None
    if targets == 'dense':
        return VOCABULARY * LOG_PROB_DTYPE.itemsize
    return size * (INDEX_DTYPE.itemsize + LOG_PROB_DTYPE.itemsize)


class TargetCache(NamedTuple):
    """
    <a id="cache"></a>

    ## The cache

    The hash of what it was made from (its `identity`), the `form`, the
    `temperature` of its log-probabilities, and for every position of the
    training bytes, `log_probs` `[positions, entries]`, with the bytes they
    are of, `indices` `[positions, entries]`, in the sparse forms.
    """
    identity: str
    form: str
    temperature: float
    log_probs: torch.Tensor
    indices: Optional[torch.Tensor]

    def at(self, starts: torch.Tensor, length: int, device: Union[str, torch.device]
           ) -> Union[torch.Tensor, TopKTargets, SampledTargets]:
        """
        ## Looking up a batch

        The targets of the first `length` positions of the windows starting
        at `starts` `[batch]`, `[batch, length, entries]` on `device`: the
        log-probabilities themselves for the dense form, else the
        [targets](../sparse_targets.html#top-k-targets) the sparse loss takes.
        """
        positions = starts[:, None] + torch.arange(length)
        log_probs = self.log_probs[positions].to(device)
        if self.form == 'dense':
            return log_probs.float()
        indices = self.indices[positions].to(device)
        return TopKTargets(indices, log_probs) if self.form == 'top-k' else SampledTargets(indices, log_probs)

    def stored_bytes_per_token(self) -> int:
        """
        The bytes this cache holds for each position, read from its tensors.
        """
        return sum(t.element_size() * t.shape[1] for t in (self.log_probs, self.indices) if t is not None)


def covering_windows(positions: int, context: int) -> Tuple[List[Tuple[int, int]], int]:
    """
    ## The teacher's windows

    The windows the teacher reads to predict each of `positions` positions
    once, as `(start, first kept offset)` pairs, and their length, `context`
    (or all the positions, when there are fewer). A window starts every half
    length; it keeps the positions no earlier window has covered, those of its
    second half, and the last window ends at the last position.
    """
    length = min(context, positions)
    stride = max(1, length // 2)
    windows, covered, start = [], 0, 0
    while covered < positions:
        start = min(start, positions - length)
        windows.append((start, covered - start))
        covered, start = start + length, start + stride
    return windows, length


@torch.inference_mode()
def build_cache(identity: str, teacher: nn.Module, data: torch.Tensor, context: int, form: str, size: int,
                temperature: float) -> TargetCache:
    """
    ## Building the cache

    The teacher's targets for every position of `data`, in `form`: the
    teacher runs on `BUILD_WINDOWS` windows at a time on its device, and the
    targets of the positions each window keeps are made on the CPU, in
    float32, then stored in their types.
    """
    positions = len(data) - 1
    windows, length = covering_windows(positions, context)
    device = next(teacher.parameters()).device
    entries = VOCABULARY if form == 'dense' else size
    log_probs = torch.empty(positions, entries, dtype=LOG_PROB_DTYPE)
    indices = None if form == 'dense' else torch.empty(positions, entries, dtype=INDEX_DTYPE)
    # The draws of the sampled form, the same on every machine: on the CPU, from a fixed seed
    generator = torch.Generator().manual_seed(SAMPLING_SEED)
    offsets = torch.arange(length)
    batches = [windows[i:i + BUILD_WINDOWS] for i in range(0, len(windows), BUILD_WINDOWS)]
    for batch in monit.iterate(f'Teacher targets ({form}) of {positions:,} positions', batches):
        starts, first_kept = (torch.tensor(column) for column in zip(*batch))
        rows = starts[:, None] + offsets
        logits = teacher(data[rows].long().to(device)).float().cpu()
        # The positions each window keeps, and the teacher's logits $v$ there
        kept = offsets >= first_kept[:, None]
        rows, logits = rows[kept], logits[kept]
        if form == 'dense':
            # $\log p = \log \mathrm{softmax}(v)$, which serves any temperature
            log_probs[rows] = torch.log_softmax(logits, dim=-1).to(LOG_PROB_DTYPE)
            continue
        # The $k$ largest $\log \mathrm{softmax}(v / T)$, or $m$ draws from $\mathrm{softmax}(v / T)$
        made = (top_k_targets(logits, size, temperature) if form == 'top-k'
                else sample_targets(logits, size, temperature, generator=generator))
        log_probs[rows] = made.log_probs.to(LOG_PROB_DTYPE)
        indices[rows] = made.indices.to(INDEX_DTYPE)
    return TargetCache(identity, form, temperature, log_probs, indices)


def cache_identity(teacher: nn.Module, data: torch.Tensor, context: int, form: str, size: int,
                   temperature: float) -> str:
    """
    A hash of everything a cache's contents depend on: the
    [hash](../../experiments/caches.html#hash) of the teacher's weights and
    the training bytes, in the order of their names, after the settings.
    """
    sparse = form != 'dense'
    settings = [f'version {VERSION}', f'context {context}', f'form {form}',
                f'size {size} temperature {float(temperature)!r}' if sparse else '']
    return tensors_hash(sorted((dict(teacher.state_dict()) | {'training bytes': data}).items()), ' '.join(settings))


def cache_path(logs_dir: str, identity: str, form: str, size: int) -> Path:
    """
    The cache's file: its form and size, and the start of its identity.
    """
    return Path(logs_dir) / 'lm-target-cache' / f'{form}{"" if form == "dense" else f"-{size}"}-{identity[:16]}.pt'


def checksum(cache: TargetCache) -> str:
    """
    A hash of the cache's contents, stored in its file and checked when it is read.
    """
    return tensors_hash([('indices', cache.indices), ('log_probs', cache.log_probs)],
                        f'{cache.identity} {cache.form} {cache.temperature!r}')


def save_cache(path: Path, cache: TargetCache):
    """
    Write the cache with its checksum, to a temporary file then renamed.
    """
    write_atomic(path, lambda tmp: torch.save(cache._asdict() | {'checksum': checksum(cache)}, tmp))


def load_cache(path: Path, identity: str) -> TargetCache:
    """
    The cache in `path` as it was written, made from what `identity` hashes,
    or an error that names the file.
    """
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
        cache = TargetCache(*(state[name] for name in TargetCache._fields))
        intact = state['checksum'] == checksum(cache) and cache.identity == identity
    except Exception:
        intact = False
    if not intact:
        raise TargetCacheError(f'the teacher-target cache {path} is damaged (it cannot be read, or its contents do '
                               f'not match their checksum), or it was not made for this teacher, these bytes and '
                               f'this form. Delete it; the next run that needs it builds it again.')
    return cache


def open_target_cache(logs_dir: str, teacher: nn.Module, data: torch.Tensor, context: int, form: str, size: int,
                      temperature: float) -> TargetCache:
    """
    <a id="open"></a>

    ## The cache a run uses

    The cache of `teacher`'s targets in `form` for every position of the
    training bytes `data`, read from its file, or built and written.
    """
    identity = cache_identity(teacher, data, context, form, size, temperature)
    path = cache_path(logs_dir, identity, form, size)
    # Rank 0 looks and builds under the cache's lock: a run started at the
    # same time that needs the same targets [waits](../../experiments/caches.html#lock),
    # then reads the file this one writes
    lock = building_lock(path.with_suffix('.lock'), 'these teacher targets')
    with lock if distributed.is_main() else nullcontext():
        cache = distributed.from_main(lambda: load_cache(path, identity) if path.exists() else None)
        if cache is None:
            cache = build_cache(identity, teacher, data, context, form, size, temperature)
            if distributed.is_main():
                save_cache(path, cache)
                print(f'Teacher targets written to {path} ({cache.stored_bytes_per_token()} bytes a position)')
    return cache
