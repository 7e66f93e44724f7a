"""
The language model's distillation step: the fused loss, from hidden states
and output layers, gives the number and the gradients of the plain loss
from the full logits, on ordinary and on on-policy batches, for each
divergence; and the loss from stored targets is the online loss where the
teacher saw the same bytes.
"""

from types import SimpleNamespace

import pytest
import torch

from labml_nn.distillation.lm.distill import DistillationConfigs
from labml_nn.distillation.lm.target_cache import build_cache
from labml_nn.distillation.lm.transformer import ByteTransformer


def _step_settings(divergence: str, label_loss_weight: float) -> SimpleNamespace:
    torch.manual_seed(0)
    student = ByteTransformer(context=12, d_model=16, layers=1, heads=2)
    teacher = ByteTransformer(context=12, d_model=24, layers=2, heads=2).eval()
    return SimpleNamespace(model=student, replica=student, teacher_model=teacher, temperature=2.0,
                           divergence=divergence, beta=0.5, soft_target_weight=0.7,
                           label_loss_weight=label_loss_weight)


@pytest.mark.parametrize('divergence', ['forward_kl', 'reverse_kl', 'jsd'])
@pytest.mark.parametrize('on_policy, label_loss_weight', [(False, 0.3), (True, 0.3), (True, 0.0)])
def test_fused_step_is_the_plain_step(divergence, on_policy, label_loss_weight):
    c = _step_settings(divergence, label_loss_weight)
    windows = torch.randint(0, 256, (3, 13), generator=torch.Generator().manual_seed(1))
    data_targets = torch.ones(3, 12, dtype=torch.bool)
    if on_policy:
        data_targets[:, 8:] = False
    losses, gradients = [], []
    for loss in (lambda: DistillationConfigs.plain_loss(c, windows, data_targets),
                 lambda: DistillationConfigs.fused_loss(c, windows, data_targets, on_policy)):
        c.model.zero_grad()
        value = loss()
        value.backward()
        losses.append(value.detach())
        gradients.append([p.grad.clone() for p in c.model.parameters()])
    torch.testing.assert_close(losses[1], losses[0], rtol=1e-5, atol=1e-6)
    for fused, plain in zip(*gradients[::-1]):
        torch.testing.assert_close(fused, plain, rtol=1e-4, atol=1e-6)
    assert all(p.grad is None for p in c.teacher_model.parameters())


@pytest.mark.parametrize('form, size', [('dense', 0), ('top-k', 256)])
def test_stored_targets_give_the_online_loss_where_the_teacher_saw_the_same_bytes(form, size):
    """
    A window that starts at the first byte: every position's stored target
    was made from the bytes the online teacher reads, so the loss from the
    dense targets, or from the top-k targets with every byte (no rest), is
    the online loss, up to the rounding of float16 log-probabilities.
    """
    c = _step_settings('forward_kl', 0.3)
    data = torch.randint(0, 256, (40,), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    cache = build_cache('id', c.teacher_model, data, 12, form, size, c.temperature)
    starts = torch.tensor([0])
    windows = data[:13].long()[None]
    stored = DistillationConfigs.stored_target_loss(c, windows, starts, cache)
    online = DistillationConfigs.plain_loss(c, windows, torch.ones(1, 12, dtype=torch.bool))
    torch.testing.assert_close(stored, online, rtol=2e-3, atol=1e-4)
    # A window further on reads other targets
    later = DistillationConfigs.stored_target_loss(c, data[20:33].long()[None], torch.tensor([20]), cache)
    assert not torch.allclose(later, stored)
