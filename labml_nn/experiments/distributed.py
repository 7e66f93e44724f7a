r"""
---
title: Training on several processes
summary: >
  The glue between the trainer and torchrun: one process per GPU (or several
  on a CPU), each training its slice of the global batch, with gradients
  averaged by DistributedDataParallel and batch normalization synchronized,
  so that the result does not depend on the number of processes.
---

# Training on several processes

`torchrun` starts the same command several times, once per process, and tells
each process who it is through environment variables: `RANK` (its number
among all processes, $0$ to $W - 1$), `WORLD_SIZE` ($W$) and `LOCAL_RANK`
(its number on its own machine, which picks its GPU). Outside torchrun none
of them is set, $W = 1$, and every function here does nothing: a command run
without torchrun behaves exactly as it did before distributed training existed.

With $W > 1$ processes the trainer keeps one rule: **$W$ processes compute
the same function as one process with the whole batch.**

* Every process draws the same seeded order of the images and the same
  augmentation for the whole *global* batch of `--batch-size` images, then
  keeps its own [slice](#local-part) of $B / W$ images.
* Each process's loss is the mean over its slice;
  [`DistributedDataParallel`](https://pytorch.org/docs/stable/notes/ddp.html)
  averages the gradients over the processes during the backward pass, and the
  mean of $W$ means of equal slices is the mean over the global batch.
* [Batch normalization](#sync-batch-norm) normalizes with the mean and
  variance of the global batch, not of the slice.
* [Evaluation](#shard) splits the images between the processes without
  padding and sums the counts of right answers.

Only the process of rank $0$ writes: labml's run folders, checkpoints,
results and plots, and it alone takes a run's lock. The others wait for it
at a barrier. See [distributed distillation](../distillation/cifar10/distributed.html)
for the commands and the reasoning.
"""

import inspect
import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Callable, Iterator

import torch
import torch.distributed as dist
from torch import nn

from labml_nn.experiments.checks import CommandError

# How long a process waits for the others in a collective operation before
# it gives up with an error. A process that died, or one that hangs, then ends
# every process with a message instead of leaving them waiting forever. Rank
# 0's work alone between two collectives (finding runs, writing a
# checkpoint) takes seconds; ten minutes leaves room for slow disks.
TIMEOUT = timedelta(minutes=10)


class DistributedError(CommandError):
    """
    A setting that does not fit the processes torchrun started; the command
    line prints the message and exits with status 2.
    """


@dataclass(frozen=True)
class World:
    """
    ## Who this process is

    `rank` among `size` processes, and `local_rank` on this machine.
    """
    rank: int = 0
    size: int = 1
    local_rank: int = 0


def world() -> World:
    """
    The process's place, from the variables torchrun sets; one process alone outside torchrun.
    """
    return World(int(os.environ.get('RANK', 0)), int(os.environ.get('WORLD_SIZE', 1)),
                 int(os.environ.get('LOCAL_RANK', 0)))


def is_main() -> bool:
    """
    Whether this process is rank 0, the one that writes.
    """
    return world().rank == 0


def process_device(device: str) -> str:
    """
    The device this process trains on: with several processes, `cuda` means
    the GPU numbered by `LOCAL_RANK`, one GPU per process.
    """
    if world().size > 1 and device == 'cuda':
        return f'cuda:{world().local_rank}'
    return device


def check_batch_size(batch_size: int):
    """
    The global batch is split into $W$ equal slices, so $W$ must divide it.
    """
    size = world().size
    if batch_size % size:
        raise DistributedError(f'--batch-size {batch_size} does not divide among the {size} processes torchrun '
                               f'started: choose a multiple of {size}, or another --nproc-per-node')


