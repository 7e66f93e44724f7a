"""
---
title: The training commands
summary: >
  The settings profiles, and the one command that trains the teacher, the
  baseline or the distilled student, its options derived from their
  configurations.
---

# The training commands

One command, given the model to train first, with `--help` for each:

```bash
python -m labml_nn.distillation.cifar10.train large --data-dir DIR    # the teacher
python -m labml_nn.distillation.cifar10.train small --data-dir DIR    # the baseline
python -m labml_nn.distillation.cifar10.train distilled --data-dir DIR --teacher latest
```

Each trains one model with the [trainer](trainer.html): the
[large teacher](large.html), the [small model](small.html) on labels, or the
small model [distilled](distill.html) from a [teacher](teacher.html). Their
settings are the configurations' defaults, overridden by a *profile* and then
by the command line. Mistakes end with one message and no traceback, before
any work: a bad value, a device this machine does not have, a folder that
cannot be written, data or a teacher that do not fit.

Each also runs under `torchrun`, on several processes, with the same
options and the same results ([distributed distillation](distributed.html)):

```bash
torchrun --standalone --nproc-per-node 2 -m labml_nn.distillation.cifar10.train small --data-dir DIR
```
"""

import argparse
import ast
import importlib
import importlib.util
from pathlib import Path
from typing import Any, Dict, List, Optional

from labml_nn.experiments.checks import (boolean, check_writable, command_errors, device, distillation_problem, folder,
                                         non_negative, positive, seed, temperature)

# PyTorch, labml and the models are imported only when a command runs, in
# the functions that need them: importing PyTorch takes seconds, and
# `--help`, or an option with a bad value, should answer at once.

# ## The commands
#
# The one place where a model's name picks its configurations and its model
# class (their module and name, imported when needed), its entry in the
# profiles, its description, and whether it learns from a teacher (and so
# has the teacher's options). The name is the command's first argument.
COMMANDS: Dict[str, Dict[str, Any]] = {
    'large': {'configs': ('labml_nn.distillation.cifar10.large', 'LargeConfigs'),
              'model': ('labml_nn.distillation.cifar10.large', 'LargeModel'), 'profile': 'large',
              'what': 'Train the large teacher', 'teacher': False},
    'small': {'configs': ('labml_nn.distillation.cifar10.small', 'SmallConfigs'),
              'model': ('labml_nn.distillation.cifar10.small', 'SmallModel'), 'profile': 'small',
              'what': 'Train the small baseline on labels', 'teacher': False},
    'distilled': {'configs': ('labml_nn.distillation.cifar10.distill', 'DistillationConfigs'),
                  'model': ('labml_nn.distillation.cifar10.small', 'SmallModel'), 'profile': 'small',
                  'what': 'Train the small student from a trained teacher', 'teacher': True},
}


def command_class(model_name: str, what: str) -> type:
    """
    The class of `model_name`'s `what`, `'configs'` or `'model'`, imported now.
    """
    module, name = COMMANDS[model_name][what]
    return getattr(importlib.import_module(module), name)


