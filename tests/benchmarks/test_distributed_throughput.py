"""
`benchmarks/distributed_throughput.py` runs end to end on a tiny image folder
(one timed step, one round): it launches torchrun with 1 and 2 processes and
prints images/s per process and in total for both. Too little data is a
message before any launch.
"""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / 'benchmarks' / 'distributed_throughput.py'


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *argv], cwd=cwd, text=True, capture_output=True,
                          timeout=300)


def test_both_world_sizes_side_by_side(tmp_path, make_image_folder):
    # 4 classes of 48 images: 192, the 3 batches of 64 of one timed step
    folder = make_image_folder(tmp_path / 'data', train=48, test=None)
    done = run('--data-dir', str(folder), '--steps', '1', '--rounds', '1', '--device', 'cpu', cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    rows = [line.split('|') for line in done.stdout.splitlines() if line.startswith('| 1 |') or line.startswith('| 2 |')]
    assert [row[1].strip() for row in rows] == ['1', '2']
    for row in rows:
        per_process, total = float(row[3]), float(row[4])
        assert per_process > 0 and total > 0
    assert '2 processes / 1 process' in done.stdout


def test_too_little_data_is_a_message(tmp_path, make_image_folder):
    folder = make_image_folder(tmp_path / 'data', train=4, test=None)
    done = run('--data-dir', str(folder), '--steps', '1', cwd=tmp_path)
    assert done.returncode == 2 and 'training images make fewer than the 3 batches' in done.stderr
