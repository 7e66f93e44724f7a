"""
`soft_target_loss` under `torch.compile(..., fullgraph=True)`: no graph
break (nothing is read back to Python), and the same value and gradient as
without compiling.

It compiles once, on a tiny input, with the `aot_eager` backend: TorchDynamo
captures the whole function and AOTAutograd its backward pass, as with the
default backend, without generating and building C++ code, which would take
most of a minute on a small CPU.
"""

import pytest
import torch

from labml_nn.distillation.loss import soft_target_loss


@pytest.mark.parametrize('settings', [{}, dict(divergence='reverse_kl'),
                                      dict(divergence='jsd', beta=0.3)],
                         ids=['forward_kl', 'reverse_kl', 'jsd'])
def test_fullgraph_compile_equals_eager(settings):
    generator = torch.Generator().manual_seed(0)
    student = torch.randn(3, 5, 7, generator=generator) * 3
    teacher = torch.randn(3, 5, 7, generator=generator) * 3
    # A mask: the number of valid samples is the count that used to be read back
    mask = torch.rand(3, 5, generator=generator) < 0.6
    teacher[0, 1, 2] = -float('inf')
    # The reverse KL of a class only the teacher rules out is infinite: rule it out for both
    if settings.get('divergence') == 'reverse_kl':
        student[0, 1, 2] = -float('inf')

    def value_and_gradient(loss_fn):
        leaf = student.clone().requires_grad_()
        value = loss_fn(leaf, teacher, 2.0, mask, **settings)
        value.backward()
        return value.detach(), leaf.grad

    compiled = torch.compile(soft_target_loss, fullgraph=True, backend='aot_eager')
    value, grad = value_and_gradient(compiled)
    expected_value, expected_grad = value_and_gradient(soft_target_loss)
    torch.testing.assert_close(value, expected_value)
    torch.testing.assert_close(grad, expected_grad)