# ## Profiles
#
# Each profile overrides some of the configurations' defaults for the
# teacher (`large`) and for the students (`small`, which the distilled student
# shares, then `distilled`, for the distilled student alone); the command
# line can override them again. The defaults are the attributes of the
# [trainer's](trainer.html) and the
# [distillation step's](distill.html) configurations: Adam at
# $2.5 \cdot 10^{-4}$, batch 64, 10 epochs, $T = 4$, $w_{soft} = 0.9$, $w_{label} = 0.1$.
#
# * `full`, the default, is the study on every training image, for one GPU.
#   Both models train long enough to converge, with SGD and the one-cycle
#   schedule: the teacher 30 epochs, the students 60 (full-data gains from
#   distillation are small and need students that have stopped improving:
#   torchdistill's CIFAR-10 ResNet-20 gains 0.54 points after 182 epochs).
#   Batch 512 keeps a GPU busy; the learning rates are the `cpu` profile's,
#   scaled with the batch (Goyal et al., 2017): $0.1 \cdot 512 / 128 = 0.4$
#   for the teacher, $0.05 \cdot 512 / 64 = 0.4$ for the students. The
#   distillation settings are the defaults, torchdistill's $T = 4$,
#   $w_{soft} = 0.9$.
# * `labml` reproduces labml.ai's experiment with these two models, as the
#   reference row: Adam at $2.5 \cdot 10^{-4}$, batch 64, no schedule, the
#   teacher 20 epochs and the students 10, $T = 5$, and its loss
#   $100 \cdot \mathrm{KLDivLoss}_{mean} + 0.5 \cdot \mathrm{CE}$. `mean`
#   divides the KL divergence by the 10 classes too, so that is
#   $10 \, \mathrm{KL} = 0.4 \, T^2 \, \mathrm{KL}$: $w_{soft} = 0.4$ and $w_{label} = 0.5$
#   here. One difference remains: labml's batch normalization keeps no
#   running statistics, so it evaluates with those of a 1,024-image batch;
#   ours evaluates with its running statistics, and the profile's studies
#   measure [both](study.html#batch-statistics).
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
# * `demo`, what `make demo` runs, is the `cpu` study made short enough to
#   watch: the teacher 2 epochs at a peak learning rate of $0.05$, the
#   students 50 epochs on only 500 labelled images. A short one-cycle
#   schedule needs the lower peak: on the validation split, 2 epochs at
#   $0.1$ gave a 46.2% teacher and at $0.05$ a 61.9% one. With 500 images the
#   small model on labels reaches about 45%, so even such a teacher has much
#   to teach (seed 0: 56.7% distilled against 45.4% on labels); with 1,000
#   images a teacher of 58.8% taught nothing (57.6% against 58.3%).
# * `smoke` takes seconds, for tests.
PROFILES: Dict[str, Dict[str, Dict[str, Any]]] = {
    'full': {
        'large': dict(epochs=30, batch_size=512, optimizer_name='sgd', learning_rate=0.4,
                      weight_decay=5e-4, schedule='one_cycle'),
        'small': dict(epochs=60, batch_size=512, optimizer_name='sgd', learning_rate=0.4,
                      weight_decay=5e-4, schedule='one_cycle'),
    },
    'labml': {
        'large': dict(epochs=20, keep_epochs=(2, 5, 10)),
        'small': dict(epochs=10),
        'distilled': dict(temperature=5.0, soft_target_weight=0.4, label_loss_weight=0.5),
    },
    'cpu': {
        'large': dict(epochs=6, batch_size=128, optimizer_name='sgd', learning_rate=0.1,
                      weight_decay=5e-4, schedule='one_cycle', keep_epochs=(1, 2, 3, 4, 5)),
        'small': dict(epochs=50, optimizer_name='sgd', learning_rate=0.05,
                      weight_decay=5e-4, schedule='one_cycle', train_size=2000),
    },
    'demo': {
        'large': dict(epochs=2, batch_size=128, optimizer_name='sgd', learning_rate=0.05,
                      weight_decay=5e-4, schedule='one_cycle'),
        'small': dict(epochs=50, optimizer_name='sgd', learning_rate=0.05,
                      weight_decay=5e-4, schedule='one_cycle', train_size=500),
    },
    'smoke': {
        'large': dict(epochs=2, batch_size=8, optimizer_name='sgd', learning_rate=0.01,
                      schedule='one_cycle', valid_size=8, keep_epochs=(1,)),
        'small': dict(epochs=2, batch_size=8, optimizer_name='sgd', learning_rate=0.01,
                      schedule='one_cycle', valid_size=8),
    },
}


def configs_for(model_name: str):
    """
    Fresh configurations for `model_name`.
    """
    return command_class(model_name, 'configs')()


def written_defaults(model_name: str) -> Dict[str, Any]:
    """
    The defaults of `model_name`'s configurations as written in their source:
    each class's `name: type = value` lines, a subclass's over its base's,
    following the bases through the modules they are imported from. This is
    what `--help` shows, without importing the classes, which would import
    PyTorch; `test_train.py` checks that they are the classes' own.
    """
    module, name = COMMANDS[model_name]['configs']
    return _class_defaults(module, name)


