"""
---
title: Training the teacher, the baseline and the distilled student
summary: >
  The distillation trainer: settings profiles, finding a trained teacher,
  the distillation loss in the training loop, and the command line of each model.
---

# Training and distilling

The [trainer](../experiments/trainer.html) trains any model of the study on
labels. Distillation changes two things: it loads a trained teacher before the
first step, and its loss compares the student with the teacher's soft targets
on the same augmented batch, through the [distillation loss](loss.html).

Three commands, each with `--help`:

```bash
python -m labml_nn.distillation.large --data-dir DIR    # the teacher
python -m labml_nn.distillation.small --data-dir DIR    # the baseline
python -m labml_nn.distillation --data-dir DIR --teacher latest
```

`--teacher` takes `latest` (the newest finished teacher of the same profile),
a run id, or the path of a checkpoint. The teacher is never written into the
code.
"""

import argparse
import math
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Optional

import torch
from labml.configs import option
from torch import nn

from labml_nn.distillation.large import LargeModel
from labml_nn.distillation.loss import DistillationLoss
from labml_nn.experiments.cifar10 import CIFAR10VGGModel, PackedForCPU
from labml_nn.experiments.data import CannotWrite, DataError, check_writable, load_cifar10
from labml_nn.experiments.runs import RunBusy, find_runs, has_finite_weights, load_checkpoint
from labml_nn.experiments.trainer import Configs, Diverged, Interrupted, autocast, train

# ## Profiles
#
# Each profile sets every training setting of each model; the command line
# can override any of them.
#
# * `full` is the reference configuration: Adam at $2.5 \cdot 10^{-4}$, batch
#   64, 20 epochs for the teacher and 10 for the students, on every training
#   image. It is meant for a GPU.
# * `cpu` fits a 2-core CPU: the teacher learns from every training image
#   for 6 epochs (about half an hour), trained once and reused; the students
#   learn from a small labelled *transfer set* of 2,000 images for 50
#   epochs, the regime where the paper finds soft targets help most (its
#   speech model, trained on 3% of the data, reached 57.0% frame accuracy
#   with soft targets against 44.5% with hard ones). SGD with a one-cycle
#   schedule. The transfer set's size was chosen on the validation split
#   (seed 0, this teacher at 76.9%): labels alone against distilled,
#   5,000 images for 30 epochs, 74.1% against 75.2%; 3,000 for 40, 71.4%
#   against 74.1%; 2,000 for 50, 66.8% against 72.6%. With more labelled
#   images the small model alone comes close to the teacher, leaving little
#   to transfer.
# * `smoke` takes seconds, for tests.
PROFILES: Dict[str, Dict[str, Dict[str, Any]]] = {
    'full': {
        'large': dict(epochs=20, batch_size=64, optimizer_name='adam', learning_rate=2.5e-4,
                      schedule='constant', train_size=0),
        'small': dict(epochs=10, batch_size=64, optimizer_name='adam', learning_rate=2.5e-4,
                      schedule='constant', train_size=0),
    },
    'cpu': {
        'large': dict(epochs=6, batch_size=128, optimizer_name='sgd', learning_rate=0.1,
                      weight_decay=5e-4, schedule='one_cycle', train_size=0),
        'small': dict(epochs=50, batch_size=64, optimizer_name='sgd', learning_rate=0.05,
                      weight_decay=5e-4, schedule='one_cycle', train_size=2000),
    },
    'smoke': {
        'large': dict(epochs=1, batch_size=8, optimizer_name='sgd', learning_rate=0.01,
                      schedule='one_cycle', train_size=0, valid_size=8),
        'small': dict(epochs=2, batch_size=8, optimizer_name='sgd', learning_rate=0.01,
                      schedule='one_cycle', train_size=0, valid_size=8),
    },
}
# The distillation settings of every profile: $T = 4$, and the soft term dominating
DISTILLATION = dict(temperature=4.0, soft_target_weight=0.9, label_loss_weight=0.1)


def profile_settings(profile: str, model_name: str) -> Dict[str, Any]:
    """
    The settings of `model_name` in `profile`; the distilled student trains
    like the baseline, plus the distillation settings.
    """
    settings = dict(PROFILES[profile]['large' if model_name == 'large' else 'small'])
    if model_name == 'distilled':
        settings.update(DISTILLATION)
    return settings | {'model_name': model_name, 'profile': profile}


