"""
What a command prints when its output goes to a file: plain lines, no
terminal escape codes or carriage returns, and labml's warning about a
folder that is not a git repository once per command, however many runs.
"""

import subprocess
import sys


def test_a_study_written_to_a_file_is_plain_text(tmp_path, image_folder, teacher_run):
    # Three runs in one command (the teacher and two students), outside a git repository
    argv = [sys.executable, '-m', 'labml_nn.distillation.cifar10.pipeline', '--data-dir', str(image_folder),
            '--profile', 'smoke', '--device', 'cpu', '--logs-dir', str(tmp_path / 'logs'),
            '--out', str(tmp_path / 'out')]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert '\x1b' not in out and '\r' not in out
    assert out.count('Not a valid git repository') == 1
    # Each epoch's line as labml last drew it: 2 for the teacher and 2 for each student
    assert out.count('loss.train') == 6
    # Where the study is, and each run's score
    assert '[1/3] large teacher' in out and '[3/3] distilled seed 0' in out
    assert 'small seed 0: validation accuracy' in out and '1 run left' in out