def _class_defaults(module: str, name: str) -> Dict[str, Any]:
    tree = ast.parse(Path(importlib.util.find_spec(module).origin).read_text(encoding='utf-8'))
    imported = {alias.asname or alias.name: node.module for node in tree.body if isinstance(node, ast.ImportFrom)
                for alias in node.names}
    [body] = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == name]
    defaults = {}
    # The bases of our package first (labml's `BaseConfigs` has no settings)
    for base in body.bases:
        if isinstance(base, ast.Name) and imported.get(base.id, '').startswith('labml_nn.'):
            defaults |= _class_defaults(imported[base.id], base.id)
        elif isinstance(base, ast.Name) and base.id not in imported:
            defaults |= _class_defaults(module, base.id)
    for line in body.body:
        if isinstance(line, ast.AnnAssign) and isinstance(line.target, ast.Name) and line.value is not None:
            try:
                defaults[line.target.id] = ast.literal_eval(line.value)
            except ValueError:
                # Not a plain value, such as a class: no setting of the command line
                pass
    return defaults


def profile_settings(profile: str, model_name: str) -> Dict[str, Any]:
    """
    The settings of `model_name` in `profile`: every setting the command
    line can change, at its default, with the profile's values on top. Every
    run's settings name them all, so a run is found again whether a value
    came from a default, a profile or the command line.
    """
    defaults = configs_for(model_name)
    settings = {name: getattr(defaults, name) for name in options(model_name) if name not in BY_MACHINE}
    # The model's group in the profile (`small` for the distilled student), then its own entry
    for part in (COMMANDS[model_name]['profile'], model_name):
        settings |= PROFILES[profile].get(part, {})
    return settings | {'model_name': model_name, 'profile': profile}


# ## The command line
#
# The settings each command can change, with the check a value must pass and
# its help; the options' names and defaults come from these and the
# configurations, not from a second list.
OPTIONS: Dict[str, tuple] = {
    'seed': (seed, 'seed of the initial weights and of the data order'),
    'epochs': (positive(int), 'epochs to train'),
    'batch_size': (positive(int), 'images per training step'),
    'learning_rate': (positive(float), 'the largest learning rate'),
    'train_size': (non_negative(int), 'training images to use, 0 for all that are not held out'),
    'valid_size': (positive(int), 'images held out for validation'),
    'valid_every': (positive(int), 'measure validation accuracy after every N epochs, and after the last'),
    'device': (device, 'cpu, cuda, cuda:1, ... (default: cuda when available)'),
    'compile': (boolean, 'true: compile the training step with torch.compile (default: true on GPUs)'),
    'bf16': (boolean, 'true: bfloat16 autocast (default: true on GPUs and CPUs with bfloat16 instructions)'),
}
# The settings whose defaults depend on the machine: a run's settings name
# them only when the command line gives them
BY_MACHINE = ('device', 'compile', 'bf16')
# The students' alone: the teacher always learns from every class
STUDENT_OPTIONS: Dict[str, tuple] = {
    'omit_class': (str, 'a class whose images are all left out of training (its name)'),
}
DISTILLATION_OPTIONS: Dict[str, tuple] = {
    'temperature': (temperature, 'T, the temperature of the soft targets'),
    'soft_target_weight': (non_negative(float), 'the weight of the soft-target term'),
    'label_loss_weight': (non_negative(float), 'the weight of the label term'),
    'teacher_cache': (boolean, "true: look the teacher's logits up in a cache of every view of the transfer "
                               "set, built once per teacher and images, instead of computing them each step"),
}


def options(model_name: str) -> Dict[str, tuple]:
    """
    The settings the command of `model_name` can change.
    """
    student = COMMANDS[model_name]['profile'] == 'small'
    return (OPTIONS | (STUDENT_OPTIONS if student else {})
            | (DISTILLATION_OPTIONS if COMMANDS[model_name]['teacher'] else {}))


