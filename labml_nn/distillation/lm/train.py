"""
---
title: The language-model training commands
summary: >
  The settings profiles of the byte-level teacher and students, and one
  command that trains the teacher, the student on next-byte labels, or the
  distilled student.
---

# The training commands

```bash
python -m labml_nn.distillation.lm.train teacher --profile cpu
python -m labml_nn.distillation.lm.train student --profile cpu
python -m labml_nn.distillation.lm.train distilled --profile cpu --teacher latest
```

Each trains one model with the [trainer](trainer.html): the teacher, the
student on the next bytes alone, or the student [distilled](distill.html)
from a finished teacher. Settings are the configurations' defaults, then the
profile's, then the command line's; running the same command again resumes
an interrupted run or reports the finished one. Mistakes end with one
message and no traceback, before any work.

The distilled student can read the teacher's [stored targets](target_cache.html)
instead of running it, and any run can start from a finished run's weights,
a [warm start](trainer.html#warm-start), named by the run's id:

```bash
python -m labml_nn.distillation.lm.train distilled --profile cpu --teacher latest --targets sampled --target-size 8
python -m labml_nn.distillation.lm.train distilled --profile cpu --teacher latest --warm-start RUN_ID --on-policy 1
```

Each command also runs under `torchrun`, on several processes, each
training its slice of every batch, with the weights of one process (up to
rounding; see [training on several processes](../../experiments/distributed.html)):

```bash
torchrun --standalone --nproc-per-node 2 -m labml_nn.distillation.lm.train student --profile cpu
```
"""

import argparse
from pathlib import Path
from typing import Any, Dict, Optional

from labml_nn.experiments.checks import (CommandError, check_writable, command_errors, device, distillation_problem,
                                         folder, fraction, non_negative, positive, seed, source_constant, temperature)

# PyTorch and the models are imported only when a command runs, in the
# functions that need them: importing PyTorch takes seconds, and `--help`,
# or an option with a bad value, should answer at once.

# The divergences the loss knows, read from [its module](../loss.html) without importing it; the
# teacher's targets [stored](target_cache.html) or not; the vocabulary, which bounds the top-k's $k$
DIVERGENCES = source_constant('labml_nn.distillation.loss', 'DIVERGENCES')
TARGETS = source_constant('labml_nn.distillation.lm.target_cache', 'TARGETS')
VOCABULARY = source_constant('labml_nn.distillation.lm.transformer', 'VOCABULARY')

# ## Profiles
#
# The teacher's (`teacher`) and the students' (`student`, shared by the
# distilled student) settings in each profile.
#
# * `cpu` fits one thread of a 2-core server CPU (virtual machine). The
#   teacher, 4 blocks of width 192 (1.9 million parameters), trains for 700
#   steps of 16 windows of 128 bytes; the students, 2 blocks of width 96
#   (0.26 million, 7 times smaller), for 300 steps. Both were sized by timing
#   steps on one thread of the shared 2-core CPU of the
#   [studies](studies.html), for a teacher of about 15 minutes and students
#   of a few minutes each.
# * `full` is a larger teacher (6 blocks of width 256, a context of 256
#   bytes) and more steps, for a GPU; it has not been run here.
# * `smoke` takes seconds, for tests.
PROFILES: Dict[str, Dict[str, Dict[str, Any]]] = {
    'cpu': {
        'teacher': dict(context=128, d_model=192, layers=4, heads=4, steps=700, batch_size=16,
                        learning_rate=2e-3, eval_every=100),
        'student': dict(context=128, d_model=96, layers=2, heads=4, steps=300, batch_size=16,
                        learning_rate=3e-3, eval_every=50, sampled_bytes=32),
    },
    'full': {
        'teacher': dict(context=256, d_model=256, layers=6, heads=8, steps=10000, batch_size=64,
                        learning_rate=1e-3, eval_every=500),
        'student': dict(context=256, d_model=96, layers=2, heads=4, steps=4000, batch_size=64,
                        learning_rate=3e-3, eval_every=250),
    },
    'smoke': {
        'teacher': dict(context=16, d_model=32, layers=1, heads=2, steps=6, batch_size=4, eval_every=3,
                        valid_windows=4, test_windows=4),
        'student': dict(context=16, d_model=16, layers=1, heads=2, steps=4, batch_size=4, eval_every=2,
                        valid_windows=4, test_windows=4, sampled_bytes=4),
    },
}

