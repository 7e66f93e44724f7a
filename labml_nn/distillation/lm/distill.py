r"""
---
title: Distilling a language model, one step
summary: >
  The distilled student's training step: the teacher's and the student's
  logits at every position, the soft-target term with a choice of
  divergence, the label term, and on-policy batches the student samples itself.
---

# Distilling a language model

A language model is a classifier of the next byte at every position, so
[Hinton's soft targets](../loss.html) apply position by position: at each
position $i$ of a window the teacher's logits $v_i$ give a distribution
$p_i = \mathrm{softmax}(v_i / T)$ over the 256 bytes, the student's logits
$z_i$ give $q_i = \mathrm{softmax}(z_i / T)$, and the soft-target term
averages a divergence between them over every position of every window:

* **forward KL**, $\mathrm{KL}(p_i \| q_i)$, the paper's choice: the student
  must put probability wherever the teacher does (*mean-seeking*);
* **reverse KL**, $\mathrm{KL}(q_i \| p_i)$: the student is punished for
  probability where the teacher has little (*mode-seeking*), the choice of
  MiniLLM (Gu et al., 2024);
* **JSD** with $\beta = 0.5$, the Jensen-Shannon divergence
  $\frac{1}{2}\mathrm{KL}(p_i \| m_i) + \frac{1}{2}\mathrm{KL}(q_i \| m_i)$
  with $m_i = \frac{1}{2}(p_i + q_i)$, which lies between the two and is bounded.

Each is multiplied by $T^2$, and the label term is the usual cross-entropy of
the next byte; the student minimizes
$w_{soft} \, \mathcal{L}_{soft} + w_{label} \, \mathcal{L}_{label}$.

## On-policy distillation

Trained on the corpus's windows only, the student learns the teacher's
predictions on text it will never write itself; when it generates, its own
mistakes take it to contexts it never trained on. Generalized knowledge
distillation (GKD, Agarwal et al., 2024) trains it also on its own
samples: with probability $\lambda$ a batch's windows keep their first bytes
from the corpus and have their last `sampled_bytes` bytes *written by the
student*; the teacher scores every position of them, and the soft-target
term teaches the student what the teacher would have predicted there. The
label term leaves out the sampled bytes: they are not data. $\lambda = 0$ is
ordinary distillation.

GKD and MiniLLM start from a student already trained on the task. A
[warm start](trainer.html#warm-start) does the same here: the distilled
student begins with the weights of a finished student trained on the next bytes.

## Stored targets

With `targets` other than `'online'` no teacher runs during training: its
targets at every position of the training bytes are computed once,
[stored](target_cache.html) densely, as top-k log-probabilities or as sampled
bytes, and [looked up](#stored-target-loss) for each window. On-policy
batches need the teacher online, to score the bytes the student writes.

```bash
python -m labml_nn.distillation.lm.train distilled --profile cpu --teacher latest
python -m labml_nn.distillation.lm.train distilled --profile cpu --teacher latest --targets top-k --target-size 8
```
"""

from functools import partial
from pathlib import Path

import torch
from labml.configs import option
from torch import nn

from labml_nn.distillation.fused_loss import fused_linear_distillation_loss
from labml_nn.distillation.lm.target_cache import TargetCache, open_target_cache
from labml_nn.distillation.lm.trainer import LMConfigs, LMRecord, RunNotFound, experiment_name
from labml_nn.distillation.lm.transformer import ByteTransformer, sample
from labml_nn.distillation.loss import DistillationLoss, soft_target_loss
from labml_nn.distillation.sparse_targets import SparseDistillationLoss
from labml_nn.experiments import distributed
from labml_nn.experiments.runs import find_runs, has_finite_weights, load_checkpoint


