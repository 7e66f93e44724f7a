"""
Tests of `labml_nn.distillation.huggingface` on tiny models of `transformers`
built from configurations (nothing is downloaded): a GPT-2 student and a
Llama teacher whose output layers are padded to different sizes. The fused
loss equals the loss from both models' full logits, sliced and shifted by
hand, in value and in the gradient of every student parameter; padding
changes nothing; one training step lowers it; bad input is refused. Without
`transformers` the module still imports, and the model tests are skipped.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from labml_nn.distillation.huggingface import causal_lm_distillation_loss
from labml_nn.distillation.loss import soft_target_loss

ROOT = Path(__file__).resolve().parents[2]
# The real vocabulary, and the rows of the student's and the teacher's output layers
REAL, STUDENT_ROWS, TEACHER_ROWS = 64, 72, 80


@pytest.fixture(scope='module')
def transformers():
    # Nothing may be fetched from the hub
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv('HF_HUB_OFFLINE', '1')
        yield pytest.importorskip('transformers')


def _models(transformers, seed=0):
    torch.manual_seed(seed)
    student = transformers.AutoModelForCausalLM.from_config(transformers.GPT2Config(
        n_layer=1, n_embd=32, n_head=2, n_positions=16, vocab_size=STUDENT_ROWS, bos_token_id=0,
        eos_token_id=0, resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0))
    teacher = transformers.AutoModelForCausalLM.from_config(transformers.LlamaConfig(
        num_hidden_layers=1, hidden_size=48, intermediate_size=96, num_attention_heads=2, num_key_value_heads=2,
        max_position_embeddings=16, vocab_size=TEACHER_ROWS, bos_token_id=0, eos_token_id=0, pad_token_id=0))
    return student, teacher.eval()


def _batch(seed=1):
    """
    Two sequences of ten tokens, the second right-padded after six.
    """
    generator = torch.Generator().manual_seed(seed)
    input_ids = torch.randint(0, REAL, (2, 10), generator=generator)
    attention_mask = torch.ones(2, 10, dtype=torch.long)
    attention_mask[1, 6:] = 0
    return input_ids, attention_mask


def _reference(student, teacher, input_ids, attention_mask, temperature, soft_weight, label_weight):
    """
    The same loss from both models' full logits: the first REAL classes, the
    last position dropped, the labels shifted, padding left out.
    """
    with torch.no_grad():
        teacher_logits = teacher(input_ids, attention_mask=attention_mask).logits[:, :-1, :REAL]
    student_logits = student(input_ids, attention_mask=attention_mask).logits[:, :-1, :REAL]
    labels = input_ids.masked_fill(attention_mask == 0, -100)[:, 1:]
    valid = labels != -100
    soft = soft_target_loss(student_logits, teacher_logits, temperature, valid)
    return soft_weight * soft + label_weight * F.cross_entropy(student_logits[valid], labels[valid])


def _value_and_grads(student, loss_fn):
    student.zero_grad()
    value = loss_fn()
    value.backward()
    return value.detach(), {name: p.grad.clone() for name, p in student.named_parameters()}


@pytest.mark.parametrize('settings', [dict(temperature=2.0, soft_target_weight=1.0, label_loss_weight=0.0),
                                      dict(temperature=1.0, soft_target_weight=0.4, label_loss_weight=0.6)])
def test_the_fused_loss_equals_the_loss_from_full_logits(transformers, settings):
    student, teacher = _models(transformers)
    input_ids, attention_mask = _batch()
    value, grads = _value_and_grads(student, lambda: causal_lm_distillation_loss(
        student, teacher, input_ids, attention_mask, vocab_size=REAL, chunk_size=5, **settings))
    expected, expected_grads = _value_and_grads(student, lambda: _reference(
        student, teacher, input_ids, attention_mask, settings['temperature'], settings['soft_target_weight'],
        settings['label_loss_weight']))
    torch.testing.assert_close(value, expected, rtol=1e-5, atol=1e-6)
    assert grads.keys() == expected_grads.keys()
    for name in grads:
        torch.testing.assert_close(grads[name], expected_grads[name], rtol=1e-4, atol=1e-6, msg=name)
    # The output layer's padding rows (GPT-2's are its embeddings') get no gradient
    output_grad = grads['lm_head.weight'] if 'lm_head.weight' in grads else grads['transformer.wte.weight']
    assert output_grad[:REAL].abs().max() > 0 and (output_grad[REAL:] == 0).all()


def test_padding_and_the_labels_default_to_the_attention_mask(transformers):
    student, teacher = _models(transformers)
    input_ids, attention_mask = _batch()
    value = causal_lm_distillation_loss(student, teacher, input_ids, attention_mask, vocab_size=REAL)
    # Other tokens at the padded positions change nothing
    repadded = input_ids.clone()
    repadded[1, 6:] = (repadded[1, 6:] + 7) % REAL
    torch.testing.assert_close(causal_lm_distillation_loss(student, teacher, repadded, attention_mask,
                                                           vocab_size=REAL), value)
    # Explicit labels with -100 at the padding are the default
    labels = input_ids.masked_fill(attention_mask == 0, -100)
    torch.testing.assert_close(causal_lm_distillation_loss(student, teacher, input_ids, attention_mask, labels,
                                                           vocab_size=REAL), value)
    # and counting the padding would change the loss
    counted = causal_lm_distillation_loss(student, teacher, input_ids, attention_mask, input_ids, vocab_size=REAL)
    assert (counted - value).abs() > 1e-4


def test_one_training_step_lowers_the_loss(transformers):
    student, teacher = _models(transformers)
    input_ids, attention_mask = _batch()
    optimizer = torch.optim.Adam(student.parameters(), lr=1e-2)

    def loss():
        return causal_lm_distillation_loss(student, teacher, input_ids, attention_mask, temperature=2.0,
                                           soft_target_weight=0.5, label_loss_weight=0.5, vocab_size=REAL)

    before = loss()
    before.backward()
    optimizer.step()
    with torch.no_grad():
        after = loss()
    assert after < before - 1e-3


def test_vocabularies_of_different_sizes_need_vocab_size(transformers):
    student, teacher = _models(transformers)
    input_ids, attention_mask = _batch()
    with pytest.raises(ValueError, match=f'student has {STUDENT_ROWS} .* teacher {TEACHER_ROWS} .* vocab_size='):
        causal_lm_distillation_loss(student, teacher, input_ids, attention_mask)


def test_a_model_that_changes_its_logits_after_the_output_layer_is_refused(transformers):
    student, _ = _models(transformers)
    # Gemma 2 caps its logits, tanh(z / c) c, after its output layer
    teacher = transformers.AutoModelForCausalLM.from_config(transformers.Gemma2Config(
        num_hidden_layers=1, hidden_size=32, intermediate_size=64, num_attention_heads=2, num_key_value_heads=2,
        head_dim=16, vocab_size=REAL, final_logit_softcapping=2.0)).eval()
    input_ids, attention_mask = _batch()
    with torch.no_grad():
        hidden = teacher.base_model(input_ids, attention_mask=attention_mask).last_hidden_state
        assert not torch.allclose(teacher.lm_head(hidden), teacher(input_ids, attention_mask=attention_mask).logits)
    with pytest.raises(ValueError, match=r'teacher \(Gemma2ForCausalLM\) changes its logits after the output '
                                         r'layer \(final_logit_softcapping=2.0\)'):
        causal_lm_distillation_loss(student, teacher, input_ids, attention_mask, vocab_size=REAL)


def test_bad_input_is_refused(transformers):
    student, teacher = _models(transformers)
    input_ids, attention_mask = _batch()
    cases = [
        (dict(input_ids=input_ids.float()), TypeError, 'input_ids must be an integer tensor'),
        (dict(input_ids=input_ids[0]), ValueError, r'input_ids must be \[batch, seq\]'),
        (dict(input_ids=input_ids[:, :1], attention_mask=None), ValueError, 'seq at least 2'),
        (dict(attention_mask=attention_mask[:, :5]), ValueError, 'attention_mask must have the shape'),
        (dict(labels=input_ids.float()), TypeError, 'labels must be an integer tensor'),
        (dict(teacher=torch.nn.Linear(3, 3)), TypeError, 'teacher must be a causal language model'),
        (dict(labels=torch.full_like(input_ids, REAL)), ValueError, 'target holds class indices outside 0 to 63'),
    ]
    for change, error, message in cases:
        arguments = dict(student=student, teacher=teacher, input_ids=input_ids, attention_mask=attention_mask)
        with pytest.raises(error, match=message):
            causal_lm_distillation_loss(**{**arguments, **change}, vocab_size=REAL)


def test_the_module_imports_without_transformers(tmp_path):
    # A fresh process in which `transformers` cannot be imported
    check = ("import sys; sys.modules['transformers'] = None\n"
             "import labml_nn.distillation.huggingface\n"
             "print('transformers' in sys.modules and sys.modules['transformers'] is not None)")
    result = subprocess.run([sys.executable, '-c', check], cwd=tmp_path, capture_output=True, text=True,
                            env={**os.environ, 'PYTHONPATH': str(ROOT)}, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == 'False\n'
