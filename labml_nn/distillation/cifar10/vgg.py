r"""
---
title: A VGG-style model for CIFAR-10
summary: >
  The convolutional base shared by the large teacher and the small student:
  blocks of 3x3 convolutions with batch normalization, each ending in max-pooling.
---

# A VGG-style model for CIFAR-10

Both models of the distillation study share one shape, after
[Simonyan and Zisserman (2014)](https://arxiv.org/abs/1409.1556): five blocks of
$3 \times 3$ convolutions, each followed by batch normalization and a ReLU,
each block ending in a $2 \times 2$ max-pool. Five pools take a
$32 \times 32$ image down to $1 \times 1$, and one linear layer maps the last
block's channels to the 10 classes.

The teacher and the student differ only in how many channels each
convolution has (and in dropout), so the comparison between them is about
capacity, not architecture.

In evaluation mode, batch normalization uses its running statistics, so the
output for one image never depends on the other images in the batch.
"""

from typing import List

import torch
from torch import nn


class CIFAR10VGGModel(nn.Module):
    """
    ## The model

    * `blocks` lists, for each of the five blocks, the output channels of its
      convolutions; `[[64, 64], [128, 128], ...]` is VGG-16's start.
    * `dropout` is the probability of dropping an input feature before each
      convolution; `0` leaves dropout out.
    * `classes` is the number of outputs, CIFAR-10's 10 by default.
    """

    def __init__(self, blocks: List[List[int]], dropout: float = 0.0, classes: int = 10):
        super().__init__()
        if len(blocks) != 5:
            raise ValueError(f'a CIFAR-10 VGG model needs 5 blocks (32 -> 1 pixel through '
                             f'five 2x2 pools), got {len(blocks)}')
        layers = []
        in_channels = 3
        for block in blocks:
            for out_channels in block:
                # Dropout on the block's input features, when asked for
                if dropout > 0:
                    layers.append(nn.Dropout(dropout))
                # $3 \times 3$ convolution that keeps the spatial size, then
                # batch normalization and a ReLU
                layers += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
                           nn.BatchNorm2d(out_channels),
                           nn.ReLU(inplace=True)]
                in_channels = out_channels
            # Halve the height and width at the end of each block
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.layers = nn.Sequential(*layers)
        # A linear layer from the last block's channels to the classes
        self.fc = nn.Linear(in_channels, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        `x` is a batch of normalized images, `[batch, 3, 32, 32]`; returns logits, `[batch, classes]`.
        """
        # After five pools the feature map is $1 \times 1$
        x = self.layers(x)
        return self.fc(x.flatten(1))
