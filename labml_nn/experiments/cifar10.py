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

    @torch.no_grad()
    def fold_batch_norm(self) -> 'CIFAR10VGGModel':
        r"""
        ## Folding batch normalization into the convolutions

        In evaluation mode batch normalization is a fixed affine map per channel,
        $y = \gamma \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta$ with the
        running mean $\mu$ and variance $\sigma^2$. Applied to a convolution's
        output $x = W * u + b$ it is the same as one convolution with
        $W' = s W$ and $b' = s (b - \mu) + \beta$, where
        $s = \gamma / \sqrt{\sigma^2 + \epsilon}$ per output channel. A fixed
        teacher computes the same logits, up to rounding, with one pass less over
        every feature map. Dropout layers, no-ops in evaluation mode, go too.
        The model can only be used for inference afterwards.
        """
        if self.training:
            raise RuntimeError('fold_batch_norm() needs the model in evaluation mode: call .eval() first')
        folded = []
        for layer in self.layers:
            if isinstance(layer, nn.BatchNorm2d):
                conv = folded[-1]
                # $s = \gamma / \sqrt{\sigma^2 + \epsilon}$
                scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)
                conv.weight.mul_(scale.view(-1, 1, 1, 1))
                conv.bias.copy_((conv.bias - layer.running_mean) * scale + layer.bias)
            elif not isinstance(layer, nn.Dropout):
                folded.append(layer)
        # The new container is in evaluation mode too, like everything in it
        self.layers = nn.Sequential(*folded).eval()
        return self


class PackedForCPU(nn.Module):
    r"""
    ## A fixed model, its weights packed once for the CPU

    On a CPU, PyTorch runs convolutions through oneDNN, which works on tensors
    in a blocked memory layout of its own. An ordinary call converts each
    convolution's weights into that layout (and, under bfloat16 autocast, to
    bfloat16) every time, and converts each feature map in and out. A
    teacher's weights never change, so here they are converted once, and the
    feature maps stay in oneDNN's layout from the first convolution to the
    last pool. On the 2-core CPU this project is developed on, that took the
    large model's bfloat16 forward pass at batch 64 from 90 to 98 ms down to
    about 78 ms.

    `model` must have its batch normalization folded in
    (`fold_batch_norm()`): oneDNN tensors go through convolutions, ReLUs and
    pools, not batch normalization. `dtype` is the convolutions' precision,
    `torch.bfloat16` or `torch.float32`. The wrapper is for inference only
    (under `torch.inference_mode()` or `torch.no_grad()`), and it packs
    `model`'s weights as they are when it is made: later changes to them are
    not seen.
    """

    def __init__(self, model: CIFAR10VGGModel, dtype: torch.dtype = torch.float32):
        super().__init__()
        if any(isinstance(m, (nn.BatchNorm2d, nn.Dropout)) for m in model.layers):
            raise ValueError('PackedForCPU needs batch normalization folded in: '
                             'call model.eval().fold_batch_norm() first')
        # The model itself, for its layers' settings and its `state_dict`
        self.model = model
        self.dtype = dtype
        # Each convolution's weight and bias as oneDNN tensors; `None` for the other layers
        self.packed = [(layer.weight.detach().to_mkldnn(dtype), layer.bias.detach().to_mkldnn())
                       if isinstance(layer, nn.Conv2d) else None
                       for layer in model.layers]
        self.eval()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """
        `x` is a batch of normalized images on the CPU; returns float32 logits
        (bfloat16 under autocast, which runs the linear layer in bfloat16).
        """
        x = x.to_mkldnn(self.dtype)
        for layer, packed in zip(self.model.layers, self.packed):
            if packed is None:
                # ReLU and max-pooling take oneDNN tensors as they are
                x = layer(x)
            else:
                x = torch.mkldnn_convolution(x, *packed, layer.padding, layer.stride,
                                             layer.dilation, layer.groups)
        # Back to an ordinary float32 tensor for the small linear layer
        return self.model.fc(x.to_dense().float().flatten(1))
