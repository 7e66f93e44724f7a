r"""
---
title: What the student learned from the teacher
summary: >
  The measures of the studies: accuracy per class, fidelity to the teacher
  (top-1 agreement and KL divergence), and the bias that lets a student
  predict a class it never saw.
---

# What the student learned from the teacher

Accuracy says how often a student is right. The [studies](../index.html) also
ask *what* it took from its teacher, with three measures computed from
logits on the validation split: $z$ the student's, $v$ the teacher's, for
$n$ images with labels $y$ and $C$ classes.

**Fidelity** (Stanton et al., 2021, ["Does Knowledge Distillation Really
Work?"](https://arxiv.org/abs/2106.05945)): how closely the student imitates
the teacher, right or wrong. Two numbers, at temperature 1:

* *top-1 agreement*, the fraction of images where both predict the same class,
  $\frac{1}{n} \sum_i [\arg\max z_i = \arg\max v_i]$;
* the mean KL divergence from the teacher's probabilities $p_i$ to the
  student's $q_i$, $\frac{1}{n} \sum_i \mathrm{KL}(p_i \| q_i)$.

A student can agree with its teacher more and still be less accurate, and the
other way round: fidelity and accuracy are different questions.

**The omitted class.** Hinton et al. trained an MNIST student on a transfer
set without a single 3. It learned about 3s only from the teacher's small
probabilities for "3" on other digits, and most of its errors on 3s went away
once the bias of the 3 class was raised by 3.5. Here the same correction is a
single number $b$ added to the omitted class $k$'s logit,

$$\hat{y}_i(b) = \arg\max_c \big(z_{ic} + b \, [c = k]\big),$$

chosen to maximize accuracy on the validation split, and only there.

That choice needs labels, and it can be unsteady: when each image of class
$k$ that a higher $b$ wins is paid for by about one other image it loses,
accuracy hardly changes over a wide range of $b$, and its maximum can fall
anywhere in that range. So the studies also report a second bias that
uses no labels at all: the one with which the student predicts class $k$ as
often as the teacher does on the same images,

$$\sum_i [\hat{y}_i(b) = k] = \sum_i [\arg\max v_i = k].$$
"""

from typing import Dict, List, Optional, Tuple

import torch


def fidelity(student_logits: torch.Tensor, teacher_logits: torch.Tensor) -> Dict[str, float]:
    r"""
    ## Fidelity

    Top-1 agreement and the mean $\mathrm{KL}(p \| q)$ of `[n, C]` logits.
    """
    student, teacher = student_logits.double(), teacher_logits.double()
    # $[\arg\max z_i = \arg\max v_i]$, averaged
    agreement = (student.argmax(-1) == teacher.argmax(-1)).double().mean()
    # $\mathrm{KL}(p_i \| q_i) = \sum_c p_{ic} (\log p_{ic} - \log q_{ic})$, averaged over the images
    log_p, log_q = teacher.log_softmax(-1), student.log_softmax(-1)
    kl = (log_p.exp() * (log_p - log_q)).sum(-1).mean()
    return {'teacher_agreement': agreement.item(), 'teacher_kl': kl.item()}


def per_class_accuracy(predictions: torch.Tensor, labels: torch.Tensor, classes: int) -> List[float]:
    """
    ## Accuracy per class

    For each class, the fraction of its images predicted right.
    """
    right = torch.bincount(labels[predictions == labels], minlength=classes).double()
    total = torch.bincount(labels, minlength=classes).clamp(min=1).double()
    return (right / total).tolist()


