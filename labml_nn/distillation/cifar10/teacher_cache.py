r"""
---
title: The teacher's logits, computed once
summary: >
  The augmentation makes one of only 162 views of each image, so the fixed
  teacher's logits for every view of every image of the transfer set can be
  computed once, kept on disk, and looked up exactly by every run that
  distils from that teacher on those images.
---

# The teacher's logits, computed once

In [online distillation](distill.html) the teacher runs forward at every
step, and on a CPU that is most of the step's time (see the
[measurements](#measured) below). Yet the teacher is fixed, and a study asks
it the same questions again and again: every epoch shows it the same images,
and every seed, every temperature and every weight of a sweep repeats the
whole lot.

## Why the answers can be stored exactly

The [augmentation](data.html#views) pads an image by 4 pixels
on every side and cuts a $32 \times 32$ window out of the $40 \times 40$
result, at a row offset and a column offset in $[0, 8]$, then flips it or
not. So an image has exactly

$$9 \times 9 \times 2 = 162$$

views, and the teacher's logits are a function on a finite set: for the
2,000 images of the `cpu` profile's transfer set, $2{,}000 \times 162$ views
of 10 logits, 3.2 million numbers, 13 MB in float32 and 6.5 MB in bfloat16.
Computed once, they are
looked up rather than approximated: the student is shown the same views,
drawn with the same random numbers, as in online distillation, and gets the
teacher's own logits of those views. The only difference is rounding, since
the teacher computed them in other batches.

Computing them costs as much teacher work as 162 epochs over the transfer
set, about three runs of the `cpu` profile's 50 epochs; a study of fifteen
distilled runs pays for it several times over, and the file is shared by
every run and seed that uses the same teacher on the same images.

## Finding an image by its content

The training step gets a batch of images, not their indices. Each image
$x$, its $3 \cdot 32 \cdot 32 = 3072$ bytes $x_i \in [0, 255]$, gets an
integer *key* from two fixed random weight vectors $w^{(1)}, w^{(2)}$ with
entries in $[0, p)$, $p = 2^{31} - 1$ (a prime):

$$h_j = \Big(\sum_i x_i \, w^{(j)}_i\Big) \bmod p, \qquad key = h_1 \, p + h_2.$$

The sums stay below $3072 \cdot 255 \cdot 2^{31} < 2^{63}$, so they are exact
in 64-bit integers. Two different images get the same $h_j$ with probability
$1/p$ for each $j$, independently, so the same key with probability about
$2^{-62}$. The keys of the cached images are kept sorted, and a batch is found
with one binary search (`torch.searchsorted`). The cache also keeps the images
themselves, and each image found is compared with the query byte for byte: a
lookup is exact, and an image that is not in the cache is an error, never
another image's logits.

## On disk

A cache is one file, `LOGS/teacher-cache/<teacher>-<precision>-<images>.pt`:

* `<teacher>` is a hash of the teacher's run id and weights,
* `<precision>` is `bf16` when the teacher runs under bfloat16 autocast
  (the logits are then stored in bfloat16, as the teacher produced them) and
  `fp32` otherwise,
* `<images>` is a hash of the transfer set's distinct images, in key order,
  so the order of the images does not matter.

A run first looks for its own file, then for any file of the same teacher
and precision that holds all its images: the cache of a whole transfer set
serves a subset of it, such as the transfer set without one class of the
omitted-class study. Only when none does is a cache built, with a progress
bar, and written to a temporary file that is then renamed, so an interrupted
build leaves no file. The file holds a checksum of its contents, checked
each time it is read: a file that cannot be read, or whose bytes changed on
the disk, is an error that names it and says to delete it, and is never
written over.

Under [torchrun](distributed.html), rank 0 alone reads the logs folder, as
it does for checkpoints, and sends the cache it found to the other
processes. When it has none, every process runs the teacher on
[its share](../../experiments/distributed.html#shard) of the images, the
shares' logits are gathered into every process, and rank 0 writes the file:
the build is divided between the processes, and none waits for it in a
collective operation, where a build of many minutes would outlast the
processes' timeout.

The cache is a setting of the distilled student, off by default:

```bash
python -m labml_nn.distillation.cifar10.train distilled --data-dir DIR --teacher latest --teacher-cache true
```

It is part of the run's settings, so a run from the cache and an online run
are different runs; for the same seed they train the same student, up to
rounding. On a GPU the check that every image was found waits for the
device once per step.

<a id="measured"></a>

## Measured

`benchmarks/teacher_cache.py` times training steps of the small student at
batch 64 side by side, on the `cpu` profile's 2,000-image transfer set of
CIFAR-10: on labels alone, distilled from the cache, and distilled online.
On a 2-core server CPU (virtual machine; no bfloat16 instructions, so
everything in float32), with nothing else running, two threads, medians of
3 rounds of 10 steps, in two runs of the benchmark:

| step | ms per step | against labels |
|---|---|---|
| labels only | 115.7, 121.3 | 1.00x |
| distilled, from the cache | 136.4, 143.4 | 1.18x, 1.18x |
| distilled, online | 429.0, 536.9 | 3.71x, 4.42x |

A step from the cache costs a fifth more than a step on labels (the lookup
and the soft-target loss), where the online step costs about four times as
much. Building is the other side: the teacher took 5.89 ms a view, so the
324,000 views of the transfer set take about 32 minutes, once per teacher
and transfer set. (With one thread, beside a teacher training on the same
CPU, the same benchmark measured 0.96x for the cache, 3.58x online and
10.1 ms a view.)

```bash
python benchmarks/teacher_cache.py --data-dir DIR --steps 10 --rounds 3 --build-images 20
```
"""

