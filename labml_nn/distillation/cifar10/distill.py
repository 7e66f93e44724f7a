r"""
---
title: The distillation step
summary: >
  One training step of the student: augment the batch, the fixed teacher's
  logits, the student's logits, the soft-target term and the label term.
---

# The distillation step

The student is the [small model](small.html), trained by the
[trainer](trainer.html) like the baseline, with one
difference: its training step. On each batch of images $x$ with labels $y$,

1. the batch is augmented (random crop and flip), exactly as for the baseline;
2. the trained teacher, fixed, computes its logits $v$ on the same augmented images
   (or, with `--teacher-cache true`, they are looked up in a
   [cache of the teacher's logits of every view](teacher_cache.html), computed once);
3. the student computes its logits $z$;
4. the soft-target term compares the two at temperature $T$,
   $$\mathcal{L}_{soft} = T^2 \, \mathrm{KL}\big(\mathrm{softmax}(v / T) \,\|\, \mathrm{softmax}(z / T)\big)$$
5. the label term is the usual cross-entropy with the labels at $T = 1$,
   $\mathcal{L}_{label} = -\log \mathrm{softmax}(z)_y$;
6. the student minimizes $w_{soft} \, \mathcal{L}_{soft} + w_{label} \, \mathcal{L}_{label}$.

The $T^2$ keeps the soft term's gradients at the scale of the label term's
whatever $T$ is (the gradients of softened targets shrink as $1/T^2$), so
the weights $w_{soft}$ and $w_{label}$ need not change with $T$. The soft-target term is the
memory-lean [`soft_target_loss`](../loss.html); for importing both terms into
your own code, [`DistillationLoss`](../loss.html#distillation-loss) computes the
same sum.

```bash
python -m labml_nn.distillation.cifar10.train distilled --data-dir DIR --teacher latest
```
"""

import torch
from labml.configs import option
from torch import nn

from labml_nn.distillation.cifar10.data import crop_views, normalize, random_views
from labml_nn.distillation.cifar10.fixed_teacher import fixed_teacher
from labml_nn.distillation.cifar10.small import SmallConfigs
from labml_nn.distillation.cifar10.teacher import load_teacher
from labml_nn.distillation.cifar10.teacher_cache import TeacherCache, open_cache
from labml_nn.distillation.cifar10.trainer import autocast
from labml_nn.distillation.loss import soft_target_loss
from labml_nn.experiments import distributed


class DistillationConfigs(SmallConfigs):
    """
    ## Distillation configurations

    The small model's configurations, plus the teacher and the two weights.
    """
    # The teacher's checkpoint, a path
    teacher: str = ''
    # $T$, the temperature of the soft targets
    temperature: float = 4.0
    # $w_{soft}$ and $w_{label}$, the weights of the soft-target and label terms:
    # the soft term dominates, as in the paper's best results
    soft_target_weight: float = 0.9
    label_loss_weight: float = 0.1
    # The teacher, loaded by the option below
    teacher_model: nn.Module
    # Whether the teacher's logits are looked up in a [cache](teacher_cache.html)
    # of every view of the transfer set instead of computed at every step
    teacher_cache: bool = False
    # The cache of the transfer set's images (`train_images`, which the
    # trainer sets), opened or built by the option below
    teacher_outputs: TeacherCache

    def prepare(self):
        """
        Before the first epoch: open the teacher cache, building it if no
        file holds it yet, so that its building is not counted as training.
        """
        if self.teacher_cache:
            # Reading the setting runs its option, once
            _ = self.teacher_outputs

    def step(self, images: torch.Tensor, labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        r"""
        <a id="step"></a>

        ## One distillation step

        `images` is the global batch of `uint8` images on the device, `labels`
        their classes; returns the loss the student minimizes.
        """
        # 1. Augment the global batch: a random view of each image (every
        # process draws the same random numbers), cut out; keep this
        # process's slice and normalize it: the teacher and the student see
        # the same images $x$
        views = random_views(images.shape[0], generator, images.device)
        x = normalize(distributed.local_part(crop_views(images, views)))
        labels = distributed.local_part(labels)
        # 2. The teacher's logits $v$. It is fixed: in evaluation mode, with
        # no gradients; `inference_mode` records nothing for autograd, and
        # `clone` makes its output an ordinary tensor that the loss may keep.
        # It is not wrapped for several processes: each computes the
        # teacher's logits of its own slice, and nothing of it is synchronized
        if not self.teacher_cache:
            with torch.inference_mode(), autocast(self):
                teacher_logits = self.teacher_model(x)
            teacher_logits = teacher_logits.clone()
        else:
            # With the [teacher cache](teacher_cache.html), the same logits,
            # computed once: looked up for this process's images, each in its view
            teacher_logits = self.teacher_outputs.lookup(distributed.local_part(images),
                                                         distributed.local_part(views.numbers()))
        # 3. The student's logits $z$, through its replica, which averages
        # its gradients over the processes under torchrun
        with autocast(self):
            student_logits = self.replica(x)
        # 4. The soft-target term,
        # $\mathcal{L}_{soft} = T^2 \, \mathrm{KL}\big(\mathrm{softmax}(v / T) \,\|\, \mathrm{softmax}(z / T)\big)$,
        # averaged over the batch
        soft = soft_target_loss(student_logits, teacher_logits, self.temperature)
        # 5. The label term, $\mathcal{L}_{label} = -\log \mathrm{softmax}(z)_y$, averaged over the batch
        label = nn.functional.cross_entropy(student_logits.float(), labels)
        # 6. $w_{soft} \, \mathcal{L}_{soft} + w_{label} \, \mathcal{L}_{label}$
        return self.soft_target_weight * soft + self.label_loss_weight * label


@option(DistillationConfigs.teacher_model)
def _teacher_model(c: DistillationConfigs) -> nn.Module:
    """
    The teacher, loaded from its checkpoint onto the device, then made a
    [fixed, fast function](fixed_teacher.html) of the images, compiled
    like the student when `compile` is set.
    """
    teacher = load_teacher(c.teacher, c.classes).to(c.device, memory_format=torch.channels_last)
    return fixed_teacher(teacher, c.bf16, c.compile)


@option(DistillationConfigs.teacher_outputs)
def _teacher_outputs(c: DistillationConfigs) -> TeacherCache:
    """
    The [teacher cache](teacher_cache.html#open-cache) of the transfer set,
    found on disk or built from the teacher above.
    """
    return open_cache(c, c.teacher, c.train_images, lambda: c.teacher_model)
