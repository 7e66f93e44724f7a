"""
Tests of the CIFAR-10 teacher and student: their sizes, their output, and that
in evaluation mode an image's logits do not depend on the rest of its batch.

Batches are tiny so that the large model's forward passes stay fast on a CPU.
"""

import pytest
import torch

from labml_nn.distillation.cifar10.fixed_teacher import PackedForCPU, fold_batch_norm
from labml_nn.distillation.cifar10.large import LargeModel
from labml_nn.distillation.cifar10.small import SmallModel
from labml_nn.distillation.cifar10.trainer import cpu_has_bf16
from labml_nn.distillation.cifar10.vgg import CIFAR10VGGModel

MODELS = {'large': (LargeModel, 14_728_266), 'small': (SmallModel, 437_034)}


@pytest.fixture(scope='module', params=sorted(MODELS))
def model_and_count(request):
    torch.manual_seed(0)
    cls, count = MODELS[request.param]
    return cls(), count


def images(batch, seed):
    return torch.randn(batch, 3, 32, 32, generator=torch.Generator().manual_seed(seed))


def test_parameter_count(model_and_count):
    model, count = model_and_count
    assert sum(p.numel() for p in model.parameters() if p.requires_grad) == count
    assert all(p.requires_grad for p in model.parameters())


def test_output_shape(model_and_count):
    model, _ = model_and_count
    model.eval()
    with torch.no_grad():
        logits = model(images(2, seed=1))
    assert logits.shape == (2, 10) and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()


def test_eval_output_does_not_depend_on_the_batch(model_and_count):
    model, _ = model_and_count
    # A few training-mode passes give batch normalization running statistics
    # that are far from their initial zeros and ones
    model.train()
    with torch.no_grad():
        for seed in range(2):
            model(images(2, seed=10 + seed) * 2 + 0.5)
    batch_norm = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
    assert batch_norm.running_mean.abs().max() > 1e-3
    assert (batch_norm.running_var - 1).abs().max() > 1e-3

    model.eval()
    image = images(1, seed=20)
    with torch.no_grad():
        alone = model(image)
        # The same image, last in a batch of others of a very different scale
        batch = model(torch.cat([images(2, seed=21) * 10, image]))
    torch.testing.assert_close(batch[2:], alone, rtol=1e-4, atol=1e-5)


def test_large_model_uses_dropout_when_training():
    torch.manual_seed(1)
    model = LargeModel().train()
    x = images(2, seed=30)
    with torch.no_grad():
        first, second = model(x), model(x)
        # In evaluation mode dropout is off, and passes agree
        model.eval()
        third, fourth = model(x[:1]), model(x[:1])
    assert not torch.allclose(first, second)
    torch.testing.assert_close(third, fourth)
    assert sum(isinstance(m, torch.nn.Dropout) for m in model.modules()) == 13


def test_small_model_has_no_dropout():
    torch.manual_seed(2)
    model = SmallModel().train()
    assert not any(isinstance(m, torch.nn.Dropout) for m in model.modules())
    x = images(2, seed=31)
    with torch.no_grad():
        # Batch normalization in training mode is deterministic for the same batch
        torch.testing.assert_close(model(x), model(x))


def test_base_model_needs_five_blocks():
    with pytest.raises(ValueError, match='5 blocks'):
        CIFAR10VGGModel([[16], [16], [16], [16]])


@pytest.mark.parametrize('model_class', [LargeModel, SmallModel])
def test_folding_batch_norm_keeps_the_function(model_class):
    torch.manual_seed(3)
    model = model_class()
    # A few training passes give batch normalization running statistics that are not the defaults
    with torch.no_grad():
        for seed in range(3):
            model(images(8, seed=40 + seed) * 3 + 1)
    model.eval()
    x = images(4, seed=50)
    with torch.no_grad():
        before = model(x)
        fold_batch_norm(model)
        after = model(x)
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.Dropout)) for m in model.modules())
    assert not any(m.training for m in model.modules())
    torch.testing.assert_close(after, before, rtol=1e-4, atol=1e-5)


def test_folding_batch_norm_needs_evaluation_mode():
    with pytest.raises(RuntimeError, match='evaluation mode'):
        fold_batch_norm(SmallModel().train())


# ## Packing a fixed model for the CPU

needs_onednn = pytest.mark.skipif(not torch.backends.mkldnn.is_available(), reason='PyTorch built without oneDNN')


def folded(model_class, seed):
    torch.manual_seed(seed)
    model = model_class()
    with torch.no_grad():
        model(images(8, seed=seed) * 2 + 1)
    return fold_batch_norm(model.eval().requires_grad_(False))


@needs_onednn
@pytest.mark.parametrize('model_class', [LargeModel, SmallModel])
def test_packed_model_keeps_the_function(model_class):
    """
    In float32 the packed model computes the folded model's logits, whatever
    the memory layout of the images; it keeps the model's weights, untouched.
    """
    model = folded(model_class, seed=60)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    packed = PackedForCPU(model, torch.float32)
    x = images(4, seed=61)
    with torch.inference_mode():
        expected = model(x)
        for layout in (torch.contiguous_format, torch.channels_last):
            logits = packed(x.contiguous(memory_format=layout))
            assert logits.dtype == torch.float32 and logits.shape == (4, 10)
            torch.testing.assert_close(logits, expected, rtol=1e-4, atol=1e-5)
    assert not packed.training and not any(m.training for m in packed.modules())
    assert packed.state_dict().keys() == {'model.' + k for k in weights}
    assert all(torch.equal(packed.state_dict()['model.' + k], v) for k, v in weights.items())


@pytest.mark.skipif(not cpu_has_bf16(), reason='no bfloat16 support in this CPU')
def test_packed_model_in_bfloat16_matches_autocast():
    """
    In bfloat16 the logits agree with the folded model under bfloat16
    autocast, up to that precision's rounding.
    """
    model = folded(SmallModel, seed=62)
    x = images(16, seed=63)
    with torch.inference_mode():
        with torch.autocast('cpu', torch.bfloat16):
            expected = model(x).float()
        logits = PackedForCPU(model, torch.bfloat16)(x)
    assert logits.dtype == torch.float32
    torch.testing.assert_close(logits, expected, rtol=0.05, atol=0.05 * expected.abs().max().item())


def test_packing_needs_batch_norm_folded():
    with pytest.raises(ValueError, match='fold_batch_norm'):
        PackedForCPU(SmallModel().eval())
