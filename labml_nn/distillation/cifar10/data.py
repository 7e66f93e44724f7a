r"""
---
title: CIFAR-10 in memory, augmented by the batch
summary: >
  Loads CIFAR-10 from the official python release or an image folder, decodes
  it once into a uint8 tensor cached beside the data, and augments whole
  batches as tensors on the training device.
---

# CIFAR-10 in memory

CIFAR-10 is small: 50,000 training images of $32 \times 32 \times 3$ bytes are
150 MB. Decoding them once and keeping them in one `uint8` tensor makes a
training epoch pure arithmetic, with no per-image Python, no PIL in the loop
and no `DataLoader` worker processes. Augmentation, a random crop from the
image padded by 4 pixels and a random horizontal flip, runs on a whole batch
at once, on the device that trains.

Two layouts are read:

* the official python release, a `cifar-10-batches-py` folder (downloaded
  through `torchvision` when absent and the network allows it);
* an image folder, `DIR/train/<class>/*.jpg|png` and optionally
  `DIR/test/<class>/...`, with classes in alphabetical order.

An image folder is decoded once and cached in `DIR/.cache/`, so the next run
starts in seconds. It may hold fewer classes than CIFAR-10's ten, and the
models then have one output per class it has: a smaller problem is a fair
experiment, so it is not refused, but it is never silent. Loading such a
folder prints how many classes the models learn and which; when each is
one of CIFAR-10's, it also names CIFAR-10's classes that have no folder, so
that a class folder lost in a copy shows at once.
"""

import hashlib
import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path
from typing import List, NamedTuple, Optional, Tuple

import numpy as np
import torch

from labml_nn.experiments import distributed
from labml_nn.experiments.checks import CommandError
from labml_nn.experiments.runs import write_atomic

# The per-channel mean and standard deviation of CIFAR-10's training pixels, on a 0-255 scale
MEAN = (125.3, 123.0, 113.9)
STD = (63.0, 62.1, 66.7)
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png')
# CIFAR-10's classes, in the official release's label order
CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')


class DataError(CommandError):
    """
    The data is missing or broken. The message says what to do; the command
    line prints it without a traceback.
    """


class Split(NamedTuple):
    """
    Images as `uint8` `[N, 3, 32, 32]` and labels as `int64` `[N]`.
    """
    images: torch.Tensor
    labels: torch.Tensor


class CIFAR10(NamedTuple):
    """
    The training split and, when the data has one, the test split; the class
    names, in label order; and a *fingerprint* of the files the data was read
    from (their names and contents), which changes when any file is added,
    removed or changed, and not when the same data is copied. Runs are
    identified by it.
    """
    train: Split
    test: Optional[Split]
    classes: List[str]
    fingerprint: str


def load_cifar10(data_dir: str, download: bool = True) -> CIFAR10:
    """
    ## Load CIFAR-10 from `data_dir`

    The official release is used when it is there, then an image folder; with
    neither, the official release is downloaded if the network allows it.
    """
    root = Path(data_dir)
    official = root / 'cifar-10-batches-py'
    if official.is_dir():
        (train, classes), (test, _) = _load_official(root, train=True), _load_official(root, train=False)
        return CIFAR10(train, test, classes, _fingerprint(official, sorted(official.iterdir())))
    if (root / 'train').is_dir():
        train, classes, fingerprint = _load_folder(root / 'train')
        _say_classes(root / 'train', classes)
        test = None
        if (root / 'test').is_dir():
            # The test images are labelled by the training classes, so a class
            # missing from `test/` does not renumber the others
            test, _, test_fingerprint = _load_folder(root / 'test', classes)
            fingerprint = hashlib.sha256(f'{fingerprint} {test_fingerprint}'.encode()).hexdigest()[:16]
        return CIFAR10(train, test, classes, fingerprint)
    if download:
        _download(root)
        return load_cifar10(data_dir, download=False)
    raise DataError(_missing_message(root))


def _say_classes(folder: Path, classes: List[str]):
    """
    Say how many classes the models learn from `folder` when it is not
    CIFAR-10's ten, and which of CIFAR-10's classes have no folder when every
    class is one of them. Only the process that started the command says it:
    not torchrun's other ranks, nor the pipeline's worker processes, which
    load the same folder again.
    """
    if len(classes) == len(CIFAR10_CLASSES) or not distributed.is_main() or multiprocessing.parent_process():
        return
    note = (f"note: {folder} has {len(classes)} class folders, so the models learn {len(classes)} classes, "
            f"not CIFAR-10's {len(CIFAR10_CLASSES)}: {', '.join(classes)}")
    missing = [name for name in CIFAR10_CLASSES if name not in classes]
    if set(classes) <= set(CIFAR10_CLASSES):
        note += (f". CIFAR-10's {', '.join(missing)} {'has' if len(missing) == 1 else 'have'} no folder; "
                 f"if that is a mistake, add {', '.join(str(folder / name) for name in missing)}")
    print(note)


