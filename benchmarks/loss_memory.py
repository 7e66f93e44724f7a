"""
# Memory and time of the soft-target loss

This script compares two ways of computing the temperature-scaled soft-target
loss of knowledge distillation on a large, language-model-sized input:

* **plain**: `labml_nn.distillation.loss.plain_soft_target_loss`, the obvious
  formula (a `log_softmax`, a `softmax` and `F.kl_div`, times $T^2$),
  differentiated by autograd;
* **chunked**: `labml_nn.distillation.loss.soft_target_loss`, a custom autograd
  function that walks over the rows in chunks and keeps only its inputs for
  the backward pass.

For each one it measures, on the same logits (`[rows, classes]`, float32,
default `[4096, 32000]`, a batch of 4,096 tokens over a 32,000-word vocabulary):

## Extra peak memory of one forward and backward pass

This is everything that is allocated beyond the inputs, at its highest point
during the forward and the backward pass, **including** the gradient of the
student logits that the backward pass has to return (both variants must
allocate that one; it is `rows * classes * 4` bytes, printed on its own line
so you can subtract it).

* On **CPU** each variant runs in a fresh Python subprocess, so nothing one
  variant left behind in the allocator can hide the other's allocations.
  The child builds the inputs, runs the loss once on a tiny input so that
  one-time set-up (kernels, thread pools) is done, then reads its resident set
  size `VmRSS` from `/proc/self/status`, resets the kernel's peak-RSS counter
  (`VmHWM`) by writing `5` to `/proc/self/clear_refs`, runs the forward and
  backward pass once, and reports `VmHWM - VmRSS`. That is the peak of the
  memory the process really touched, measured by the kernel, so it counts every
  allocation whatever allocator made it. Where `clear_refs` cannot be written
  the child falls back to `getrusage(RUSAGE_SELF).ru_maxrss`, which cannot be
  reset; the tiny warm-up keeps the earlier peak low, and the script says so.
  Page-granular RSS can slightly under-count memory that `malloc` reuses from
  earlier frees, never over-count it.
* On **CUDA** it is `torch.cuda.max_memory_allocated()` after
  `torch.cuda.reset_peak_memory_stats()`, minus the memory allocated before,
  also in a fresh subprocess per variant.

## Time of one forward and backward pass

In this process, after one warm-up pass of each variant, the two variants run
alternately (plain, chunked, plain, chunked, ...) so that a background load on
the machine hits both alike; the median over `--repeats` passes is reported.

## Run it

```bash
nice python benchmarks/loss_memory.py
nice python benchmarks/loss_memory.py --rows 1024 --classes 8000 --repeats 3
python benchmarks/loss_memory.py --device cuda
```

On a machine that is busy with other work, the time of many small operations
depends on when the scheduler runs each of PyTorch's threads; `--threads 1`
takes that out and compares the arithmetic alone.

The targets are an extra peak memory of at most half of the plain version's,
and no more time.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict

# Run from a checkout without installing: make `labml_nn` importable
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch

from labml_nn.distillation.loss import plain_soft_target_loss, soft_target_loss

# The temperature; any $T \ne 1$ makes both variants do the scaling work
TEMPERATURE = 4.0
VARIANTS = ('plain', 'chunked')


LOSSES = {'plain': plain_soft_target_loss, 'chunked': soft_target_loss}


def make_inputs(rows: int, classes: int, device: str, seed: int = 0):
    """
    Student logits that need a gradient, and teacher logits that do not.
    """
    generator = torch.Generator(device='cpu').manual_seed(seed)
    student = torch.randn(rows, classes, generator=generator).mul_(3).to(device).requires_grad_()
    teacher = torch.randn(rows, classes, generator=generator).mul_(3).to(device)
    return student, teacher


def forward_backward(variant: str, student: torch.Tensor, teacher: torch.Tensor):
    """
    One forward and backward pass; the gradient is dropped afterwards.
    """
    loss = LOSSES[variant](student, teacher, TEMPERATURE)
    loss.backward()
    student.grad = None
    return loss.item()


def _synchronize(device: str):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


# ## Memory, in a child process

def _status_kib(field: str) -> int:
    """
    A `Vm...` field of `/proc/self/status`, in KiB.
    """
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith(field + ':'):
                return int(line.split()[1])
    raise RuntimeError(f'{field} not found in /proc/self/status')


def measure_memory_child(variant: str, rows: int, classes: int, device: str) -> dict:
    """
    Runs in a fresh subprocess: the extra peak bytes of one forward and backward pass.
    """
    student, teacher = make_inputs(rows, classes, device)
    # One-time set-up on a tiny input, so that it is not counted
    tiny_student, tiny_teacher = make_inputs(4, 16, device, seed=1)
    forward_backward(variant, tiny_student, tiny_teacher)
    del tiny_student, tiny_teacher
    _synchronize(device)
    return extra_peak_bytes(lambda: forward_backward(variant, student, teacher), device)


def extra_peak_bytes(run: Callable[[], None], device: str) -> dict:
    """
    The extra peak bytes of `run()` in this process, and how they were read:
    on a GPU the allocator's peak; on a CPU the kernel's peak resident set
    size, reset just before.
    """
    if device.startswith('cuda'):
        before = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        run()
        torch.cuda.synchronize()
        return {'extra_bytes': torch.cuda.max_memory_allocated() - before,
                'method': 'torch.cuda.max_memory_allocated'}

    # CPU: the kernel's peak resident set size, reset just before the pass
    import resource
    before_kib = _status_kib('VmRSS')
    try:
        with open('/proc/self/clear_refs', 'w') as f:
            f.write('5')
        method = 'VmHWM after clear_refs'
    except OSError:
        method = 'ru_maxrss (could not reset the peak)'
    run()
    if method.startswith('VmHWM'):
        peak_kib = _status_kib('VmHWM')
    else:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {'extra_bytes': (peak_kib - before_kib) * 1024, 'method': method}


def measure_memory(variant: str, rows: int, classes: int, device: str) -> dict:
    """
    Starts the child process and reads its answer, the last line it prints.
    """
    command = [sys.executable, __file__, '--child', variant, '--rows', str(rows),
               '--classes', str(classes), '--device', device,
               '--threads', str(torch.get_num_threads())]
    result = subprocess.run(command, capture_output=True, text=True, check=False,
                            env={**os.environ, 'PYTHONPATH': str(ROOT)})
    if result.returncode != 0:
        raise RuntimeError(f'the memory measurement of {variant} failed:\n{result.stderr}')
    return json.loads(result.stdout.strip().splitlines()[-1])


# ## Time, in this process

def measure_time(rows: int, classes: int, device: str, repeats: int) -> dict:
    """
    Median seconds of a forward and backward pass, the variants taking turns.
    """
    student, teacher = make_inputs(rows, classes, device)
    values = {}
    # Warm up each variant once
    for variant in VARIANTS:
        values[variant] = forward_backward(variant, student, teacher)
    return {'median': median_seconds({variant: lambda v=variant: forward_backward(v, student, teacher)
                                      for variant in VARIANTS}, repeats, device),
            'values': values}


def median_seconds(runs: Dict[str, Callable[[], None]], repeats: int, device: str) -> Dict[str, float]:
    """
    The median seconds of each of `runs`, timed in alternating rounds so
    that noise from other work falls on all of them.
    """
    times = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            _synchronize(device)
            start = time.perf_counter()
            run()
            _synchronize(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(seconds) for name, seconds in times.items()}


def positive_int(text: str) -> int:
    """
    An `argparse` type: a whole number of at least 1, or a clear usage error.
    """
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a whole number, got {text!r}')
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be at least 1, got {value}')
    return value


def check_device(parser: argparse.ArgumentParser, device: str):
    """
    The device must be the CPU or a CUDA device that this machine has; anything
    else is a usage error (exit status 2) before any work starts.
    """
    try:
        kind = torch.device(device).type
    except (RuntimeError, ValueError):
        parser.error(f"--device: not a device name: {device!r}; use 'cpu' or 'cuda'")
    if kind not in ('cpu', 'cuda'):
        parser.error(f"--device: only 'cpu' and 'cuda' are measured, got {device!r}")
    if kind == 'cuda':
        index = torch.device(device).index or 0
        if not torch.cuda.is_available():
            parser.error('--device: no CUDA device here; use --device cpu')
        if index >= torch.cuda.device_count():
            parser.error(f'--device: no {device} here ({torch.cuda.device_count()} CUDA '
                         f'device(s)); use --device cuda:0')


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0].lstrip('# '))
    parser.add_argument('--rows', type=positive_int, default=4096, help='samples (tokens)')
    parser.add_argument('--classes', type=positive_int, default=32000,
                        help='classes (vocabulary size)')
    parser.add_argument('--repeats', type=positive_int, default=5, help='timed passes of each variant')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--threads', type=positive_int, default=None,
                        help="CPU threads for PyTorch (default: PyTorch's own choice)")
    parser.add_argument('--child', choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    check_device(parser, args.device)
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    if args.child:
        print(json.dumps(measure_memory_child(args.child, args.rows, args.classes, args.device)))
        return

    memory = {variant: measure_memory(variant, args.rows, args.classes, args.device)
              for variant in VARIANTS}
    timing = measure_time(args.rows, args.classes, args.device, args.repeats)

    mib = 1 << 20
    grad_bytes = args.rows * args.classes * 4
    print(f'soft-target loss, [{args.rows}, {args.classes}] float32 on {args.device}, '
          f'T = {TEMPERATURE}, torch {torch.__version__}, {torch.get_num_threads()} threads')
    print(f'memory: {memory["plain"]["method"]}, one fresh process per variant; '
          f'time: median of {args.repeats} alternating passes after a warm-up')
    print(f'inputs: 2 x {grad_bytes / mib:.0f} MiB; the gradient the backward pass returns: '
          f'{grad_bytes / mib:.0f} MiB (counted below)')
    print()
    print(f'{"variant":<10}{"loss":>12}{"extra peak MiB":>16}{"fwd+bwd s":>12}')
    for variant in VARIANTS:
        print(f'{variant:<10}{timing["values"][variant]:>12.6f}'
              f'{memory[variant]["extra_bytes"] / mib:>16.1f}{timing["median"][variant]:>12.3f}')
    print()
    time_ratio = timing['median']['chunked'] / timing['median']['plain']
    if memory['plain']['extra_bytes'] > 0:
        memory_ratio = memory['chunked']['extra_bytes'] / memory['plain']['extra_bytes']
        print(f'memory ratio (chunked / plain): {memory_ratio:.2f}  (target <= 0.5)')
    else:
        # Tiny inputs fit in memory the process already had: there is nothing to compare
        print('memory ratio (chunked / plain): n/a, the plain formula needed no new memory pages')
    print(f'time ratio   (chunked / plain): {time_ratio:.2f}  (target <= 1.0)')


if __name__ == '__main__':
    main()
