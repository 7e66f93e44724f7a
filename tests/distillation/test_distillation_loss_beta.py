"""
One meaning of β: the loss page's table maps `divergence` and `beta` to TRL's
`GKDConfig.beta` and Liger-Kernel's `LigerJSD(beta=...)`. Each library's
divergence is written here from its documentation (TRL: `beta` 0 is the KL
divergence, 1 the inverse KL, between them the generalized JSD of the GKD
paper's equation 1 on `log_softmax(logits / temperature)`, averaged over the
tokens whose label is not -100; Liger: `JSD(β)(P || Q) = β KL(P || M) +
(1 - β) KL(Q || M)`, `M = β P + (1 - β) Q`, `P` the teacher, on
log-probabilities, forward and reverse KL at 0 and 1, averaged over the rows
not ignored), and compared with the loss. Then the ends: the jump that is kept,
and a `beta` just outside [0, 1] refused rather than clamped.
"""

import pytest
import torch

from labml_nn.distillation.loss import DistillationLoss, soft_target_loss

from test_distillation_loss import make_logits, student_grad

TEMPERATURE = 2.0


def _kl(log_a: torch.Tensor, log_b: torch.Tensor) -> torch.Tensor:
    r"""
    $\mathrm{KL}(a \| b)$ of each row.
    """
    return (log_a.exp() * (log_a - log_b)).sum(dim=-1)


def _documented_jsd(log_teacher: torch.Tensor, log_student: torch.Tensor, beta: float) -> torch.Tensor:
    r"""
    The generalized JSD both libraries document, row by row, with the two KLs at the ends.
    """
    if beta == 0:
        return _kl(log_teacher, log_student)
    if beta == 1:
        return _kl(log_student, log_teacher)
    log_mixture = (beta * log_teacher.exp() + (1 - beta) * log_student.exp()).log()
    return beta * _kl(log_teacher, log_mixture) + (1 - beta) * _kl(log_student, log_mixture)


def trl_generalized_jsd(student_logits, teacher_logits, labels, beta, temperature):
    """
    TRL's GKD loss as documented: logits divided by the temperature, no $T^2$,
    the mean over tokens whose label is not -100.
    """
    per_token = _documented_jsd(torch.log_softmax(teacher_logits / temperature, dim=-1),
                                torch.log_softmax(student_logits / temperature, dim=-1), beta)
    return per_token[labels != -100].mean()


def liger_jsd(log_q, log_p, shift_labels, beta):
    """
    Liger's `LigerJSD(beta)(log_q, log_p, shift_labels)` as documented: the
    student's log-probabilities first, the teacher's second, the mean over rows
    whose label is not -100.
    """
    return _documented_jsd(log_p, log_q, beta)[shift_labels != -100].mean()


@pytest.mark.parametrize('beta', [0, 0.1, 0.5, 0.9, 1])
def test_the_table_maps_beta_to_trl_and_liger(beta):
    student, teacher = make_logits(12, 17, dtype=torch.float64, seed=1), make_logits(12, 17, dtype=torch.float64,
                                                                                    seed=2)
    labels = torch.randint(0, 17, (12,), generator=torch.Generator().manual_seed(3))
    labels[::4] = -100
    ours = soft_target_loss(student, teacher, TEMPERATURE, labels != -100, divergence='jsd', beta=beta)
    # This loss is $T^2$ times theirs; Liger takes log-probabilities, with $T$ applied before
    trl = trl_generalized_jsd(student, teacher, labels, beta, TEMPERATURE)
    liger = liger_jsd(torch.log_softmax(student / TEMPERATURE, -1), torch.log_softmax(teacher / TEMPERATURE, -1),
                      labels, beta)
    torch.testing.assert_close(ours, TEMPERATURE ** 2 * trl, rtol=1e-12, atol=0)
    torch.testing.assert_close(ours, TEMPERATURE ** 2 * liger, rtol=1e-12, atol=0)
    # The table's first two rows: the two KLs, under their own names too
    if beta in (0, 1):
        name = 'forward_kl' if beta == 0 else 'reverse_kl'
        torch.testing.assert_close(soft_target_loss(student, teacher, TEMPERATURE, labels != -100, divergence=name),
                                   ours, rtol=1e-12, atol=0)


def test_the_ends_jump_in_size_but_not_in_direction():
    student, teacher = make_logits(6, 11, dtype=torch.float64, seed=4), make_logits(6, 11, dtype=torch.float64,
                                                                                   seed=5)
    for small, end, divergence in ((1e-6, 0, 'forward_kl'), (1 - 1e-6, 1, 'reverse_kl')):
        factor = min(small, 1 - small)
        near, near_grad = student_grad(soft_target_loss, student, teacher, TEMPERATURE, divergence='jsd', beta=small)
        at, at_grad = student_grad(soft_target_loss, student, teacher, TEMPERATURE, divergence='jsd', beta=end)
        kl, kl_grad = student_grad(soft_target_loss, student, teacher, TEMPERATURE, divergence=divergence)
        # At the end the KL itself; next to it the KL times the vanishing factor: a jump, kept
        torch.testing.assert_close(at, kl, rtol=0, atol=0)
        torch.testing.assert_close(at_grad, kl_grad, rtol=0, atol=0)
        assert near < 1e-4 * at
        torch.testing.assert_close(near / factor, kl, rtol=1e-4, atol=0)
        # The gradient's direction is continuous: a learning rate `factor` times smaller
        torch.testing.assert_close(near_grad / factor, kl_grad, rtol=1e-4, atol=1e-5 * kl_grad.abs().max())


@pytest.mark.parametrize('beta', [-1e-12, 1 + 1e-12, -0.0001, 1.5])
def test_beta_just_outside_the_range_is_refused_not_clamped(beta):
    with pytest.raises(ValueError, match='beta must be between 0 and 1'):
        soft_target_loss(torch.zeros(2, 3), torch.zeros(2, 3), 2.0, divergence='jsd', beta=beta)
    with pytest.raises(ValueError, match='beta must be between 0 and 1'):
        DistillationLoss(divergence='jsd', beta=beta)