@contextmanager
def process_group(device: str) -> Iterator[None]:
    """
    ## Joining the other processes

    With $W > 1$, every process joins one process group for the whole command,
    with the backend that fits its device: NCCL between GPUs, gloo between
    CPU processes. `device` is the command's device, `cuda` or `cpu`. Outside
    torchrun this does nothing.
    """
    w = world()
    if w.size == 1:
        yield
        return
    kind = torch.device(device).type
    if kind == 'cuda':
        if torch.device(device).index is not None:
            raise DistributedError(f'--device {device} names one GPU, and torchrun started {w.size} processes: '
                                   f'give --device cuda, and each process takes the GPU of its LOCAL_RANK')
        if w.local_rank >= torch.cuda.device_count():
            raise DistributedError(f'process {w.rank} has LOCAL_RANK {w.local_rank}, and this machine has '
                                   f'{torch.cuda.device_count()} GPUs: give --nproc-per-node at most that')
        # NCCL needs each process's GPU to be its current device
        torch.cuda.set_device(w.local_rank)
    elif kind != 'cpu':
        raise DistributedError(f'training on several processes needs --device cuda or cpu, not {device}')
    dist.init_process_group('nccl' if kind == 'cuda' else 'gloo', timeout=TIMEOUT)
    try:
        yield
    finally:
        dist.destroy_process_group()


def barrier():
    """
    Wait until every process gets here: the others wait for rank 0's writing.
    """
    if world().size > 1:
        dist.barrier()


def from_main(decide: Callable[[], Any]) -> Any:
    """
    ## Rank 0 decides

    `decide()` runs on rank 0 alone, and every process gets its result, or
    raises its exception: a run that is busy, or data that changed, stops
    every process with rank 0's message rather than leaving the others
    waiting for an answer.
    """
    if world().size == 1:
        return decide()
    answer = [None]
    if is_main():
        try:
            answer[0] = ('value', decide())
        except BaseException as e:
            answer[0] = ('error', e)
    dist.broadcast_object_list(answer, src=0)
    kind, value = answer[0]
    if kind == 'error':
        raise value
    return value


def local_part(batch: torch.Tensor) -> torch.Tensor:
    """
    <a id="local-part"></a>

    ## This process's slice of the global batch

    Rank $r$ of $W$ takes images $r B / W$ to $(r + 1) B / W - 1$ of the global batch of $B$.
    """
    w = world()
    size = batch.shape[0] // w.size
    return batch[w.rank * size:(w.rank + 1) * size]