def best_bias(logits: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    r"""
    <a id="best-bias"></a>

    ## The bias of the omitted class

    The $b$ that maximizes the accuracy of $\hat{y}(b)$ on `logits` and
    `labels`, found exactly rather than on a grid. Image $i$ is predicted as
    class $k$ once $b$ exceeds its margin
    $m_i = \max_{c \ne k} z_{ic} - z_{ik}$, so raising $b$ past the margins in
    increasing order changes one prediction at a time.
    """
    margin, other_prediction = _margins(logits, k)
    order = margin.argsort()
    # What passing each margin changes: $+1$ when the image is of class $k$,
    # $-1$ when its other prediction was right
    change = (labels == k).double() - (other_prediction == labels).double()
    # Right answers with $b$ below every margin, then just past the $t$-th smallest
    right = torch.cat([torch.zeros(1, dtype=torch.float64), change[order].cumsum(0)])
    return _past(margin[order], int(right.argmax()))


def matched_bias(logits: torch.Tensor, k: int, count: int) -> float:
    r"""
    <a id="matched-bias"></a>

    ## The bias that matches the teacher

    The $b$ with which $\hat{y}(b)$ is class $k$ for exactly `count` of the
    images, the teacher's count on them: past the `count` smallest margins and
    below the rest. No labels are used.
    """
    return _past(_margins(logits, k)[0].sort().values, count)


def _margins(logits: torch.Tensor, k: int) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""
    Each image's margin $m_i = \max_{c \ne k} z_{ic} - z_{ik}$, and the class
    it is predicted as while $b$ is below its margin.
    """
    logits = logits.double()
    others = logits.clone()
    others[:, k] = -torch.inf
    best_other, other_prediction = others.max(-1)
    return best_other - logits[:, k], other_prediction


def _past(sorted_margin: torch.Tensor, t: int) -> float:
    """
    A bias past the `t` smallest of `sorted_margin` and below the others:
    halfway between the two that bound that range (the first one minus one,
    or the last one plus one, at the ends).
    """
    below = sorted_margin[t - 1] if t > 0 else sorted_margin[0] - 2
    above = sorted_margin[t] if t < len(sorted_margin) else sorted_margin[-1] + 2
    return float((below + above) / 2)


def with_bias(logits: torch.Tensor, k: int, bias: float) -> torch.Tensor:
    r"""
    The predictions $\hat{y}(b)$ with `bias` added to class `k`'s logits.
    """
    shifted = logits.double().clone()
    shifted[:, k] += bias
    return shifted.argmax(-1)


def omitted_class_measures(logits: torch.Tensor, labels: torch.Tensor, k: int, bias: float, matched: float,
                           teacher_logits: torch.Tensor, split: str) -> Dict[str, Optional[float]]:
    """
    ## A student that never saw class `k`

    On one split (`'valid'` or `'test'`): its accuracy on the class, overall
    and on the class after each bias correction (`bias`, chosen for accuracy,
    and `matched`, the teacher's count), and how much probability it and the
    teacher put on the class, over all images and over the class's own.
    """
    classes = logits.shape[-1]
    corrected = with_bias(logits, k, bias)
    corrected_per_class = per_class_accuracy(corrected, labels, classes)
    by_count = with_bias(logits, k, matched)
    of_class = labels == k
    student_p, teacher_p = logits.double().softmax(-1)[:, k], teacher_logits.double().softmax(-1)[:, k]
    return {
        f'omitted_{split}_accuracy': per_class_accuracy(logits.argmax(-1), labels, classes)[k],
        f'corrected_{split}_accuracy': (corrected == labels).double().mean().item(),
        f'corrected_omitted_{split}_accuracy': corrected_per_class[k],
        f'corrected_per_class_{split}_accuracy': corrected_per_class,
        f'matched_{split}_accuracy': (by_count == labels).double().mean().item(),
        f'matched_omitted_{split}_accuracy': per_class_accuracy(by_count, labels, classes)[k],
        f'omitted_{split}_probability': student_p.mean().item(),
        f'teacher_omitted_{split}_probability': teacher_p.mean().item(),
        f'omitted_{split}_probability_on_class': student_p[of_class].mean().item(),
        f'teacher_omitted_{split}_probability_on_class': teacher_p[of_class].mean().item(),
    }
