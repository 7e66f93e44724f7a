"""
The loss page's own numbers and code: the worked example's table and the
numbers in its prose are what the formulas give, and the training-loop
snippet runs as it is printed.
"""

import re
from pathlib import Path

import torch

from labml_nn.distillation.loss import DistillationLoss, soft_target_loss

SOURCE = Path(__file__).parents[2] / 'labml_nn' / 'distillation' / 'loss.py'


def section(heading: str) -> str:
    """
    The notes of the comment section that starts with `# ## {heading}`, up to
    the next heading or the end of the comment, without the `# ` prefixes.
    """
    lines = SOURCE.read_text(encoding='utf-8').split('\n')
    start = lines.index(f'# ## {heading}')
    notes = []
    for line in lines[start + 1:]:
        if not line.startswith('#') or line.startswith('# ## '):
            break
        notes.append(line[2:])
    return '\n'.join(notes)


def table_row(text: str, label: str) -> list:
    """
    The numbers in the row of a Markdown table whose first cell is `label`.
    """
    [row] = [line for line in text.split('\n') if line.startswith(f'| {label} |')]
    return [float(cell) for cell in row.strip('|').split('|')[1:]]


# The example's logits: classes 2, 3 and 7
TEACHER = torch.tensor([6.0, 2.0, 1.0], dtype=torch.float64)
STUDENT = torch.tensor([3.0, 0.0, 1.0], dtype=torch.float64)


def test_the_worked_examples_table_is_what_the_formulas_give():
    text = section('A worked example')
    assert table_row(text, "teacher's logits $v$") == TEACHER.tolist()
    assert table_row(text, "student's logits $z$") == STUDENT.tolist()
    for label, expected in (('$p$ at $T = 1$', torch.softmax(TEACHER, -1)),
                            ('$p$ at $T = 4$', torch.softmax(TEACHER / 4, -1)),
                            ('$q$ at $T = 4$', torch.softmax(STUDENT / 4, -1))):
        torch.testing.assert_close(torch.tensor(table_row(text, label), dtype=torch.float64), expected,
                                   rtol=0, atol=5e-4)
    # The gradient of the loss with respect to the student's logits, from the loss itself
    student = STUDENT.clone().requires_grad_()
    soft_target_loss(student[None], TEACHER[None], 4.0).backward()
    torch.testing.assert_close(torch.tensor(table_row(text, 'gradient $T (q - p)$'), dtype=torch.float64),
                               student.grad, rtol=0, atol=5e-4)


def test_the_worked_examples_prose_is_what_the_formulas_give():
    text = section('A worked example')
    p, q = torch.softmax(TEACHER / 4, -1), torch.softmax(STUDENT / 4, -1)
    kl = (p * (p.log() - q.log())).sum()
    loss = soft_target_loss(STUDENT[None], TEACHER[None], 4.0)
    torch.testing.assert_close(loss, 16 * kl)
    assert f'{kl:.4f}' in text and f'{loss:.3f}' in text
    # Without the factor $T^2$ the gradient is $(q - p) / T$
    without = ', '.join(f'{value:.3f}' for value in ((q - p) / 4).tolist())
    assert f'({without})' in text
    # The teacher's second and third guesses, in percent, at both temperatures
    p1 = torch.softmax(TEACHER, -1)
    assert f'{p1[1]:.1%} and {p1[2]:.1%}' in text and f'{p[1]:.0%} and {p[2]:.0%}' in text


def test_the_training_loop_snippet_runs():
    [code] = re.findall(r'```python\n(.*?)```', section('In your own training loop'), flags=re.DOTALL)
    torch.manual_seed(0)
    names = {}
    exec(compile(code, 'snippet', 'exec'), names)
    # It trains with both losses the page names, and ends with a number
    assert names['DistillationLoss'] is DistillationLoss and names['soft_target_loss'] is soft_target_loss
    assert names['loss'].dim() == 0 and torch.isfinite(names['loss'])
