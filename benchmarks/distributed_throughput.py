"""
# Distillation throughput on 1 and on 2 processes under torchrun

Measures images per second of the trainer's own distillation step
(`DistillationConfigs.step`: augment the global batch, keep this process's
slice, the fixed teacher's forward pass, the student's forward and backward
through `DistributedDataParallel` with synchronized batch normalization, an
SGD step) with torchrun world sizes 1 and 2, side by side in one run, and
prints images/s per process and in total.

On a CPU the machine's cores are split between the processes
(`OMP_NUM_THREADS` = cores / processes), so the comparison is between the
same cores used by one process or by two; on GPUs each process has a GPU.
The two world sizes are launched in alternating rounds, so that noise from
other work on the machine falls on both; the medians are compared. The
teacher has random weights: its speed does not depend on them.

    python benchmarks/distributed_throughput.py --data-dir DIR [--steps 20 --rounds 2]
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time

import torch

WORLD_SIZES = (1, 2)


def launcher():
    from labml_nn.distillation.cifar10.data import DataError, load_cifar10
    from labml_nn.distillation.cifar10.train import configs_for
    from labml_nn.experiments.checks import positive
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[1])
    parser.add_argument('--data-dir', required=True)
    parser.add_argument('--steps', type=positive(int), default=20, help='timed steps per launch')
    parser.add_argument('--rounds', type=positive(int), default=2, help='launches of each world size')
    parser.add_argument('--device', choices=['cpu', 'cuda'], default='cuda' if torch.cuda.is_available() else 'cpu')
    args = parser.parse_args()
    # The data is checked, and its cache made, once, before the launches
    try:
        images = len(load_cifar10(args.data_dir).train.labels)
    except DataError as e:
        usage_error(str(e))
    batch = configs_for('distilled').batch_size
    if images < batch * (args.steps + 2):
        usage_error(f'{images} training images make fewer than the {args.steps + 2} batches of {batch} '
                    f'a launch needs; use fewer --steps')
    cores = os.cpu_count() or 1
    print(f'torch {torch.__version__}, {cores} CPU cores, device {args.device}, '
          f'{args.steps} steps x {args.rounds} rounds')
    rates = {w: [] for w in WORLD_SIZES}
    for r in range(args.rounds):
        for w in WORLD_SIZES:
            rates[w].append(launch(w, max(1, cores // w), args))
            print(f'round {r + 1}: {w} process(es): ' + ', '.join(f'{x:.1f}' for x in rates[w][-1])
                  + ' images/s', flush=True)

    print('\n| processes | threads each | images/s per process | images/s in total |')
    print('|---:|---:|---:|---:|')
    totals = {}
    for w in WORLD_SIZES:
        per_process = statistics.median(statistics.fmean(x) for x in rates[w])
        totals[w] = statistics.median(sum(x) for x in rates[w])
        print(f'| {w} | {max(1, cores // w) if args.device == "cpu" else "-"} | {per_process:.1f} '
              f'| {totals[w]:.1f} |')
    print(f'\ntotal images/s, 2 processes / 1 process = {totals[2] / totals[1]:.2f}x')


def usage_error(message: str):
    print(f'error: {message}', file=sys.stderr)
    sys.exit(2)


def launch(world_size: int, threads: int, args) -> list:
    """
    One torchrun launch of `world_size` workers; returns each process's images/s.
    """
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
    command = [sys.executable, '-m', 'torch.distributed.run', '--nnodes', '1', '--nproc-per-node', str(world_size),
               '--rdzv-backend', 'c10d', '--rdzv-endpoint', f'127.0.0.1:{port}', '--local-addr', '127.0.0.1',
               __file__, '--worker', '--data-dir', args.data_dir, '--steps', str(args.steps),
               '--device', args.device]
    done = subprocess.run(command, env=os.environ | {'OMP_NUM_THREADS': str(threads)}, text=True,
                          capture_output=True, timeout=1800)
    for line in done.stdout.splitlines():
        if line.startswith('RATES '):
            return json.loads(line[len('RATES '):])
    sys.exit(f'the launch of {world_size} processes failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}')


def worker():
    """
    One process: the distillation step on its slice of each global batch.
    """
    import torch.distributed as dist
    from labml_nn.distillation.cifar10.data import load_cifar10
    from labml_nn.distillation.cifar10.fixed_teacher import fixed_teacher
    from labml_nn.distillation.cifar10.large import LargeModel
    from labml_nn.distillation.cifar10.small import SmallModel
    from labml_nn.distillation.cifar10.train import configs_for
    from labml_nn.experiments import distributed

    parser = argparse.ArgumentParser()
    parser.add_argument('--worker', action='store_true')
    parser.add_argument('--data-dir')
    parser.add_argument('--steps', type=int)
    parser.add_argument('--device')
    args = parser.parse_args()
    with distributed.process_group(args.device):
        device = distributed.process_device(args.device)
        split = load_cifar10(args.data_dir).train
        torch.manual_seed(0)
        c = configs_for('distilled')
        batch = c.batch_size
        distributed.check_batch_size(batch)
        student = SmallModel().to(device, memory_format=torch.channels_last)
        teacher = LargeModel().to(device, memory_format=torch.channels_last)
        c.device, c.bf16, c.model = device, False, student
        c.teacher_model = fixed_teacher(teacher, c.bf16)
        c.replica = distributed.data_parallel(student)
        optimizer = torch.optim.SGD(student.parameters(), lr=0.01, momentum=0.9)
        # The trainer's order: the same seeded permutation on every process
        generator = torch.Generator().manual_seed(0)
        order = torch.randperm(len(split.labels), generator=generator)
        started = None
        for i in range(args.steps + 2):
            # Two warm-up steps, then the timed ones, started together
            if i == 2:
                distributed.barrier()
                started = time.perf_counter()
            index = order[i * batch:(i + 1) * batch]
            loss = c.step(split.images[index].to(device), split.labels[index].to(device), generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        if device.startswith('cuda'):
            torch.cuda.synchronize()
        rate = args.steps * batch / distributed.world().size / (time.perf_counter() - started)
        rates = [rate]
        if distributed.world().size > 1:
            rates = [None] * distributed.world().size
            dist.all_gather_object(rates, rate)
        if distributed.is_main():
            print('RATES ' + json.dumps(rates), flush=True)


if __name__ == '__main__':
    worker() if '--worker' in sys.argv else launcher()
