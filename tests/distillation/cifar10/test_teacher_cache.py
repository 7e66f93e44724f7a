"""
Tests of the teacher cache: a lookup is the teacher's own forward pass on the
same view, for images in any order, repeated or a subset; an image not in the
cache is an error; distilling from the cache trains the student exactly as
online distillation does; and the file on disk is built once per teacher and
transfer set, reused, and never overwritten.

The teacher runs in float32 so that the comparisons are tight. It is not the
session's smoke-profile teacher, which after one step answers almost the same
for every view (its logits differ by about 1e-6 between views), so that a
lookup of the wrong view would pass every test: it is a large model with
random weights, its batch normalization's statistics measured on the data
and its last layer scaled up, whose logits differ by units between views.
"""

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from labml_nn.distillation.cifar10 import teacher_cache, trainer
from labml_nn.distillation.cifar10.data import VIEWS, Split, Views, augment, crop_views, normalize
from labml_nn.distillation.cifar10.distill import DistillationConfigs
from labml_nn.distillation.cifar10.large import LargeModel
from labml_nn.distillation.cifar10.small import SmallModel
from labml_nn.distillation.cifar10.teacher_cache import (TeacherCache, TeacherCacheError, checksum, content_keys,
                                                         every_view_logits, key_weights, open_cache, teacher_hash)
from labml_nn.distillation.cifar10.train import argument_parser, configs_for, main, settings_from_args
from labml_nn.distillation.cifar10.trainer import train
from tests.distillation.launch import standalone


@pytest.fixture(scope='module')
def lively_teacher(teacher_run, cifar_data, tmp_path_factory) -> Path:
    """
    The checkpoint of a teacher whose logits change from view to view: the
    session teacher's file with other weights. Random ones, with batch
    normalization's running statistics measured on augmented training
    images (cumulative averages), so that every layer's outputs keep their
    scale, and the last layer's weights multiplied by 20.
    """
    torch.manual_seed(0)
    model = LargeModel(len(cifar_data.classes))
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.momentum = None
            module.reset_running_stats()
    with torch.no_grad():
        model(normalize(augment(cifar_data.train.images, torch.Generator().manual_seed(0))))
        model.fc.weight.mul_(20)
    state = torch.load(teacher_run['path'], map_location='cpu', weights_only=False)
    state['model'] = model.state_dict()
    path = tmp_path_factory.mktemp('lively-teacher') / 'checkpoint.pt'
    torch.save(state, path)
    return path


def _configs(teacher: Path, logs_dir, images: torch.Tensor, cache: bool = True, seed: int = 0) -> DistillationConfigs:
    """
    The distilled student's configurations on the CPU in float32, from the
    checkpoint `teacher` (of 4 classes), with `images` as the transfer set.
    """
    c = DistillationConfigs()
    c.device, c.bf16, c.logs_dir, c.seed, c.classes = 'cpu', False, str(logs_dir), seed, 4
    c.teacher, c.teacher_cache, c.train_images = str(teacher), cache, images
    c.batch_size, c.optimizer_name, c.learning_rate = 8, 'sgd', 0.05
    return c


class CountingTeacher:
    """
    The configurations' teacher, counting how often the cache asks for it to build.
    """

    def __init__(self, c: DistillationConfigs):
        self.c, self.calls = c, 0

    def __call__(self):
        self.calls += 1
        return self.c.teacher_model


@pytest.fixture(scope='module')
def cached(lively_teacher, cifar_data, tmp_path_factory):
    """
    The cache of the first 6 training images, and the configurations that built it.
    """
    images = cifar_data.train.images[:6]
    c = _configs(lively_teacher, tmp_path_factory.mktemp('cache-logs'), images)
    return c, c.teacher_outputs, images


def _teacher_on(c: DistillationConfigs, images: torch.Tensor, numbers: torch.Tensor) -> torch.Tensor:
    """
    The teacher's forward pass on each image in its view numbered by `numbers`.
    """
    with torch.inference_mode():
        return c.teacher_model(normalize(crop_views(images, Views.from_numbers(numbers)))).clone()


