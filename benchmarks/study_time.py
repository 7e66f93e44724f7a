"""
# How long a study must take on this CPU

The sweeps of the dark-knowledge studies train many small students: the
temperature sweep 18 runs, the weight sweep 15, each 50 epochs of the `cpu`
profile's 2,000 images. Their issue asks for 45 minutes a study on a 2-core
machine. This script asks what *any* implementation could reach on this
machine, from two things timed side by side in one run, on one thread each
(the studies train one run per core with `--jobs`):

* the student's training step on labels, as the `cpu` profile trains it
  (`SmallConfigs.step`, its backward and the optimizer's step), batch 64, on
  random images (the arithmetic does not depend on their values);
* a float32 product of two 2048 x 2048 matrices, about the fastest
  arithmetic PyTorch does on a CPU.

The step's floating-point operations are counted by PyTorch's
`FlopCounterMode` (convolutions and matrix products; the rest is not
counted). A study of R runs of S steps on J cores, one run per core, needs
at least ceil(R / J) x S steps of one core's time. Two bounds follow, both
below any real run, which also validates, measures and, when distilled,
reads the teacher's logits:

* at the measured step time;
* at the matrix product's speed, as if every counted operation of the step
  ran as fast as the best matrix product and nothing else took time.

    python benchmarks/study_time.py [--cores 2 --steps 10 --rounds 3]
"""

import argparse
import math
import os
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from labml_nn.distillation.cifar10.studies import STUDIES
from labml_nn.distillation.cifar10.train import PROFILES, configs_for
from labml_nn.distillation.cifar10.trainer import Configs, cpu_has_bf16
from labml_nn.experiments.checks import positive

# The matrix product that sets the speed to compare with
MATRIX = 2048
# The sweeps this script bounds; `compare` and `omitted-class` train fewer runs
SWEEPS = ('temperature', 'weight')


def student() -> Configs:
    """
    Fresh configurations of the small student as the `cpu` profile trains it, on the CPU.
    """
    c = configs_for('small')
    for name, value in PROFILES['cpu']['small'].items():
        setattr(c, name, value)
    c.device, c.bf16 = 'cpu', cpu_has_bf16()
    return c


def step_seconds(c: Configs, steps: int, seed: int) -> float:
    """
    Seconds per training step over `steps` steps after two warm-up steps,
    on random `uint8` images as the trainer passes them.
    """
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (c.batch_size, 3, 32, 32), dtype=torch.uint8, generator=generator)
    labels = torch.randint(0, 10, (c.batch_size,), generator=generator)
    c.model.train()

    def step():
        c.optimizer.zero_grad(set_to_none=True)
        c.step(images, labels, generator).backward()
        c.optimizer.step()

    step(), step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - started) / steps


def step_flops(c: Configs) -> int:
    """
    The counted floating-point operations of one training step.
    """
    with FlopCounterMode(display=False) as counter:
        step_seconds(c, 1, seed=0)
    # The warm-up steps and the timed one: three steps were counted
    return counter.get_total_flops() // 3


def matrix_flops_per_second(repeats: int) -> float:
    """
    The median speed of `repeats` float32 matrix products, after one to warm up.
    """
    a, b = torch.randn(MATRIX, MATRIX), torch.randn(MATRIX, MATRIX)
    a @ b
    seconds = []
    for _ in range(repeats):
        started = time.perf_counter()
        a @ b
        seconds.append(time.perf_counter() - started)
    return 2 * MATRIX ** 3 / statistics.median(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[1])
    parser.add_argument('--cores', type=positive(int), default=os.cpu_count(),
                        help=f'runs side by side, one thread each (default: this machine\'s {os.cpu_count()})')
    parser.add_argument('--steps', type=positive(int), default=10, help='timed steps per round (default: 10)')
    parser.add_argument('--rounds', type=positive(int), default=3, help='rounds (default: 3)')
    parser.add_argument('--seeds', type=positive(int), default=3, help='seeds of each study (default: 3)')
    args = parser.parse_args()
    torch.set_num_threads(1)

    c = student()
    flops = step_flops(c)
    # The step and the matrix product alternate, round after round
    step, matrix = [], []
    for r in range(args.rounds):
        step.append(step_seconds(student(), args.steps, seed=r))
        matrix.append(matrix_flops_per_second(5))
        print(f'round {r + 1}: step {1000 * step[-1]:.1f} ms, matrix product {matrix[-1] / 1e9:.1f} GFLOP/s',
              flush=True)
    seconds, peak = statistics.median(step), statistics.median(matrix)
    print(f'\ntorch {torch.__version__}, one thread, bf16: {c.bf16}, batch {c.batch_size}')
    print(f'training step: {flops / 1e9:.2f} GFLOP counted, median {1000 * seconds:.1f} ms, '
          f'{flops / seconds / 1e9:.1f} GFLOP/s; matrix product: median {peak / 1e9:.1f} GFLOP/s '
          f'(the step runs at {flops / seconds / peak:.2f}x that)')

    # The trainer drops each epoch's last partial batch
    steps_per_epoch = c.train_size // c.batch_size
    steps_per_run = c.epochs * steps_per_epoch
    print(f'one run: {c.epochs} epochs x {steps_per_epoch} steps = {steps_per_run} steps; '
          f'{args.cores} runs side by side')
    for name in SWEEPS:
        runs = len(STUDIES[name]('', 'cpu')) * args.seeds
        busiest = math.ceil(runs / args.cores) * steps_per_run
        print(f'{name}: {runs} runs, at least {busiest * seconds / 60:.1f} min at the measured step time, '
              f'{busiest * flops / peak / 60:.1f} min at the matrix product\'s speed')


if __name__ == '__main__':
    main()