# ## The command line
#
# The settings each command can change, with the check a value must pass and its help.
OPTIONS: Dict[str, tuple] = {
    'seed': (seed, 'seed of the initial weights and of the windows'),
    'steps': (positive(int), 'training steps'),
    'batch_size': (positive(int), 'windows per step'),
    'context': (positive(int), 'bytes the model reads'),
    'd_model': (positive(int), 'the model\'s width'),
    'layers': (positive(int), 'transformer blocks'),
    'heads': (positive(int), 'attention heads; must divide the width'),
    'learning_rate': (positive(float), 'the largest learning rate'),
    'train_bytes': (non_negative(int), 'training bytes to use, from the start of the training split; 0 for all'),
    'eval_every': (positive(int), 'measure validation and write a checkpoint every N steps'),
    'device': (device, 'cpu, cuda, cuda:1, ... (default: cuda when available)'),
    'warm_start': (str, 'the id of a finished run of the same model shape whose weights this run starts from '
                        '(default: random weights)'),
}
DISTILLATION_OPTIONS: Dict[str, tuple] = {
    'temperature': (temperature, 'T, the temperature of the soft targets'),
    'divergence': (str, ', '.join(DIVERGENCES)),
    'soft_target_weight': (non_negative(float), 'the weight of the soft-target term'),
    'label_loss_weight': (non_negative(float), 'the weight of the label term'),
    'on_policy': (fraction, 'lambda, the fraction of batches the student samples itself'),
    'sampled_bytes': (positive(int), 'bytes the student writes at the end of an on-policy window'),
    'targets': (str, 'the teacher\'s targets: ' + ', '.join(TARGETS) + ' (online runs the teacher at every step; '
                     'the others read its targets, stored once)'),
    'target_size': (non_negative(int), 'top-k and sampled targets: the bytes stored for each position (k, or the '
                                       'number of draws)'),
}
MODELS = ('teacher', 'student', 'distilled')


def configs_for(model_name: str):
    """
    Fresh configurations of `model_name`, imported now.
    """
    from labml_nn.distillation.lm.distill import DistillationConfigs
    from labml_nn.distillation.lm.trainer import LMConfigs
    return DistillationConfigs() if model_name == 'distilled' else LMConfigs()


def options(model_name: str) -> Dict[str, tuple]:
    return OPTIONS | (DISTILLATION_OPTIONS if model_name == 'distilled' else {})


def profile_settings(profile: str, model_name: str) -> Dict[str, Any]:
    """
    Every setting of `model_name` the command line can change, at its
    default, with the profile's values on top, so that a run is found again
    wherever a value came from.
    """
    defaults = configs_for(model_name)
    settings = {name: getattr(defaults, name) for name in options(model_name) if name != 'device'}
    settings |= {'valid_windows': defaults.valid_windows, 'test_windows': defaults.test_windows}
    # The students' profile also holds the distilled student's own settings
    chosen = PROFILES[profile]['teacher' if model_name == 'teacher' else 'student']
    settings |= {k: v for k, v in chosen.items() if k in settings}
    return settings | {'model_name': model_name, 'profile': profile}


class SettingsError(CommandError):
    """
    Settings that each pass their own check but not together.
    """


def check_settings(settings: Dict[str, Any]):
    """
    Values that each pass their own check but not together.
    """
    if settings['model_name'] == 'distilled' and distillation_problem(settings):
        raise SettingsError(distillation_problem(settings))
    if settings['d_model'] % settings['heads']:
        raise SettingsError(f'--heads {settings["heads"]} does not divide --d-model {settings["d_model"]}')
    if settings.get('divergence', 'forward_kl') not in DIVERGENCES:
        raise SettingsError(f'--divergence {settings["divergence"]!r} is not one of {", ".join(DIVERGENCES)}')
    if settings.get('on_policy', 0) > 1:
        raise SettingsError(f'--on-policy {settings["on_policy"]} is a fraction of batches: give 0 to 1')
    if settings.get('sampled_bytes', 1) >= settings['context']:
        raise SettingsError(f'--sampled-bytes {settings["sampled_bytes"]} must be less than --context '
                        f'{settings["context"]}: an on-policy window keeps some bytes of the corpus')
    if settings['model_name'] == 'distilled':
        check_targets(settings)


