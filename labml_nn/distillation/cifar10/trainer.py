"""
---
title: A CIFAR-10 trainer that resumes
summary: >
  The configuration and training loop shared by the teacher, the baseline and
  the distilled student: labml configs and tracking, in-memory data, batch
  augmentation on the device, and a checkpoint after every epoch.
---

# A CIFAR-10 trainer that resumes

Every model of the study is trained by this loop. Its settings are a
[labml configuration](https://github.com/labmlai/labml): typed attributes with
defaults, where computed defaults (the device, the optimizer) are small
`@option` functions that run only when nothing overrides them. The model is
not chosen here: each model's module subclasses `Configs` and gives `model`
its option, and a training step other than learning from labels, such as
[distillation](distill.html), overrides `step`.

The path of a run, top to bottom in this file: [`train`](#train) finds an
earlier run with the same settings and data, or starts one, and takes its
lock; [`_train_run`](#train-run) builds the model, the optimizer and the
schedule, and restores a checkpoint; each epoch calls [`step`](#step) on
every batch, checks that the weights are still finite numbers, measures
validation accuracy (every epoch, unless `valid_every` says less often) and
writes a checkpoint.

## Why a small loop of our own

labml-helpers' train/validation loop is built around `DataLoader`s and a
fixed step structure. Here the whole data set is one tensor in memory and an
epoch is a few lines of indexing, and what the study needs most, a checkpoint
after every epoch that the same command resumes from, with the random number
generators restored so that a resumed run gives the numbers an uninterrupted
one would, is simpler to see in a loop that fits on one screen.

## Runs and checkpoints

Each run is a labml experiment run, `LOGS/<name>/<uuid>/`, where labml keeps
its configs and metrics; the trainer's checkpoint is
`checkpoints/checkpoint.pt` in the same folder, rewritten (to a temporary
file, then renamed) after each epoch. A run is found again by its settings
and its data (see [runs on disk](../../experiments/runs.html)), so running the same command
again resumes an interrupted run, or returns a finished one as it is.

## Fast on a GPU

A GPU is fast only while the host keeps it fed and never waits for it. So
the training images, `uint8`, move to the device once per run and each batch
is cut out of them there; the augmentation draws its random numbers on the
device; the epoch's loss is summed on the device and read once, at the end
of the epoch (reading it at every step would make the host wait each time);
`compile` compiles the step's model with `torch.compile`; the weights run in
bfloat16 autocast and `channels_last` order; and evaluation counts right
answers on the device, in batches of 2,500. Nothing in the step waits for
the device, so the host queues the next steps while the GPU computes.
`benchmarks/training_throughput.py` measures the speed on any device.

## On several processes

Under `torchrun` the same loop runs in every process, on
[its slice of each batch](../../experiments/distributed.html), and gives the weights a single
process would (up to rounding). Rank 0 alone finds the run, holds its lock,
and writes labml's files and the checkpoints; the other processes get its
decision and wait for its writing at a barrier.
"""

import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Dict, Optional, Union

import torch
from labml import experiment, lab, monit, tracker
from labml.configs import BaseConfigs, option
from labml.internal.experiment import experiment_singleton
from torch import nn

from labml_nn.distillation.cifar10.data import CIFAR10, DataError, Split, augment, load_cifar10, normalize, split_train
from labml_nn.experiments import distributed
from labml_nn.experiments.console import readable_output
from labml_nn.experiments.runs import NOT_CONFIGURATIONS, WEIGHTS, RunRecord, checkpoint_path, claim_run, run_key
from labml_nn.experiments.training import (CannotResume, Diverged, Interrupted, check_device_kind, default_device,
                                           full_disk_message, learning_rate_schedule, save_checkpoint,
                                           weights_are_finite)


