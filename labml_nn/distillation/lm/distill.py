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
$\alpha \, \mathcal{L}_{soft} + \beta_{label} \, \mathcal{L}_{label}$.

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

```bash
python -m labml_nn.distillation.lm.train distilled --profile cpu --teacher latest
```
"""

from pathlib import Path

import torch
from labml.configs import option
from torch import nn

from labml_nn.distillation.loss import soft_target_loss
from labml_nn.distillation.lm.trainer import LMConfigs, LMRecord, experiment_name
from labml_nn.distillation.lm.transformer import ByteTransformer, sample
from labml_nn.experiments import distributed
from labml_nn.experiments.runs import find_runs, load_checkpoint

DIVERGENCES = ('forward_kl', 'reverse_kl', 'jsd')


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
    # $\alpha$ and $\beta_{label}$, the weights of the soft-target and label terms
    soft_target_weight: float = 0.9
    label_loss_weight: float = 0.1
    # $\lambda$, the fraction of on-policy batches, and the bytes the student writes in each window
    on_policy: float = 0.0
    sampled_bytes: int = 32
    # The teacher, loaded by the option below
    teacher_model: nn.Module

    def step(self, windows: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        r"""
        <a id="step"></a>

        ## One distillation step

        `windows` is the global batch, `[batch, context + 1]` bytes of the
        corpus; returns the loss the student minimizes on this process's slice.
        """
        # 0. A coin that comes up with probability $\lambda$ makes the step
        # on-policy: the student rewrites the last `sampled_bytes` of each
        # window, sampling at $T = 1$ from its own predictions. Every process
        # samples the whole global batch with the same random numbers, then
        # keeps its slice, as one process would
        data_targets = torch.ones_like(windows[:, 1:], dtype=torch.bool)
        if torch.rand((), generator=generator) < self.on_policy:
            kept = windows.shape[1] - self.sampled_bytes
            windows = sample(self.model, windows[:, :kept], self.sampled_bytes, generator)
            data_targets[:, kept - 1:] = False
        windows, data_targets = distributed.local_part(windows), distributed.local_part(data_targets)
        inputs = windows[:, :-1]
        # 1. The teacher's logits $v_i$ at every position. It is fixed: no
        # gradients, evaluation mode; `clone` turns the inference tensor into
        # an ordinary one that the loss may keep for its backward pass
        with torch.inference_mode():
            teacher_logits = self.teacher_model(inputs)
        teacher_logits = teacher_logits.clone()
        # 2. The student's logits $z_i$, through its replica, which averages
        # its gradients over the processes under torchrun
        student_logits = self.replica(inputs)
        # 3. The soft-target term: $T^2$ times the divergence, averaged over
        # every position, the student's own bytes included
        soft = soft_target_loss(student_logits, teacher_logits, self.temperature,
                                divergence=self.divergence, beta=self.beta)
        # 4. The label term, $-\log \mathrm{softmax}(z_i)_{x_{i+1}}$, averaged over the positions whose next byte is data
        label = nn.functional.cross_entropy(student_logits[data_targets], windows[:, 1:][data_targets])
        # 5. $\alpha \, \mathcal{L}_{soft} + \beta_{label} \, \mathcal{L}_{label}$
        return self.soft_target_weight * soft + self.label_loss_weight * label


@option(DistillationConfigs.teacher_model)
def _teacher_model(c: DistillationConfigs) -> nn.Module:
    """
    The teacher, loaded onto the device in evaluation mode.
    """
    return load_model(c.teacher, c.context).to(c.device).eval().requires_grad_(False)


class RunNotFound(Exception):
    """
    No checkpoint where the command looked, or one that does not fit.
    """


def find_teacher(spec: str, logs_dir: str, profile: str) -> Path:
    """
    ## Finding the teacher

    `latest`: the newest finished teacher run of the profile; a run id;
    or a checkpoint path.
    """
    name = experiment_name({'model_name': 'teacher', 'profile': profile})
    runs = Path(logs_dir) / name
    if spec == 'latest':
        finished = [r for r in find_runs(logs_dir, name, LMRecord) if r.finished]
        if not finished:
            raise RunNotFound(f'no finished teacher in {runs}; train one first: '
                              f'python -m labml_nn.distillation.lm.train teacher --profile {profile}')
        return finished[0].path
    path = Path(spec) if Path(spec).suffix == '.pt' else runs / spec / 'checkpoints' / 'checkpoint.pt'
    if not path.is_file():
        raise RunNotFound(f'--teacher {spec}: no checkpoint at {path}')
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
