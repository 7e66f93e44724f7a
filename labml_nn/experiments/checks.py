"""
---
title: Checking a command before any work
summary: >
  The checks every command of both tracks runs on its options before it
  imports PyTorch, and the one place where a command's mistakes become a
  message and an exit status instead of a traceback.
---

# Checking a command before any work

Both tracks' commands, the CIFAR-10 ones and the language model's, check
their options here. A bad value should stop a command at once, with a message
that names the option and what it takes, before a folder is made or a model
is built; so nothing in this module imports PyTorch at the top (it takes
seconds), and `--help` answers at once.

Errors a command can end with are of two kinds, each a base class here:
a [`CommandError`](#command-error) is the user's to fix (a bad value, a
missing folder, a busy run) and ends with status 2; a
[`RunFailed`](#run-failed) happened during the work (a diverged run, a full
disk) and ends with status 1. [`command_errors`](#command-errors) turns both
into one line on standard error.
"""

import argparse
import ast
import importlib.util
import math
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, Optional


class CommandError(Exception):
    """
    <a id="command-error"></a>

    A mistake the user can fix: the message says what and how. Exit status 2.
    """


class RunFailed(Exception):
    """
    <a id="run-failed"></a>

    The work started and could not go on (a run diverged, the disk is full);
    what was saved is kept. Exit status 1.
    """


def _number(kind: type, text: str):
    """
    `text` as an `int` or a `float`, with `argparse`'s usual message when it is not one.
    """
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'invalid {kind.__name__} value: {text!r}') from None


def checked(kind: type, accepts: Callable[[Any], bool], wanted: str) -> Callable[[str], Any]:
    """
    An `argparse` type for finite numbers of `kind` that `accepts`; `wanted`
    says which, in the message.
    """
    def parse(text: str):
        value = _number(kind, text)
        if not (accepts(value) and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f'must be {wanted}, got {text}')
        return value
    return parse


def positive(kind: type) -> Callable[[str], Any]:
    """
    Positive finite numbers.
    """
    return checked(kind, lambda value: value > 0, 'positive and finite')


def non_negative(kind: type) -> Callable[[str], Any]:
    """
    Finite numbers that may be $0$.
    """
    return checked(kind, lambda value: value >= 0, '0 or more and finite')


# PyTorch seeds its generators with a 64-bit unsigned number
MAX_SEED = 2 ** 64 - 1
seed = checked(int, lambda value: 0 <= value <= MAX_SEED, f'0 to {MAX_SEED}')


def fraction(text: str) -> float:
    """
    A number from $0$ to $1$.
    """
    return checked(float, lambda value: 0 <= value <= 1, 'a fraction from 0 to 1')(text)


def source_constant(module: str, name: str) -> Any:
    """
    The value of `name = ...` at the top of `module`'s source, read without
    importing the module (which would import PyTorch).
    """
    tree = ast.parse(Path(importlib.util.find_spec(module).origin).read_text(encoding='utf-8'))
    [value] = [node.value for node in tree.body if isinstance(node, ast.Assign)
               and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)]
    return ast.literal_eval(value)


# The smallest and the largest temperature the soft-target loss works at: the
# [loss module's](../distillation/loss.html) `MIN_TEMPERATURE` and `MAX_TEMPERATURE`, read from its source
MIN_TEMPERATURE = source_constant('labml_nn.distillation.loss', 'MIN_TEMPERATURE')
MAX_TEMPERATURE = source_constant('labml_nn.distillation.loss', 'MAX_TEMPERATURE')


def temperature(text: str) -> float:
    """
    A temperature from `MIN_TEMPERATURE` to `MAX_TEMPERATURE`.
    """
    return checked(float, lambda value: MIN_TEMPERATURE <= value <= MAX_TEMPERATURE,
                   f'from {MIN_TEMPERATURE:g} to {MAX_TEMPERATURE:g}')(text)


def boolean(text: str) -> bool:
    """
    `true` or `false` (also `yes`/`no`, `1`/`0`), in any case.
    """
    answers = {'true': True, 'yes': True, '1': True, 'false': False, 'no': False, '0': False}
    if text.lower() not in answers:
        raise argparse.ArgumentTypeError(f'must be true or false, got {text!r}')
    return answers[text.lower()]


def device(text: str) -> str:
    """
    A device that exists on this machine: `cpu`, `cuda`, `cuda:N` or `mps`.
    The CPU is one device: `cpu:3` names nothing more than `cpu`, and is refused.
    """
    import torch
    try:
        chosen = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f'unknown device {text!r}; use cpu, cuda or cuda:N') from None
    if chosen.type == 'cuda':
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise argparse.ArgumentTypeError('no CUDA device here; use --device cpu')
        if chosen.index is not None and chosen.index >= count:
            raise argparse.ArgumentTypeError(f'no CUDA device {chosen.index} here: {count} found, '
                                             f'cuda:0 to cuda:{count - 1}')
    elif chosen.type == 'cpu' and chosen.index is not None:
        raise argparse.ArgumentTypeError(f'{text!r}: the CPU is one device; use --device cpu')
    elif chosen.type == 'mps' and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError('no MPS device here; use --device cpu')
    elif chosen.type not in ('cpu', 'cuda', 'mps'):
        raise argparse.ArgumentTypeError(f'device {text!r} is not supported; use cpu or cuda')
    return text


def folder(text: str) -> str:
    """
    A folder's path; an empty one would silently mean the current folder.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give a folder (use '.' for the current one)")
    return text


def distillation_problem(settings: Dict[str, Any]) -> Optional[str]:
    """
    What is wrong with a distilled student's `settings`, or `None`: with both
    weights $0$ the loss is $0$ and nothing would be learned.
    """
    if settings['soft_target_weight'] == 0 and settings['label_loss_weight'] == 0:
        return ('--soft-target-weight and --label-loss-weight are both 0: the loss would be 0 and the '
                'student would learn nothing. Give at least one of them a positive weight')
    return None


class CannotWrite(CommandError):
    """
    An output folder cannot be made or written to.
    """


def check_writable(path: Path, option: str):
    """
    Write (then remove) a temporary file in the folder `path`, so that a
    folder the program cannot write to is refused before any work rather
    than after it. The folder is made only when the check passes, and
    nothing else is left behind: a command refused for another reason made
    no folder the user did not ask for.
    """
    missing = [p for p in [path, *path.parents] if not p.exists()]
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as e:
        raise CannotWrite(f'cannot write to {option} {path}: {e.strerror or e}') from None
    finally:
        # Made here only to test it; the work makes it again when it writes
        for made in missing:
            if made.is_dir() and not any(made.iterdir()):
                made.rmdir()


@contextmanager
def command_errors() -> Iterator[None]:
    """
    <a id="command-errors"></a>

    ## The errors a command ends with

    A message on standard error and an exit status, no traceback: 2 for a
    mistake to fix, 1 for work that failed, 130 for Ctrl-C, which says how
    to resume. An `Interrupted` error says where the saved run stopped.
    """
    try:
        yield
    except CommandError as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(2)
    except RunFailed as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as e:
        where = f' {e.where}' if getattr(e, 'where', '') else ''
        print(f'\ninterrupted{where}; run the same command to resume', file=sys.stderr)
        sys.exit(130)
    except Exception as e:
        # Under torchrun (which names each process's `RANK`): another process
        # ended, or did not answer within the collectives' timeout
        import torch
        if not isinstance(e, torch.distributed.DistError):
            raise
        print(f"error: process {os.environ.get('RANK', 0)} lost the other processes (one of them ended, or did "
              f"not answer in time); see their messages. {e}", file=sys.stderr)
        sys.exit(1)