def _missing_message(root: Path) -> str:
    return (f'No CIFAR-10 data in {root}. Point --data-dir at a folder that holds either\n'
            f'  cifar-10-batches-py/   (the official python release from the CIFAR-10 web page), or\n'
            f'  train/<class>/*.jpg    (an image folder; test/<class>/... is optional).\n'
            f'With a network connection the official release is downloaded into --data-dir.')


def _download(root: Path):
    """
    Download the official release through `torchvision`; offline, say what to do instead.

    A `--data-dir` that does not exist may be a typing mistake, so it is made
    only by a download that succeeds: the release goes into a new temporary
    folder beside it, renamed to `--data-dir` at the end, and a failed
    download leaves nothing behind. The folders above it are never made.
    """
    from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10
    if not root.parent.is_dir():
        raise DataError(f'{_missing_message(root)}\nNothing was downloaded: {root.parent} does not exist. '
                        f'Check --data-dir for a typing mistake.')
    target = root if root.is_dir() else Path(tempfile.mkdtemp(dir=root.parent, prefix=f'.{root.name}-'))
    try:
        TorchvisionCIFAR10(str(target), train=True, download=True)
        if target != root:
            target.rename(root)
    except Exception as e:
        raise DataError(f'{_missing_message(root)}\nThe download failed: {e}') from None
    finally:
        if target != root and target.exists():
            shutil.rmtree(target)


def _fingerprint(folder: Path, files: List[Path], labels: Optional[List[int]] = None) -> str:
    """
    A short hash of the files' paths in `folder`, labels and contents: any
    file added, removed or changed changes it, and a copy of the same data
    (new modification times) has the same one. Reading 50,000 small images
    to hash them takes seconds, so an image folder's cache keeps its
    fingerprint (see below).
    """
    fingerprint = hashlib.sha256()
    for i, path in enumerate(files):
        content = path.read_bytes()
        label = '' if labels is None else labels[i]
        fingerprint.update(f'{path.relative_to(folder)}|{label}|{len(content)}\n'.encode())
        fingerprint.update(content)
    return fingerprint.hexdigest()[:16]


def _stamps(folder: Path, files: List[Path], labels: List[int]) -> str:
    """
    A short hash of what the file system says of the files, without reading
    them: their paths, labels, sizes, inodes, and modification and change
    times. The change time (`st_ctime`) is set by the system whenever a
    file's content is written, and no program can set it back, so a file
    rewritten with its old size and modification time changes it too.
    """
    stamps = hashlib.sha256()
    for path, label in zip(files, labels):
        stat = path.stat()
        stamps.update(f'{path.relative_to(folder)}|{label}|{stat.st_size}|{stat.st_ino}|'
                      f'{stat.st_mtime_ns}|{stat.st_ctime_ns}\n'.encode())
    return stamps.hexdigest()[:16]


def _load_official(root: Path, train: bool) -> Tuple[Split, List[str]]:
    """
    The pickled batches of the official release, read through `torchvision`,
    and the class names.
    """
    from torchvision.datasets import CIFAR10 as TorchvisionCIFAR10
    try:
        dataset = TorchvisionCIFAR10(str(root), train=train, download=False)
    except Exception as e:
        raise DataError(f'{root / "cifar-10-batches-py"} is incomplete or corrupt ({e}). '
                        f'Delete it and download the release again.') from None
    # `data` is `[N, 32, 32, 3]`; the models want channels first
    images = torch.from_numpy(dataset.data).permute(0, 3, 1, 2).contiguous()
    return Split(images, torch.tensor(dataset.targets, dtype=torch.int64)), list(dataset.classes)


