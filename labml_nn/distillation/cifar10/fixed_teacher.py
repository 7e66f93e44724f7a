r"""
---
title: A fixed teacher, made fast
summary: >
  The teacher never changes during distillation, so it can be made faster in
  ways a trained model allows: batch normalization folded into the
  convolutions, and on a CPU its weights packed once into oneDNN's layout.
---

# A fixed teacher, made fast

During distillation the teacher runs forward at every step and never learns:
on a CPU its forward pass is most of a step's time. Since its weights are
fixed, two rewrites compute the same logits, up to rounding, for less work:

1. [fold batch normalization](#fold) into the convolution before it, one
   pass less over every feature map;
2. on a CPU, [pack the weights](#packed) once into the memory layout and
   precision of oneDNN, the library PyTorch's CPU convolutions run on;
   elsewhere, when asked, compile it with `torch.compile`.

[`fixed_teacher`](#fixed-teacher) applies them; the distillation step and the
throughput benchmarks use it.
"""

import torch
from torch import nn

from labml_nn.distillation.cifar10.vgg import CIFAR10VGGModel


def fixed_teacher(teacher: CIFAR10VGGModel, bf16: bool, compiled: bool = False) -> nn.Module:
    """
    <a id="fixed-teacher"></a>

    ## The teacher as a fixed function of the images

    In evaluation mode, with no gradients, and made faster in ways that only
    a fixed model allows; compiled too when `compiled` is set, except on a
    CPU, where the packed weights are already the fast path (and
    `torch.compile` cannot trace oneDNN's packed convolutions).
    """
    # Batch normalization folded into the convolutions: the same function, one pass less
    teacher = fold_batch_norm(teacher.eval().requires_grad_(False))
    # On a CPU, the weights converted once into oneDNN's layout and precision
    if teacher.fc.weight.device.type == 'cpu' and torch.backends.mkldnn.is_available():
        return PackedForCPU(teacher, torch.bfloat16 if bf16 else torch.float32)
    return torch.compile(teacher) if compiled else teacher


@torch.no_grad()
def fold_batch_norm(model: CIFAR10VGGModel) -> CIFAR10VGGModel:
    r"""
    <a id="fold"></a>

    ## Folding batch normalization into the convolutions

    In evaluation mode batch normalization is a fixed affine map per channel,
    $y = \gamma \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} + \beta$ with the
    running mean $\mu$ and variance $\sigma^2$. Applied to a convolution's
    output $x = W * u + b$ it is the same as one convolution with
    $W' = s W$ and $b' = s (b - \mu) + \beta$, where
    $s = \gamma / \sqrt{\sigma^2 + \epsilon}$ per output channel. A fixed
    teacher computes the same logits, up to rounding, with one pass less over
    every feature map. Dropout layers, no-ops in evaluation mode, go too.
    `model` is changed in place and returned; it can only be used for
    inference afterwards.
    """
    if model.training:
        raise RuntimeError('fold_batch_norm() needs the model in evaluation mode: call .eval() first')
    folded = []
    for layer in model.layers:
        if isinstance(layer, nn.BatchNorm2d):
            conv = folded[-1]
            # $s = \gamma / \sqrt{\sigma^2 + \epsilon}$
            scale = layer.weight / torch.sqrt(layer.running_var + layer.eps)
            # $W' = s W$ and $b' = s (b - \mu) + \beta$
            conv.weight.mul_(scale.view(-1, 1, 1, 1))
            conv.bias.copy_((conv.bias - layer.running_mean) * scale + layer.bias)
        elif not isinstance(layer, nn.Dropout):
            folded.append(layer)
    # The new container is in evaluation mode too, like everything in it
    model.layers = nn.Sequential(*folded).eval()
    return model


class PackedForCPU(nn.Module):
    r"""
    <a id="packed"></a>

    ## A fixed model, its weights packed once for the CPU

    On a CPU, PyTorch runs convolutions through oneDNN, which works on tensors
    in a blocked memory layout of its own. An ordinary call converts each
    convolution's weights into that layout (and, under bfloat16 autocast, to
    bfloat16) every time, and converts each feature map in and out. A
    teacher's weights never change, so here they are converted once, and the
    feature maps stay in oneDNN's layout from the first convolution to the
    last pool. On a 2-core server CPU (virtual machine), that took the
    large model's bfloat16 forward pass at batch 64 from 90 to 98 ms down to
    about 78 ms.

    `model` must have its batch normalization folded in
    (`fold_batch_norm`): oneDNN tensors go through convolutions, ReLUs and
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
                             'call fold_batch_norm(model.eval()) first')
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
