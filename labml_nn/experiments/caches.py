"""
---
title: Caches of a fixed teacher's outputs
summary: >
  What the caches of both experiments share: a hash of named tensors, which
  names a cache's file and checks its contents, and a lock that lets one
  process at a time build a cache.
---

# Caches of a fixed teacher's outputs

A teacher that has finished training answers the same input the same way
every time, so its answers can be computed once, written to disk, and read
by every run that distils from it. Each experiment keeps such a cache: the
CIFAR-10 teacher's logits for every view of every image
([its cache](../distillation/cifar10/teacher_cache.html)), and the language
model's targets at every position of its training bytes
([its cache](../distillation/lm/target_cache.html)). What the two caches hold
and how they are looked up is their own; two things are the same in both.

* A cache file is named by a hash of what its contents depend on (among them
  the teacher's weights), and holds a hash of its own contents, a checksum,
  compared each time it is read. Both are the [hash of tensors](#hash) below.
* Building a cache can take many minutes. Two runs that start together and
  need the same cache would each build it; the [lock](#lock) below makes the
  second one wait for the first, then read its file.
"""

import hashlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator, Optional, Tuple

import torch

from labml_nn.experiments.runs import lock_or_wait


def tensors_hash(tensors: Iterable[Tuple[str, Optional[torch.Tensor]]], text: str = '') -> str:
    """
    <a id="hash"></a>

    ## A hash of tensors

    The SHA-256 hash, in hexadecimal, of `text` followed by each named
    tensor in the order given: its name, type and shape, then every byte of
    its contents; a tensor that is `None` (a cache without it) by its name
    alone. A file format checks its own structure but not the bytes inside a
    tensor: a byte changed on the disk there changes this hash.

    The bytes hashed must stay as they are: the caches already on disk are
    found by the hashes in their names, and read only when their checksums match.
    """
    hashed = hashlib.sha256(text.encode())
    for name, tensor in tensors:
        if tensor is None:
            hashed.update(f'{name} none'.encode())
            continue
        hashed.update(f'{name} {tensor.dtype} {tuple(tensor.shape)}'.encode())
        # Every byte, whatever the type: the tensor seen as `uint8`
        hashed.update(tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes())
    return hashed.hexdigest()


@contextmanager
def building_lock(path: Path, what: str) -> Iterator[None]:
    """
    <a id="lock"></a>

    ## One process builds a cache

    An exclusive `flock` on the file `path`, held while the block looks for
    the cache `what` and, when there is none, builds and writes it. A second
    process that needs the same cache waits here, saying so, and then finds
    the file the first one wrote, rather than spending the time to build it
    again. The operating system releases the lock however its holder ends, so
    a process that dies while building leaves the next one free to build.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, 'a+') as file:
        lock_or_wait(file, lambda _: f'Another process is looking for or building {what}; waiting for it')
        yield