class DistillationConfigs(Configs):
    """
    ## Distillation configurations

    The trainer's configurations, plus the teacher and the loss.
    """
    # The teacher's checkpoint, a path
    teacher: str = ''
    # $T$, and the weights of the soft-target and label terms
    temperature: float = 4.0
    soft_target_weight: float = 0.9
    label_loss_weight: float = 0.1
    # Computed by the options below
    teacher_model: nn.Module
    distillation_loss: DistillationLoss

    def loss(self, logits: torch.Tensor, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """
        The teacher's logits on the very images the student saw, then the
        distillation loss. `inference_mode` records nothing for autograd; the
        `clone` turns its output into an ordinary tensor that the loss may keep.
        """
        with torch.inference_mode(), autocast(self):
            teacher_logits = self.teacher_model(images)
        return self.distillation_loss(logits, teacher_logits.clone(), labels)


@option(DistillationConfigs.teacher_model)
def _teacher_model(c: DistillationConfigs):
    """
    The teacher, loaded from its checkpoint.
    """
    teacher = load_teacher(Path(c.teacher), c.classes).to(c.device, memory_format=torch.channels_last)
    return fixed_teacher(teacher, c.bf16)


def fixed_teacher(teacher: CIFAR10VGGModel, bf16: bool) -> nn.Module:
    """
    The teacher as a fixed function of the images: in evaluation mode, with no
    gradients, and made faster in ways that only a fixed model allows.
    """
    # Batch normalization folded into the convolutions: the same function, one pass less
    teacher = teacher.eval().requires_grad_(False).fold_batch_norm()
    # On a CPU, the weights converted once into oneDNN's layout and precision
    if teacher.fc.weight.device.type == 'cpu' and torch.backends.mkldnn.is_available():
        return PackedForCPU(teacher, torch.bfloat16 if bf16 else torch.float32)
    return teacher


@option(DistillationConfigs.distillation_loss)
def _distillation_loss(c: DistillationConfigs):
    return DistillationLoss(c.temperature, c.soft_target_weight, c.label_loss_weight)


class TeacherNotFound(Exception):
    """
    No teacher matches `--teacher`; the message says how to train one.
    """


def find_teacher(spec: str, logs_dir: str, profile: str) -> Path:
    """
    ## Finding the teacher

    `spec` is `latest`, a run id, or a checkpoint path. Only finished runs
    with finite weights are teachers.
    """
    if spec != 'latest' and Path(spec).is_file():
        return _check_teacher_file(Path(spec))
    if spec == 'latest':
        finished = [r for r in find_runs(logs_dir, f'large-{profile}') if r.finished]
    else:
        # A run id, of a teacher of any profile; a student's run is no teacher
        finished = [r for r in find_runs(logs_dir, 'large-*') if r.uuid == spec and r.finished]
    finished = [r for r in finished if has_finite_weights(r.path)]
    if not finished:
        which = (f'no finished teacher of the {profile} profile' if spec == 'latest'
                 else f'neither a checkpoint file nor a finished teacher run {spec!r}')
        raise TeacherNotFound(f'Found {which} in {logs_dir}. Train one with\n'
                              f'  python -m labml_nn.distillation.large --profile {profile} '
                              f'--logs-dir {logs_dir} --data-dir DIR')
    return finished[0].path


def _check_teacher_file(path: Path) -> Path:
    """
    A checkpoint named by its path must be a finished large model's with
    finite weights; a student's checkpoint, or any other file, is refused here
    with a message rather than by `load_state_dict` in the middle of the first
    training step. Memory-mapping reads the settings without reading the weights.
    """
    state = load_checkpoint(path, mmap=True)
    if not isinstance(state, dict) or not isinstance(state.get('model'), dict):
        raise TeacherNotFound(f'{path} is not a checkpoint (a file written by the trainer with torch.save); '
                              f'--teacher needs a large model trained with\n'
                              f'  python -m labml_nn.distillation.large')
    if state.get('model_name', 'large') != 'large':
        raise TeacherNotFound(f"{path} is a {state['model_name']} model's checkpoint; --teacher needs a large "
                              f"model trained with\n  python -m labml_nn.distillation.large")
    if not has_finite_weights(path):
        raise TeacherNotFound(f'{path} has weights that are not finite numbers (its training diverged); '
                              f'it cannot be a teacher')
    return path


def load_teacher(path: Path, classes: int) -> LargeModel:
    """
    ## Loading the teacher

    The large model of the checkpoint at `path`, for data with `classes`
    classes. A teacher with another number of classes, or weights that do
    not fit the large model, stop the command with a message saying which.
    """
    weights = load_checkpoint(path, mmap=True)['model']
    teacher = LargeModel(classes)
    expected = teacher.state_dict()
    if 'fc.weight' in weights and weights['fc.weight'].shape[0] != classes:
        raise TeacherNotFound(f'the teacher {path} has {weights["fc.weight"].shape[0]} classes and the data '
                              f'has {classes}: a teacher must be trained on data with the same classes')
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    wrong = [f'{k} {tuple(weights[k].shape)} (expected {tuple(v.shape)})'
             for k, v in expected.items() if k in weights and weights[k].shape != v.shape]
    if missing or unexpected or wrong:
        problems = [f'{what}: {", ".join(keys[:5])}{" ..." if len(keys) > 5 else ""}'
                    for what, keys in (('missing', missing), ('unexpected', unexpected),
                                       ('wrong shapes', wrong)) if keys]
        raise TeacherNotFound(f'the weights in {path} do not fit the large model; ' + '; '.join(problems))
    teacher.load_state_dict(weights)
    return teacher


def _number(kind, text: str):
    """
    `text` as an `int` or a `float`, with `argparse`'s usual message when it is not one.
    """
    try:
        return kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'invalid {kind.__name__} value: {text!r}') from None


