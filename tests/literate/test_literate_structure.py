"""
The renderer's modules depend on each other one way, in the order of its
pipeline: no module imports one that comes after it.
"""

import ast
from pathlib import Path

import labml_nn.literate

PACKAGE = Path(labml_nn.literate.__file__).parent

# The stages, each using only those before it
ORDER = ['__init__', 'split', 'sources', 'code', 'notes', 'page', 'search', 'translate', 'measures', 'results', 'site',
         'output', '__main__']


def imported(module: str) -> set:
    """
    The modules of this package that `module` imports.
    """
    tree = ast.parse((PACKAGE / f'{module}.py').read_text(encoding='utf-8'))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == 'labml_nn.literate':
            found.add('__init__')
        elif isinstance(node, ast.ImportFrom) and (node.module or '').startswith('labml_nn.literate.'):
            found.add(node.module.rsplit('.', 1)[1])
        elif isinstance(node, ast.Import):
            found |= {a.name.rsplit('.', 1)[1] for a in node.names if a.name.startswith('labml_nn.literate.')}
    return found


def test_every_module_is_a_stage():
    assert sorted(p.stem for p in PACKAGE.glob('*.py')) == sorted(ORDER)


def test_modules_import_only_earlier_stages():
    for position, module in enumerate(ORDER):
        later = imported(module) - set(ORDER[:position])
        assert not later, f'{module} imports {later}, which come after it'
