"""
The prepared GPU study script: bad options and missing data end with a
message and status 2 before any work, and `--smoke` runs the whole study,
from an archive, on the CPU, writing what the GPU run writes.
"""

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / 'benchmarks' / 'gpu_full_study.sh'


def run_script(*argv, python=sys.executable):
    return subprocess.run(['bash', str(SCRIPT), *argv], capture_output=True, text=True, timeout=600,
                          env=os.environ | {'PYTHON': python})


@pytest.mark.parametrize('argv, message', [(['--bogus'], 'unknown option --bogus'),
                                           (['--out'], '--out needs a value'),
                                           (['--data', '/no/such/archive.tar.gz'], 'no data at /no/such')])
def test_mistakes_stop_before_any_work(tmp_path, argv, message):
    done = run_script(*argv, '--out', str(tmp_path / 'out')) if argv != ['--out'] else run_script(*argv)
    assert done.returncode == 2 and f'error: {message}' in done.stderr
    assert not (tmp_path / 'out').exists()


def test_an_interpreter_without_the_project_is_named(tmp_path, image_folder):
    done = run_script('--smoke', '--data', str(image_folder), '--out', str(tmp_path / 'out'),
                      python='/bin/false')
    assert done.returncode == 2 and '/bin/false cannot import torch' in done.stderr


def test_smoke_study_from_an_archive(tmp_path, image_folder):
    archive = tmp_path / 'cifar.tar.gz'
    with tarfile.open(archive, 'w:gz') as tar:
        tar.add(image_folder / 'train', arcname='train')
        tar.add(image_folder / 'test', arcname='test')
    out = tmp_path / 'out'
    done = run_script('--smoke', '--data', str(archive), '--out', str(out))
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / 'results.json').read_text())
    assert results['profile'] == 'smoke' and results['study'] == 'compare'
    assert {run['variant'] for run in results['runs']} == {'large', 'small', 'distilled'}
    # The data has a test split, so test accuracy is reported beside validation
    assert all(run['test_accuracy'] is not None for run in results['runs'])
    assert (out / 'results.md').exists() and (out / 'accuracy.png').exists()
    timing = (out / 'study_time.txt').read_text()
    assert timing.startswith('profile smoke, 1 seed(s), --jobs 1, on cpu: the study took ')
