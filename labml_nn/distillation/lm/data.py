r"""
---
title: Bytes of Python source, the data every machine has
summary: >
  The language models' corpus: the standard library's Python source of the
  interpreter that runs the code, read as bytes and split by file into
  training, validation and test bytes, with a fingerprint of what was read.
---

# Bytes of Python source

The language models of this track need text that every machine already has,
with no download and no tokenizer. Every Python installation carries one: the
source code of its standard library, about 12 MB of `.py` files on Python
3.11 once the test suites (folders named `test`, `tests` and `idle_test`) and
`site-packages` are left out. The models read it as bytes, so the vocabulary
is the 256 byte values and a model's loss is measured in *bits per byte*.

Another Python gives another corpus, so every run records the Python version,
a hash of the list of files, and a fingerprint of their contents; a changed
corpus never resumes or reuses a run trained on the old one.

`--data-dir DIR` reads every file under `DIR` instead (hidden files and
folders left out), for training on text of your own.

## The split

Files, not bytes, are split, so that no file is half in training and half in
test: a file goes to test when the first byte of the SHA-256 hash of its path
(relative to the corpus folder) is $0 \bmod 10$, to validation when it is
$1 \bmod 10$, and to training otherwise. The rule depends on the path alone,
so a file keeps its split when others are added. The files of a split are
joined in the order of the same hash, so that the first bytes of the training
split, which the [limited-data study](studies.html#limited) trains on, are a
mix of many modules rather than the alphabetically first ones.
"""

import hashlib
import platform
import sysconfig
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List

import torch

from labml_nn.experiments.checks import CommandError

# Folders of the standard library that are not part of the corpus
SKIPPED_FOLDERS = {'test', 'tests', 'idle_test', 'site-packages', '__pycache__'}


class DataError(CommandError):
    """
    The corpus cannot be read, or is too small for the settings.
    """


@dataclass
class Corpus:
    """
    ## The corpus

    Each split is a one-dimensional `uint8` tensor of bytes.
    """
    train: torch.Tensor
    valid: torch.Tensor
    test: torch.Tensor
    # Where it was read from, and which Python read it
    source: str
    python: str
    # Files in each split
    files: Dict[str, int]
    # A hash of the sorted list of file paths, and one of the paths and their contents
    files_hash: str
    fingerprint: str


def stdlib_folder() -> Path:
    """
    The folder of the standard library of the running interpreter.
    """
    return Path(sysconfig.get_paths()['stdlib'])


def corpus_files(data_dir: str) -> List[Path]:
    """
    The files of the corpus: the standard library's `.py` files outside the
    skipped folders when `data_dir` is `''`, else every file under
    `data_dir` that is not hidden.
    """
    if not data_dir:
        root = stdlib_folder()
        return sorted(p for p in root.rglob('*.py')
                      if p.is_file() and not SKIPPED_FOLDERS & set(p.relative_to(root).parts[:-1]))
    root = Path(data_dir)
    if not root.is_dir():
        raise DataError(f'--data-dir {data_dir} is not a folder; give a folder of text files, '
                        f'or leave it out to train on the Python standard library')
    return sorted(p for p in root.rglob('*')
                  if p.is_file() and not any(part.startswith('.') for part in p.relative_to(root).parts))


def path_hash(relative: str) -> bytes:
    """
    The SHA-256 hash of a file's relative path, which decides its split and its order.
    """
    return hashlib.sha256(relative.encode()).digest()


def split_of(relative: str) -> str:
    """
    `'test'`, `'valid'` or `'train'`, by the first byte of the path's hash.
    """
    return {0: 'test', 1: 'valid'}.get(path_hash(relative)[0] % 10, 'train')