class Configs(BaseConfigs):
    """
    ## Configurations

    Every value can be overridden from the command line.
    """
    # The model's name, `'large'` for example; with the settings' profile it names the experiment
    model_name: str = 'small'
    # Where runs are written (and the teacher cache beside them)
    logs_dir: str = './logs'
    seed: int = 0
    epochs: int = 10
    batch_size: int = 64
    # `'adam'` or `'sgd'` (with Nesterov momentum)
    optimizer_name: str = 'adam'
    learning_rate: float = 2.5e-4
    weight_decay: float = 0.0
    # `'constant'`, or `'one_cycle'`: a linear warm-up over the first 15% of
    # steps to `learning_rate`, then a linear decay to zero
    schedule: str = 'constant'
    # Images held out for validation, and how many of the rest to train on (`0`: all)
    valid_size: int = 5000
    train_size: int = 0
    # Measure validation accuracy after every `valid_every` epochs, and after
    # the last. It changes what is measured, not the weights: measuring 5,000
    # images costs about as much as an epoch on a 2,000-image transfer set,
    # so a study of many runs measures less often
    valid_every: int = 1
    # Epochs whose weights are kept beside the run's checkpoint, as
    # `checkpoints/epoch-N.pt`, each a teacher stopped early that can be
    # named with `--teacher` (the [teacher-quality study](teacher_quality.html)).
    # Like `valid_every` it changes what is kept, not the run; those epochs are always measured
    keep_epochs: tuple = ()
    # A class whose every image is left out of the training images (its name),
    # for the [omitted-class study](omitted_class.html); `''` keeps all
    omit_class: str = ''
    # The number of classes, the models' outputs; `train` sets it to the data's
    classes: int = 10
    # `'cpu'`, `'cuda'`, ...; computed below when not given
    device: str
    # Mixed precision: bfloat16 autocast
    bf16: bool
    # Whether the training step's model is compiled with `torch.compile`;
    # it changes the speed, not what is trained (up to rounding)
    compile: bool

    # The model's class, which each model's configurations set; the model
    # itself, made by the option below; and the optimizer
    model_class: type
    model: nn.Module
    optimizer: torch.optim.Optimizer
    # The model as the training step calls it: `model` itself in one process,
    # wrapped for [training on several processes](../../experiments/distributed.html#data-parallel) under torchrun
    replica: nn.Module
    # The transfer set's images, `uint8` on the CPU, set by the trainer before
    # `prepare`: every image the run may train on, the omitted class's included
    train_images: torch.Tensor

    def prepare(self):
        """
        Work done once before the first epoch, outside its timing: nothing
        when training on labels; the distillation step may build its
        [teacher cache](teacher_cache.html) here.
        """

    def step(self, images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        r"""
        <a id="step"></a>

        ## One training step on labels

        `images` is the global batch of `uint8` images on the device, `labels`
        their classes; returns the loss to minimize.
        """
        # Augment the global batch with its own random numbers (every process
        # draws the same), keep this process's slice, and normalize it
        x = normalize(distributed.local_part(augment(images, generator)))
        labels = distributed.local_part(labels)
        # The model's logits $z$
        with autocast(self):
            logits = self.replica(x)
        # Cross-entropy with the labels, $-\log \mathrm{softmax}(z)_y$, averaged over the batch
        return nn.functional.cross_entropy(logits.float(), labels)


def train(c: Configs, settings: Dict[str, Any], data: Optional[CIFAR10] = None,
          fresh: bool = False) -> RunRecord:
    """
    <a id="train"></a>

    ## Train, or resume, one run

    `settings` are the configuration overrides; they must name `model_name`,
    `profile` and `logs_dir`, and with the data's fingerprint they identify
    the run. `data` is the loaded CIFAR-10, loaded here from the folder
    `settings['data_dir']` when `None`. Returns the run's final record.
    """
    name = experiment_name(settings)
    if data is None:
        data = load_cifar10(settings['data_dir'])
    # Settings that do not fit the data stop here, before a run folder is made
    check_settings(type(c), settings, data)
    key = run_key(settings)
    # Rank 0 looks the run up and takes its lock, held until training ends;
    # every process gets what it found
    with ExitStack() as lock:
        found = distributed.from_main(lambda: claim_run(settings['logs_dir'], name, key, data.fingerprint, fresh,
                                                        lock, RunRecord))
        if isinstance(found, RunRecord):
            return found
        uuid, resume = found
        return _train_run(c, settings, data, key, uuid,
                          checkpoint_path(settings['logs_dir'], name, uuid), resume)


def check_settings(configs: type, settings: Dict[str, Any], data: CIFAR10):
    """
    Refuse `settings` that do not fit `data`, with a message: a validation or
    training size larger than the data, an omitted class the data does not
    have, or a batch larger than the training images. (Leaving a class out
    may still leave fewer images than a batch: an epoch is then one smaller
    batch, and counted as such.) The defaults are read from a
    fresh configuration of the class `configs`: a labml config cannot be set
    once it was read.
    """
    defaults = configs()
    train_split, _ = split_train(data.train, settings.get('valid_size', defaults.valid_size),
                                 settings.get('train_size', defaults.train_size) or None)
    omitted = settings.get('omit_class', defaults.omit_class)
    if omitted and omitted not in data.classes:
        raise DataError(f'--omit-class {omitted!r} is not a class of the data; '
                        f'its classes are {", ".join(data.classes)}')
    batch_size, trained = settings.get('batch_size', defaults.batch_size), len(train_split.labels)
    if batch_size > trained:
        raise DataError(f'--batch-size {batch_size} is more than the {trained} images there are to train on; '
                        f'choose --batch-size {trained} or less')


def _train_run(c: Configs, settings: Dict[str, Any], data: CIFAR10, key: str, uuid: str, checkpoint: Path,
               resume: Optional[Dict[str, Any]]) -> RunRecord:
    """
    <a id="train-run"></a>

    ### Train a run, under its lock

    A new run when `resume` is `None`, else the run of that checkpoint, from
    the epoch after the last one saved. `checkpoint` is where the run's
    checkpoint is written, in its run folder.
    """
    name, logs_dir = experiment_name(settings), settings['logs_dir']
    # Runs are written under `logs_dir`; labml records the git commit of the
    # folder the command runs in, when it is a repository
    lab.configure({'path': str(Path.cwd()), 'experiments_path': str(Path(logs_dir).resolve())})
    # Plain lines when the output is not a terminal, and each warning once
    readable_output()
    if distributed.is_main():
        experiment.create(name=name, uuid=uuid, writers={'screen', 'file'})
    else:
        # The other processes compute the same configurations and write
        # nothing; given their rank, labml leaves the line naming the run to rank 0
        experiment.evaluate()
        experiment_singleton().run.distributed_rank = distributed.world().rank
    # Seed before the model is made, so that its initial weights are the seed's
    torch.manual_seed(settings.get('seed', 0))
    # The model's outputs are the data's classes; with several processes,
    # each trains on the device of its own rank. The data's folder (the data
    # comes in loaded) and the profile are not configurations
    overrides = {k: v for k, v in settings.items() if k not in NOT_CONFIGURATIONS} | {'classes': len(data.classes)}
    if 'device' in settings:
        overrides['device'] = distributed.process_device(settings['device'])
    experiment.configs(c, overrides)
    train_split, valid_split = split_train(data.train, c.valid_size, c.train_size or None)
    c.train_images = train_split.images
    # Leave every image of the omitted class out of training; validation keeps them
    if c.omit_class:
        kept = train_split.labels != data.classes.index(c.omit_class)
        train_split = Split(train_split.images[kept], train_split.labels[kept])
    # The training images, still `uint8`, move to the device once: each
    # step's batch is cut out of them there, not copied from the host
    train_split = Split(train_split.images.to(c.device), train_split.labels.to(c.device))
    # Every process makes its replica of the model at the same point: with
    # several processes, making it waits for the others
    model, optimizer, _ = c.model, c.optimizer, c.replica
    c.prepare()
    batches_per_epoch = max(1, len(train_split.labels) // c.batch_size)
    scheduler = learning_rate_schedule(optimizer, c.epochs * batches_per_epoch, c.schedule)
    # The augmentation's random numbers, kept apart from the model's (dropout),
    # are drawn on the run's device, so that no step waits for the host to
    # send them; on a CPU they are the CPU's, as always
    generator = torch.Generator(device=c.device).manual_seed(c.seed)
    record = RunRecord(uuid=uuid, name=name, key=key, data_fingerprint=data.fingerprint, settings=settings,
                       model_name=c.model_name, seed=c.seed, epochs=c.epochs, classes=list(data.classes),
                       parameters=sum(p.numel() for p in model.parameters() if p.requires_grad))
    if resume is not None:
        check_device_kind(resume, c.device, name, uuid)
        model.load_state_dict(resume['model'])
        optimizer.load_state_dict(resume['optimizer'])
        scheduler.load_state_dict(resume['scheduler'])
        _restore_generator(generator, resume['rng']['augment'], name, uuid)
        torch.set_rng_state(resume['rng']['torch'])
        for k in ('epoch', 'history', 'train_seconds', 'images', 'valid_accuracy'):
            setattr(record, k, resume[k])
        if distributed.is_main():
            print(f'Resuming {name} run {uuid} after epoch {record.epoch}')
    record.path = checkpoint

    try:
        with full_disk_message(checkpoint.parent.parent), experiment.start():
            _train_epochs(c, record, data, train_split, valid_split, optimizer, scheduler, generator,
                          batches_per_epoch)
    except KeyboardInterrupt:
        # labml has marked the run interrupted; the checkpoint holds the epochs done
        raise Interrupted(f'after epoch {record.epoch}') from None
    return record


def _train_epochs(c: Configs, record: RunRecord, data: CIFAR10, train_split: Split, valid_split: Split,
                  optimizer: torch.optim.Optimizer, scheduler, generator: torch.Generator,
                  batches_per_epoch: int):
    """
    ### The epochs left, each ending in a checkpoint
    """
    model = c.model
    tracker.set_global_step(record.epoch * batches_per_epoch * c.batch_size)
    for epoch in monit.loop(range(record.epoch, c.epochs)):
        started = time.perf_counter()
        _train_epoch(c, model, optimizer, scheduler, train_split, generator, batches_per_epoch)
        # A loss or a weight that is not a finite number ends the run
        # here, before anything of this epoch is saved
        if not weights_are_finite(model):
            # End the progress line, so that the message starts a line of its own
            tracker.new_line()
            kept = (f'The checkpoint of epoch {record.epoch} is kept' if record.epoch
                    else 'Nothing was saved (this was its first epoch)')
            raise Diverged(f'{record.name} run {record.uuid} diverged in epoch {epoch + 1}: the loss or the '
                           f'weights are no longer finite numbers. {kept}; try a lower --learning-rate.')
        record.train_seconds += time.perf_counter() - started
        # The images trained on: fewer than a batch, when that is all there is
        record.images += min(batches_per_epoch * c.batch_size, len(train_split.labels))
        record.epoch = epoch + 1
        record.finished = record.epoch == c.epochs
        # Validation accuracy after every `valid_every` epochs and after the
        # last, for the plot and for choices; `None` in the history where not measured
        kept = record.epoch in c.keep_epochs and not record.finished
        if record.finished or kept or record.epoch % c.valid_every == 0:
            record.valid_accuracy = accuracy(c, model, valid_split)
            tracker.save({'accuracy.valid': record.valid_accuracy})
            record.history.append(record.valid_accuracy)
        else:
            record.history.append(None)
        if record.finished:
            record.test_accuracy = accuracy(c, model, data.test) if data.test is not None else None
        record.updated = time.time()
        # The checkpoint of the epoch just completed, written by rank 0 while
        # the other processes wait: they hold the same state
        if distributed.is_main():
            saved = record.fields() | {'device_type': torch.device(c.device).type} | dict(zip(WEIGHTS, (
                model.state_dict(), optimizer.state_dict(), scheduler.state_dict(),
                {'augment': generator.get_state(), 'torch': torch.get_rng_state()})))
            previous = f'of epoch {record.epoch - 1}' if record.epoch > 1 else None
            save_checkpoint(record.path, saved, f'of epoch {record.epoch}', previous)
            if kept:
                save_checkpoint(epoch_path(record.path, record.epoch), stopped_early(record, model),
                                f'of epoch {record.epoch}', previous)
        distributed.barrier()
        tracker.new_line()


def epoch_path(checkpoint: Path, epoch: int) -> Path:
    """
    Where the weights of a run's kept `epoch` are, beside its `checkpoint`.
    """
    return checkpoint.parent / f'epoch-{epoch}.pt'


def stopped_early(record: RunRecord, model: nn.Module) -> Dict[str, Any]:
    """
    A kept epoch as a finished run of that many epochs: its record, under the
    run's identity, and its weights alone. Teacher lookups find only
    `checkpoint.pt`, so it teaches only when named.
    """
    return record.fields() | {'epochs': record.epoch, 'finished': True, 'model': model.state_dict()}


def _train_epoch(c: Configs, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler,
                 split: Split, generator: torch.Generator, batches: int):
    """
    ## One epoch

    A fresh random order each epoch; the last partial batch is dropped so
    that batch normalization always sees full batches. Every process draws the
    same order and indexes the same global batch; the step keeps its slice.
    """
    model.train()
    order = torch.randperm(len(split.labels), generator=generator, device=generator.device)
    # The epoch's summed loss stays on the device: reading it at every step
    # would make the host wait for the device's work each time
    loss_sum = torch.zeros((), device=c.device)
    for i in monit.iterate('Train', batches):
        index = order[i * c.batch_size:(i + 1) * c.batch_size]
        # The batch's loss, from images still `uint8`, already on the device the model trains on
        loss = c.step(split.images[index], split.labels[index], generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        tracker.add_global_step(len(index))
        loss_sum += loss.detach()
    # The epoch's mean loss, read once. Under torchrun, rank 0's slice:
    # averaging it over the processes would be one more exchange
    tracker.add('loss.train', loss_sum / batches)


def _restore_generator(generator: torch.Generator, state: torch.Tensor, name: str, uuid: str):
    """
    Restore the augmentation's generator from a checkpoint. A CPU's and a
    GPU's generators keep different states, so a run continues only on the
    kind of device it started on.
    """
    if state.numel() != generator.get_state().numel():
        raise CannotResume(f'{name} run {uuid} was started on another kind of device than '
                           f'{generator.device.type}: resume it there (--device), or start anew with --fresh')
    generator.set_state(state)


# Images per forward pass when evaluating: on the 2-core CPU a pass of 1,000
# images took 1.75× as long per image as a pass of 100. A GPU is kept busy
# only by large batches, and the 5,000 validation images fit its memory many times over
EVAL_BATCH_SIZE = 100
GPU_EVAL_BATCH_SIZE = 2500


def eval_batch_size(device: Union[str, torch.device]) -> int:
    """
    Images per forward pass when evaluating on `device`.
    """
    return EVAL_BATCH_SIZE if torch.device(device).type == 'cpu' else GPU_EVAL_BATCH_SIZE


@torch.inference_mode()
def accuracy(c: Configs, model: nn.Module, split: Split) -> float:
    """
    ## Accuracy

    The fraction of `split` that `model` classifies right, in evaluation mode,
    where batch normalization uses its running statistics. With several
    processes each counts the right answers on [its share](../../experiments/distributed.html#shard)
    of the images, and the counts are summed.
    """
    was_training = model.training
    model.eval()
    share = distributed.shard(len(split.labels))
    images, labels = split.images[share], split.labels[share].to(c.device)
    batch_size = eval_batch_size(c.device)
    # The right answers are counted on the device and read once
    correct = torch.zeros((), dtype=torch.long, device=c.device)
    for start in range(0, len(labels), batch_size):
        with autocast(c):
            logits = model(normalize(images[start:start + batch_size].to(c.device)))
        correct += (logits.argmax(-1) == labels[start:start + batch_size]).sum()
    model.train(was_training)
    return distributed.sum_over_processes(correct.item()) / len(split.labels)


def experiment_name(settings: Dict[str, Any]) -> str:
    """
    Runs are grouped by model and profile, `large-cpu` for example.
    """
    return f"{settings['model_name']}-{settings['profile']}"


def autocast(c: Configs):
    """
    bfloat16 autocast on the run's device, when `bf16` is set.
    """
    return torch.autocast(device_type=torch.device(c.device).type, dtype=torch.bfloat16, enabled=c.bf16)


@option(Configs.device)
def _device(c: Configs):
    """
    The default device; under torchrun, the GPU of the process's `LOCAL_RANK`.
    """
    return distributed.process_device(default_device())


@option(Configs.bf16)
def _bf16(c: Configs):
    """
    bfloat16 autocast on GPUs; on CPUs only where they have bfloat16 instructions.
    """
    if c.device.startswith('cuda'):
        return torch.cuda.is_bf16_supported()
    return cpu_has_bf16()


def cpu_has_bf16() -> bool:
    """
    Whether this CPU has the bfloat16 instructions that oneDNN's bfloat16 kernels need.
    """
    return torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported()


@option(Configs.compile)
def _compile(c: Configs):
    """
    `torch.compile` on GPUs, where a small model's step is otherwise bound
    by launching many small kernels one by one; not on CPUs, where it was
    slower: on the 2-core development CPU (float32, batch 32) compiled steps
    ran at 0.87× the eager speed for the teacher and 0.90× for the small
    model (`benchmarks/training_throughput.py --device cpu`, medians of two
    rounds). The same benchmark measures it on a GPU.
    """
    return c.device.startswith('cuda')


@option(Configs.model)
def _model(c: Configs) -> nn.Module:
    """
    The model, with one output per class of the data, in `channels_last`
    memory order on the device.
    """
    return c.model_class(c.classes).to(c.device, memory_format=torch.channels_last)


@option(Configs.replica)
def _replica(c: Configs):
    """
    The model itself in one process; synchronized and wrapped in
    `DistributedDataParallel` under torchrun; compiled when `compile` is set.
    The replica shares its weights with `model`, which is saved and evaluated.
    """
    replica = distributed.data_parallel(c.model)
    return torch.compile(replica) if c.compile else replica


@option(Configs.optimizer)
def _optimizer(c: Configs):
    """
    Adam, as in the reference configuration, or SGD with Nesterov momentum.
    """
    if c.optimizer_name == 'adam':
        return torch.optim.Adam(c.model.parameters(), lr=c.learning_rate, weight_decay=c.weight_decay)
    return torch.optim.SGD(c.model.parameters(), lr=c.learning_rate, momentum=0.9, nesterov=True,
                           weight_decay=c.weight_decay)
