"""
Precision of `labml_nn.distillation.loss.soft_target_loss` at every
temperature it accepts: the large-temperature limit reached at $T = 10^{16}$
and at `MAX_TEMPERATURE` in float64, float32 and from bfloat16 logits; values
and gradients against 50-digit arithmetic from `MIN_TEMPERATURE` to
`MAX_TEMPERATURE`; an error that no longer grows with $T$; the small-temperature
end; and temperatures below the smallest refused.

The 50-digit reference uses `mpmath`, which PyTorch installs (through SymPy).
"""

import itertools
import math
from typing import List, Tuple

import mpmath
import pytest
import torch

from labml_nn.distillation.loss import MAX_TEMPERATURE, MIN_TEMPERATURE, DistillationLoss, soft_target_loss

from test_distillation_loss import make_logits, student_grad

mpmath.mp.dps = 50

DIVERGENCES = [dict(divergence='forward_kl'), dict(divergence='reverse_kl'), dict(divergence='jsd', beta=0.3)]
DIVERGENCE_IDS = ['forward_kl', 'reverse_kl', 'jsd']


def _weight(settings: dict) -> float:
    r"""
    The large-temperature limit of each divergence, as a multiple of the
    forward KL's: $1$ for both KLs, $\beta(1 - \beta)$ for the JSD.
    """
    beta = settings.get('beta', 0.5)
    return beta * (1 - beta) if settings['divergence'] == 'jsd' else 1.


