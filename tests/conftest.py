"""
Shared fixtures: tiny CIFAR-10-shaped image folders made on the spot, and one
smoke-profile teacher trained once per test session.

Nothing here reads the network or data outside the test's temporary folders.
"""

import functools
import importlib.util
import sys
from pathlib import Path
from typing import Dict, Iterable, Optional

import numpy as np
import pytest

# Four classes, deliberately not in alphabetical order, so that a test can
# see that labels follow the sorted names and not the order of creation
CLASSES = ('dog', 'cat', 'ship', 'bird')


def _write_folder(root: Path, classes: Iterable[str] = CLASSES, train: int = 8,
                  test: Optional[int] = 3, seed: int = 0) -> Path:
    """
    Write `root/train/<class>/*` (and `root/test/<class>/*` unless `test` is
    `None`): random 32x32 RGB images, alternately `.png` and `.jpg`.
    Each class, in alphabetical order, has its own brightness in the red
    channel, $20 + 60 k$ for the first four, so that what a loader labels can
    be checked against the pixels.
    """
    from PIL import Image
    rng = np.random.default_rng(seed)
    splits = {'train': train} if test is None else {'train': train, 'test': test}
    for split, count in splits.items():
        for k, name in enumerate(sorted(classes)):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(count):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                pixels[..., 0] = (20 + 60 * k) % 256
                suffix = '.png' if i % 2 == 0 else '.jpg'
                Image.fromarray(pixels).save(folder / f'{split}_{i:03d}{suffix}')
    return root


@pytest.fixture(scope='session')
def make_image_folder():
    """
    A factory for image folders: `make_image_folder(root, classes=..., train=8, test=3, seed=0)`.
    """
    return _write_folder


@pytest.fixture(scope='session')
def image_folder(tmp_path_factory) -> Path:
    """
    The session's image folder: 4 classes, 4 training and 2 test images each.
    The smoke profile holds 8 of the 16 training images out for validation
    and trains on one batch of 8 an epoch, which keeps the large model's
    steps, seconds each on a busy CPU, few. Tests must not change the folder;
    those that do make their own.
    """
    return _write_folder(tmp_path_factory.mktemp('cifar-folder'), train=4, test=2)


@pytest.fixture(scope='session')
def cifar_data(image_folder):
    """
    The session's image folder, loaded once.
    """
    from labml_nn.distillation.cifar10.data import load_cifar10
    return load_cifar10(str(image_folder), download=False)


def smoke_settings(model_name: str, data_dir, logs_dir, **overrides) -> Dict:
    """
    The `smoke` profile's settings of `model_name` on the CPU, as the command line would make them.
    """
    from labml_nn.distillation.cifar10.train import profile_settings
    return (profile_settings('smoke', model_name)
            | {'data_dir': str(data_dir), 'logs_dir': str(logs_dir), 'device': 'cpu'} | overrides)


@pytest.fixture(scope='session')
def smoke_settings_for():
    return smoke_settings


@pytest.fixture(scope='session')
def teacher_run(tmp_path_factory, image_folder, cifar_data) -> Dict:
    """
    A finished smoke-profile teacher, trained once for the whole session in a
    logs folder of its own; returns its run record (`record`), with its
    checkpoint (`path`), run id (`uuid`) and logs folder (`logs_dir`).
    """
    from labml_nn.distillation.cifar10.train import configs_for
    from labml_nn.distillation.cifar10.trainer import train
    logs_dir = tmp_path_factory.mktemp('teacher-logs')
    # Outside a git repository labml does not record its state, which takes seconds
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(logs_dir)
        result = train(configs_for('large'), smoke_settings('large', image_folder, logs_dir), cifar_data)
    assert result.finished
    return {'record': result, 'path': result.path, 'uuid': result.uuid, 'logs_dir': logs_dir}


@pytest.fixture
def outside_the_repository(tmp_path, monkeypatch):
    """
    Run the test in its temporary folder: labml records the git state of the
    working folder of every run, and outside a repository it skips that,
    which saves seconds a run. Modules that train use it for every test.
    """
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def ctrl_c_in_second_epoch(monkeypatch):
    """
    Make the trainer's second epoch (counted over the whole test) end in
    Ctrl-C, a `KeyboardInterrupt`, before it trains; the others train as
    usual. Returns the list of epochs started, one entry each.
    """
    from labml_nn.distillation.cifar10 import trainer
    original = trainer._train_epoch
    started = []

    # `__wrapped__` is the trainer's own function, for tests that patch it again
    @functools.wraps(original)
    def epoch(*args, **kwargs):
        started.append(1)
        if len(started) == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(trainer, '_train_epoch', epoch)
    return started


# The benchmark scripts, which are not part of the package
BENCHMARKS = Path(__file__).resolve().parent.parent / 'benchmarks'


@pytest.fixture(scope='session')
def load_benchmark():
    """
    `load_benchmark(name)`: the script `benchmarks/<name>.py` as a module, to
    call its `main` in the test's process.
    """
    def load(name: str):
        spec = importlib.util.spec_from_file_location(f'benchmark_{name}', BENCHMARKS / f'{name}.py')
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return load


@pytest.fixture
def benchmark_fails(monkeypatch, capsys):
    """
    `benchmark_fails(module, *argv)`: run a benchmark's `main` with `argv`,
    which must end with status 2; returns what it printed on standard error.
    """
    def run(benchmark, *argv) -> str:
        monkeypatch.setattr(sys, 'argv', [benchmark.__file__, *argv])
        with pytest.raises(SystemExit) as exit_:
            benchmark.main()
        assert exit_.value.code == 2
        return capsys.readouterr().err
    return run