def check_targets(settings: Dict[str, Any]):
    """
    Stored targets: a form the cache knows, with a size when it is sparse, on
    the corpus's windows only, and for the sparse forms the forward KL only.
    """
    targets, size = settings['targets'], settings['target_size']
    if targets not in TARGETS:
        raise SettingsError(f'--targets {targets!r} is not one of {", ".join(TARGETS)}')
    if targets in ('top-k', 'sampled') and not size:
        raise SettingsError(f'--targets {targets} needs --target-size, the bytes stored for each position '
                            f'(k, or the number of draws)')
    if targets in ('online', 'dense') and size:
        raise SettingsError(f'--target-size is for top-k and sampled targets; --targets {targets} has none')
    if targets == 'top-k' and size > VOCABULARY:
        raise SettingsError(f'--target-size {size} is more than the {VOCABULARY} bytes top-k can choose from')
    if targets != 'online' and settings['on_policy']:
        raise SettingsError(f'--on-policy {settings["on_policy"]} needs the teacher itself, to score the bytes the '
                            f'student writes; stored targets cover the corpus only: give --targets online')
    if targets in ('top-k', 'sampled') and settings['divergence'] != 'forward_kl':
        raise SettingsError(f'--targets {targets} gives the forward KL only (the other divergences need the '
                            f'teacher\'s probability of every byte): give --divergence forward_kl, or --targets '
                            f'dense')


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python -m labml_nn.distillation.lm.train',
                                     description='Train a byte-level language model: the teacher, the student on '
                                                 'the next bytes, or the student distilled from the teacher.')
    parser.add_argument('model', choices=MODELS)
    parser.add_argument('--data-dir', default='',
                        help='a folder of text files (default: the Python standard library\'s source)')
    parser.add_argument('--logs-dir', type=folder, default='./logs', help='where runs are written (default: ./logs)')
    parser.add_argument('--profile', choices=sorted(PROFILES), default='cpu', help='settings profile (default: cpu)')
    parser.add_argument('--threads', type=positive(int),
                        help="CPU threads PyTorch may use (default: PyTorch's, one per core)")
    for name, (check, help_text) in (OPTIONS | DISTILLATION_OPTIONS).items():
        parser.add_argument('--' + name.replace('_', '-'), type=check, help=help_text + " (default: the profile's)")
    parser.add_argument('--teacher', default='latest',
                        help='distilled only: latest, a teacher run id, or a checkpoint path (default: latest)')
    parser.add_argument('--fresh', action='store_true', help='start a new run even if one with these settings exists')
    return parser


def settings_from_args(args: argparse.Namespace) -> Dict[str, Any]:
    settings = profile_settings(args.profile, args.model)
    given = {name: getattr(args, name) for name in OPTIONS | DISTILLATION_OPTIONS if getattr(args, name) is not None}
    unknown = set(given) - set(options(args.model))
    if unknown:
        raise SettingsError(f'--{sorted(unknown)[0].replace("_", "-")} is an option of the distilled student only')
    return settings | given | {'data_dir': args.data_dir, 'logs_dir': args.logs_dir}


def main(argv: Optional[list] = None):
    """
    ## Entry point

    Checks the settings, the logs folder, the data and the teacher, then trains.
    """
    args = argument_parser().parse_args(argv)
    use_threads(args.threads)
    from labml_nn.distillation.lm.data import load_corpus
    from labml_nn.distillation.lm.distill import find_teacher, load_model
    from labml_nn.distillation.lm.trainer import train
    from labml_nn.experiments import distributed
    from labml_nn.experiments.training import default_device
    with command_errors():
        settings = settings_from_args(args)
        check_settings(settings)
        distributed.check_batch_size(settings['batch_size'])
        check_writable(Path(args.logs_dir), '--logs-dir')
        corpus = load_corpus(args.data_dir, settings['context'] + 1)
        if args.model == 'distilled':
            teacher = find_teacher(args.teacher, args.logs_dir, args.profile)
            load_model(str(teacher), settings['context'])
            settings['teacher'] = str(teacher)
        with distributed.process_group(settings.get('device') or default_device()):
            result = train(configs_for(args.model), settings, corpus, fresh=args.fresh)
    if distributed.is_main():
        print(f'{args.model}: validation {result.valid_bpb:.3f} bits per byte, test {result.test_bpb:.3f}; '
              f'{result.parameters:,} parameters, {result.train_seconds:.0f} s of training')


def use_threads(threads: Optional[int]):
    """
    Let PyTorch use `threads` CPU threads, when given: one thread makes runs
    repeatable across machines with other core counts, and leaves cores free.
    """
    if threads is not None:
        import torch
        torch.set_num_threads(threads)


if __name__ == '__main__':
    main()