def add_options(parser: argparse.ArgumentParser, model_name: str, names: Optional[list] = None):
    """
    Add an option for each setting of `model_name` (or only for `names`),
    saying its default: the configurations' value, unless the profile sets one.
    """
    defaults = written_defaults(model_name)
    for name, (check, help_text) in options(model_name).items():
        if names is not None and name not in names:
            continue
        if name not in BY_MACHINE:
            default = defaults[name]
            help_text += f' (default: the profile\'s, else {default if default != "" else "none"})'
        parser.add_argument('--' + name.replace('_', '-'), type=check, help=help_text)


def argument_parser() -> argparse.ArgumentParser:
    """
    The command's parser: the model to train, then that model's options.
    Every option left out takes the profile's value.
    """
    # The usage line shows the command to type, not `train.py`
    parser = argparse.ArgumentParser(prog='python -m labml_nn.distillation.cifar10.train',
                                     description='Train one model on CIFAR-10; MODEL --help lists its options.')
    models = parser.add_subparsers(dest='model_name', metavar='MODEL', required=True, title='the model to train')
    for model_name, command in COMMANDS.items():
        model = models.add_parser(model_name, help=command['what'], description=f"{command['what']} on CIFAR-10.")
        add_command_options(model, model_name)
        # The model's own parser, whose usage line goes with a mistake found after parsing
        model.set_defaults(model_parser=model)
    return parser


def add_command_options(parser: argparse.ArgumentParser, model_name: str):
    """
    The options of the command that trains `model_name`.
    """
    parser.add_argument('--data-dir', default='./data',
                        help='cifar-10-batches-py, or train/<class>/*.jpg (default: ./data)')
    parser.add_argument('--logs-dir', type=folder, default='./logs',
                        help='where runs are written (default: ./logs)')
    parser.add_argument('--profile', choices=sorted(PROFILES), default='full',
                        help='settings profile (default: full)')
    add_options(parser, model_name)
    parser.add_argument('--fresh', action='store_true',
                        help='start a new run even if one with the same settings exists')
    if COMMANDS[model_name]['teacher']:
        parser.add_argument('--teacher', default='latest',
                            help='latest, a teacher run id, or a checkpoint path (default: latest)')


def settings_from_args(args: argparse.Namespace) -> Dict[str, Any]:
    """
    The profile's settings of the model the command line names, with its overrides on top.
    """
    model_name = args.model_name
    settings = profile_settings(args.profile, model_name)
    settings |= {name: getattr(args, name) for name in options(model_name) if getattr(args, name) is not None}
    return settings | {'data_dir': args.data_dir, 'logs_dir': args.logs_dir}


def main(argv: Optional[List[str]] = None):
    """
    ## Entry point

    `argv` is the model's name and its options, as typed after the command.
    Checks what can be checked before training: that the batch divides
    among the processes, the logs folder, the teacher, the data, and that
    the teacher fits the data. Under torchrun every process runs this, and
    only rank 0 prints the result.
    """
    args = argument_parser().parse_args(argv)
    model_name = args.model_name
    from labml_nn.distillation.cifar10.data import load_cifar10
    from labml_nn.distillation.cifar10.teacher import find_teacher, load_teacher_for
    from labml_nn.distillation.cifar10.trainer import train
    from labml_nn.experiments import distributed
    from labml_nn.experiments.training import default_device
    settings = settings_from_args(args)
    if COMMANDS[model_name]['teacher'] and distillation_problem(settings):
        args.model_parser.error(distillation_problem(settings))
    with command_errors():
        distributed.check_batch_size(settings['batch_size'])
        check_writable(Path(args.logs_dir), '--logs-dir')
        with distributed.process_group(settings.get('device') or default_device()):
            teacher = (find_teacher(args.teacher, args.logs_dir, args.profile)
                       if COMMANDS[model_name]['teacher'] else None)
            data = load_cifar10(args.data_dir)
            if teacher is not None:
                load_teacher_for(teacher, data.classes)
                settings['teacher'] = str(teacher)
            result = train(configs_for(model_name), settings, data, fresh=args.fresh)
    if not distributed.is_main():
        return
    test = result.test_accuracy
    print(f'{model_name}: validation accuracy {result.valid_accuracy:.2%}'
          + (f', test accuracy {test:.2%}' if test is not None else '')
          + f'; checkpoint {result.path}')


if __name__ == '__main__':
    main()