def _list_folder(folder: Path, classes: Optional[List[str]] = None) -> Tuple[List[str], List[Tuple[Path, int]]]:
    """
    The classes of an image folder, in alphabetical order, and its image files
    with their labels. `classes`, when given, are the training folder's, and
    they number this folder's classes.

    Hidden folders and files (`.ipynb_checkpoints`, `._image.jpg` from macOS)
    are not classes or images: an extra class would shift every label after it.
    A name like an image's that is not a regular file (a folder called
    `x.jpg`, a link to nothing, a named pipe, which would never finish being
    read) is refused with its path.
    """
    names = sorted(d.name for d in folder.iterdir() if d.is_dir() and not d.name.startswith('.'))
    if not names:
        raise DataError(f'{folder} has no class folders; expected {folder}/<class>/*.jpg')
    if classes is None:
        classes = names
    unknown = [name for name in names if name not in classes]
    if unknown:
        raise DataError(f'{folder} has classes the training folder has not: {", ".join(unknown)}')
    # The models have 10 outputs
    if len(classes) > 10:
        raise DataError(f'{folder} has {len(classes)} class folders; CIFAR-10 has 10')
    files = []
    for name in names:
        for path in sorted((folder / name).iterdir()):
            if path.suffix.lower() in IMAGE_SUFFIXES and not path.name.startswith('.'):
                _check_image_file(path)
                files.append((path, classes.index(name)))
    if not files:
        raise DataError(f'{folder} has class folders but no .jpg or .png images')
    # A class folder without images would be a class the model never sees
    labelled = {label for _, label in files}
    empty = [name for name in names if classes.index(name) not in labelled]
    if empty:
        raise DataError(f'{folder} has class folders without .jpg or .png images: '
                        f'{", ".join(str(folder / name) for name in empty)}. Add their images, or remove them')
    return classes, files


def _check_image_file(path: Path):
    """
    Refuse `path`, named like an image, unless it is a regular file (or a link to one).
    """
    if path.is_file():
        return
    what = ('a folder' if path.is_dir() else 'a link to nothing' if path.is_symlink() and not path.exists()
            else 'not a regular file')
    raise DataError(f'{path} is named like an image but is {what}, not an image file; remove or rename it')


def _decode(path: Path) -> np.ndarray:
    """
    Decode one image into a `[32, 32, 3]` `uint8` array, or say which file is bad.
    """
    from PIL import Image
    try:
        with Image.open(path) as image:
            pixels = np.asarray(image.convert('RGB'))
    except Exception as e:
        raise DataError(f'Cannot read image {path}: {e}. Remove or replace the file.') from None
    if pixels.shape != (32, 32, 3):
        raise DataError(f'Image {path} is {pixels.shape[1]}x{pixels.shape[0]} pixels; '
                        f'CIFAR-10 images are 32x32.')
    return pixels


def _load_folder(folder: Path, classes: Optional[List[str]] = None) -> Tuple[Split, List[str], str]:
    """
    ### An image folder, decoded once

    Returns the images and labels, the classes, and the folder's fingerprint.
    The cache, `.cache/<folder>-<fingerprint>-<stamps>.pt`, is named by both
    hashes. The stamps cost one `stat` a file and name the cache of the files
    as they are, so an unchanged folder is neither read nor decoded again.
    When no cache has the folder's stamps (an image added, changed or
    replaced, or the folder copied), the contents are hashed: a cache with
    the same fingerprint, in a copy of the folder, is the same data, renamed
    to the new stamps rather than decoded again; with none, the images are
    decoded into a new one.
    """
    classes, files = _list_folder(folder, classes)
    paths, labels = [path for path, _ in files], [label for _, label in files]
    caches, stamps = folder.parent / '.cache', _stamps(folder, paths, labels)
    for cache in caches.glob(f'{folder.name}-*-{stamps}.pt'):
        data = _read_cache(cache)
        if data is not None:
            return Split(data['images'], data['labels']), classes, cache.name.split('-')[-2]
    fingerprint = _fingerprint(folder, paths, labels)
    cache = caches / f'{folder.name}-{fingerprint}-{stamps}.pt'
    for copied in caches.glob(f'{folder.name}-{fingerprint}-*.pt'):
        data = _read_cache(copied)
        if data is not None:
            _move_cache(copied, cache)
            return Split(data['images'], data['labels']), classes, fingerprint

    # Decode every image into one `[N, 32, 32, 3]` array, then make it channels first
    pixels = np.stack([_decode(path) for path in paths])
    images = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous()
    labels = torch.tensor(labels, dtype=torch.int64)
    _save_cache(cache, {'images': images, 'labels': labels, 'classes': classes})
    return Split(images, labels), classes, fingerprint


def _read_cache(path: Path) -> Optional[dict]:
    """
    A cache as saved, or `None` when it cannot be read: a damaged cache is
    decoded again and replaced.
    """
    try:
        return torch.load(path, weights_only=True)
    except Exception:
        return None


def _move_cache(old: Path, new: Path):
    """
    Rename a cache to the folder's new stamps; a read-only data folder keeps it as it is.
    """
    try:
        os.replace(old, new)
    except OSError:
        pass


def _save_cache(path: Path, data: dict):
    """
    Write the cache atomically, so that an interrupted write never leaves half
    a cache. A read-only data folder just goes uncached.
    """
    try:
        write_atomic(path, lambda tmp: torch.save(data, tmp))
    except OSError:
        pass


