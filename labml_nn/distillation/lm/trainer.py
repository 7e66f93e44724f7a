r"""
---
title: A language-model trainer that resumes
summary: >
  The configurations and the training loop of the byte-level teacher and
  students: random windows of the corpus, AdamW with a one-cycle schedule,
  validation bits per byte, and a checkpoint that the same command resumes.
---

# A language-model trainer that resumes

The [CIFAR-10 trainer](../cifar10/trainer.html) is built around
epochs of augmented images; a language model trains on random windows of one
long stream of bytes, for a number of *steps*. This loop is its short twin in
purpose, not in code: both stand on the shared
[runs on disk](../../experiments/runs.html) (the run record and its lookup,
the settings' key, the lock, the checkpoint path), learning-rate schedule and atomic writes.

Each step takes `batch_size` windows of `context + 1` bytes at random places
of the training bytes; the model reads the first `context` bytes of each and
predicts the next byte at every position. Every `eval_every` steps the loop
checks that the weights are finite, measures the validation loss in bits
per byte on fixed windows, and writes a checkpoint; the finished run also
measures the test split. Bits per byte are the cross-entropy in nats
divided by $\ln 2$: a model that knew nothing would need 8 bits per byte.
A run starts from random weights, or from a finished run's, a [warm start](#warm-start).
"""

import math
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

import torch
from labml import experiment, lab, tracker
from labml.configs import BaseConfigs, option
from torch import nn

from labml_nn.distillation.lm.data import (Corpus, describe, evenly_spaced_windows, load_corpus, random_starts,
                                           training_bytes, windows_at)
from labml_nn.distillation.lm.transformer import ByteTransformer
from labml_nn.experiments import distributed
from labml_nn.experiments.console import readable_output
from labml_nn.experiments.checks import CommandError
from labml_nn.experiments.runs import (NOT_CONFIGURATIONS, Record, checkpoint_path, claim_run, has_finite_weights,
                                       load_checkpoint, run_key)
from labml_nn.experiments.training import (Diverged, Interrupted, check_device_kind, default_device,
                                           full_disk_message, learning_rate_schedule, save_checkpoint,
                                           weights_are_finite)