# ## Looking up

def test_lookup_is_the_teachers_forward_on_every_view(cached):
    c, cache, images = cached
    assert cache.logits.shape == (6, VIEWS, c.classes) and cache.logits.dtype == torch.float32
    # The views' logits differ by far more than the tolerance: a wrong view would be seen
    assert cache.logits.std(1).min() > 1
    numbers = torch.arange(VIEWS)
    for image in images[:3]:
        batch = image.expand(VIEWS, 3, 32, 32)
        torch.testing.assert_close(cache.lookup(batch, numbers), _teacher_on(c, batch, numbers),
                                   atol=1e-5, rtol=1e-5)


def test_views_are_distinct():
    """
    The 162 numbers name 162 different windows of an image with no repeated
    pixel pattern: no two views are the same.
    """
    image = torch.randperm(256).repeat(12)[:3 * 32 * 32].view(1, 3, 32, 32).to(torch.uint8) | 1
    crops = crop_views(image.expand(VIEWS, 3, 32, 32), Views.from_numbers(torch.arange(VIEWS)))
    assert len({bytes(crop.flatten().tolist()) for crop in crops}) == VIEWS


def test_lookup_in_any_order_repeated_and_a_subset(cached):
    c, cache, images = cached
    generator = torch.Generator().manual_seed(5)
    # Shuffled, some twice, some not at all
    index = torch.tensor([4, 1, 1, 5, 0, 4, 4, 2])
    numbers = torch.randint(0, VIEWS, (len(index),), generator=generator)
    torch.testing.assert_close(cache.lookup(images[index], numbers), _teacher_on(c, images[index], numbers),
                               atol=1e-5, rtol=1e-5)


def test_an_image_not_in_the_cache_is_an_error(cached, cifar_data):
    _, cache, images = cached
    # Another image of the data, and a cached one with a single pixel changed
    changed = images[:1].clone()
    changed[0, 1, 7, 9] ^= 1
    for query in (cifar_data.train.images[6:7], changed):
        batch = torch.cat([images[:2], query])
        with pytest.raises(TeacherCacheError, match='1 of 3 images of the batch are not in the teacher cache'):
            cache.lookup(batch, torch.zeros(3, dtype=torch.int64))


