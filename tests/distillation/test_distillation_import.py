"""
Importing the soft-target loss must be cheap and free of side effects: users
import it into their own training code. It must not pull in `labml` or
`torchvision`, write any file, or print anything.

Each check runs in a fresh Python process, started in an empty directory with
an empty home directory, so nothing imported by the test session can hide an import.
"""

import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Imports that would make `import labml_nn.distillation.loss` slow or heavy
HEAVY = ['labml', 'labml_helpers', 'torchvision', 'matplotlib', 'labml_nn.distillation.cifar10',
         'labml_nn.distillation.cifar10.train', 'labml_nn.distillation.cifar10.data',
         'labml_nn.distillation.cifar10.trainer']

CHECK = f"""
import sys
print('before import', flush=True)
import labml_nn.distillation.loss
print('after import', flush=True)
heavy = {HEAVY!r}
print('heavy:', sorted(m for m in heavy if m in sys.modules))
print('loss:', callable(labml_nn.distillation.loss.soft_target_loss))
"""


def _listing(path: Path):
    return sorted(str(p.relative_to(path)) for p in path.rglob('*'))


def test_import_is_cheap_and_silent(tmp_path):
    cwd, home = tmp_path / 'cwd', tmp_path / 'home'
    cwd.mkdir()
    home.mkdir()
    env = {**os.environ, 'HOME': str(home), 'PYTHONPATH': str(ROOT),
           'PYTHONDONTWRITEBYTECODE': '1', 'PYTHONWARNINGS': 'default'}
    result = subprocess.run([sys.executable, '-c', CHECK], cwd=cwd, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    # Nothing printed by the import itself, not even a warning
    assert result.stdout == "before import\nafter import\nheavy: []\nloss: True\n"
    assert result.stderr == ''
    # No file written to the working or the home directory
    assert _listing(cwd) == [] and _listing(home) == []


@pytest.mark.parametrize('name', ['__init__.py', 'loss.py', 'cifar10/large.py', 'cifar10/small.py'])
def test_source_compiles_without_warnings(name):
    # A LaTeX command like `\frac` in a docstring that is not raw would become a
    # form feed (`\f`), `\alpha` a bell (`\a`): the compiler warns about the
    # escapes it does not know, and the raw prefix is what avoids all of them
    path = ROOT / 'labml_nn' / 'distillation' / name
    source = path.read_text(encoding='utf-8')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        code = compile(source, str(path), 'exec')
    # Docstrings of functions and classes live in the nested code objects
    strings, codes = [], [code]
    while codes:
        for constant in codes.pop().co_consts:
            if isinstance(constant, str):
                strings.append(constant)
            elif hasattr(constant, 'co_consts'):
                codes.append(constant)
    assert not [s[:40] for s in strings if any(ch in s for ch in '\a\b\f\v')]
