"""
The package's dependencies point one way: `distillation` uses `experiments`
(data, trainer, runs), never the reverse, and `literate` uses neither. No two
modules import each other, directly or through others.

The imports are read from the source with `ast`, wherever they are in a
module (inside functions too), so the test sees a dependency whether or not
importing the module runs it. Imports under `if __name__ == '__main__':` are
left out: they run only when the file is the program itself, when it is a
module of its own (`__main__`), not the one the package imports.
"""

import ast
from pathlib import Path
from typing import Dict, List, Set

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'labml_nn'


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _is_main_guard(node: ast.AST) -> bool:
    return (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
            and isinstance(node.test.left, ast.Name) and node.test.left.id == '__name__'
            and any(isinstance(c, ast.Constant) and c.value == '__main__' for c in node.test.comparators))


def imported_modules(path: Path, modules: Set[str]) -> Set[str]:
    """
    The package's modules that `path` imports. `from package import module`
    counts as importing the module.
    """
    tree = ast.parse(path.read_text(encoding='utf-8'))
    guarded = {id(n) for guard in ast.walk(tree) if _is_main_guard(guard) for n in ast.walk(guard)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in guarded:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f'{node.module}.{alias.name}' for alias in node.names]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found - {module_name(path)}


def import_graph() -> Dict[str, Set[str]]:
    paths = sorted(PACKAGE.rglob('*.py'))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imported_modules(p, modules) for p in paths}


def find_cycle(graph: Dict[str, Set[str]]) -> List[str]:
    """
    One import cycle of `graph` as a list of modules, or `[]` when it has none.
    """
    state = {}

    def visit(module: str, stack: List[str]) -> List[str]:
        state[module] = 'open'
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 'open':
                return stack[stack.index(target):] + [target]
            if target not in state:
                cycle = visit(target, stack + [target])
                if cycle:
                    return cycle
        state[module] = 'done'
        return []

    for module in sorted(graph):
        if module not in state:
            cycle = visit(module, [module])
            if cycle:
                return cycle
    return []


def test_the_graph_is_read():
    graph = import_graph()
    assert 'labml_nn.experiments.data' in graph['labml_nn.experiments.trainer']
    assert 'labml_nn.distillation.loss' in graph['labml_nn.distillation.distill']


def test_no_import_cycles():
    assert find_cycle(import_graph()) == []


def test_cycle_finder_finds_cycles():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': set()}) == []


# CIFAR-10's own modules: its data, its trainer and models, its commands and studies
CIFAR10 = ['labml_nn.experiments.data', 'labml_nn.experiments.trainer', 'labml_nn.experiments.cifar10',
           'labml_nn.distillation.train', 'labml_nn.distillation.pipeline', 'labml_nn.distillation.large',
           'labml_nn.distillation.small', 'labml_nn.distillation.distill', 'labml_nn.distillation.teacher',
           'labml_nn.distillation.teacher_cache', 'labml_nn.distillation.fixed_teacher',
           'labml_nn.distillation.dark_knowledge']
# The layer both tracks stand on
SHARED = ['labml_nn.experiments.runs', 'labml_nn.experiments.checks', 'labml_nn.experiments.training',
          'labml_nn.experiments.reporting', 'labml_nn.experiments.console', 'labml_nn.experiments.distributed']
# The loss imports PyTorch only: none of the package's other modules
LOSS = ['labml_nn.distillation.loss', 'labml_nn.distillation.loss_engine', 'labml_nn.distillation.fused_loss',
        'labml_nn.distillation.sparse_targets', 'labml_nn.distillation.huggingface']


@pytest.mark.parametrize('package, forbidden', [
    ('labml_nn.experiments', ['labml_nn.distillation']),
    ('labml_nn.literate', ['labml_nn.distillation', 'labml_nn.experiments']),
    # The language-model track stands on the shared layer, never on CIFAR-10's modules
    ('labml_nn.distillation.lm', CIFAR10),
    *[(module, CIFAR10) for module in SHARED],
    *[(module, ['labml_nn.experiments', 'labml_nn.distillation.lm', 'labml_nn.literate'] + CIFAR10)
      for module in LOSS],
])
def test_dependencies_point_one_way(package, forbidden):
    wrong = {module: sorted(t for t in targets if any(t == f or t.startswith(f + '.') for f in forbidden))
             for module, targets in import_graph().items() if module == package or module.startswith(package + '.')}
    assert {m: t for m, t in wrong.items() if t} == {}