def shard(count: int) -> slice:
    r"""
    ## Evaluation, shared without double counting

    Rank $r$ evaluates images $\lfloor r N / W \rfloor$ to
    $\lfloor (r + 1) N / W \rfloor - 1$ of $N$: every image exactly once, with
    no image repeated to make the shares equal (as `DistributedSampler` pads
    them), so the summed count of right answers is the single process's.
    """
    w = world()
    return slice(w.rank * count // w.size, (w.rank + 1) * count // w.size)


def sum_over_processes(value: int) -> int:
    """
    The sum of an integer over every process.
    """
    if world().size == 1:
        return value
    total = torch.tensor([value], dtype=torch.int64)
    # NCCL reduces tensors on the GPU only
    if dist.get_backend() == 'nccl':
        total = total.cuda()
    dist.all_reduce(total)
    return int(total.item())


# The switch's name: `forward_sync_buffers` since PyTorch 2.13, which deprecates
# the older `broadcast_buffers` (the only one 2.11 knows; it also leaves buffers
# out of the first synchronization, where every process holds the same ones anyway)
_NO_BUFFER_SYNC = ('forward_sync_buffers'
                   if 'forward_sync_buffers' in inspect.signature(nn.parallel.DistributedDataParallel).parameters
                   else 'broadcast_buffers')


def data_parallel(model: nn.Module) -> nn.Module:
    """
    <a id="data-parallel"></a>

    ## The model as the training step calls it

    One process: the model itself. Several: its batch normalization
    synchronized (in place, so `model` still holds the weights), then wrapped
    in `DistributedDataParallel`, which starts every process from rank 0's
    weights and averages the gradients over the processes during `backward`.
    Buffers are not sent again before every forward pass
    (`forward_sync_buffers`): synchronized batch normalization already keeps
    the running statistics equal on every process.
    """
    if world().size == 1:
        return model
    on_gpu = next(model.parameters()).device.type == 'cuda'
    if on_gpu:
        # PyTorch's own, with GPU kernels that gather the statistics
        nn.SyncBatchNorm.convert_sync_batchnorm(model)
    else:
        # PyTorch's `SyncBatchNorm` refuses CPU tensors
        _replace_batch_norm(model)
    return nn.parallel.DistributedDataParallel(model, device_ids=[world().local_rank] if on_gpu else None,
                                               **{_NO_BUFFER_SYNC: False})



def _replace_batch_norm(module: nn.Module):
    """
    Replace every `BatchNorm2d` in `module` with `SyncBatchNormCPU`, keeping its
    parameters and running statistics (the same tensors).
    """
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm2d:
            synced = SyncBatchNormCPU(child.num_features, child.eps, child.momentum)
            synced.weight, synced.bias = child.weight, child.bias
            synced.running_mean, synced.running_var = child.running_mean, child.running_var
            synced.num_batches_tracked = child.num_batches_tracked
            setattr(module, name, synced)
        else:
            _replace_batch_norm(child)


class SyncBatchNormCPU(nn.BatchNorm2d):
    r"""
    <a id="sync-batch-norm"></a>

    ## Batch normalization over the global batch

    In training, batch normalization normalizes each channel with the mean
    $\mu$ and variance $\sigma^2$ of the batch. A process sees only its
    slice, and the slice's statistics differ from the global batch's: with
    plain batch normalization, $W$ processes would compute a different
    function from one process, and results would change with $W$. Here each
    process sums its slice per channel and the sums are added over the
    processes by [`sum_over_processes`](#sum-over-processes),
    $$\mu = \frac{1}{n} \sum_{\text{all processes}} \sum x, \qquad
      \sigma^2 = \frac{1}{n} \sum_{\text{all processes}} \sum (x - \mu)^2,$$
    with $n$ the global batch's values per channel. The running statistics are
    updated as `BatchNorm2d` does, with the unbiased variance
    $\sigma^2 \frac{n}{n - 1}$, so they stay equal on every process.
    This is what `nn.SyncBatchNorm` computes on GPUs; it refuses CPU tensors.
    The weights and statistics are `BatchNorm2d`'s, so checkpoints load into
    the plain model. In evaluation mode it is `BatchNorm2d`.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        # Statistics in float32 at least, whatever the precision of `x`
        values = x.to(torch.promote_types(x.dtype, torch.float32))
        # $n$: every process has an equal slice
        n = values.numel() // values.shape[1] * world().size
        # $\mu$, then $\sigma^2$, over every process's slice
        mean = SumOverProcesses.apply(values.sum((0, 2, 3))) / n
        centered = values - mean.view(1, -1, 1, 1)
        variance = SumOverProcesses.apply((centered * centered).sum((0, 2, 3))) / n
        # The running statistics, $r \leftarrow (1 - m) r + m s$ with momentum $m$
        with torch.no_grad():
            self.num_batches_tracked.add_(1)
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(variance * n / (n - 1), self.momentum)
        # $\gamma \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta$
        scale = self.weight * torch.rsqrt(variance + self.eps)
        return (centered * scale.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)).to(x.dtype)


class SumOverProcesses(torch.autograd.Function):
    r"""
    <a id="sum-over-processes"></a>

    ### A sum over the processes that gradients flow through

    Forward, every process gets $s = \sum_k t_k$ of the processes' tensors
    $t_k$. The loss being minimized is the sum of the processes' losses
    $\sum_j L_j$ (DDP then divides by $W$), and each $L_j$ depends on
    $t_k$ through $s$, so
    $\frac{\partial \sum_j L_j}{\partial t_k} = \sum_j \frac{\partial L_j}{\partial s}$:
    backward is a sum over the processes too.
    """

    @staticmethod
    def forward(ctx, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx, gradient: torch.Tensor) -> torch.Tensor:
        total = gradient.clone()
        dist.all_reduce(total)
        return total
