"""
---
title: The small student model for CIFAR-10
summary: >
  A VGG-style network with 437 thousand parameters, trained on labels alone
  as the baseline, and from the teacher in the distillation run.
---

# The small student

The student of the [distillation study](../index.html) has the same
[VGG-style shape](vgg.html) as the
[large teacher](large.html) but far fewer channels, 32 to 128, one
convolution in each of the last three blocks, and no dropout: 437,034
parameters.

Trained on the labels alone, by [the training command](train.html), it is
the baseline that distillation has to beat:

```bash
python -m labml_nn.distillation.cifar10.train small --data-dir DIR
```
"""

from labml_nn.distillation.cifar10.trainer import Configs
from labml_nn.distillation.cifar10.vgg import CIFAR10VGGModel


class SmallModel(CIFAR10VGGModel):
    """
    ## The model
    """

    def __init__(self, classes: int = 10):
        super().__init__([[32, 32], [64, 64], [128], [128], [128]], classes=classes)


class SmallConfigs(Configs):
    """
    ## Training the student

    The [trainer's configurations](trainer.html) with this
    model: the baseline on labels, and the base of the
    [distillation configurations](distill.html).
    """
    model_class = SmallModel