import hashlib
from contextlib import nullcontext
from pathlib import Path
from typing import Callable, List, NamedTuple, Optional, Tuple

import torch
from labml import monit
from torch import nn

from labml_nn.distillation.cifar10.data import VIEWS, DataError, Views, crop_views, normalize
from labml_nn.distillation.cifar10.trainer import Configs, autocast
from labml_nn.experiments import distributed
from labml_nn.experiments.caches import building_lock, tensors_hash
from labml_nn.experiments.runs import load_checkpoint, write_atomic

# $p = 2^{31} - 1$, a prime, the modulus of the two halves of a key
PRIME = 2 ** 31 - 1
# The bytes of an image, $3 \cdot 32 \cdot 32$
PIXELS = 3 * 32 * 32
# The version of the file's layout, part of the teacher's hash
VERSION = 1


class TeacherCacheError(DataError):
    """
    An image that is not in the cache, or a cache file that cannot be read;
    the message says what to do, and the command prints it without a traceback.
    """


def key_weights() -> torch.Tensor:
    """
    The two fixed random weight vectors $w^{(1)}, w^{(2)}$ of the keys,
    `[2, 3072]` `int64` in $[0, p)$. They are stored in every cache file,
    which looks up with its own.
    """
    return torch.randint(0, PRIME, (2, PIXELS), generator=torch.Generator().manual_seed(0))


def content_keys(images: torch.Tensor, weights: torch.Tensor, chunk: int = 256) -> torch.Tensor:
    r"""
    ## The key of each image

    $key = h_1 \, p + h_2$ with $h_j = \big(\sum_i x_i w^{(j)}_i\big) \bmod p$,
    for `uint8` `images` `[N, 3, 32, 32]`; `int64` `[N]`, on the images'
    device. Images are taken `chunk` at a time, to keep the `int64` products small.
    """
    weights = weights.to(images.device)
    keys = []
    for part in images.reshape(images.shape[0], 1, PIXELS).split(chunk):
        # Exact integer sums, each below $2^{63}$, reduced modulo $p$
        halves = (part.long() * weights).sum(-1) % PRIME
        keys.append(halves[:, 0] * PRIME + halves[:, 1])
    return torch.cat(keys) if keys else torch.zeros(0, dtype=torch.int64, device=images.device)


