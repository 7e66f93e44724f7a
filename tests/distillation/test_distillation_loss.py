"""
Tests of `labml_nn.distillation.loss`: the soft-target loss against the
module's plain formula, its gradients (second ones too), masking, `-inf`
logits, low-precision inputs, precision at high temperatures, chunking, the
memory it keeps for the backward pass, host synchronisation, input checks,
and `DistillationLoss`.

Everything runs on small tensors on the CPU, in well under a minute.
"""

import math

import pytest
import torch
import torch.nn.functional as F
from torch.utils._python_dispatch import TorchDispatchMode

import labml_nn.distillation.loss_engine as engine
from labml_nn.distillation.loss import (DistillationLoss, DistillationTerms, plain_soft_target_loss,
                                        soft_target_loss)

TEMPERATURES = [0.5, 1.0, 2.0, 4.0, 10.0]
SHAPES = [(8, 10), (3, 5, 17)]


def make_logits(*shape, seed=0, scale=3.0, dtype=torch.float32):
    generator = torch.Generator().manual_seed(seed)
    return (torch.randn(*shape, generator=generator, dtype=torch.float64) * scale).to(dtype)


def make_mask(shape, seed=0, p=0.6):
    generator = torch.Generator().manual_seed(seed + 1000)
    mask = torch.rand(shape, generator=generator) < p
    # At least one sample counts, and at least one does not
    mask.view(-1)[0] = True
    if mask.numel() > 1:
        mask.view(-1)[-1] = False
    return mask


def reference_loss(student, teacher, temperature, mask=None):
    """
    The module's plain formula, in float64 for accuracy.
    """
    return plain_soft_target_loss(student.double(), teacher.double(), temperature, mask)


def student_grad(loss_fn, student, *args, **kwargs):
    """
    The loss and the gradient of `loss_fn` with respect to a fresh leaf copy of `student`.
    """
    student = student.detach().clone().requires_grad_()
    value = loss_fn(student, *args, **kwargs)
    value.backward()
    return value.detach(), student.grad


# ## Values