class LMConfigs(BaseConfigs):
    """
    ## Configurations

    Every value can be overridden from the command line; the
    [profiles](train.html) set them per model.
    """
    # `'teacher'`, `'student'` or `'distilled'`; with the settings' profile it names the experiment
    model_name: str = 'student'
    # Where runs are written
    logs_dir: str = './logs'
    seed: int = 0
    # The model's shape: the context in bytes, the width, the blocks, the heads
    context: int = 128
    d_model: int = 128
    layers: int = 2
    heads: int = 4
    dropout: float = 0.0
    # Steps, windows per step, AdamW's largest learning rate and weight decay;
    # the one-cycle schedule warms up over 15% of the steps, then decays to zero
    steps: int = 1000
    batch_size: int = 32
    learning_rate: float = 2e-3
    weight_decay: float = 0.1
    # The training bytes to use, from the start of the training split (`0`: all)
    train_bytes: int = 0
    # The id of a finished run whose weights this run starts from, a
    # [warm start](#warm-start) (`''`: random weights)
    warm_start: str = ''
    # Measure validation and write a checkpoint every `eval_every` steps, on
    # `valid_windows` fixed windows; the test split on `test_windows`
    eval_every: int = 100
    valid_windows: int = 128
    test_windows: int = 512
    device: str
    model: nn.Module
    optimizer: torch.optim.Optimizer
    # The model as the step calls it: `model` itself in one process, wrapped
    # for [several processes](../../experiments/distributed.html#data-parallel) under torchrun
    replica: nn.Module

    def prepare(self, data: torch.Tensor):
        """
        Called once before the steps, with the training bytes `data`; the
        [distilled student](distill.html) opens its stored teacher targets here.
        """

    def step(self, windows: torch.Tensor, starts: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        r"""
        <a id="step"></a>

        ## One step on the next bytes

        `windows` is the global batch, `[batch, context + 1]` bytes, cut from
        the training bytes at `starts`; the loss is the cross-entropy of the
        next byte, $-\log \mathrm{softmax}(z_i)_{x_{i+1}}$, averaged over
        every position of this process's windows.
        """
        windows = distributed.local_part(windows)
        logits = self.replica(windows[:, :-1])
        return nn.functional.cross_entropy(logits.flatten(0, 1), windows[:, 1:].flatten())


@option(LMConfigs.device)
def _device(c: LMConfigs) -> str:
    return distributed.process_device(default_device())


@option(LMConfigs.replica)
def _replica(c: LMConfigs) -> nn.Module:
    return distributed.data_parallel(c.model)


@option(LMConfigs.model)
def _model(c: LMConfigs) -> nn.Module:
    return ByteTransformer(c.context, c.d_model, c.layers, c.heads, c.dropout).to(c.device)


@option(LMConfigs.optimizer)
def _optimizer(c: LMConfigs) -> torch.optim.Optimizer:
    """
    AdamW; weight decay on the matrices only, not on biases and layer norms.
    """
    matrices = [p for p in c.model.parameters() if p.dim() >= 2]
    others = [p for p in c.model.parameters() if p.dim() < 2]
    return torch.optim.AdamW([{'params': matrices, 'weight_decay': c.weight_decay},
                              {'params': others, 'weight_decay': 0.0}],
                             lr=c.learning_rate, betas=(0.9, 0.95))


@dataclass
class LMRecord(Record):
    """
    ## The run record

    What the checkpoint holds besides the weights, and what the
    [studies](pipeline.html) read: the [record of every trainer](../../experiments/runs.html#run-record),
    which identifies the run, and these fields.
    """
    # Steps to train, and steps done
    steps: int
    step: int = 0
    parameters: int = 0
    # The corpus: Python version, file list hash, fingerprint, bytes per split
    data: Dict[str, Any] = field(default_factory=dict)
    # `(step, validation bits per byte)` after every `eval_every` steps, the
    # last of them, and the test split's when finished
    history: List[List[float]] = field(default_factory=list)
    valid_bpb: Optional[float] = None
    test_bpb: Optional[float] = None
    train_seconds: float = 0.0


def experiment_name(settings: Dict[str, Any]) -> str:
    """
    Runs are grouped by model and profile, `lm-teacher-cpu` for example.
    """
    return f"lm-{settings['model_name']}-{settings['profile']}"


def train(c: LMConfigs, settings: Dict[str, Any], corpus: Optional[Corpus] = None, fresh: bool = False) -> LMRecord:
    """
    <a id="train"></a>

    ## Train, or resume, one run

    `settings` are the configuration overrides, naming at least
    `model_name`, `profile`, `data_dir` and `logs_dir`; with the corpus's
    fingerprint they identify the run. A finished run is returned as it is;
    an interrupted one resumes from its checkpoint.
    """
    defaults = type(c)()
    context = settings.get('context', defaults.context)
    if corpus is None:
        corpus = load_corpus(settings['data_dir'], context + 1)
    # Settings that do not fit the data, or a warm start that does not fit
    # the model, stop here, before a run folder is made
    training_bytes(corpus, settings.get('train_bytes', defaults.train_bytes))
    warm = warm_start_checkpoint(settings) if settings.get('warm_start') else None
    key = run_key(settings)
    # Rank 0 looks the run up and takes its lock, held until training ends;
    # every process gets what it found
    with ExitStack() as lock:
        found = distributed.from_main(lambda: claim_run(settings['logs_dir'], experiment_name(settings), key,
                                                        corpus.fingerprint, fresh, lock, LMRecord))
        if isinstance(found, LMRecord):
            return found
        uuid, resume = found
        return _train_run(c, settings, corpus, key, uuid, resume, warm)


class RunNotFound(CommandError):
    """
    No checkpoint where the command looked, or one that does not fit.
    """


# The settings that give a model its shape: a warm start must have the run's
SHAPE = ('context', 'd_model', 'layers', 'heads')


def warm_start_checkpoint(settings: Dict[str, Any]) -> Path:
    """
    <a id="warm-start"></a>

    ## Warm start

    A run may start from the weights of a finished run, named by its id in
    `settings['warm_start']`, rather than from random ones: a student first
    trained on the next bytes, then distilled. Only the weights are taken;
    the optimizer, the schedule and the step count start afresh. The id is
    part of the run's settings, so runs from two warm starts are two runs,
    and a finished run's weights never change.

    Returns the checkpoint of that run, which must be a finished run of this
    trainer in `settings['logs_dir']`, with the model's shape and finite weights.
    """
    run, logs_dir = settings['warm_start'], settings['logs_dir']
    # A run id is letters and digits: any other text, a glob pattern among them, names no run
    found = sorted(Path(logs_dir).glob(f'lm-*/{run}/checkpoints/checkpoint.pt')) if run.isalnum() else []
    if not found:
        raise RunNotFound(f'--warm-start {run}: no run with that id in {logs_dir}; give the id of a finished '
                          f'student of this --logs-dir')
    path = found[0]
    record = LMRecord.from_checkpoint(load_checkpoint(path, mmap=True), path)
    if record is None:
        raise RunNotFound(f'--warm-start {run}: {path} is not a checkpoint of the language-model trainer')
    if not record.finished:
        raise RunNotFound(f'--warm-start {run}: the run stopped at step {record.step} of {record.steps}; '
                          f'run its command again to finish it first')
    different = [f'--{k.replace("_", "-")} {record.settings.get(k)} against {settings[k]}' for k in SHAPE
                 if record.settings.get(k) != settings[k]]
    if different:
        raise RunNotFound(f'--warm-start {run} is a model of another shape ({", ".join(different)}); '
                          f'a warm start needs the same model')
    if not has_finite_weights(path):
        raise RunNotFound(f'--warm-start {run}: its weights are not finite numbers (its training diverged)')
    return path


def _train_run(c: LMConfigs, settings: Dict[str, Any], corpus: Corpus, key: str, uuid: str,
               resume: Optional[Dict[str, Any]], warm: Optional[Path]) -> LMRecord:
    """
    ### Train a run, under its lock
    """
    name, logs_dir = experiment_name(settings), settings['logs_dir']
    lab.configure({'path': str(Path.cwd()), 'experiments_path': str(Path(logs_dir).resolve())})
    # Plain lines when the output is not a terminal, and each warning once
    readable_output()
    if distributed.is_main():
        experiment.create(name=name, uuid=uuid, writers={'file'})
    else:
        # The other processes compute the same configurations and write nothing
        experiment.evaluate()
    # Seed before the model is made, so that its initial weights are the seed's
    torch.manual_seed(settings.get('seed', 0))
    # The corpus's folder (read above) and the profile are not configurations
    overrides = {k: v for k, v in settings.items() if k not in NOT_CONFIGURATIONS}
    if 'device' in settings:
        overrides['device'] = distributed.process_device(settings['device'])
    experiment.configs(c, overrides)
    model, optimizer, _ = c.model, c.optimizer, c.replica
    scheduler = learning_rate_schedule(optimizer, c.steps, 'one_cycle')
    # The windows' random numbers (and the on-policy ones), kept apart from dropout's
    generator = torch.Generator().manual_seed(c.seed)
    record = LMRecord(uuid=uuid, name=name, key=key, data_fingerprint=corpus.fingerprint, settings=settings,
                      model_name=c.model_name, seed=c.seed, steps=c.steps, data=describe(corpus),
                      parameters=sum(p.numel() for p in model.parameters()))
    if resume is not None:
        check_device_kind(resume, c.device, name, uuid)
        model.load_state_dict(resume['model'])
        optimizer.load_state_dict(resume['optimizer'])
        scheduler.load_state_dict(resume['scheduler'])
        generator.set_state(resume['rng']['windows'])
        torch.set_rng_state(resume['rng']['torch'])
        for k in ('step', 'history', 'valid_bpb', 'train_seconds'):
            setattr(record, k, resume[k])
        if distributed.is_main():
            print(f'Resuming {name} run {uuid} after step {record.step}')
    elif warm is not None:
        # A new run with a warm start: the finished run's weights replace the random ones
        model.load_state_dict(load_checkpoint(warm)['model'])
    path = checkpoint_path(logs_dir, name, uuid)
    try:
        with full_disk_message(path.parent.parent), experiment.start():
            _train_steps(c, record, corpus, scheduler, generator, path)
    except KeyboardInterrupt:
        # The checkpoint holds the steps up to the last measured one
        saved = record.history[-1][0] if record.history else 0
        raise Interrupted(f'after step {saved}' if saved else 'before its first checkpoint') from None
    return record


def _train_steps(c: LMConfigs, record: LMRecord, corpus: Corpus, scheduler, generator: torch.Generator,
                 path: Path):
    """
    ### The steps left, a checkpoint every `eval_every`
    """
    model, optimizer = c.model, c.optimizer
    data = training_bytes(corpus, c.train_bytes)
    c.prepare(data)
    valid = evenly_spaced_windows(corpus.valid, c.valid_windows, c.context + 1)
    model.train()
    started = time.perf_counter()
    # The loss summed on the device since the last measure, read only then:
    # reading it at every step would make the host wait for the device each time
    loss_sum, losses = torch.zeros((), device=c.device), 0
    # Every process draws the same global batch; the step keeps its slice
    while record.step < c.steps:
        starts = random_starts(len(data), c.batch_size, c.context + 1, generator)
        windows = windows_at(data, starts, c.context + 1).to(c.device)
        loss = c.step(windows, starts, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        record.step += 1
        loss_sum, losses = loss_sum + loss.detach(), losses + 1
        if record.step % c.eval_every and record.step < c.steps:
            continue
        tracker.save(record.step, {'loss.train': loss_sum / losses})
        loss_sum, losses = torch.zeros((), device=c.device), 0
        # A loss or a weight that is not a finite number ends the run
        # before anything of these steps is saved
        if not weights_are_finite(model):
            raise Diverged(f'{record.name} run {record.uuid} diverged before step {record.step}: the weights are '
                           f'no longer finite numbers. The last checkpoint is kept; try a lower --learning-rate.')
        record.train_seconds += time.perf_counter() - started
        record.valid_bpb = bits_per_byte(model, valid, c.device)
        record.history.append([record.step, record.valid_bpb])
        record.finished = record.step == c.steps
        if record.finished:
            test = evenly_spaced_windows(corpus.test, c.test_windows, c.context + 1)
            record.test_bpb = bits_per_byte(model, test, c.device)
        tracker.save(record.step, {'bpb.valid': record.valid_bpb})
        record.updated = time.time()
        # Rank 0 writes the checkpoint while the others wait: they hold the same state
        if distributed.is_main():
            print(f'{record.name} seed {record.seed} step {record.step}/{c.steps}: validation '
                  f'{record.valid_bpb:.3f} bits per byte, {record.train_seconds:.0f} s', flush=True)
            saved = record.fields() | {'model': model.state_dict(), 'optimizer': optimizer.state_dict(),
                                       'scheduler': scheduler.state_dict(),
                                       'device_type': torch.device(c.device).type,
                                       'rng': {'windows': generator.get_state(), 'torch': torch.get_rng_state()}}
            previous = f'of step {record.history[-2][0]}' if len(record.history) > 1 else None
            save_checkpoint(path, saved, f'of step {record.step}', previous)
        distributed.barrier()
        started = time.perf_counter()


@torch.inference_mode()
def bits_per_byte(model: nn.Module, windows: torch.Tensor, device: str, batch_size: int = 64) -> float:
    r"""
    ## Bits per byte

    The mean of $-\log_2 \mathrm{softmax}(z_i)_{x_{i+1}}$ over every position
    of `windows`, in evaluation mode.
    """
    was_training = model.training
    model.eval()
    total = 0.0
    for start in range(0, len(windows), batch_size):
        batch = windows[start:start + batch_size].to(device)
        logits = model(batch[:, :-1]).float()
        total += nn.functional.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten(), reduction='sum').item()
    model.train(was_training)
    return total / (windows[:, 1:].numel() * math.log(2))