class TeacherCache(NamedTuple):
    """
    <a id="cache"></a>

    ## The cache

    The distinct images in key order with their sorted `keys`, the key
    `weights`, and the teacher's `logits` `[M, 162, classes]` of every view of
    each image.
    """
    keys: torch.Tensor
    images: torch.Tensor
    logits: torch.Tensor
    weights: torch.Tensor

    def to(self, device: str) -> 'TeacherCache':
        return TeacherCache(*(t.to(device) for t in self))

    def find(self, images: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
        """
        The position of each of `images` in the cache, and whether it is
        there: its key found, and the image at that position equal to it.
        """
        keys = content_keys(images, self.weights)
        # The binary search gives where each key is, or would be inserted
        positions = torch.searchsorted(self.keys, keys).clamp(max=len(self.keys) - 1)
        # Found only when the key and every byte of the image match
        found = (self.keys[positions] == keys) & (self.images[positions] == images).flatten(1).all(1)
        return positions, found

    def lookup(self, images: torch.Tensor, views: torch.Tensor) -> torch.Tensor:
        """
        ## Looking up a batch

        The teacher's logits `[B, classes]` of `images` `[B, 3, 32, 32]`,
        each in its view numbered by `views` `[B]`, in the cache's precision.
        """
        positions, found = self.find(images)
        if not bool(found.all()):
            missing = int((~found).sum())
            raise TeacherCacheError(f'{missing} of {len(images)} images of the batch are not in the teacher '
                                    f'cache: it was built for other images. Distil without --teacher-cache, or '
                                    f'let the run build the cache of its own transfer set.')
        return self.logits[positions, views]


def distinct_images(images: torch.Tensor, weights: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]:
    """
    The keys, sorted, and the images, in key order, each image once. Two
    different images with the same key, which should never happen, are
    refused rather than confused.
    """
    keys, order = content_keys(images, weights).sort()
    images = images[order]
    first = torch.ones_like(keys, dtype=torch.bool)
    first[1:] = keys[1:] != keys[:-1]
    same_key = ~first
    if bool((images[same_key] != images[same_key.nonzero().squeeze(1) - 1]).any()):
        raise TeacherCacheError('two different images of the transfer set have the same key; '
                                'the teacher cache cannot tell them apart. Distil without --teacher-cache.')
    return keys[first], images[first]


def every_view_logits(c: Configs, teacher: nn.Module, images: torch.Tensor,
                      images_per_batch: int = 2) -> torch.Tensor:
    """
    ## Building: the teacher on every view

    The teacher's logits of all 162 views of each of `images`,
    `[N, 162, classes]` on the CPU. `images_per_batch` images, 162 views each,
    go through the teacher at once, as in the step: under `inference_mode`
    and the run's autocast, the output cloned into an ordinary tensor.
    """
    # The view of each number, $0$ to $161$, repeated for each image of a batch
    every_view = Views.from_numbers(torch.arange(VIEWS, device=c.device))
    logits = []
    for part in monit.iterate(f'Teacher logits of the {VIEWS} views of {len(images)} images',
                              list(images.split(images_per_batch))):
        part = part.to(c.device)
        views = Views(*(v.repeat(len(part)) for v in every_view))
        crops = crop_views(part.repeat_interleave(VIEWS, 0), views)
        with torch.inference_mode(), autocast(c):
            output = teacher(normalize(crops))
        logits.append(output.view(len(part), VIEWS, -1).clone().cpu())
    return torch.cat(logits)


def teacher_hash(teacher_path: str, bf16: bool) -> str:
    """
    A short hash of the teacher: its run id and every weight, with the
    file layout's version; and the precision it runs in.
    """
    state = load_checkpoint(Path(teacher_path), mmap=True)
    if not isinstance(state, dict) or not isinstance(state.get('model'), dict):
        raise TeacherCacheError(f'{teacher_path} is not a checkpoint of this trainer; it cannot be a teacher')
    # The [hash of tensors](../../experiments/caches.html#hash) of the weights, in the order of their names
    digest = tensors_hash(sorted(state['model'].items()), f'{VERSION} {state.get("uuid")}')
    return f'{digest[:16]}-{"bf16" if bf16 else "fp32"}'


def checksum(cache: TeacherCache) -> str:
    """
    A hash of everything in the cache, in the order of its fields, stored in
    its file: bytes changed on the disk, which a file format does not notice
    inside a tensor, change it.
    """
    return tensors_hash(cache._asdict().items())


def save_cache(path: Path, cache: TeacherCache):
    """
    Write the cache with its checksum, to a temporary file then renamed.
    """
    state = cache._asdict() | {'checksum': checksum(cache)}
    write_atomic(path, lambda tmp: torch.save(state, tmp))


def load_cache(path: Path) -> TeacherCache:
    """
    A cache file as written, or an error that names it: one that cannot be
    read, or whose contents no longer match their checksum (a file written
    before checksums were stored has none to check).
    """
    try:
        state = torch.load(path, map_location='cpu', weights_only=True)
        cache = TeacherCache(*(state[name] for name in TeacherCache._fields))
        intact = state.get('checksum', checksum(cache)) == checksum(cache)
    except Exception:
        intact = False
    if not intact:
        raise TeacherCacheError(f'the teacher cache {path} is damaged (it cannot be read, or its contents do not '
                                f'match their checksum), or it is not a file this program wrote. Delete it; the '
                                f'next run with --teacher-cache builds it again.')
    return cache


def covering_cache(files: List[Path], keys: torch.Tensor, images: torch.Tensor) -> Optional[TeacherCache]:
    """
    The first cache of `files` that holds every one of `images` (their
    `keys` sorted, the images in key order), read from its file.
    """
    for path in files:
        cache = load_cache(path)
        if torch.equal(cache.keys, keys) or bool(cache.find(images)[1].all()):
            return cache
    return None


def gathered(part: torch.Tensor) -> torch.Tensor:
    """
    Every process's `part`, joined in the order of their ranks; `part` itself in one process.
    """
    if distributed.world().size == 1:
        return part
    parts = [None] * distributed.world().size
    torch.distributed.all_gather_object(parts, part)
    return torch.cat(parts)


def open_cache(c: Configs, teacher_path: str, images: torch.Tensor,
               teacher: Callable[[], nn.Module]) -> TeacherCache:
    """
    <a id="open-cache"></a>

    ## The cache a run uses

    The cache of the teacher at `teacher_path` that holds every one of
    `images`, on the run's device: the file made for exactly them, or any
    other of the same teacher and precision that holds them all, or a new
    one. `teacher()` gives the fixed teacher; it is called only to build.
    """
    folder = Path(c.logs_dir) / 'teacher-cache'
    weights = key_weights()
    keys, distinct = distinct_images(images.cpu(), weights)
    # The file's name: the teacher and its precision, and the distinct images in key order
    teacher_name = teacher_hash(teacher_path, c.bf16)
    path = folder / f'{teacher_name}-{hashlib.sha256(distinct.numpy().tobytes()).hexdigest()[:16]}.pt'
    # Rank 0 looks and builds under the teacher's lock: runs [side by side](pipeline.html#jobs) that need
    # one teacher's cache [wait](../../experiments/caches.html#lock) for the one building it, then read its file
    lock = building_lock(folder / f'{teacher_name}.lock', "this teacher's cache")
    with lock if distributed.is_main() else nullcontext():
        # Rank 0 reads this transfer set's own file, else one that holds all
        # of its images, and every process gets the cache it found
        others = sorted(p for p in folder.glob(f'{teacher_name}-*.pt') if p != path)
        cache = distributed.from_main(lambda: covering_cache(([path] if path.exists() else []) + others,
                                                             keys, distinct))
        if cache is None:
            # None yet: each process runs the teacher on every view of its
            # share of the images, and every process gets all the logits
            share = distinct[distributed.shard(len(distinct))]
            cache = TeacherCache(keys, distinct, gathered(every_view_logits(c, teacher(), share)), weights)
            # Rank 0 writes the file, to a temporary file then renamed
            if distributed.is_main():
                save_cache(path, cache)
                print(f'Teacher cache written to {path}')
    return cache.to(c.device)