def large_temperature_limit(student: torch.Tensor, teacher: torch.Tensor,
                            settings: dict) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""
    The limit of the loss and of its gradient as $T \to \infty$, in float64:
    $\frac{1}{n} \sum_i \frac{1}{2N} \sum_c (\tilde z_{i,c} - \tilde v_{i,c})^2$ with centred
    logits, and its gradient $\frac{1}{nN} (\tilde z_{i,c} - \tilde v_{i,c})$, times the
    divergence's weight.
    """
    student, teacher = student.double(), teacher.double()
    difference = (student - student.mean(-1, keepdim=True)) - (teacher - teacher.mean(-1, keepdim=True))
    samples, classes = difference.shape
    weight = _weight(settings)
    value = weight * (difference ** 2).sum() / (2 * classes * samples)
    return value, weight * difference / (classes * samples)


@pytest.mark.parametrize('settings', DIVERGENCES, ids=DIVERGENCE_IDS)
@pytest.mark.parametrize('temperature', [1e16, MAX_TEMPERATURE])
@pytest.mark.parametrize('dtype, tolerance', [(torch.float64, 1e-12), (torch.float32, 1e-5),
                                              (torch.bfloat16, 1e-5)], ids=['float64', 'float32', 'bfloat16'])
def test_extreme_temperatures_reach_the_large_temperature_limit(settings, temperature, dtype, tolerance):
    # The plain formula gave 4.9 in float64 at $T = 10^{16}$ where the limit is 0.95,
    # 0 at `MAX_TEMPERATURE`, and 0 in float32 from $T = 10^8$ on
    student, teacher = make_logits(6, 10, seed=1, dtype=dtype), make_logits(6, 10, seed=2, dtype=dtype)
    value, grad = student_grad(soft_target_loss, student, teacher, temperature, **settings)
    expected_value, expected_grad = large_temperature_limit(student, teacher, settings)
    # Within `tolerance` of the limit, relative to the value and to the largest gradient;
    # a bfloat16 gradient is rounded to its 8 bits besides
    rounding = 2 ** -8 if dtype == torch.bfloat16 else 0
    torch.testing.assert_close(value.double(), expected_value, rtol=tolerance, atol=0)
    torch.testing.assert_close(grad.double(), expected_grad, rtol=rounding,
                               atol=tolerance * expected_grad.abs().max().item())


def _phi(r: mpmath.mpf) -> mpmath.mpf:
    r"""
    $\varphi(r) = r - 1 + e^{-r}$, from its series where the subtraction would
    leave fewer than 50 digits.
    """
    if r == mpmath.inf:
        return mpmath.inf
    if abs(r) > mpmath.mpf('1e-12'):
        return r + mpmath.expm1(-r)
    return r ** 2 / 2 - r ** 3 / 6 + r ** 4 / 24


def _log_softmax_parts(logits: List[mpmath.mpf], temperature: mpmath.mpf) -> Tuple[List[mpmath.mpf], mpmath.mpf]:
    r"""
    $y = (x - \max x) / T$ and $\log \sum_j e^{y_j}$, the latter as $\mathrm{log1p}$ of the
    terms other than the largest, which can be far smaller than 50 digits of $1$.
    """
    largest = max(logits)
    shifted = [(x - largest) / temperature for x in logits]
    top = shifted.index(0)
    return shifted, mpmath.log1p(sum(mpmath.exp(y) for c, y in enumerate(shifted) if c != top))


def exact_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float,
               settings: dict) -> Tuple[mpmath.mpf, List[List[mpmath.mpf]]]:
    r"""
    The loss of these very logits and its gradient, in 50-digit arithmetic: the
    log-ratios $r = \log p - \log q$, each divergence as its sum of
    $\varphi$ terms (equal to the definition), and the gradients of the
    engineered loss page's formulas.
    """
    temperature = mpmath.mpf(temperature)
    total, grads = mpmath.mpf(0), []
    for z_row, v_row in zip(student.double().tolist(), teacher.double().tolist()):
        z_shifted, z_log_sum = _log_softmax_parts([mpmath.mpf(x) for x in z_row], temperature)
        v_shifted, v_log_sum = _log_softmax_parts([mpmath.mpf(x) for x in v_row], temperature)
        q = [mpmath.exp(y - z_log_sum) for y in z_shifted]
        p = [mpmath.exp(y - v_log_sum) for y in v_shifted]
        r = [(a - b) - (v_log_sum - z_log_sum) for a, b in zip(v_shifted, z_shifted)]
        if settings['divergence'] == 'forward_kl':
            total += sum(p_c * _phi(r_c) for p_c, r_c in zip(p, r))
            grad = [q_c - p_c for p_c, q_c in zip(p, q)]
        elif settings['divergence'] == 'reverse_kl':
            divergence = sum(q_c * _phi(-r_c) for q_c, r_c in zip(q, r))
            total += divergence
            grad = [q_c * (-r_c - divergence) for q_c, r_c in zip(q, r)]
        else:
            beta = mpmath.mpf(settings['beta'])
            # $\log q - \log m$ and $\log p - \log m$, with $m = \beta p + (1 - \beta) q$
            q_to_m = [-mpmath.log1p(beta * mpmath.expm1(r_c)) for r_c in r]
            p_to_m = [-mpmath.log1p((1 - beta) * mpmath.expm1(-r_c)) for r_c in r]
            total += sum(beta * p_c * _phi(a) + (1 - beta) * q_c * _phi(b)
                         for p_c, q_c, a, b in zip(p, q, p_to_m, q_to_m))
            to_mixture = sum(q_c * _phi(b) for q_c, b in zip(q, q_to_m))
            grad = [(1 - beta) * q_c * (b - to_mixture) for q_c, b in zip(q, q_to_m)]
        grads.append([g * temperature / len(student) for g in grad])
    return total * temperature ** 2 / len(student), grads


GRID_TEMPERATURES = [MIN_TEMPERATURE, 1e-3, 1.0, 4.0, 1e4, 1e8, 1e16, MAX_TEMPERATURE]


@pytest.mark.parametrize('settings', DIVERGENCES, ids=DIVERGENCE_IDS)
@pytest.mark.parametrize('dtype, tolerance', [(torch.float64, 1e-13), (torch.float32, 1e-5)],
                         ids=['float64', 'float32'])
def test_matches_50_digit_arithmetic_at_every_temperature(settings, dtype, tolerance):
    failures = []
    for classes, spread, temperature in itertools.product([2, 10], [1.0, 10.0], GRID_TEMPERATURES):
        # The student's logits differ from the teacher's by about `spread`, and all of them by 5 more
        teacher = make_logits(3, classes, seed=classes, scale=2.0, dtype=torch.float64)
        student = (teacher + make_logits(3, classes, seed=classes + 1, scale=spread, dtype=torch.float64) + 5)
        student, teacher = student.to(dtype), teacher.to(dtype)
        value, grad = student_grad(soft_target_loss, student, teacher, temperature, **settings)
        expected_value, expected_grad = exact_loss(student, teacher, temperature, settings)
        # The value relative to itself (below the dtype's smallest normal number, to that)
        floor = max(abs(expected_value), torch.finfo(dtype).tiny)
        value_error = float(abs(mpmath.mpf(value.item()) - expected_value) / floor)
        # The gradient relative to its largest entry, from $T = 1$ on (below it the
        # softmaxes are one-hot, and the gradient of their top class a rounding of $1 - 1$)
        largest = max(max(abs(g) for g in row) for row in expected_grad)
        grad_error = 0. if temperature < 1 else float(max(
            abs(mpmath.mpf(grad[i, c].item()) - expected_grad[i][c])
            for i in range(len(expected_grad)) for c in range(classes)) / max(largest, torch.finfo(dtype).tiny))
        if value_error > tolerance or grad_error > tolerance:
            failures.append((classes, spread, temperature, value_error, grad_error))
    assert failures == []


@pytest.mark.parametrize('settings', DIVERGENCES, ids=DIVERGENCE_IDS)
def test_float32_error_does_not_grow_with_the_temperature(settings):
    # A student close to its teacher, logits 0.01 apart: the plain formula's error grows
    # like $10^{-7}\, T / \Delta$, past $10^{-2}$ at $T = 10^4$; here it stays about
    # $10^{-7}\, |x| / \Delta$, what rounding the logits themselves changes
    teacher = make_logits(3, 10, seed=5, scale=2.0, dtype=torch.float64)
    student = (teacher + make_logits(3, 10, seed=6, scale=0.01, dtype=torch.float64) + 5).float()
    teacher = teacher.float()
    for temperature in [1.0, 1e2, 1e4, 1e8, 1e16, MAX_TEMPERATURE]:
        value = soft_target_loss(student, teacher, temperature, **settings)
        expected, _ = exact_loss(student, teacher, temperature, settings)
        assert float(abs(mpmath.mpf(value.item()) / expected - 1)) < 5e-4, temperature


@pytest.mark.parametrize('settings', DIVERGENCES, ids=DIVERGENCE_IDS)
@pytest.mark.parametrize('dtype, tolerance', [(torch.float64, 1e-12), (torch.float32, 1e-5)],
                         ids=['float64', 'float32'])
def test_small_temperature_end(settings, dtype, tolerance):
    r"""
    At `MIN_TEMPERATURE` both softmaxes are one-hot, on the teacher's top class
    $a$ and the student's $b \ne a$: $T^2$ times the forward KL is
    $T (z_b - z_a)$, the reverse KL's $T (v_a - v_b)$, and the JSD's
    $T^2 H(\beta)$, the entropy of $\beta$; only the forward KL's gradient is
    not zero: $\frac{T}{n}$ on $b$ and $-\frac{T}{n}$ on $a$.
    """
    teacher = make_logits(4, 7, seed=3, dtype=dtype)
    student = make_logits(4, 7, seed=4, dtype=dtype)
    a, b = teacher.argmax(-1), student.argmax(-1)
    assert (a != b).all()
    temperature, samples = MIN_TEMPERATURE, len(student)
    value, grad = student_grad(soft_target_loss, student, teacher, temperature, **settings)
    rows = torch.arange(samples)
    student64, teacher64 = student.double(), teacher.double()
    expected_grad = torch.zeros_like(student64)
    if settings['divergence'] == 'forward_kl':
        expected = temperature * (student64[rows, b] - student64[rows, a]).mean()
        expected_grad[rows, b], expected_grad[rows, a] = temperature / samples, -temperature / samples
    elif settings['divergence'] == 'reverse_kl':
        expected = temperature * (teacher64[rows, a] - teacher64[rows, b]).mean()
    else:
        beta = settings['beta']
        entropy = -(beta * math.log(beta) + (1 - beta) * math.log1p(-beta))
        expected = torch.tensor(temperature ** 2 * entropy, dtype=torch.float64)
    torch.testing.assert_close(value.double(), expected, rtol=tolerance, atol=0)
    torch.testing.assert_close(grad.double(), expected_grad, rtol=0, atol=tolerance * temperature / samples)


@pytest.mark.parametrize('temperature', [1e-40, 1e-300, MIN_TEMPERATURE * 0.99])
def test_temperature_below_the_smallest_is_refused(temperature):
    # 1e-40 used to give NaN for finite logits
    message = r'temperature must be at least 1e-18 \(MIN_TEMPERATURE'
    with pytest.raises(ValueError, match=message):
        soft_target_loss(torch.zeros(2, 3), torch.ones(2, 3), temperature)
    with pytest.raises(ValueError, match=message):
        DistillationLoss(temperature)
