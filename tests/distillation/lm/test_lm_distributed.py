"""
The language-model commands under torchrun: two CPU processes distilling a
student, on-policy batches included, end with the weights one process gets,
and only rank 0 writes.
"""

import subprocess
import sys

import pytest
import torch

from labml_nn.distillation.lm.train import main
from tests.distillation.launch import standalone
from tests.distillation.lm.test_lm_train import write_text

pytestmark = pytest.mark.usefixtures('outside_the_repository')


def test_two_processes_distil_as_one(tmp_path):
    text = write_text(tmp_path / 'text')
    one, two = tmp_path / 'one', tmp_path / 'two'
    main(['teacher', '--data-dir', str(text), '--logs-dir', str(one), '--profile', 'smoke', '--device', 'cpu'])
    teacher = next(one.glob('lm-teacher-smoke/*/checkpoints/checkpoint.pt'))
    distilled = ['distilled', '--data-dir', str(text), '--profile', 'smoke', '--device', 'cpu', '--teacher',
                 str(teacher), '--on-policy', '0.5', '--steps', '6']
    main([*distilled, '--logs-dir', str(one)])
    launch = subprocess.run([sys.executable, '-m', 'torch.distributed.run', *standalone(2), '-m',
                             'labml_nn.distillation.lm.train', *distilled, '--logs-dir', str(two)],
                            cwd=tmp_path, text=True, capture_output=True, timeout=300)
    assert launch.returncode == 0, launch.stdout[-2000:] + launch.stderr[-2000:]
    # Rank 0 alone prints the result and writes the one run
    assert launch.stdout.count('distilled: validation') == 1
    [single] = list(one.glob('lm-distilled-smoke/*/checkpoints/checkpoint.pt'))
    [double] = list(two.glob('lm-distilled-smoke/*/checkpoints/checkpoint.pt'))
    single, double = torch.load(single, weights_only=False), torch.load(double, weights_only=False)
    assert double['finished'] and double['step'] == 6
    for name, weight in single['model'].items():
        scale = weight.abs().max().clamp(min=1e-6)
        assert ((weight - double['model'][name]).abs().max() / scale) < 1e-4, name
