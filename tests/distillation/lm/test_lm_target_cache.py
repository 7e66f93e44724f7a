"""
Tests of the cache of the language-model teacher's targets, with a small
teacher of random weights: the teacher's windows cover every position once,
the stored targets are the teacher's own, each form stores the bytes it
says, a cache is built once and read back after (a second run waits for the
one building it), its file's name and checksum do not change, a damaged one
is named and never used, and the command trains a student from stored targets.
"""

import fcntl
import shutil
import threading
from pathlib import Path

import pytest
import torch

from labml_nn.distillation.lm import target_cache
from labml_nn.distillation.lm.target_cache import (TargetCache, TargetCacheError, build_cache, bytes_per_token,
                                                   cache_identity, checksum, covering_windows, open_target_cache)
from labml_nn.distillation.lm.train import main
from labml_nn.distillation.lm.transformer import ByteTransformer
from labml_nn.distillation.sparse_targets import SampledTargets, TopKTargets
from tests.distillation.lm.test_lm_train import _args, _checkpoints

pytestmark = pytest.mark.usefixtures('outside_the_repository')

CONTEXT = 12


@pytest.fixture(scope='module')
def teacher() -> ByteTransformer:
    torch.manual_seed(0)
    return ByteTransformer(context=CONTEXT, d_model=16, layers=1, heads=2).eval().requires_grad_(False)


@pytest.fixture(scope='module')
def data() -> torch.Tensor:
    return torch.randint(0, 256, (150,), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)