@pytest.mark.parametrize('temperature', TEMPERATURES)
@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('masked', [False, True])
def test_value_matches_reference(temperature, shape, masked):
    student, teacher = make_logits(*shape, seed=1), make_logits(*shape, seed=2)
    mask = make_mask(shape[:-1]) if masked else None
    value = soft_target_loss(student, teacher, temperature, mask)
    assert value.dtype == torch.float32 and value.shape == ()
    expected = reference_loss(student, teacher, temperature, mask)
    torch.testing.assert_close(value.double(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize('temperature', TEMPERATURES)
def test_value_matches_kl_div_batchmean(temperature):
    student, teacher = make_logits(16, 12, seed=3), make_logits(16, 12, seed=4)
    log_q = F.log_softmax(student / temperature, dim=-1)
    log_p = F.log_softmax(teacher / temperature, dim=-1)
    expected = F.kl_div(log_q, log_p, log_target=True, reduction='batchmean') * temperature ** 2
    torch.testing.assert_close(soft_target_loss(student, teacher, temperature), expected,
                               rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(plain_soft_target_loss(student, teacher, temperature), expected,
                               rtol=1e-6, atol=1e-7)


def test_value_is_zero_for_identical_logits_and_positive_otherwise():
    logits = make_logits(6, 9, seed=5)
    assert soft_target_loss(logits, logits.clone(), 3.0).item() == pytest.approx(0.0, abs=1e-6)
    assert soft_target_loss(logits, make_logits(6, 9, seed=6), 3.0).item() > 0


def test_float64_inputs_compute_in_float64():
    student, teacher = make_logits(5, 7, seed=7, dtype=torch.float64), make_logits(5, 7, seed=8)
    value = soft_target_loss(student, teacher.double(), 2.0)
    assert value.dtype == torch.float64
    torch.testing.assert_close(value, reference_loss(student, teacher, 2.0), rtol=1e-12, atol=1e-12)


# ## Gradients

@pytest.mark.parametrize('temperature', [0.5, 1.0, 4.0])
@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('masked', [False, True])
def test_gradient_matches_autograd_of_reference(temperature, shape, masked):
    student, teacher = make_logits(*shape, seed=9), make_logits(*shape, seed=10)
    mask = make_mask(shape[:-1], seed=3) if masked else None
    _, grad = student_grad(soft_target_loss, student, teacher, temperature, mask)
    _, expected = student_grad(reference_loss, student, teacher, temperature, mask)
    assert grad.dtype == torch.float32 and grad.shape == student.shape
    torch.testing.assert_close(grad, expected.float(), rtol=1e-4, atol=1e-7)


def test_gradient_scales_incoming_gradient():
    student, teacher = make_logits(4, 6, seed=11), make_logits(4, 6, seed=12)
    _, grad = student_grad(lambda s: 2.5 * soft_target_loss(s, teacher, 3.0), student)
    _, expected = student_grad(lambda s: 2.5 * reference_loss(s, teacher, 3.0), student)
    torch.testing.assert_close(grad, expected.float(), rtol=1e-4, atol=1e-7)


@pytest.mark.parametrize('temperature', [1.0, 3.0])
def test_gradcheck_float64(temperature):
    student = make_logits(2, 3, 4, seed=13, scale=2.0, dtype=torch.float64).requires_grad_()
    teacher = make_logits(2, 3, 4, seed=14, scale=2.0, dtype=torch.float64)
    mask = make_mask((2, 3), seed=5)
    assert torch.autograd.gradcheck(
        lambda s: soft_target_loss(s, teacher, temperature, mask), (student,))
    assert torch.autograd.gradcheck(lambda s: soft_target_loss(s, teacher, temperature), (student,))


# ## Second derivatives

@pytest.mark.parametrize('temperature', [1.0, 3.0])
@pytest.mark.parametrize('masked', [False, True])
def test_gradgradcheck_float64(temperature, masked):
    student = make_logits(2, 3, 4, seed=56, scale=2.0, dtype=torch.float64).requires_grad_()
    teacher = make_logits(2, 3, 4, seed=57, scale=2.0, dtype=torch.float64)
    mask = make_mask((2, 3), seed=17) if masked else None
    assert torch.autograd.gradgradcheck(
        lambda s: soft_target_loss(s, teacher, temperature, mask), (student,))


@pytest.mark.parametrize('masked', [False, True])
def test_gradient_with_graph_equals_chunked_gradient(masked):
    student, teacher = make_logits(5, 4, 7, seed=58), make_logits(5, 4, 7, seed=59)
    mask = make_mask((5, 4), seed=19) if masked else None
    _, chunked = student_grad(soft_target_loss, student, teacher, 3.0, mask)
    leaf = student.clone().requires_grad_()
    (with_graph,) = torch.autograd.grad(soft_target_loss(leaf, teacher, 3.0, mask), leaf,
                                        create_graph=True)
    assert with_graph.requires_grad
    torch.testing.assert_close(with_graph.detach(), chunked, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize('masked', [False, True])
def test_gradient_penalty_matches_plain_formula(masked):
    # A linear student whose loss carries a penalty on the size of its weight
    # gradient: its training gradient needs the second derivative of the loss
    generator = torch.Generator().manual_seed(60)
    inputs = torch.randn(12, 6, generator=generator)
    weight = torch.randn(6, 9, generator=generator)
    teacher = make_logits(12, 9, seed=61)
    mask = make_mask((12,), seed=21) if masked else None

    def penalized_weight_gradient(loss_fn):
        w = weight.clone().requires_grad_()
        loss = loss_fn(inputs @ w, teacher, 2.0, mask)
        (grad_w,) = torch.autograd.grad(loss, w, create_graph=True)
        (loss + grad_w.pow(2).sum()).backward()
        return w.grad

    expected = penalized_weight_gradient(plain_soft_target_loss)
    got = penalized_weight_gradient(soft_target_loss)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-6)
    # The penalty's own part is not small: dropping it would fail the check above
    without_penalty = student_grad(lambda w: soft_target_loss(inputs @ w, teacher, 2.0, mask), weight)[1]
    assert (expected - without_penalty).norm() > 0.1 * expected.norm()


def test_teacher_gets_no_gradient():
    student = make_logits(4, 6, seed=15).requires_grad_()
    teacher = make_logits(4, 6, seed=16).requires_grad_()
    soft_target_loss(student, teacher, 2.0).backward()
    assert student.grad is not None
    assert teacher.grad is None
    # With only the teacher requiring a gradient there is nothing to differentiate
    assert not soft_target_loss(student.detach(), teacher, 2.0).requires_grad


# ## Masks

@pytest.mark.parametrize('shape', SHAPES)
def test_masked_loss_equals_loss_on_selected_samples(shape):
    student, teacher = make_logits(*shape, seed=17), make_logits(*shape, seed=18)
    mask = make_mask(shape[:-1], seed=7)
    value, grad = student_grad(soft_target_loss, student, teacher, 3.0, mask)
    selected_value, selected_grad = student_grad(soft_target_loss, student[mask], teacher[mask], 3.0)
    torch.testing.assert_close(value, selected_value, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(grad[mask], selected_grad, rtol=1e-5, atol=1e-8)
    # Samples that are masked out get exactly zero gradient
    assert torch.equal(grad[~mask], torch.zeros_like(grad[~mask]))


def test_all_true_mask_equals_no_mask():
    student, teacher = make_logits(3, 5, 7, seed=19), make_logits(3, 5, 7, seed=20)
    mask = torch.ones(3, 5, dtype=torch.bool)
    assert torch.equal(soft_target_loss(student, teacher, 2.0, mask),
                       soft_target_loss(student, teacher, 2.0))


@pytest.mark.parametrize('shape', [(4, 6), (2, 3, 6)])
def test_all_masked_gives_zero_and_zero_gradients(shape):
    student, teacher = make_logits(*shape, seed=21), make_logits(*shape, seed=22)
    # Masked-out samples may hold anything, even a teacher row that is all -inf
    teacher.view(-1, shape[-1])[0] = -math.inf
    mask = torch.zeros(shape[:-1], dtype=torch.bool)
    value, grad = student_grad(soft_target_loss, student, teacher, 4.0, mask)
    assert value.item() == 0.0
    assert torch.equal(grad, torch.zeros_like(grad))


def test_empty_batch_gives_zero():
    value, grad = student_grad(soft_target_loss, torch.zeros(0, 10), torch.zeros(0, 10), 2.0)
    assert value.item() == 0.0 and grad.shape == (0, 10)


def test_masked_rows_with_all_inf_teacher_do_not_leak_nan():
    student, teacher = make_logits(5, 8, seed=23), make_logits(5, 8, seed=24)
    teacher[2] = -math.inf
    mask = torch.tensor([True, True, False, True, True])
    value, grad = student_grad(soft_target_loss, student, teacher, 2.0, mask)
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    torch.testing.assert_close(value, reference_loss(student, teacher, 2.0, mask).float())


# ## `-inf` logits

def _rule_out_classes(teacher, seed):
    """
    Sets a random third of each row's teacher logits to `-inf`, always keeping
    at least one class finite. Returns the boolean `[samples, classes]` map of them.
    """
    generator = torch.Generator().manual_seed(seed)
    ruled_out = torch.rand(teacher.shape, generator=generator) < 1 / 3
    ruled_out[..., 0] = False
    teacher.masked_fill_(ruled_out, -math.inf)
    return ruled_out


@pytest.mark.parametrize('temperature', [1.0, 4.0])
@pytest.mark.parametrize('dtype', [torch.float32, torch.bfloat16])
def test_inf_teacher_logits_add_nothing(temperature, dtype):
    student, teacher = make_logits(6, 10, seed=25), make_logits(6, 10, seed=26)
    _rule_out_classes(teacher, seed=1)
    student, teacher = student.to(dtype), teacher.to(dtype)
    value, grad = student_grad(soft_target_loss, student, teacher, temperature)
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    # The student's probabilities still spread over every class: the sum over
    # the classes the teacher keeps, with $q$ normalized over all of them
    _, expected_grad = student_grad(reference_loss, student, teacher, temperature)
    torch.testing.assert_close(value.double(), reference_loss(student, teacher, temperature),
                               rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad.float(), expected_grad.float(), rtol=1e-2 if dtype != torch.float32 else 1e-4,
                               atol=1e-3 if dtype != torch.float32 else 1e-7)


@pytest.mark.parametrize('temperature', [1.0, 4.0])
def test_inf_in_both_equals_loss_over_finite_classes(temperature):
    student, teacher = make_logits(6, 10, seed=27), make_logits(6, 10, seed=28)
    ruled_out = _rule_out_classes(teacher, seed=2)
    # The student rules out the same classes, as when both mask a vocabulary
    student.masked_fill_(ruled_out, -math.inf)
    value, grad = student_grad(soft_target_loss, student, teacher, temperature)
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    assert torch.equal(grad[ruled_out], torch.zeros_like(grad[ruled_out]))
    # Row by row, over the finite classes alone
    total = 0.
    for i in range(student.shape[0]):
        keep = ~ruled_out[i]
        row_value, row_grad = student_grad(reference_loss, student[i, keep][None],
                                           teacher[i, keep][None], temperature)
        total += row_value
        # Each row's gradient is $1/n$ of the single-row loss's
        torch.testing.assert_close(grad[i, keep], row_grad[0].float() / student.shape[0],
                                   rtol=1e-4, atol=1e-7)
    torch.testing.assert_close(value.double(), total / student.shape[0], rtol=1e-5, atol=1e-6)


def test_teacher_logits_spanning_more_than_the_float_range():
    # Finite logits whose log-softmax still reaches -inf: $-3 \cdot 10^{38} - \log \sum \exp$
    # overflows float32 when the largest logit is $3 \cdot 10^{38}$
    student = make_logits(3, 5, seed=54)
    teacher = make_logits(3, 5, seed=55)
    teacher[:, 0], teacher[:, 1] = 3e38, -3e38
    value, grad = student_grad(soft_target_loss, student, teacher, 1.0)
    assert torch.isfinite(value) and torch.isfinite(grad).all()
    _, expected_grad = student_grad(reference_loss, student, teacher, 1.0)
    torch.testing.assert_close(value.double(), reference_loss(student, teacher, 1.0), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad, expected_grad.float(), rtol=1e-4, atol=1e-7)


# ## Low precision

@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
@pytest.mark.parametrize('shape', SHAPES)
def test_low_precision_inputs_compute_in_float32(dtype, shape):
    student, teacher = make_logits(*shape, seed=29, dtype=dtype), make_logits(*shape, seed=30, dtype=dtype)
    mask = make_mask(shape[:-1], seed=9)
    value, grad = student_grad(soft_target_loss, student, teacher, 2.0, mask)
    assert value.dtype == torch.float32
    assert grad.dtype == dtype
    # The float32 computation on the very same (exactly up-cast) values
    value32, grad32 = student_grad(soft_target_loss, student.float(), teacher.float(), 2.0, mask)
    torch.testing.assert_close(value, value32, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(grad, grad32.to(dtype))


def test_mixed_precision_inputs():
    student = make_logits(4, 9, seed=31, dtype=torch.bfloat16)
    teacher = make_logits(4, 9, seed=32)
    value, grad = student_grad(soft_target_loss, student, teacher, 2.0)
    assert value.dtype == torch.float32 and grad.dtype == torch.bfloat16
    torch.testing.assert_close(value.double(), reference_loss(student, teacher, 2.0),
                               rtol=1e-5, atol=1e-6)


# ## Precision at high temperatures

@pytest.mark.parametrize('temperature, spread', [(1.0, 1.0), (100.0, 1.0), (100.0, 0.01), (1e4, 1.0)])
@pytest.mark.parametrize('classes', [2, 10, 32000])
def test_float32_precision_across_temperatures(temperature, spread, classes):
    # Student logits differ from the teacher's by about `spread` per class, and all
    # of them by 5 more: the softmaxes ignore that shift, rounding does not
    teacher = make_logits(16, classes, seed=62)
    student = teacher + make_logits(16, classes, seed=63, scale=spread) + 5
    value = soft_target_loss(student, teacher, temperature)
    expected = reference_loss(student, teacher, temperature)
    # As exact as float32 logits allow, about $10^{-7} |x| / \Delta$ (here $|x| \approx 15$), at any $T$
    assert abs(value.double() / expected - 1) < 3e-4


# ## Chunks and layouts

@pytest.mark.parametrize('chunk_elements', [1, 7, 50, 121])
def test_chunks_give_the_same_result(monkeypatch, chunk_elements):
    # 37 rows of 11 classes: with 50 elements a chunk holds 4 rows, so 10 chunks
    # run, the last one short; with fewer elements than a row each chunk is one row
    student, teacher = make_logits(37, 11, seed=33), make_logits(37, 11, seed=34)
    mask = make_mask((37,), seed=11)
    value, grad = student_grad(soft_target_loss, student, teacher, 3.0, mask)
    # The row counts of the chunks whose logits get shifted and scaled by $1/T$
    calls = []
    original = engine._shifted

    def counting(logits, *args):
        if logits.dim() == 2:
            calls.append(logits.shape[0])
        return original(logits, *args)

    monkeypatch.setattr(engine, 'CHUNK_ELEMENTS', chunk_elements)
    monkeypatch.setattr(engine, '_shifted', counting)
    chunked_value, chunked_grad = student_grad(soft_target_loss, student, teacher, 3.0, mask)
    rows = engine._chunk_rows(37, 11)
    assert rows == max(1, chunk_elements // 11)
    # Forward and backward each shift the student's and the teacher's logits
    # of every row, in chunks of `rows`
    assert len(calls) == 4 * math.ceil(37 / rows) and sum(calls) == 4 * 37
    assert max(calls) == min(rows, 37)
    torch.testing.assert_close(chunked_value, value, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(chunked_grad, grad, rtol=1e-6, atol=1e-9)


def test_chunk_sizes():
    def chunks(samples, classes):
        rows = engine._chunk_rows(samples, classes)
        return math.ceil(samples / rows), min(rows, samples) * classes

    # Small inputs are one chunk: a chunk holds at least 2^18 logits unless the input is smaller
    assert chunks(128, 10) == (1, 1280)
    assert chunks(128, 4096) == (2, 1 << 18)
    # Larger ones at least four, each holding at most 2^23 logits
    assert chunks(1024, 8000) == (4, 256 * 8000)
    assert chunks(4096, 32000) == (16, 262 * 32000)
    assert chunks(10, 1 << 24) == (10, 1 << 24)


def test_non_contiguous_inputs():
    base_student, base_teacher = make_logits(12, 8, seed=35), make_logits(12, 8, seed=36)
    # `[classes, samples]` storage, seen as `[samples, classes]`
    student, teacher = base_student.t().contiguous().t(), base_teacher.t().contiguous().t()
    assert not student.is_contiguous() and not teacher.is_contiguous()
    mask = make_mask((12,), seed=13)
    student.requires_grad_()
    value = soft_target_loss(student, teacher, 2.0, mask)
    value.backward()
    expected_value, expected_grad = student_grad(soft_target_loss, base_student, base_teacher, 2.0, mask)
    torch.testing.assert_close(value.detach(), expected_value)
    assert student.grad.shape == student.shape
    torch.testing.assert_close(student.grad, expected_grad)
    # A transposed 3-D student and a broadcast teacher
    student3 = make_logits(5, 4, 6, seed=37).transpose(0, 1)
    teacher3 = make_logits(1, 5, 6, seed=38).expand(4, 5, 6)
    value3, grad3 = student_grad(soft_target_loss, student3, teacher3, 2.0)
    _, expected3 = student_grad(reference_loss, student3, teacher3, 2.0)
    torch.testing.assert_close(value3.double(), reference_loss(student3, teacher3, 2.0),
                               rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(grad3, expected3.float(), rtol=1e-4, atol=1e-7)


# ## What the backward pass keeps

def _saved_tensors(loss_fn, student, teacher):
    """
    Every tensor that autograd saves for the backward pass while `loss_fn` runs.
    """
    saved = []

    def pack(tensor):
        saved.append(tensor)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = loss_fn(student, teacher)
    return loss, saved


def _kept_beyond_inputs(saved, student, teacher):
    """
    Saved tensors that are not (views of) the inputs: their bytes, in total.
    """
    inputs = {student.untyped_storage().data_ptr(), teacher.untyped_storage().data_ptr()}
    return sum(t.numel() * t.element_size() for t in saved
               if t.untyped_storage().data_ptr() not in inputs)


def test_backward_keeps_only_inputs():
    student = make_logits(64, 100, seed=39).requires_grad_()
    teacher = make_logits(64, 100, seed=40)
    mask = make_mask((64,), seed=15)
    loss, saved = _saved_tensors(lambda s, t: soft_target_loss(s, t, 4.0, mask), student, teacher)
    # The student and teacher logits themselves, and at most one byte per sample for the mask
    assert any(t.untyped_storage().data_ptr() == student.untyped_storage().data_ptr() for t in saved)
    assert _kept_beyond_inputs(saved, student, teacher) <= 64
    assert all(t.numel() <= 64 for t in saved if t.dtype == torch.bool)
    loss.backward()

    # The plain formula keeps whole `[samples, classes]` softmaxes: this check would catch it
    def plain(s, t):
        return plain_soft_target_loss(s, t, 4.0)

    _, plain_saved = _saved_tensors(plain, student, teacher)
    assert _kept_beyond_inputs(plain_saved, student, teacher) >= student.numel() * 4


# ## No waiting for the device

class _HostReads(TorchDispatchMode):
    """
    Records every operation, and raises on those that copy a tensor's value
    to Python (`.item()`, `float()`, `bool()`, `nonzero`), which make the CPU
    wait for a GPU to finish its queue.
    """
    HOST_READS = {torch.ops.aten._local_scalar_dense, torch.ops.aten.item, torch.ops.aten.is_nonzero,
                  torch.ops.aten.equal, torch.ops.aten.nonzero, torch.ops.aten.masked_select}

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func.overloadpacket in self.HOST_READS:
            raise AssertionError(f'{func} reads a tensor back to the host')
        self.ops.append(func.overloadpacket)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize('loss_fn', [
    lambda s, t, target: soft_target_loss(s, t, 2.0),
    lambda s, t, target: soft_target_loss(s, t, 2.0, target != 1),
    lambda s, t, target: DistillationLoss(2.0)(s, t, target),
], ids=['no mask', 'mask', 'DistillationLoss'])
def test_no_host_reads_in_forward_and_backward(loss_fn, monkeypatch):
    # On a GPU the targets' range is not checked (that read would wait for the
    # device); modelled here by taking the CPU off the devices whose targets are read
    monkeypatch.setattr(engine, 'RANGE_CHECKED_DEVICES', ())
    student = make_logits(3, 4, 6, seed=64).requires_grad_()
    teacher, target = make_logits(3, 4, 6, seed=65), _targets((3, 4), 6, seed=66)
    with _HostReads() as recorder:
        loss = loss_fn(student, teacher, target)
        forward_ops = len(recorder.ops)
        loss.backward()
    # The backward pass ran under the recorder too: its exponentials were seen
    assert torch.ops.aten.exp in recorder.ops[forward_ops:]
    assert student.grad is not None


# ## Bad input

@pytest.mark.parametrize('student, teacher, error, message', [
    (torch.zeros(4, 10), torch.zeros(4, 11), ValueError, 'same shape'),
    (torch.zeros(4, 10), torch.zeros(2, 2, 10), ValueError, 'same shape'),
    (torch.zeros(4, 10, dtype=torch.long), torch.zeros(4, 10), TypeError, 'student_logits must be floating point'),
    (torch.zeros(4, 10), torch.zeros(4, 10, dtype=torch.int32), TypeError, 'teacher_logits must be floating point'),
    (torch.zeros(4, 10, dtype=torch.bool), torch.zeros(4, 10), TypeError, 'floating point'),
    ([[0.0, 1.0]], torch.zeros(1, 2), TypeError, 'student_logits must be a torch.Tensor'),
    (torch.tensor(1.0), torch.tensor(1.0), ValueError, 'class dimension'),
    (torch.zeros(4, 0), torch.zeros(4, 0), ValueError, 'at least one class'),
])
def test_bad_logits(student, teacher, error, message):
    with pytest.raises(error, match=message):
        soft_target_loss(student, teacher, 2.0)


@pytest.mark.parametrize('temperature, error', [
    (0, ValueError), (0.0, ValueError), (-1.0, ValueError), (math.inf, ValueError),
    (math.nan, ValueError), ('2', TypeError), (True, TypeError), (torch.tensor(2.0), TypeError),
])
def test_bad_temperature(temperature, error):
    with pytest.raises(error, match='temperature'):
        soft_target_loss(torch.zeros(2, 3), torch.zeros(2, 3), temperature)
    with pytest.raises(error, match='temperature'):
        DistillationLoss(temperature=temperature)


@pytest.mark.parametrize('mask, error, message', [
    (torch.ones(3, dtype=torch.bool), ValueError, r'mask must have the shape .*\(4,\).*\(3,\)'),
    (torch.ones(4, 1, dtype=torch.bool), ValueError, 'mask must have the shape'),
    (torch.ones(4, 5, dtype=torch.bool), ValueError, 'mask must have the shape'),
    (torch.ones(4), TypeError, 'mask must be a bool tensor.*float32'),
    (torch.ones(4, dtype=torch.long), TypeError, 'mask must be a bool tensor.*int64'),
    ([True] * 4, TypeError, 'mask must be a bool tensor.*list'),
])
def test_bad_mask(mask, error, message):
    with pytest.raises(error, match=message):
        soft_target_loss(torch.zeros(4, 5), torch.zeros(4, 5), 2.0, mask)


def test_inputs_on_different_devices():
    # The `meta` device stands in for a GPU: tensors with a shape and no data
    with pytest.raises(ValueError, match='same device'):
        soft_target_loss(torch.zeros(4, 5), torch.zeros(4, 5, device='meta'), 2.0)
    with pytest.raises(ValueError, match='mask must be on the device'):
        soft_target_loss(torch.zeros(4, 5), torch.zeros(4, 5), 2.0,
                         torch.ones(4, dtype=torch.bool, device='meta'))


# ## `DistillationLoss`

def _reference_distillation(student, teacher, target, temperature, soft_weight, label_weight,
                            ignore_index=-100):
    valid = target != ignore_index
    soft = reference_loss(student, teacher, temperature, valid)
    log_q1 = F.log_softmax(student.double(), dim=-1)
    picked = log_q1.gather(-1, torch.where(valid, target, 0).unsqueeze(-1)).squeeze(-1)
    label = -(picked[valid]).sum() / max(int(valid.sum()), 1)
    return soft_weight * soft + label_weight * label, soft, label


def _targets(shape, classes, seed, ignore_index=-100, ignored=0.3):
    generator = torch.Generator().manual_seed(seed)
    target = torch.randint(0, classes, shape, generator=generator)
    target[torch.rand(shape, generator=generator) < ignored] = ignore_index
    target.view(-1)[0] = 0
    return target


@pytest.mark.parametrize('shape', SHAPES)
@pytest.mark.parametrize('ignore_index', [-100, 3])
def test_distillation_loss_is_the_weighted_sum(shape, ignore_index):
    student, teacher = make_logits(*shape, seed=41), make_logits(*shape, seed=42)
    target = _targets(shape[:-1], shape[-1], seed=43, ignore_index=ignore_index)
    # Ignored samples hold anything, even an all -inf teacher row
    ignored = target == ignore_index
    assert ignored.any()
    teacher[ignored] = -math.inf
    criterion = DistillationLoss(temperature=3.0, soft_target_weight=0.7, label_loss_weight=0.3,
                                 ignore_index=ignore_index)
    terms = criterion.terms(student, teacher, target)
    assert isinstance(terms, DistillationTerms)
    total, soft, label = _reference_distillation(student, teacher, target, 3.0, 0.7, 0.3, ignore_index)
    torch.testing.assert_close(terms.total.double(), total, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(terms.soft_target.double(), soft, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(terms.label.double(), label, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(terms.total, 0.7 * terms.soft_target + 0.3 * terms.label)
    torch.testing.assert_close(criterion(student, teacher, target), terms.total)
    # Ignored samples are out of both terms: the same as dropping them
    valid = ~ignored
    value, grad = student_grad(criterion, student, teacher, target)
    kept_value, kept_grad = student_grad(criterion, student[valid], teacher[valid], target[valid])
    torch.testing.assert_close(value, kept_value)
    torch.testing.assert_close(grad[valid], kept_grad)
    assert torch.equal(grad[ignored], torch.zeros_like(grad[ignored]))


def test_distillation_loss_defaults():
    criterion = DistillationLoss()
    assert (criterion.temperature, criterion.soft_target_weight, criterion.label_loss_weight,
            criterion.ignore_index) == (4.0, 0.9, 0.1, -100)


def test_distillation_loss_all_ignored_is_zero():
    student, teacher = make_logits(3, 4, 5, seed=44), make_logits(3, 4, 5, seed=45)
    target = torch.full((3, 4), -100)
    criterion = DistillationLoss()
    terms = criterion.terms(student, teacher, target)
    assert terms.total.item() == 0.0 and terms.soft_target.item() == 0.0 and terms.label.item() == 0.0
    _, grad = student_grad(criterion, student, teacher, target)
    assert torch.equal(grad, torch.zeros_like(grad))


def test_distillation_loss_low_precision_and_no_teacher_gradient():
    student = make_logits(6, 10, seed=46, dtype=torch.bfloat16).requires_grad_()
    teacher = make_logits(6, 10, seed=47, dtype=torch.bfloat16).requires_grad_()
    target = _targets((6,), 10, seed=48)
    terms = DistillationLoss().terms(student, teacher, target)
    assert all(t.dtype == torch.float32 for t in terms)
    terms.total.backward()
    assert student.grad.dtype == torch.bfloat16 and teacher.grad is None
    total, _, _ = _reference_distillation(student, teacher, target, 4.0, 0.9, 0.1)
    torch.testing.assert_close(terms.total.double(), total, rtol=1e-5, atol=1e-6)


def test_distillation_loss_only_one_term():
    student, teacher = make_logits(5, 7, seed=49), make_logits(5, 7, seed=50)
    target = _targets((5,), 7, seed=51)
    soft_only = DistillationLoss(2.0, soft_target_weight=1.0, label_loss_weight=0.0)
    label_only = DistillationLoss(2.0, soft_target_weight=0.0, label_loss_weight=1.0)
    valid = target != -100
    torch.testing.assert_close(soft_only(student, teacher, target),
                               soft_target_loss(student, teacher, 2.0, valid))
    torch.testing.assert_close(label_only(student, teacher, target),
                               F.cross_entropy(student, target, ignore_index=-100))


def test_distillation_loss_gradcheck_float64():
    student = make_logits(2, 3, 5, seed=67, scale=2.0, dtype=torch.float64).requires_grad_()
    teacher = make_logits(2, 3, 5, seed=68, scale=2.0, dtype=torch.float64)
    target = _targets((2, 3), 5, seed=69)
    criterion = DistillationLoss(3.0, soft_target_weight=0.7, label_loss_weight=0.3)
    assert all(term.dtype == torch.float64 for term in criterion.terms(student, teacher, target))
    assert torch.autograd.gradcheck(lambda s: criterion(s, teacher, target), (student,))


@pytest.mark.parametrize('dtype', [torch.int32, torch.int16, torch.int8, torch.uint8])
def test_distillation_loss_takes_any_integer_target(dtype):
    student, teacher = make_logits(4, 3, 5, seed=70), make_logits(4, 3, 5, seed=71)
    # An ignore_index that every one of these dtypes can hold
    target = _targets((4, 3), 5, seed=72, ignore_index=4)
    criterion = DistillationLoss(ignore_index=4)
    expected = criterion.terms(student, teacher, target)
    assert (target == 4).any()
    for got, want in zip(criterion.terms(student, teacher, target.to(dtype)), expected):
        assert torch.equal(got, want)


def test_distillation_loss_int32_target_with_default_ignore_index():
    student, teacher = make_logits(6, 5, seed=73), make_logits(6, 5, seed=74)
    target = _targets((6,), 5, seed=75)
    assert (target == -100).any()
    assert torch.equal(DistillationLoss()(student, teacher, target.int()),
                       DistillationLoss()(student, teacher, target))


@pytest.mark.parametrize('ignore_index', [None, 1.5, True, '3', torch.tensor(3)])
def test_distillation_loss_bad_ignore_index(ignore_index):
    with pytest.raises(TypeError, match='ignore_index must be an integer class index'):
        DistillationLoss(ignore_index=ignore_index)


@pytest.mark.parametrize('kwargs, error, message', [
    ({'soft_target_weight': -0.1}, ValueError, 'soft_target_weight must be non-negative'),
    ({'label_loss_weight': -1}, ValueError, 'label_loss_weight must be non-negative'),
    ({'label_loss_weight': math.nan}, ValueError, 'label_loss_weight'),
    ({'soft_target_weight': math.inf}, ValueError, 'soft_target_weight.*finite'),
    ({'soft_target_weight': '0.5'}, TypeError, 'soft_target_weight must be a number'),
    ({'label_loss_weight': None}, TypeError, 'label_loss_weight must be a number'),
])
def test_distillation_loss_bad_weights(kwargs, error, message):
    with pytest.raises(error, match=message):
        DistillationLoss(**kwargs)


@pytest.mark.parametrize('target, error, message', [
    (torch.zeros(4, dtype=torch.long), ValueError, r'target must have the shape .*\(4, 3\).*\(4,\)'),
    (torch.zeros(4, 3, 1, dtype=torch.long), ValueError, 'target must have the shape'),
    (torch.zeros(4, 3), TypeError, 'target must be an integer tensor'),
    (torch.zeros(4, 3, dtype=torch.bool), TypeError, 'target must be an integer tensor'),
    (torch.zeros(4, 3, dtype=torch.complex64), TypeError, 'target must be an integer tensor'),
    ([[0, 1, 2]] * 4, TypeError, 'target must be an integer tensor'),
])
def test_distillation_loss_bad_target(target, error, message):
    student, teacher = make_logits(4, 3, 5, seed=52), make_logits(4, 3, 5, seed=53)
    with pytest.raises(error, match=message):
        DistillationLoss()(student, teacher, target)


def test_distillation_loss_bad_logits():
    with pytest.raises(ValueError, match='same shape'):
        DistillationLoss()(torch.zeros(4, 5), torch.zeros(4, 6), torch.zeros(4, dtype=torch.long))
    with pytest.raises(TypeError, match='floating point'):
        DistillationLoss()(torch.zeros(4, 5, dtype=torch.long), torch.zeros(4, 5),
                           torch.zeros(4, dtype=torch.long))