def test_keys_are_exact_integers():
    """
    The key is the formula's, computed in Python's unbounded integers.
    """
    images = torch.randint(0, 256, (3, 3, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(2))
    images[0] = 255
    weights = key_weights()
    p = 2 ** 31 - 1
    for image, key in zip(images, content_keys(images, weights)):
        pixels = image.flatten().tolist()
        h = [sum(x * w for x, w in zip(pixels, row)) % p for row in weights.tolist()]
        assert int(key) == h[0] * p + h[1]


# ## Distilling from the cache

def test_cached_training_is_online_training(lively_teacher, cached, cifar_data):
    """
    Two epochs of the trainer's loop on the 6 cached images, 2 batches of 3
    each, online and from the cache (the module's file), from the same
    initial weights and the same seeded order and views: the same first loss
    and the same weights, up to rounding. A view drawn or looked up
    differently would move the weights apart.
    """
    built, _, images = cached
    split = Split(images, cifar_data.train.labels[:len(images)])
    weights, losses = {}, {}
    for cache in (False, True):
        c = _configs(lively_teacher, built.logs_dir, split.images, cache=cache)
        c.batch_size = 3
        torch.manual_seed(0)
        c.model = SmallModel(c.classes)
        initial = copy.deepcopy(c.model.state_dict())
        c.prepare()
        generator = torch.Generator().manual_seed(0)
        first = c.step(split.images, split.labels, torch.Generator().manual_seed(1))
        losses[cache] = first.item()
        scheduler = trainer.learning_rate_schedule(c.optimizer, 4, 'constant')
        for _ in range(2):
            trainer._train_epoch(c, c.model, c.optimizer, scheduler, split, generator, 2)
        weights[cache] = copy.deepcopy(c.model.state_dict())
    assert losses[True] == pytest.approx(losses[False], rel=1e-5)
    # Training moved the weights, by more than the tolerance
    assert (weights[True]['fc.weight'] - initial['fc.weight']).abs().max() > 1e-2
    for name, online in weights[False].items():
        torch.testing.assert_close(weights[True][name], online, atol=1e-4, rtol=1e-4, msg=name)


def test_a_cached_run_trains_the_online_runs_student(lively_teacher, image_folder, cifar_data, tmp_path,
                                                    smoke_settings_for, monkeypatch):
    """
    Through the trainer: a smoke run from the cache ends with the weights
    of the online run of the same seed; a second seed reuses the file the
    first one built, and builds nothing.
    """
    monkeypatch.chdir(tmp_path)
    builds = []
    monkeypatch.setattr(teacher_cache, 'every_view_logits',
                        lambda *args: builds.append(1) or every_view_logits(*args))
    runs = {}
    for seed, cache in ((0, False), (0, True), (1, True)):
        settings = smoke_settings_for('distilled', image_folder, tmp_path, teacher=str(lively_teacher),
                                      teacher_cache=cache, seed=seed, bf16=False, epochs=3, learning_rate=0.05)
        runs[seed, cache] = torch.load(train(configs_for('distilled'), settings, cifar_data).path,
                                       weights_only=False)['model']
    assert len(builds) == 1 and len(_files(tmp_path)) == 1
    online, cached = runs[0, False], runs[0, True]
    assert any(not torch.equal(online[name], runs[1, True][name]) for name in online)
    for name in online:
        torch.testing.assert_close(cached[name], online[name], atol=1e-4, rtol=1e-4, msg=name)


# ## The file on disk

def _files(logs_dir: Path):
    return sorted((Path(logs_dir) / 'teacher-cache').glob('*.pt'))


def _other_teacher(teacher: Path, tmp_path) -> Path:
    """
    A copy of the checkpoint `teacher` with one weight changed.
    """
    state = torch.load(teacher, map_location='cpu', weights_only=False)
    state['model']['fc.bias'] = state['model']['fc.bias'] + 1
    path = tmp_path / 'other-teacher.pt'
    torch.save(state, path)
    return path


def test_the_file_is_built_once_and_shared(lively_teacher, cifar_data, tmp_path):
    images = cifar_data.train.images[:3]
    c = _configs(lively_teacher, tmp_path, images)
    teacher = CountingTeacher(c)
    cache = open_cache(c, c.teacher, images, teacher)
    assert teacher.calls == 1 and len(_files(tmp_path)) == 1
    path = _files(tmp_path)[0]
    assert path.name.split('-')[1] == 'fp32'
    # Another seed, the images in another order, repeated, or a subset: the same file, not built again
    for seed, reused in ((1, images), (2, images.flip(0)), (3, torch.cat([images, images[:2]])), (4, images[1:])):
        other = _configs(lively_teacher, tmp_path, reused, seed=seed)
        reopened = open_cache(other, other.teacher, reused, lambda: pytest.fail('built again'))
        assert torch.equal(reopened.logits, cache.logits) and torch.equal(reopened.images, cache.images)
    assert _files(tmp_path) == [path]

    # More images, or another teacher: another file each, built
    more = CountingTeacher(c)
    open_cache(c, c.teacher, cifar_data.train.images[:4], more)
    assert more.calls == 1 and len(_files(tmp_path)) == 2
    other = _configs(lively_teacher, tmp_path, images)
    other.teacher = str(_other_teacher(lively_teacher, tmp_path))
    other_teacher = CountingTeacher(other)
    open_cache(other, other.teacher, images, other_teacher)
    assert other_teacher.calls == 1
    teachers = {file.name.split('-')[0] for file in _files(tmp_path)}
    assert len(_files(tmp_path)) == 3 and len(teachers) == 2


def test_a_run_waits_for_the_one_building_the_cache(lively_teacher, cifar_data, tmp_path, capsys):
    """
    While another process holds the teacher's lock, a run waits; once that
    one has written the file and let go, the run reads it and builds nothing.
    """
    import fcntl
    import shutil
    import threading
    images = cifar_data.train.images[:3]
    built = open_cache(_configs(lively_teacher, tmp_path / 'built', images), str(lively_teacher), images,
                       CountingTeacher(_configs(lively_teacher, tmp_path / 'built', images)))
    file = _files(tmp_path / 'built')[0]
    folder = tmp_path / 'waiting' / 'teacher-cache'
    folder.mkdir(parents=True)
    c = _configs(lively_teacher, tmp_path / 'waiting', images)
    opened = []
    with open(folder / f"{file.name.rsplit('-', 1)[0]}.lock", 'a') as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        waiting = threading.Thread(target=lambda: opened.append(
            open_cache(c, c.teacher, images, lambda: pytest.fail('built again'))))
        waiting.start()
        waiting.join(timeout=2)
        assert waiting.is_alive() and not opened
        # The other process writes its file, then lets go
        shutil.copy(file, folder / file.name)
    waiting.join(timeout=60)
    assert torch.equal(opened[0].logits, built.logits)
    assert 'waiting for it' in capsys.readouterr().out


def test_a_damaged_file_is_an_error_and_kept(lively_teacher, cifar_data, tmp_path):
    images = cifar_data.train.images[:2]
    c = _configs(lively_teacher, tmp_path, images)
    open_cache(c, c.teacher, images, CountingTeacher(c))
    path, = _files(tmp_path)
    path.write_bytes(b'not a cache')
    with pytest.raises(TeacherCacheError, match=f'the teacher cache {path} is damaged.*Delete it'):
        open_cache(c, c.teacher, images, lambda: pytest.fail('built over a file'))
    assert path.read_bytes() == b'not a cache'
    assert _files(tmp_path) == [path] and not list(path.parent.glob('*.tmp'))


def test_changed_bytes_inside_the_logits_are_found(lively_teacher, cifar_data, tmp_path):
    """
    64 bytes of the stored logits flipped on the disk: the file still loads,
    but its checksum no longer matches, so it is refused, named and kept.
    """
    images = cifar_data.train.images[:2]
    c = _configs(lively_teacher, tmp_path, images)
    cache = open_cache(c, c.teacher, images, CountingTeacher(c))
    path, = _files(tmp_path)
    content = bytearray(path.read_bytes())
    start = content.find(cache.logits.numpy().tobytes()) + 100
    assert start > 100
    content[start:start + 64] = bytes(255 - b for b in content[start:start + 64])
    path.write_bytes(bytes(content))
    with pytest.raises(TeacherCacheError, match=f'the teacher cache {path} is damaged.*checksum.*Delete it'):
        open_cache(c, c.teacher, images, lambda: pytest.fail('built over a file'))
    assert path.read_bytes() == bytes(content)


def test_the_names_and_checksums_of_files_on_disk_still_hold(tmp_path):
    """
    The teacher's hash that names a file and the checksum in it, of fixed
    weights and a fixed cache, as the code that wrote the files on disk
    gives them: a change fails here, since it would lose every cache built.
    """
    path = tmp_path / 'checkpoint.pt'
    torch.save({'uuid': 'a1b2', 'model': {'weight': torch.arange(6, dtype=torch.float32).reshape(2, 3),
                                          'bias': torch.tensor([1.5, -2.0], dtype=torch.bfloat16)}}, path)
    assert teacher_hash(str(path), True) == '8cdab70b64cd321b-bf16'
    assert teacher_hash(str(path), False) == '8cdab70b64cd321b-fp32'
    cache = TeacherCache(torch.tensor([3, 7]), torch.arange(2 * 3 * 32 * 32).reshape(2, 3, 32, 32).to(torch.uint8),
                         torch.linspace(-1, 1, 2 * 162 * 10).reshape(2, 162, 10).to(torch.bfloat16),
                         torch.tensor([[5, 6], [7, 8]]))
    assert checksum(cache) == '7dbb99160aec7303f38c7584e8abd17d4c6f1b136bf8918c3a48c19df21671b3'


# ## On two processes

# Run by each process of a torchrun launch: open the cache of the first 5
# training images, and save what the process got (the test's own output)
TWO_PROCESSES = """
import sys
import torch
from labml_nn.distillation.cifar10.data import load_cifar10
from labml_nn.distillation.cifar10.distill import DistillationConfigs
from labml_nn.distillation.cifar10.teacher_cache import open_cache
from labml_nn.experiments import distributed

teacher, data_dir, logs_dir, out = sys.argv[1:]
images = load_cifar10(data_dir, download=False).train.images[:5]
with distributed.process_group('cpu'):
    c = DistillationConfigs()
    c.device, c.bf16, c.logs_dir, c.teacher, c.classes = 'cpu', False, logs_dir, teacher, 4
    cache = open_cache(c, teacher, images, lambda: c.teacher_model)
    torch.save(cache._asdict(), f'{out}/rank-{distributed.world().rank}.pt')
"""


def _launch_two_processes(script: Path, *args: str) -> str:
    """
    `script` on two CPU processes joined by gloo, listening on 127.0.0.1 only; its output.
    """
    done = subprocess.run([sys.executable, '-m', 'torch.distributed.run', *standalone(2), str(script), *args],
                          env=os.environ | {'OMP_NUM_THREADS': '1'}, text=True, timeout=300,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert done.returncode == 0, done.stdout[-3000:]
    return done.stdout


def test_two_processes_share_the_building(lively_teacher, image_folder, cached, tmp_path):
    """
    Each process builds the logits of its share of the images (3 and 2 of
    5), every process ends with the whole cache, equal to the one a single
    process built (the module's, of 6 images), and rank 0 alone writes the
    one file. Launched again, both processes get the cache from rank 0's
    reading of the file, built by no one.
    """
    script = tmp_path / 'open_cache.py'
    script.write_text(TWO_PROCESSES)
    logs, out = tmp_path / 'logs', tmp_path / 'out'
    out.mkdir()
    args = (str(lively_teacher), str(image_folder), str(logs), str(out))
    first = _launch_two_processes(script, *args)
    assert first.count('Teacher cache written') == 1
    _, alone, images = cached
    for rank in (0, 1):
        got = torch.load(out / f'rank-{rank}.pt', weights_only=True)
        positions, found = alone.find(got['images'])
        assert len(got['keys']) == 5 and found.all() and torch.equal(alone.keys[positions], got['keys'])
        torch.testing.assert_close(got['logits'], alone.logits[positions], atol=1e-5, rtol=1e-5)
    assert len(_files(logs)) == 1
    second = _launch_two_processes(script, *args)
    assert 'Teacher cache written' not in second and 'Teacher logits' not in second
    assert torch.equal(torch.load(out / 'rank-1.pt', weights_only=True)['logits'], got['logits'])


# ## The command line

def test_teacher_cache_option(tmp_path, capsys):
    parser = argument_parser()
    for text, value in (('true', True), ('False', False), ('yes', True), ('0', False)):
        args = parser.parse_args(['distilled', '--teacher-cache', text])
        assert settings_from_args(args)['teacher_cache'] is value
    assert settings_from_args(parser.parse_args(['distilled']))['teacher_cache'] is False
    with pytest.raises(SystemExit) as exit_:
        main(['distilled', '--logs-dir', str(tmp_path / 'logs'), '--teacher-cache', 'maybe'])
    assert exit_.value.code == 2
    assert "must be true or false, got 'maybe'" in capsys.readouterr().err
    assert not (tmp_path / 'logs').exists()
