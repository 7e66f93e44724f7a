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
defaults, where computed defaults (the device, the model, the optimizer) are
small `@option` functions that run only when nothing overrides them.

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
file, then renamed) after each epoch. A run is found again by its *key*, a
hash of every setting that changes the result, so running the same command
again resumes an interrupted run, or returns a finished one as it is.
"""

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from labml import experiment, lab, monit, tracker
from labml.configs import BaseConfigs, option
from torch import nn

from labml_nn.experiments.data import Split, augment, load_cifar10, normalize, split_train, write_atomic


class Configs(BaseConfigs):
    """
    ## Configurations

    Every value can be overridden from the command line.
    """
    # Which model: `'large'`, `'small'` or `'distilled'`
    model_name: str = 'small'
    # Where the data is, and where runs are written
    data_dir: str = './data'
    logs_dir: str = './logs'
    # The settings profile this run belongs to (it names the experiment)
    profile: str = 'full'
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
    # `'cpu'`, `'cuda'`, ...; computed below when not given
    device: str
    # Mixed precision: bfloat16 autocast
    bf16: bool

    # The model, the optimizer and the data, computed by the options below
    model: nn.Module
    optimizer: torch.optim.Optimizer

    def loss(self, logits: torch.Tensor, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """
        The training loss of one batch: cross-entropy with the labels. The
        distillation trainer overrides this.
        """
        return nn.functional.cross_entropy(logits.float(), labels)


@option(Configs.device)
def _device(c: Configs):
    """
    The first GPU when there is one, the CPU otherwise.
    """
    return 'cuda' if torch.cuda.is_available() else 'cpu'


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


@option(Configs.model)
def _model(c: Configs):
    """
    The large or the small model, in `channels_last` memory order on the device.
    """
    from labml_nn.distillation.large import LargeModel
    from labml_nn.distillation.small import SmallModel
    model = LargeModel() if c.model_name == 'large' else SmallModel()
    return model.to(c.device, memory_format=torch.channels_last)


@option(Configs.optimizer)
def _optimizer(c: Configs):
    """
    Adam, as in the reference configuration, or SGD with Nesterov momentum.
    """
    if c.optimizer_name == 'adam':
        return torch.optim.Adam(c.model.parameters(), lr=c.learning_rate, weight_decay=c.weight_decay)
    return torch.optim.SGD(c.model.parameters(), lr=c.learning_rate, momentum=0.9, nesterov=True,
                           weight_decay=c.weight_decay)


def learning_rate_schedule(optimizer: torch.optim.Optimizer, total_steps: int, schedule: str):
    r"""
    ## Learning-rate schedule

    For `'one_cycle'` the rate at step $t$ of $S$ is
    $\eta \cdot \min\left(\frac{t}{0.15 S}, \frac{S - t}{0.85 S}\right)$.
    """
    warmup = max(1, int(0.15 * total_steps))

    def factor(step: int) -> float:
        if schedule == 'constant':
            return 1.0
        return min(step / warmup, max(0.0, (total_steps - step) / max(1, total_steps - warmup)))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def autocast(c: Configs):
    """
    bfloat16 autocast on the run's device, when `bf16` is set.
    """
    return torch.autocast(device_type=torch.device(c.device).type, dtype=torch.bfloat16, enabled=c.bf16)


@torch.inference_mode()
def accuracy(c: Configs, model: nn.Module, split: Split, batch_size: int = 1000) -> float:
    """
    ## Accuracy

    The fraction of `split` that `model` classifies right, in evaluation mode,
    where batch normalization uses its running statistics.
    """
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(split.labels), batch_size):
        images = split.images[start:start + batch_size].to(c.device)
        with autocast(c):
            logits = model(normalize(images))
        correct += (logits.argmax(-1).cpu() == split.labels[start:start + batch_size]).sum().item()
    model.train(was_training)
    return correct / len(split.labels)


def run_key(settings: Dict[str, Any]) -> str:
    """
    A short hash of a run's settings, with the data folder as an absolute path.
    Where the run is written, `logs_dir`, is not part of what it is.
    """
    settings = {k: v for k, v in settings.items() if k != 'logs_dir'}
    settings['data_dir'] = str(Path(settings['data_dir']).resolve())
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def find_runs(logs_dir: str, name: str) -> List[Dict[str, Any]]:
    """
    ## Runs on disk

    The checkpoints of every run of experiment `name` (a glob pattern), newest
    first, each with the path it was loaded from. A checkpoint that cannot be
    read is skipped.
    """
    found = []
    for path in Path(logs_dir).glob(f'{name}/*/checkpoints/checkpoint.pt'):
        try:
            # `mmap` reads the small fields without loading every weight
            state = torch.load(path, map_location='cpu', weights_only=False, mmap=True)
        except Exception:
            continue
        state['path'] = path
        found.append(state)
    return sorted(found, key=lambda s: (s['updated'], str(s['path'])), reverse=True)


def experiment_name(settings: Dict[str, Any]) -> str:
    """
    Runs are grouped by model and profile, `large-cpu` for example.
    """
    return f"{settings['model_name']}-{settings['profile']}"


WEIGHTS = ('model', 'optimizer', 'scheduler', 'rng')


def train(c: Configs, settings: Dict[str, Any], data=None, fresh: bool = False) -> Dict[str, Any]:
    """
    ## Train, or resume, one run

    `settings` are the configuration overrides; they must name `model_name`,
    `profile`, `data_dir` and `logs_dir`, and they identify the run. `data` is
    the loaded CIFAR-10 (loaded here when `None`). Returns the run's final
    checkpoint, less the weights.
    """
    name, logs_dir = experiment_name(settings), settings['logs_dir']
    # Runs are written under `logs_dir`; labml records the git commit of the
    # folder the command runs in, when it is a repository
    Path(logs_dir).mkdir(parents=True, exist_ok=True)
    lab.configure({'path': str(Path.cwd()), 'experiments_path': str(Path(logs_dir).resolve())})
    key = run_key(settings)
    # An earlier run with the same settings: resume it, or return it when it finished
    earlier = [] if fresh else [s for s in find_runs(logs_dir, name) if s['key'] == key]
    if earlier and earlier[0]['finished']:
        print(f'{name} seed {earlier[0]["seed"]}: reusing the finished run {earlier[0]["uuid"]}')
        return {k: v for k, v in earlier[0].items() if k not in WEIGHTS}
    resume = earlier[0] if earlier else None
    if resume:
        # labml writes `run.pid` into a run's folder when it starts and never
        # removes it, and it refuses to start a run whose folder has one. The
        # process that wrote it was interrupted, so the file goes
        (Path(resume['path']).parent.parent / 'run.pid').unlink(missing_ok=True)
    if data is None:
        data = load_cifar10(settings['data_dir'])

    experiment.create(name=name, uuid=resume['uuid'] if resume else None, writers={'screen', 'file'})
    # Seed before the model is made, so that its initial weights are the seed's
    torch.manual_seed(settings.get('seed', 0))
    experiment.configs(c, settings)
    train_split, valid_split = split_train(data.train, c.valid_size, c.train_size or None)
    model, optimizer = c.model, c.optimizer
    batches_per_epoch = max(1, len(train_split.labels) // c.batch_size)
    scheduler = learning_rate_schedule(optimizer, c.epochs * batches_per_epoch, c.schedule)
    # The augmentation's random numbers, kept apart from the model's (dropout)
    generator = torch.Generator().manual_seed(c.seed)
    state = {'uuid': experiment.get_uuid(), 'key': key, 'settings': settings,
             'model_name': c.model_name, 'seed': c.seed, 'epochs': c.epochs,
             'parameters': sum(p.numel() for p in model.parameters() if p.requires_grad),
             'epoch': 0, 'history': [], 'train_seconds': 0.0, 'images': 0, 'finished': False}
    if resume:
        model.load_state_dict(resume['model'])
        optimizer.load_state_dict(resume['optimizer'])
        scheduler.load_state_dict(resume['scheduler'])
        generator.set_state(resume['rng']['augment'])
        torch.set_rng_state(resume['rng']['torch'])
        state.update({k: resume[k] for k in ('epoch', 'history', 'train_seconds', 'images')})
        print(f'Resuming {name} run {state["uuid"]} after epoch {state["epoch"]}')
    checkpoint = Path(logs_dir) / name / state['uuid'] / 'checkpoints' / 'checkpoint.pt'

    with experiment.start():
        tracker.set_global_step(state['epoch'] * batches_per_epoch * c.batch_size)
        for epoch in monit.loop(range(state['epoch'], c.epochs)):
            started = time.perf_counter()
            _train_epoch(c, model, optimizer, scheduler, train_split, generator, batches_per_epoch)
            state['train_seconds'] += time.perf_counter() - started
            state['images'] += batches_per_epoch * c.batch_size
            # Validation accuracy after every epoch, for the plot and for choices
            valid = accuracy(c, model, valid_split)
            tracker.save({'accuracy.valid': valid})
            state['history'].append(valid)
            state['epoch'] = epoch + 1
            state['finished'] = state['epoch'] == c.epochs
            if state['finished']:
                state['test_accuracy'] = accuracy(c, model, data.test) if data.test is not None else None
            state['valid_accuracy'] = valid
            state['updated'] = time.time()
            # The checkpoint of the epoch just completed
            saved = state | dict(zip(WEIGHTS, (
                model.state_dict(), optimizer.state_dict(), scheduler.state_dict(),
                {'augment': generator.get_state(), 'torch': torch.get_rng_state()})))
            write_atomic(checkpoint, lambda tmp: torch.save(saved, tmp))
            tracker.new_line()
    state['path'] = checkpoint
    return state


def _train_epoch(c: Configs, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler,
                 split: Split, generator: torch.Generator, batches: int):
    """
    ## One epoch

    A fresh random order each epoch; the last partial batch is dropped so
    that batch normalization always sees full batches.
    """
    model.train()
    order = torch.randperm(len(split.labels), generator=generator)
    for i in monit.iterate('Train', batches):
        index = order[i * c.batch_size:(i + 1) * c.batch_size]
        labels = split.labels[index].to(c.device)
        # Augment on the device the model trains on, then normalize
        images = normalize(augment(split.images[index].to(c.device), generator))
        with autocast(c):
            logits = model(images)
        loss = c.loss(logits, images, labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        tracker.add_global_step(len(index))
        tracker.add('loss.train', loss)
