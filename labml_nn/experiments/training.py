"""
---
title: What every training loop shares
summary: >
  The parts of a training loop that the CIFAR-10 trainer and the language
  model's trainer share: the device, the learning-rate schedule, divergence,
  interruption, full disks, and resuming on the device a run started on.
---

# What every training loop shares

The two trainers, [CIFAR-10's](../distillation/cifar10/trainer.html) and the
[language model's](../distillation/lm/trainer.html), loop over different
data, but a run of either must end the same way when something goes wrong:

* a loss or a weight that is no longer a finite number stops the run and
  saves nothing of it ([`Diverged`](#diverged));
* Ctrl-C stops it and says how far the checkpoint goes ([`Interrupted`](#interrupted));
* a full disk stops it with one message, and the previous checkpoint whole
  ([`save_checkpoint`](#save-checkpoint), [`full_disk_message`](#full-disk));
* a run resumes only on the kind of device it started on, whose random
  number generators it continues ([`check_device_kind`](#device-kind)).
"""

import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, Optional

import torch
from torch import nn

from labml_nn.experiments.checks import CommandError, RunFailed
from labml_nn.experiments.runs import write_atomic


class Diverged(RunFailed):
    """
    <a id="diverged"></a>

    The loss stopped being a finite number; the last good checkpoint is kept.
    """


class CannotSave(RunFailed):
    """
    A checkpoint or the run's files could not be written (a full disk).
    """


class CannotResume(CommandError):
    """
    A run's checkpoint cannot be continued here.
    """


class Interrupted(KeyboardInterrupt):
    """
    <a id="interrupted"></a>

    Ctrl-C during training; `where` says what the checkpoint holds,
    `after epoch 3` for example, which the command's message repeats.
    """

    def __init__(self, where: str):
        super().__init__(where)
        self.where = where


def default_device() -> str:
    """
    The first GPU when there is one, the CPU otherwise.
    """
    return 'cuda' if torch.cuda.is_available() else 'cpu'


def learning_rate_schedule(optimizer: torch.optim.Optimizer, total_steps: int, schedule: str):
    r"""
    ## Learning-rate schedule

    `'constant'`, or `'one_cycle'`: the rate at step $t$ of $S$ is
    $\eta \cdot \min\left(\frac{t}{0.15 S}, \frac{S - t}{0.85 S}\right)$,
    a linear warm-up over the first 15% of steps, then a linear decay to zero.
    """
    warmup = max(1, int(0.15 * total_steps))

    def factor(step: int) -> float:
        if schedule == 'constant':
            return 1.0
        return min(step / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def weights_are_finite(model: nn.Module) -> bool:
    """
    A non-finite loss makes non-finite gradients, and the optimizer writes
    them into the weights: checking the weights now and then catches both,
    without waiting on the device at every step.
    """
    return all(bool(torch.isfinite(t).all()) for t in model.state_dict().values() if t.is_floating_point())


def save_checkpoint(path: Path, state: Dict[str, Any], what: str, previous: Optional[str]):
    """
    <a id="save-checkpoint"></a>

    Write the checkpoint `what` (`of epoch 3`, say) to `path`, or stop with
    one message that says why. Written to a temporary file then renamed, a
    failed write (a full disk) leaves the previous checkpoint, `previous`
    (`None` when there is none), as it was.
    """
    try:
        write_atomic(path, lambda tmp: torch.save(state, tmp))
    except (OSError, RuntimeError) as e:
        # `torch.save` reports a full disk as a `RuntimeError` of its stream
        reason = e.strerror if isinstance(e, OSError) else 'the write failed'
        kept = f'the checkpoint {previous} is kept' if previous else 'nothing was saved'
        free = shutil.disk_usage(path.parent).free / 2 ** 20
        raise CannotSave(f'cannot write the checkpoint {what} to {path}: {reason} ({free:.0f} MiB free '
                         f'there); {kept}. Free some space and run the same command to resume.') from None


@contextmanager
def full_disk_message(run_folder: Path) -> Iterator[None]:
    """
    <a id="full-disk"></a>

    Around a run's training: on a full disk, labml's own last write as the
    run ends fails too, so the checkpoint's message is raised, not a chain
    of tracebacks; any other write that fails names the run folder.
    """
    try:
        yield
    except OSError as e:
        cause = e.__context__
        while cause is not None and not isinstance(cause, CannotSave):
            cause = cause.__context__
        if cause is not None:
            raise cause from None
        raise CannotSave(f'cannot write to the run folder {run_folder}: {e.strerror or e}') from None


def check_device_kind(state: Dict[str, Any], device: str, name: str, uuid: str):
    """
    <a id="device-kind"></a>

    A run continues only on the kind of device (`cpu`, `cuda`) it started
    on, whose generators' states its checkpoint holds; `state` is the
    checkpoint, which names it as `device_type`.
    """
    started = state.get('device_type')
    here = torch.device(device).type
    if started is not None and started != here:
        raise CannotResume(f'{name} run {uuid} was started on {started}, not {here}: resume it there (--device '
                           f'{started}), or start anew with --fresh')