class DistillationConfigs(LMConfigs):
    """
    ## Distillation configurations

    The student's configurations, plus the teacher, the divergence, the two
    weights and the on-policy fraction.
    """
    # The teacher's checkpoint, a path
    teacher: str = ''
    # $T$; at $T = 1$ the soft targets are the teacher's own predictions, as in GKD and MiniLLM
    temperature: float = 1.0
    # `'forward_kl'`, `'reverse_kl'` or `'jsd'`, and JSD's $\beta$
    divergence: str = 'forward_kl'
    beta: float = 0.5
    # $w_{soft}$ and $w_{label}$, the weights of the soft-target and label terms
    soft_target_weight: float = 0.9
    label_loss_weight: float = 0.1
    # $\lambda$, the fraction of on-policy batches, and the bytes the student writes in each window
    on_policy: float = 0.0
    sampled_bytes: int = 32
    # Where the teacher's targets come from: `'online'`, the teacher run at
    # every step, or [stored](target_cache.html) once, `'dense'`, `'top-k'` or
    # `'sampled'`, with `target_size` entries for each byte (the $k$, or the draws)
    targets: str = 'online'
    target_size: int = 0
    # The teacher, loaded by the option below
    teacher_model: nn.Module

    def prepare(self, data: torch.Tensor):
        """
        With stored targets, the cache of the teacher's targets at every
        position of the training bytes `data`, read, or built and written.
        """
        self._stored_targets = None if self.targets == 'online' else open_target_cache(
            self.logs_dir, self.teacher_model, data, self.context, self.targets, self.target_size,
            self.temperature)

    def step(self, windows: torch.Tensor, starts: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        r"""
        <a id="step"></a>

        ## One distillation step

        `windows` is the global batch, `[batch, context + 1]` bytes of the
        corpus, cut at `starts`; returns the loss the student minimizes on this
        process's slice.
        """
        # A coin that comes up with probability $\lambda$ makes the step
        # on-policy: the student rewrites the last `sampled_bytes` of each
        # window, sampling at $T = 1$ from its own predictions. Every process
        # samples the whole global batch with the same random numbers, then
        # keeps its slice, as one process would
        data_targets = torch.ones_like(windows[:, 1:], dtype=torch.bool)
        on_policy = bool(torch.rand((), generator=generator) < self.on_policy)
        # Stored targets are the teacher's on the corpus alone, so $\lambda = 0$ with them
        if self._stored_targets is not None:
            return self.stored_target_loss(distributed.local_part(windows), distributed.local_part(starts),
                                           self._stored_targets)
        if on_policy:
            kept = windows.shape[1] - self.sampled_bytes
            windows = sample(self.model, windows[:, :kept], self.sampled_bytes, generator)
            data_targets[:, kept - 1:] = False
        return self.fused_loss(distributed.local_part(windows), distributed.local_part(data_targets), on_policy)

    def plain_loss(self, windows: torch.Tensor, data_targets: torch.Tensor) -> torch.Tensor:
        r"""
        <a id="plain-loss"></a>

        ## The loss, from the logits

        The loss as the paper writes it, from the full logits
        `[batch, context, 256]`: the soft-target term on every position, the
        label term on the positions whose next byte is data (`data_targets`).
        """
        inputs = windows[:, :-1]
        # 1. The teacher's logits $v_i$. It is fixed: no gradients, evaluation
        # mode; `clone` turns the inference tensor into an ordinary one that
        # the loss may keep for its backward pass
        with torch.inference_mode():
            teacher_logits = self.teacher_model(inputs)
        # 2. The student's logits $z_i$, through its replica, which averages
        # its gradients over the processes under torchrun
        student_logits = self.replica(inputs)
        # 3. $T^2$ times the divergence, averaged over every position
        soft = soft_target_loss(student_logits, teacher_logits.clone(), self.temperature,
                                divergence=self.divergence, beta=self.beta)
        # 4. $-\log \mathrm{softmax}(z_i)_{x_{i+1}}$, averaged over the positions whose next byte is data
        label = nn.functional.cross_entropy(student_logits[data_targets], windows[:, 1:][data_targets])
        # 5. $w_{soft} \, \mathcal{L}_{soft} + w_{label} \, \mathcal{L}_{label}$
        return self.soft_target_weight * soft + self.label_loss_weight * label

    def fused_loss(self, windows: torch.Tensor, data_targets: torch.Tensor, on_policy: bool) -> torch.Tensor:
        r"""
        <a id="fused-loss"></a>

        ## The same loss, never holding the logits

        The logits are `[batch, context, vocabulary]`, and a language model's
        vocabulary has tens of thousands of entries: held whole, with their
        softmaxes and gradients, they are most of a step's memory. Their
        inputs are small, the last hidden states `[batch, context, d_model]`
        and the output layer's weight $W$, so the step hands those to the
        [fused loss](../fused_loss.html), which makes $z_i = W h_i$ (and the
        teacher's $v_i = W' h'_i$) for a chunk of positions at a time, takes
        that chunk's loss and gradient, and lets it go. The number and the
        gradients are [the plain loss's](#plain-loss); the test checks both.
        With 256 bytes the saving is small here; the step is written the way
        a large vocabulary needs.
        """
        inputs, labels = windows[:, :-1], windows[:, 1:]
        # The teacher is loaded on first use: here, outside inference mode,
        # since its output layer's weight goes into the loss below
        teacher = self.teacher_model
        with torch.inference_mode():
            teacher_hidden = teacher(inputs, hidden=True)
        student_hidden = self.replica(inputs, hidden=True)
        fused = partial(fused_linear_distillation_loss, student_hidden, self.model.head.weight,
                        teacher_hidden.clone(), teacher.head.weight,
                        temperature=self.temperature, divergence=self.divergence, beta=self.beta)
        if not on_policy:
            return fused(labels, soft_target_weight=self.soft_target_weight, label_loss_weight=self.label_loss_weight)
        # On an on-policy step the two terms count different positions (the
        # student's own bytes are no labels), so each is a call of its own
        loss = torch.zeros((), device=student_hidden.device)
        if self.soft_target_weight:
            loss = loss + fused(None, soft_target_weight=self.soft_target_weight, label_loss_weight=0.0)
        if self.label_loss_weight:
            loss = loss + fused(labels.masked_fill(~data_targets, IGNORED), soft_target_weight=0.0,
                                label_loss_weight=self.label_loss_weight, ignore_index=IGNORED)
        return loss

    def stored_target_loss(self, windows: torch.Tensor, starts: torch.Tensor, stored: TargetCache) -> torch.Tensor:
        r"""
        <a id="stored-target-loss"></a>

        ## The loss, from stored targets

        No teacher runs: the teacher's targets for the positions of the
        windows that start at `starts` are looked up in the
        [cache](target_cache.html). Dense ones are log-probabilities, which
        [`DistillationLoss`](../loss.html#distillation-loss) takes as the
        teacher's logits ($\mathrm{softmax}(\log p / T) = \mathrm{softmax}(v / T)$);
        top-k and sampled ones go to
        [`SparseDistillationLoss`](../sparse_targets.html#sparse-distillation-loss).
        Both add the label term, on every position.
        """
        inputs, labels = windows[:, :-1], windows[:, 1:]
        teacher_targets = stored.at(starts, inputs.shape[1], inputs.device)
        weights = dict(soft_target_weight=self.soft_target_weight, label_loss_weight=self.label_loss_weight)
        if stored.form == 'dense':
            loss = DistillationLoss(self.temperature, divergence=self.divergence, beta=self.beta, **weights)
        else:
            loss = SparseDistillationLoss(self.temperature, **weights)
        return loss(self.replica(inputs), teacher_targets, labels)


# The label of a position the label term leaves out
IGNORED = -100


@option(DistillationConfigs.teacher_model)
def _teacher_model(c: DistillationConfigs) -> nn.Module:
    """
    The teacher, loaded onto the device in evaluation mode.
    """
    return load_model(c.teacher, c.context).to(c.device).eval().requires_grad_(False)


def find_teacher(spec: str, logs_dir: str, profile: str) -> Path:
    """
    ## Finding the teacher

    `latest`: the newest finished teacher run of the profile; a run id;
    or a checkpoint path.
    """
    name = experiment_name({'model_name': 'teacher', 'profile': profile})
    runs = Path(logs_dir) / name
    if spec == 'latest':
        finished = [r for r in find_runs(logs_dir, name, LMRecord) if r.finished and has_finite_weights(r.path)]
        if not finished:
            raise RunNotFound(f'no finished teacher with finite weights in {runs}; train one first: '
                              f'python -m labml_nn.distillation.lm.train teacher --profile {profile}')
        return finished[0].path
    path = Path(spec) if Path(spec).suffix == '.pt' else runs / spec / 'checkpoints' / 'checkpoint.pt'
    if not path.is_file():
        raise RunNotFound(f'--teacher {spec}: no checkpoint at {path}')
    return check_teacher(path)


def check_teacher(path: Path) -> Path:
    """
    A teacher named by its path must be a finished language-model teacher
    of this trainer with finite weights: a student's checkpoint, an
    unfinished teacher, a CIFAR-10 checkpoint or a diverged one is refused
    with a message saying which.
    """
    state = load_checkpoint(path, mmap=True)
    record = LMRecord.from_checkpoint(state, path)
    command = 'python -m labml_nn.distillation.lm.train teacher'
    if record is None or not isinstance(state.get('model'), dict):
        raise RunNotFound(f'{path} is not a checkpoint of the language-model trainer; --teacher needs a teacher '
                          f'trained with\n  {command}')
    if record.model_name != 'teacher':
        raise RunNotFound(f"{path} is a {record.model_name}'s checkpoint, not a teacher's; train one with\n  {command}")
    if not record.finished:
        raise RunNotFound(f'{path} is a teacher stopped at step {record.step} of {record.steps}; run its command '
                          f'again to finish it')
    if not has_finite_weights(path):
        raise RunNotFound(f'{path} has weights that are not finite numbers (its training diverged); it cannot teach')
    return path


def load_model(path: str, context: int) -> ByteTransformer:
    """
    The model of a checkpoint of this trainer, the teacher's for example, which must
    see at least `context` bytes.
    """
    state = load_checkpoint(Path(path))
    if not isinstance(state, dict) or 'model' not in state or 'settings' not in state:
        raise RunNotFound(f'{path} is not a checkpoint of this trainer')
    settings = state['settings']
    shape = {k: settings[k] for k in ('context', 'd_model', 'layers', 'heads')}
    if shape['context'] < context:
        raise RunNotFound(f'the teacher {path} sees {shape["context"]} bytes, fewer than the student\'s '
                              f'context {context}; train the student with --context {shape["context"]} or less')
    model = ByteTransformer(**shape)
    model.load_state_dict(state['model'])
    return model
