"""
The studies' measures, on made-up logits whose answers are known: fidelity
against its definition, accuracy per class, the omitted class's bias
against a search over every bias on a fine grid, and the bias that matches a
count by the count it gives.
"""

import math

import pytest
import torch

from labml_nn.distillation.cifar10 import dark_knowledge


def test_fidelity_by_its_definition():
    teacher = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 3.0], [1.0, 2.0, 0.0]])
    student = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 2.0, 1.0]])
    measures = dark_knowledge.fidelity(student, teacher)
    # Three of four top-1 answers agree
    assert measures['teacher_agreement'] == 0.75
    kl = 0.0
    for t, s in zip(teacher.double(), student.double()):
        p, q = t.softmax(-1).tolist(), s.softmax(-1).tolist()
        kl += sum(p[c] * math.log(p[c] / q[c]) for c in range(3))
    assert measures['teacher_kl'] == pytest.approx(kl / 4, rel=1e-12)
    # A student that is its teacher: full agreement, no divergence
    assert dark_knowledge.fidelity(teacher, teacher) == {'teacher_agreement': 1.0, 'teacher_kl': 0.0}


def test_per_class_accuracy():
    labels = torch.tensor([0, 0, 1, 1, 1, 2])
    predictions = torch.tensor([0, 1, 1, 1, 0, 0])
    assert dark_knowledge.per_class_accuracy(predictions, labels, 4) == [0.5, 2 / 3, 0.0, 0.0]


def _accuracy_with(logits, labels, k, bias):
    return (dark_knowledge.with_bias(logits, k, bias) == labels).double().mean().item()


@pytest.mark.parametrize('seed', range(5))
def test_best_bias_is_the_best_on_a_fine_grid(seed):
    """
    A student that never saw class 2: its logit for 2 is low, but higher on
    images of 2 than elsewhere. No bias on a fine grid does better than the
    one found, and it puts images of 2 right.
    """
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 4, (300,), generator=generator)
    logits = torch.randn(300, 4, generator=generator)
    logits[torch.arange(300), labels] += 1.5
    logits[:, 2] -= 4.0
    bias = dark_knowledge.best_bias(logits, labels, 2)
    best = _accuracy_with(logits, labels, 2, bias)
    grid = max(_accuracy_with(logits, labels, 2, b / 100) for b in range(-1000, 1500))
    assert best >= grid
    assert best > _accuracy_with(logits, labels, 2, 0.0)
    assert 2 < bias < 8


def test_best_bias_at_the_ends():
    # Raising class 1 only loses: the bias stays below every margin
    labels = torch.tensor([0, 0, 0])
    logits = torch.tensor([[1.0, 0.0], [2.0, 0.0], [3.0, 1.0]])
    bias = dark_knowledge.best_bias(logits, labels, 1)
    assert (dark_knowledge.with_bias(logits, 1, bias) == 0).all()
    # Every image is of class 1: the bias passes every margin
    labels = torch.tensor([1, 1, 1])
    bias = dark_knowledge.best_bias(logits, labels, 1)
    assert (dark_knowledge.with_bias(logits, 1, bias) == 1).all()


@pytest.mark.parametrize('count', [0, 1, 40, 299, 300])
def test_matched_bias_predicts_the_class_as_often_as_asked(count):
    """
    Whatever the count, from none to every image, the bias makes the student
    predict the class exactly that many times, and a larger count needs a
    larger bias.
    """
    generator = torch.Generator().manual_seed(count)
    logits = torch.randn(300, 4, generator=generator) * 3
    logits[:, 2] -= 4.0
    bias = dark_knowledge.matched_bias(logits, 2, count)
    assert int((dark_knowledge.with_bias(logits, 2, bias) == 2).sum()) == count
    if count < 300:
        assert dark_knowledge.matched_bias(logits, 2, count + 1) > bias


def test_omitted_class_measures():
    labels = torch.tensor([0, 1, 1, 2])
    student = torch.tensor([[4.0, 0.0, 0.0], [0.0, -1.0, 1.0], [1.0, -0.5, 0.0], [0.0, 0.0, 3.0]])
    teacher = torch.tensor([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [0.0, 2.0, 0.0], [0.0, 0.0, 2.0]])
    measures = dark_knowledge.omitted_class_measures(student, labels, 1, 2.5, 1.75, teacher, 'valid')
    # Before: no image of class 1 right; after +2.5, both are, and nothing else changes
    assert measures['omitted_valid_accuracy'] == 0.0
    assert measures['corrected_omitted_valid_accuracy'] == 1.0
    assert measures['corrected_valid_accuracy'] == 1.0
    assert measures['corrected_per_class_valid_accuracy'] == [1.0, 1.0, 1.0]
    # After +1.75 only the third image (margin 1.5) moves to class 1
    assert measures['matched_omitted_valid_accuracy'] == 0.5
    assert measures['matched_valid_accuracy'] == 0.75
    p_student = student.double().softmax(-1)[:, 1]
    p_teacher = teacher.double().softmax(-1)[:, 1]
    assert measures['omitted_valid_probability'] == pytest.approx(p_student.mean().item())
    assert measures['teacher_omitted_valid_probability_on_class'] == pytest.approx(p_teacher[1:3].mean().item())