@pytest.mark.parametrize('positions, context', [(149, 12), (100, 7), (5, 12), (13, 12), (12, 1)])
def test_the_teachers_windows_cover_every_position_once_with_half_a_context(positions, context):
    windows, length = covering_windows(positions, context)
    covered = []
    for start, first_kept in windows:
        assert 0 <= start and start + length <= positions
        kept = list(range(start + first_kept, start + length))
        covered += kept
        # Each kept position has half the window before it, or every byte there is
        assert all(j - start + 1 >= min(j + 1, length - max(1, length // 2) + 1) for j in kept)
    assert covered == list(range(positions))


def _logits_of_covering_windows(teacher, data) -> torch.Tensor:
    """
    The teacher's logits at every position, each from the window that covers it, one window at a time.
    """
    windows, length = covering_windows(len(data) - 1, CONTEXT)
    logits = torch.empty(len(data) - 1, 256)
    for start, first_kept in windows:
        window = teacher(data[start:start + length].long()[None])[0]
        logits[start + first_kept:start + length] = window[first_kept:]
    return logits


def test_stored_targets_are_the_teachers(teacher, data):
    logits = _logits_of_covering_windows(teacher, data)
    # The first window's positions see what an online teacher sees in a window starting at 0
    torch.testing.assert_close(logits[:CONTEXT], teacher(data[:CONTEXT].long()[None])[0])
    dense = build_cache('id', teacher, data, CONTEXT, 'dense', 0, 1.0)
    torch.testing.assert_close(dense.log_probs.float(), torch.log_softmax(logits, -1), atol=2e-2, rtol=1e-3)
    top = build_cache('id', teacher, data, CONTEXT, 'top-k', 5, 2.0)
    expected = torch.log_softmax(logits / 2.0, -1).topk(5, dim=-1)
    assert torch.equal(top.indices.long(), expected.indices)
    torch.testing.assert_close(top.log_probs.float(), expected.values, atol=1e-2, rtol=1e-3)
    sampled = build_cache('id', teacher, data, CONTEXT, 'sampled', 6, 2.0)
    # The draws are the bytes' own log-probabilities, from a fixed seed
    torch.testing.assert_close(sampled.log_probs.float(),
                               torch.log_softmax(logits / 2.0, -1).gather(-1, sampled.indices.long()),
                               atol=1e-2, rtol=1e-3)
    assert torch.equal(build_cache('id', teacher, data, CONTEXT, 'sampled', 6, 2.0).indices, sampled.indices)


def test_a_lookup_gives_the_targets_of_the_windows_positions(teacher, data):
    # The last start a window of context + 1 bytes can have is 150 - 13
    starts = torch.tensor([0, 37, 137])
    for form, size, kind in (('dense', 0, torch.Tensor), ('top-k', 4, TopKTargets), ('sampled', 4, SampledTargets)):
        cache = build_cache('id', teacher, data, CONTEXT, form, size, 1.0)
        found = cache.at(starts, CONTEXT, 'cpu')
        assert isinstance(found, kind)
        log_probs = found if form == 'dense' else found.log_probs
        assert log_probs.shape == (3, CONTEXT, 256 if form == 'dense' else 4)
        torch.testing.assert_close(log_probs[1, 5].float(), cache.log_probs[42].float())


@pytest.mark.parametrize('form, size, expected', [('dense', 0, 512), ('top-k', 4, 12), ('top-k', 32, 96),
                                                  ('sampled', 4, 12), ('sampled', 32, 96)])
def test_each_form_stores_the_bytes_it_says(teacher, data, form, size, expected):
    assert bytes_per_token(form, size) == expected
    cache = build_cache('id', teacher, data, CONTEXT, form, size, 1.0)
    assert cache.stored_bytes_per_token() == expected
    # Top-k and sampled targets of one size take the same bytes
    assert form == 'dense' or bytes_per_token('top-k', size) == bytes_per_token('sampled', size)
    assert bytes_per_token('online', 0) is None


def test_a_cache_is_built_once_then_read(tmp_path, teacher, data, monkeypatch):
    first = open_target_cache(str(tmp_path), teacher, data, CONTEXT, 'top-k', 4, 1.0)
    [path] = (tmp_path / 'lm-target-cache').glob('top-k-4-*.pt')

    def refuse(*args):
        raise AssertionError('built again')

    monkeypatch.setattr(target_cache, 'build_cache', refuse)
    again = open_target_cache(str(tmp_path), teacher, data, CONTEXT, 'top-k', 4, 1.0)
    assert torch.equal(again.indices, first.indices) and torch.equal(again.log_probs, first.log_probs)
    # Another size, temperature, teacher or other bytes is another cache
    identity = cache_identity(teacher, data, CONTEXT, 'top-k', 4, 1.0)
    assert identity != cache_identity(teacher, data, CONTEXT, 'top-k', 5, 1.0)
    assert identity != cache_identity(teacher, data, CONTEXT, 'top-k', 4, 2.0)
    assert identity != cache_identity(teacher, data[:-1], CONTEXT, 'top-k', 4, 1.0)
    other = ByteTransformer(context=CONTEXT, d_model=16, layers=1, heads=2)
    assert identity != cache_identity(other, data, CONTEXT, 'top-k', 4, 1.0)
    # Dense targets serve every temperature
    assert cache_identity(teacher, data, CONTEXT, 'dense', 0, 1.0) == cache_identity(teacher, data, CONTEXT,
                                                                                       'dense', 0, 3.0)


def test_a_run_waits_for_the_one_building_the_same_targets(tmp_path, teacher, data, monkeypatch, capsys):
    """
    Two runs that start together and need the same targets: while one holds
    the cache's lock, looking for the file or building it, the other waits;
    once that one has written the file and let go, the other reads it and builds nothing.
    """
    built = open_target_cache(str(tmp_path / 'built'), teacher, data, CONTEXT, 'top-k', 4, 1.0)
    [file] = (tmp_path / 'built' / 'lm-target-cache').glob('*.pt')
    folder = tmp_path / 'waiting' / 'lm-target-cache'
    folder.mkdir(parents=True)
    monkeypatch.setattr(target_cache, 'build_cache', lambda *args: pytest.fail('built again'))
    opened = []
    with open(folder / file.with_suffix('.lock').name, 'a') as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        waiting = threading.Thread(target=lambda: opened.append(
            open_target_cache(str(tmp_path / 'waiting'), teacher, data, CONTEXT, 'top-k', 4, 1.0)))
        waiting.start()
        waiting.join(timeout=2)
        assert waiting.is_alive() and not opened
        # The other run writes its file, then lets go
        shutil.copy(file, folder / file.name)
    waiting.join(timeout=60)
    assert torch.equal(opened[0].indices, built.indices) and torch.equal(opened[0].log_probs, built.log_probs)
    assert 'waiting for it' in capsys.readouterr().out


def test_the_names_and_checksums_of_files_on_disk_still_hold():
    """
    A cache's identity, which names its file, and its checksum, of a fixed
    teacher, bytes and cache, as the code that wrote the files on disk gives
    them: a change fails here, since it would lose every cache built.
    """
    linear = torch.nn.Linear(3, 2)
    linear.load_state_dict({'weight': torch.arange(6.).reshape(2, 3), 'bias': torch.tensor([1.5, -2.0])})
    data = torch.arange(10, dtype=torch.uint8)
    assert (cache_identity(linear, data, 4, 'top-k', 2, 1.0) ==
            'd2fb2836caf5bca8ed31ed199948c1106443a6a804185c60598f11e715e7f616')
    assert (cache_identity(linear, data, 4, 'dense', 0, 1.0) ==
            '20b55f5767568d1429211e623231dd81e919cf8c5cf19cfea7d914cdc23bd446')
    log_probs = torch.linspace(-3, 0, 8).reshape(4, 2).half()
    indices = torch.tensor([[1, 2], [3, 4], [5, 6], [7, 8]], dtype=torch.uint8)
    assert (checksum(TargetCache('abc', 'top-k', 1.0, log_probs, indices)) ==
            '19119937b53e95754872550dd2c3fb79f053b64b0a0e3eec031b9ceb0cbd3dd9')
    assert (checksum(TargetCache('abc', 'dense', 1.0, log_probs, None)) ==
            '76ab9213e4fbbd79029e9794068c1834cbf56302f0682c8992b32e3587d1c44d')


def _damage(path: Path):
    content = bytearray(path.read_bytes())
    # A byte inside the stored log-probabilities, far from the file's structure
    content[len(content) // 2] ^= 0xFF
    path.write_bytes(bytes(content))


@pytest.mark.parametrize('damage', [_damage, lambda path: path.write_bytes(b'not a cache'),
                                    lambda path: path.write_bytes(path.read_bytes()[:1000])])
def test_a_damaged_cache_is_named_and_not_used(tmp_path, teacher, data, monkeypatch, damage):
    open_target_cache(str(tmp_path), teacher, data, CONTEXT, 'dense', 0, 1.0)
    [path] = (tmp_path / 'lm-target-cache').glob('dense-*.pt')
    damage(path)
    before = path.read_bytes()
    monkeypatch.setattr(target_cache, 'build_cache', lambda *args: pytest.fail('built over a damaged cache'))
    with pytest.raises(TargetCacheError, match=f'{path}.*damaged.*Delete it'):
        open_target_cache(str(tmp_path), teacher, data, CONTEXT, 'dense', 0, 1.0)
    assert path.read_bytes() == before


def test_the_command_trains_a_student_from_stored_targets_and_reuses_it(tmp_path, text, capsys):
    """
    Through the command line (the studies' runs train each form, the
    pipeline's tests check them): a student from top-k targets, and the
    same command again reuses it and builds nothing.
    """
    logs = tmp_path / 'logs'
    main(_args(text, logs, 'teacher'))
    [teacher_path] = _checkpoints(logs, 'teacher')
    command = _args(text, logs, 'distilled', '--teacher', str(teacher_path), '--train-bytes', '400',
                    '--targets', 'top-k', '--target-size', '3')
    main(command)
    [run] = [torch.load(path, weights_only=False) for path in _checkpoints(logs, 'distilled')]
    assert run['settings']['targets'] == 'top-k' and run['finished'] and 0 < run['test_bpb'] < 9
    assert [p.name.rsplit('-', 1)[0] for p in (logs / 'lm-target-cache').glob('*.pt')] == ['top-k-3']
    capsys.readouterr()
    main(command)
    out = capsys.readouterr().out
    assert 'reusing the finished run' in out and 'Teacher targets written' not in out


@pytest.mark.parametrize('more, message', [
    (['--targets', 'top-k'], 'needs --target-size'),
    (['--targets', 'dense', '--target-size', '4'], 'is for top-k and sampled targets'),
    (['--targets', 'top-k', '--target-size', '257'], 'more than the 256 bytes'),
    (['--targets', 'sampled', '--target-size', '4', '--on-policy', '0.5'], 'needs the teacher itself'),
    (['--targets', 'top-k', '--target-size', '4', '--divergence', 'jsd'], 'forward KL only'),
    (['--targets', 'logits'], 'is not one of online, dense, top-k, sampled'),
])
def test_targets_that_cannot_work_are_refused_before_any_work(tmp_path, text, capsys, more, message):
    with pytest.raises(SystemExit) as exit_:
        main(_args(text, tmp_path / 'logs', 'distilled', *more))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and 'Traceback' not in err
    assert not (tmp_path / 'logs').exists()