def positive(kind):
    """
    An `argparse` type that accepts only positive finite numbers, so bad
    values stop the command before any work starts.
    """
    def parse(text: str):
        value = _number(kind, text)
        if not (value > 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f'must be positive and finite, got {text}')
        return value
    return parse


def non_negative(kind):
    """
    Likewise for numbers that may be $0$.
    """
    def parse(text: str):
        value = _number(kind, text)
        if not (value >= 0 and math.isfinite(value)):
            raise argparse.ArgumentTypeError(f'must be 0 or more and finite, got {text}')
        return value
    return parse


non_negative_int = non_negative(int)


def device(text: str) -> str:
    """
    A device that exists on this machine: `cpu`, `cuda`, `cuda:N` or `mps`.
    """
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
    elif chosen.type == 'mps' and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError('no MPS device here; use --device cpu')
    elif chosen.type not in ('cpu', 'cuda', 'mps'):
        raise argparse.ArgumentTypeError(f'device {text!r} is not supported; use cpu or cuda')
    return text


def argument_parser(model_name: str) -> argparse.ArgumentParser:
    """
    ## The command line

    Every option left out takes the profile's value.
    """
    what = {'large': 'Train the large teacher', 'small': 'Train the small baseline on labels',
            'distilled': 'Train the small student from a trained teacher'}[model_name]
    # The usage line shows the command to type, not `__main__.py`
    module = 'labml_nn.distillation' + ('' if model_name == 'distilled' else f'.{model_name}')
    parser = argparse.ArgumentParser(prog=f'python -m {module}', description=f'{what} on CIFAR-10.')
    parser.add_argument('--data-dir', default='./data',
                        help='cifar-10-batches-py, or train/<class>/*.jpg (default: ./data)')
    parser.add_argument('--logs-dir', default='./logs', help='where runs are written (default: ./logs)')
    parser.add_argument('--profile', choices=sorted(PROFILES), default='full',
                        help='settings profile (default: full)')
    parser.add_argument('--seed', type=non_negative_int, default=0)
    parser.add_argument('--epochs', type=positive(int))
    parser.add_argument('--batch-size', type=positive(int))
    parser.add_argument('--learning-rate', type=positive(float))
    parser.add_argument('--train-size', type=non_negative_int,
                        help='training images to use, 0 for all that are not held out')
    parser.add_argument('--valid-size', type=positive(int), help='images held out for validation (5000)')
    parser.add_argument('--device', type=device, help='cpu, cuda, cuda:1, ... (default: cuda when available)')
    parser.add_argument('--fresh', action='store_true',
                        help='start a new run even if one with the same settings exists')
    if model_name == 'distilled':
        parser.add_argument('--teacher', default='latest',
                            help='latest, a teacher run id, or a checkpoint path (default: latest)')
        parser.add_argument('--temperature', type=positive(float))
        parser.add_argument('--soft-target-weight', type=non_negative(float))
        parser.add_argument('--label-loss-weight', type=non_negative(float))
    return parser


def settings_from_args(model_name: str, args: argparse.Namespace) -> Dict[str, Any]:
    """
    The profile's settings with the command line's overrides on top.
    """
    settings = profile_settings(args.profile, model_name)
    for name in ('seed', 'epochs', 'batch_size', 'learning_rate', 'train_size', 'valid_size', 'device',
                 'temperature', 'soft_target_weight', 'label_loss_weight'):
        if getattr(args, name, None) is not None:
            settings[name] = getattr(args, name)
    return settings | {'data_dir': args.data_dir, 'logs_dir': args.logs_dir}


def configs_for(model_name: str) -> Configs:
    return DistillationConfigs() if model_name == 'distilled' else Configs()


def main(model_name: str, argv: Optional[list] = None):
    """
    ## Entry point of each command

    Mistakes in the data, the teacher or the settings end with a message and
    exit status 2, not a traceback; so does a run that another process is
    training. A run that diverges ends with status 1, and Ctrl-C with 130.
    """
    args = argument_parser(model_name).parse_args(argv)
    settings = settings_from_args(model_name, args)
    with command_errors():
        check_writable(Path(args.logs_dir), '--logs-dir')
        teacher = find_teacher(args.teacher, args.logs_dir, args.profile) if model_name == 'distilled' else None
        data = load_cifar10(args.data_dir)
        if teacher is not None:
            # The teacher must fit the data before any training starts
            load_teacher(teacher, len(data.classes))
            settings['teacher'] = str(teacher)
        result = train(configs_for(model_name), settings, data, fresh=args.fresh)
    test = result.test_accuracy
    print(f'{model_name}: validation accuracy {result.valid_accuracy:.2%}'
          + (f', test accuracy {test:.2%}' if test is not None else '')
          + f'; checkpoint {result.path}')


@contextmanager
def command_errors():
    """
    The errors a command ends with: a message on standard error and an exit
    status, no traceback.
    """
    try:
        yield
    except (DataError, TeacherNotFound, CannotWrite, RunBusy) as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(2)
    except Diverged as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt as e:
        epoch = e.epoch if isinstance(e, Interrupted) else 0
        print(f'\ninterrupted after epoch {epoch}; run the same command to resume', file=sys.stderr)
        sys.exit(130)
