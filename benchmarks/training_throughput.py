"""
# Training throughput of the three models, eager and compiled

Images per second of the trainer's own training steps (the step, its
backward and the optimizer's step) for the three models of the study:

* the teacher on labels (`LargeConfigs.step`);
* the small model on labels (`SmallConfigs.step`);
* the distilled student (`DistillationConfigs.step`), which also runs the
  fixed teacher on every batch.

Each runs on `--device` (default: the first GPU when there is one) at the
`full` profile's batch, from `uint8` images already on the device as the
trainer holds them, with the run's default precision (bfloat16 autocast on
GPUs and on CPUs that have bfloat16 instructions), in `channels_last` memory
order, once eager and once compiled with `torch.compile`. The two are timed
in alternating rounds, so that noise from other work falls on both, and the
medians compared. The weights are random: the arithmetic does not depend on
their values.

From the medians it prints the least time the training steps of a whole
`full` study take on this device: the teacher's epochs, then for each seed
a student on labels and a distilled one, each epoch `45,000 // batch` steps.
Validation, measures, loading the data and compiling come on top.

    python benchmarks/training_throughput.py [--device cuda] [--batch-size 512 --steps 20 --rounds 3]
"""

import argparse
import statistics
import time
from typing import Dict

import torch

from labml_nn.distillation.cifar10.fixed_teacher import fixed_teacher
from labml_nn.distillation.cifar10.large import LargeModel
from labml_nn.distillation.cifar10.train import PROFILES, configs_for
from labml_nn.distillation.cifar10.trainer import Configs
from labml_nn.experiments.checks import boolean, device, positive
from labml_nn.experiments.training import default_device

# The models timed, by the command that trains them
MODELS = ('large', 'small', 'distilled')
# Training images of the `full` profile: 50,000 less the 5,000 held out
TRAIN_IMAGES = 45_000
# Steps before timing: the first compiles, the next settle the allocator
WARMUP = 3


def step_configs(model_name: str, device_name: str, batch_size: int, compiled: bool) -> Configs:
    """
    The configurations of `model_name` as the trainer sets them, on
    `device_name`; the distilled student gets a fixed teacher of random weights.
    """
    c = configs_for(model_name)
    c.device, c.batch_size, c.compile = device_name, batch_size, compiled
    if model_name == 'distilled':
        teacher = LargeModel().to(device_name, memory_format=torch.channels_last)
        c.teacher_model = fixed_teacher(teacher, c.bf16, compiled)
    c.model.train()
    return c


def synchronize(device_name: str):
    """
    Wait for the device's queued work, so that the clock measures it.
    """
    if torch.device(device_name).type == 'cuda':
        torch.cuda.synchronize(device_name)


def time_steps(c: Configs, steps: int) -> Dict[str, float]:
    """
    Seconds of the first step (which compiles, when compiled) and images per
    second over `steps` steps after the warm-up, on one random batch.
    """
    generator = torch.Generator(device=c.device).manual_seed(0)
    images = torch.randint(0, 256, (c.batch_size, 3, 32, 32), dtype=torch.uint8, device=c.device)
    labels = torch.randint(0, 10, (c.batch_size,), device=c.device)

    def step():
        c.optimizer.zero_grad(set_to_none=True)
        c.step(images, labels, generator).backward()
        c.optimizer.step()

    started = time.perf_counter()
    step()
    synchronize(c.device)
    first = time.perf_counter() - started
    for _ in range(WARMUP - 1):
        step()
    synchronize(c.device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(c.device)
    return {'first_step_seconds': first, 'images_per_second': steps * c.batch_size / (time.perf_counter() - started)}


def study_minutes(speed: Dict[str, float], batch_sizes: Dict[str, int], seeds: int) -> float:
    """
    The least time of a whole `full` study's training steps at `speed`
    (images per second of each model): the teacher once, then a student on
    labels and a distilled student per seed. Each epoch trains
    `TRAIN_IMAGES // batch` full batches.
    """
    full = PROFILES['full']
    seconds = 0.0
    for model_name, runs in (('large', 1), ('small', seeds), ('distilled', seeds)):
        epochs = full['large' if model_name == 'large' else 'small']['epochs']
        images = epochs * (TRAIN_IMAGES // batch_sizes[model_name]) * batch_sizes[model_name]
        seconds += runs * images / speed[model_name]
    return seconds / 60


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[1])
    parser.add_argument('--device', type=device, help='cpu, cuda, cuda:1, ... (default: cuda when available)')
    parser.add_argument('--batch-size', type=positive(int),
                        help="images per step (default: the full profile's, 512)")
    parser.add_argument('--steps', type=positive(int), default=20, help='timed steps per round (default: 20)')
    parser.add_argument('--rounds', type=positive(int), default=3, help='rounds (default: 3)')
    parser.add_argument('--compile', type=boolean, default=True,
                        help='true (default): time compiled steps beside the eager ones')
    parser.add_argument('--seeds', type=positive(int), default=3, help='seeds of the study estimated (default: 3)')
    args = parser.parse_args()
    device_name = args.device or default_device()
    batch_sizes = {m: args.batch_size or PROFILES['full']['large' if m == 'large' else 'small']['batch_size']
                   for m in MODELS}
    modes = (False, True) if args.compile else (False,)

    where = torch.cuda.get_device_name(device_name) if device_name.startswith('cuda') else \
        f'CPU, {torch.get_num_threads()} threads'
    probe = configs_for('small')
    probe.device = device_name
    print(f'{where}, torch {torch.__version__}, bfloat16 autocast: {probe.bf16}', flush=True)
    # One configuration per model and mode, made once: compiling happens in the first round
    configs = {(m, mode): step_configs(m, device_name, batch_sizes[m], mode) for m in MODELS for mode in modes}
    measured = {key: [] for key in configs}
    first = {}
    for r in range(args.rounds):
        for key, c in configs.items():
            result = time_steps(c, args.steps)
            first.setdefault(key, result['first_step_seconds'])
            measured[key].append(result['images_per_second'])
        print(f'round {r + 1}: ' + ', '.join(f'{m}{" compiled" if mode else ""} {measured[m, mode][-1]:,.0f}'
                                             for m, mode in configs), flush=True)

    speed = {key: statistics.median(values) for key, values in measured.items()}
    print('\nmedian images per second (first step, which compiles, in brackets):')
    for m in MODELS:
        line = f'  {m:>9}, batch {batch_sizes[m]}: eager {speed[m, False]:,.1f} ({first[m, False]:.1f} s)'
        if args.compile:
            line += (f', compiled {speed[m, True]:,.1f} ({first[m, True]:.1f} s), '
                     f'compiled / eager {speed[m, True] / speed[m, False]:.2f}x')
        print(line)
    for mode in modes:
        minutes = study_minutes({m: speed[m, mode] for m in MODELS}, batch_sizes, args.seeds)
        print(f'{"compiled" if mode else "eager"}: the {args.seeds}-seed full study\'s training steps take at '
              f'least {minutes:.1f} min on this device')


if __name__ == '__main__':
    main()
