"""
The package's dependencies point one way, and state its layers: the loss
(`distillation/loss.py` and its companions) imports only PyTorch; the shared
layer (`experiments`) imports no distillation module; each experiment,
`distillation/cifar10` and `distillation/lm`, stands on the loss and the
shared layer and never imports the other; `literate` uses none of them. No
two modules import each other, directly or through others.

The imports are read from the source with `ast`, wherever they are in a
module (inside functions, and under `if __name__ == '__main__':` too), so the
test sees a dependency whether or not importing the module runs it: a model's
module that handed its command line over to the command module, which
imports the model again, is a circle.
"""

import ast
import importlib.util
import sysconfig
from pathlib import Path
from typing import Dict, List, Set

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / 'labml_nn'


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def imported_modules(path: Path, modules: Set[str]) -> Set[str]:
    """
    The package's modules that `path` imports. `from package import module`
    counts as importing the module.
    """
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
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
    assert 'labml_nn.distillation.cifar10.data' in graph['labml_nn.distillation.cifar10.trainer']
    assert 'labml_nn.distillation.loss' in graph['labml_nn.distillation.cifar10.distill']


def test_no_import_cycles():
    assert find_cycle(import_graph()) == []


def test_cycle_finder_finds_cycles():
    assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
    assert find_cycle({'a': {'b'}, 'b': set()}) == []


# The layers, from the bottom: the paper's loss, for any model; the machinery
# both experiments share; the two experiments, each with its own models,
# step, commands and studies; and the renderer of the pages, beside them all
LOSS = ['labml_nn.distillation.loss', 'labml_nn.distillation.loss_engine', 'labml_nn.distillation.fused_loss',
        'labml_nn.distillation.sparse_targets', 'labml_nn.distillation.huggingface']
SHARED = 'labml_nn.experiments'
CIFAR10 = 'labml_nn.distillation.cifar10'
LM = 'labml_nn.distillation.lm'


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + '.')


@pytest.mark.parametrize('package, forbidden', [
    # The shared layer knows neither experiment, nor the loss
    (SHARED, ['labml_nn.distillation', 'labml_nn.literate']),
    ('labml_nn.literate', ['labml_nn.distillation', SHARED]),
    # Each experiment stands on the loss and the shared layer, never on the other experiment
    (LM, [CIFAR10, 'labml_nn.literate']),
    (CIFAR10, [LM, 'labml_nn.literate']),
    # The loss imports none of the package's other modules
    *[(module, [SHARED, CIFAR10, LM, 'labml_nn.literate']) for module in LOSS],
])
def test_dependencies_point_one_way(package, forbidden):
    wrong = {module: sorted(t for t in targets if any(within(t, f) for f in forbidden))
             for module, targets in import_graph().items() if within(module, package)}
    assert {m: t for m, t in wrong.items() if t} == {}


def test_every_module_has_its_layer():
    """
    Each of the package's modules is in one of the layers above, so that a
    new folder gets its rules before it gets modules.
    """
    layers = LOSS + [SHARED, CIFAR10, LM, 'labml_nn.literate']
    assert [m for m in import_graph() if not any(within(m, layer) for layer in layers)] == [
        'labml_nn', 'labml_nn.distillation']


def third_party(path: Path) -> Set[str]:
    """
    The top-level packages `path` imports that are neither the standard
    library nor this package.
    """
    standard = Path(sysconfig.get_paths()['stdlib']).resolve()
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding='utf-8'))):
        if isinstance(node, ast.Import):
            roots = {alias.name.split('.')[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots = {node.module.split('.')[0]}
        else:
            continue
        for root in roots - {'labml_nn'}:
            spec = importlib.util.find_spec(root)
            origin = spec.origin if spec else None
            if origin not in ('built-in', 'frozen') and (origin is None or standard not in Path(origin).parents
                                                          or 'site-packages' in Path(origin).parts):
                found.add(root)
    return found


@pytest.mark.parametrize('module', LOSS)
def test_the_loss_needs_only_pytorch(module):
    """
    The loss is what a reader imports into their own training code: besides
    the standard library it needs PyTorch alone.
    """
    assert third_party(PACKAGE.parent / (module.replace('.', '/') + '.py')) == {'torch'}