def load_corpus(data_dir: str = '', min_bytes: int = 2) -> Corpus:
    """
    ## Reading the corpus

    Reads the files, splits them, and checks that each split has at least
    `min_bytes` bytes (a model's context plus one, to make one window).
    """
    root = Path(data_dir) if data_dir else stdlib_folder()
    files = corpus_files(data_dir)
    if not files:
        raise DataError(f'no files found in {root}; give a --data-dir with text files in it')
    relative = sorted((p.relative_to(root).as_posix() for p in files), key=path_hash)
    parts: Dict[str, List[bytes]] = {'train': [], 'valid': [], 'test': []}
    fingerprint = hashlib.sha256()
    for name in relative:
        content = (root / name).read_bytes()
        parts[split_of(name)].append(content)
        fingerprint.update(path_hash(name) + hashlib.sha256(content).digest())
    splits = {k: torch.frombuffer(bytearray(b''.join(v)), dtype=torch.uint8) if v else torch.zeros(0, dtype=torch.uint8)
              for k, v in parts.items()}
    for name, data in splits.items():
        if len(data) < min_bytes:
            raise DataError(f'the {name} split of {root} has {len(data):,} bytes, fewer than the {min_bytes:,} '
                            f'a window needs (the context plus one). Files are split by a hash of their path, '
                            f'about 1 in 10 each to validation and test: give more files, or a shorter --context')
    files_hash = hashlib.sha256('\n'.join(sorted(relative)).encode()).hexdigest()[:16]
    # The Python version says which standard library; a folder of other text has none
    return Corpus(**splits, source=str(root) if data_dir else 'python-stdlib',
                  python='' if data_dir else platform.python_version(),
                  files={k: len(v) for k, v in parts.items()}, files_hash=files_hash,
                  fingerprint=fingerprint.hexdigest()[:16])


def training_bytes(corpus: Corpus, train_bytes: int) -> torch.Tensor:
    """
    The bytes a run trains on: the first `train_bytes` of the training split,
    or all of it when `train_bytes` is 0.
    """
    if train_bytes > len(corpus.train):
        raise DataError(f'--train-bytes {train_bytes:,} is more than the {len(corpus.train):,} training bytes; '
                        f'give 0 for all of them')
    return corpus.train[:train_bytes] if train_bytes else corpus.train


def random_starts(data_bytes: int, batch_size: int, length: int, generator: torch.Generator) -> torch.Tensor:
    """
    Where `batch_size` windows of `length` bytes start, at random places of
    `data_bytes` bytes: `int64` `[batch_size]`. A distilled student with
    [stored teacher targets](target_cache.html) looks its targets up by them.
    """
    return torch.randint(0, data_bytes - length + 1, (batch_size,), generator=generator)


def windows_at(data: torch.Tensor, starts: torch.Tensor, length: int) -> torch.Tensor:
    """
    The windows of `length` bytes of `data` at `starts`, as `int64` token
    ids `[len(starts), length]`.
    """
    return data[starts[:, None] + torch.arange(length)].long()


def evenly_spaced_windows(data: torch.Tensor, count: int, length: int) -> torch.Tensor:
    """
    `count` windows of `length` bytes spread evenly over `data`, the same for
    every run: the fixed windows on which validation and test bits per byte
    are measured. Fewer when `data` is too short for `count` apart.
    """
    starts = torch.linspace(0, len(data) - length, count).long().unique()
    return torch.stack([data[s:s + length] for s in starts.tolist()]).long()


def corpus_words(data: Dict[str, object]) -> str:
    """
    The corpus a result was measured on, in words, from what `describe`
    recorded: the standard library of a Python version, or a folder by its
    name (not the path of the machine it was on), with its files, bytes and
    the hash of its file list.
    """
    what = (f"the standard library's source of Python {data['python']}" if data['source'] == 'python-stdlib'
            else f"the folder {Path(str(data['source'])).name}")
    files, sizes = sum(data['files'].values()), sum(data['bytes'].values())
    return f"{what}: {files:,} files, {sizes:,} bytes, file-list hash `{data['files_hash']}`"


def describe(corpus: Corpus) -> Dict[str, object]:
    """
    What every result records about the data.
    """
    return {'source': corpus.source, 'python': corpus.python, 'files': corpus.files,
            'files_hash': corpus.files_hash, 'fingerprint': corpus.fingerprint,
            'bytes': {'train': len(corpus.train), 'valid': len(corpus.valid), 'test': len(corpus.test)}}
