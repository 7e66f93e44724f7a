"""
---
title: The large teacher model for CIFAR-10
summary: >
  A VGG-16-sized network with 14.7 million parameters that the small student
  learns from.
---

# The large teacher

This is the teacher of the [distillation study](../index.html): a
[VGG-style model](vgg.html) with VGG-16's thirteen
convolutions, from 64 to 512 channels, and dropout of $0.1$ before each
convolution. It has 14,728,266 parameters, 34 times as many as the
[small student](small.html).

Train it with [the training command](train.html)

```bash
python -m labml_nn.distillation.cifar10.train large --data-dir DIR
```

The distillation run finds the newest trained teacher with `--teacher latest`.
"""

from labml_nn.distillation.cifar10.trainer import Configs
from labml_nn.distillation.cifar10.vgg import CIFAR10VGGModel


class LargeModel(CIFAR10VGGModel):
    """
    ## The model
    """

    def __init__(self, classes: int = 10):
        # Five blocks: two convolutions each in the first two, three in the others
        super().__init__([[64, 64], [128, 128], [256, 256, 256], [512, 512, 512], [512, 512, 512]],
                         dropout=0.1, classes=classes)


class LargeConfigs(Configs):
    """
    ## Training the teacher

    The [trainer's configurations](trainer.html), which make
    the model of `model_class`: this one.
    """
    model_class = LargeModel