def split_train(train: Split, valid_size: int, train_size: Optional[int], seed: int = 0) -> Tuple[Split, Split]:
    """
    ## Hold out a validation split

    A permutation with a fixed `seed` (the same for every run, so every model
    is chosen on the same images) puts `valid_size` images aside; training uses
    the first `train_size` of the rest (all of them when `None`). A small
    `train_size` is the small labelled *transfer set* of the CPU profile.
    """
    n = len(train.labels)
    if valid_size >= n:
        raise DataError(f'--valid-size {valid_size} leaves no training images: '
                        f'the training split has {n}. Choose a smaller --valid-size.')
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    valid_index, train_index = order[:valid_size], order[valid_size:]
    if train_size is not None:
        if train_size > len(train_index):
            raise DataError(f'--train-size {train_size} is more than the {len(train_index)} '
                            f'training images left after validation.')
        train_index = train_index[:train_size]
    return (Split(train.images[train_index], train.labels[train_index]),
            Split(train.images[valid_index], train.labels[valid_index]))


def normalize(images: torch.Tensor) -> torch.Tensor:
    r"""
    ## Normalize

    `uint8` images to float, $(x - \mu) / \sigma$ per channel, in `channels_last`
    memory order, which the CPU and GPU convolution kernels run fastest on.
    """
    mean = torch.tensor(MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=images.device).view(1, 3, 1, 1)
    x = (images.float() - mean) / std
    return x.contiguous(memory_format=torch.channels_last)


# The offsets of a $32 \times 32$ window in the $40 \times 40$ padded image, $0$ to $8$
OFFSETS = 9
# Every view of an image: a row offset, a column offset, flipped or not, $9 \times 9 \times 2$
VIEWS = OFFSETS * OFFSETS * 2


class Views(NamedTuple):
    """
    <a id="views"></a>

    ## The view of each image

    The row and column offset of each image's window, in $[0, 8]$, and
    whether it is flipped left to right: `[B]` tensors, the offsets `int64`,
    the flips `bool`.
    """
    rows: torch.Tensor
    cols: torch.Tensor
    flips: torch.Tensor

    def numbers(self) -> torch.Tensor:
        r"""
        Each view's number, $(9 \cdot row + col) \cdot 2 + flip$, in $[0, 162)$.
        """
        return (self.rows * OFFSETS + self.cols) * 2 + self.flips.long()

    @classmethod
    def from_numbers(cls, numbers: torch.Tensor) -> 'Views':
        """
        The views numbered `numbers`, the inverse of `numbers()`.
        """
        window, flips = numbers // 2, numbers % 2 == 1
        return cls(window // OFFSETS, window % OFFSETS, flips)


def random_views(batch: int, generator: torch.Generator, device: torch.device) -> Views:
    """
    ## A random view for each of `batch` images

    Drawn from `generator` (on its own device), then moved to `device`: the
    offsets first, then the flips.
    """
    # A random offset in $[0, 8]$ for each image, for rows and for columns
    offsets = torch.randint(0, OFFSETS, (2, batch), generator=generator, device=generator.device).to(device)
    # Half of the images, on average, are flipped
    flips = torch.rand(batch, generator=generator, device=generator.device).to(device) < 0.5
    return Views(offsets[0], offsets[1], flips)


def crop_views(images: torch.Tensor, views: Views) -> torch.Tensor:
    r"""
    ## Cut out each image's view

    Each image is padded by 4 zero pixels on every side and its
    $32 \times 32$ window cut out of the $40 \times 40$ result, read
    backwards along the columns when it is flipped. All of it is indexing on
    `uint8` tensors, on the device the batch is on.
    """
    batch = images.shape[0]
    device = images.device
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    steps = torch.arange(32, device=device)
    rows = (views.rows[:, None] + steps)[:, None, :, None]
    cols = (views.cols[:, None] + steps)[:, None, None, :]
    # Flipping is reading the columns backwards
    cols = torch.where(views.flips[:, None, None, None], cols.flip(-1), cols)
    # Gather the windows: batch index, channel, row, column
    return padded[torch.arange(batch, device=device)[:, None, None, None],
                  torch.arange(3, device=device)[None, :, None, None], rows, cols]


def augment(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    r"""
    ## Augment a whole batch

    A [random view](#views) of each image: a random $32 \times 32$ window of
    the image padded by 4 zero pixels, flipped left to right half of the
    time. `generator` makes it reproducible. Each image has
    $9 \times 9 \times 2 = 162$ possible views, which the
    [teacher cache](teacher_cache.html) relies on.
    """
    return crop_views(images, random_views(images.shape[0], generator, images.device))
