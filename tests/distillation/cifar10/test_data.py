"""
Tests of the CIFAR-10 data layer: the image folder and the official release
load into `uint8` `[N, 3, 32, 32]` tensors with the right labels, the image
folder's cache is used, broken or missing data ends in one `DataError` that
names the problem, and the validation split and batch augmentation are
reproducible and do what they say.

All data is made inside the tests; nothing is downloaded.
"""

import os
import pickle
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from labml_nn.distillation.cifar10 import data as data_module
from labml_nn.distillation.cifar10.data import (VIEWS, DataError, Split, Views, augment, crop_views, load_cifar10,
                                               normalize, random_views, split_train)


def _expected_files(root: Path, split: str):
    """
    The files of an image folder in the order the loader promises: classes
    sorted by name, files sorted within each class.
    """
    classes = sorted(d.name for d in (root / split).iterdir() if d.is_dir())
    return [(path, label) for label, name in enumerate(classes)
            for path in sorted((root / split / name).iterdir())]


def _small_folder(tmp_path, make_image_folder, **kwargs):
    """
    A small image folder of the test's own, for tests that change or break it.
    """
    defaults = dict(classes=('b', 'a'), train=2, test=None)
    return make_image_folder(tmp_path / 'data', **(defaults | kwargs))


# ## Image folder

def test_image_folder_classes_and_labels(image_folder, cifar_data):
    """
    Classes are numbered in alphabetical order, every image keeps its label,
    and the pixels are the files' pixels, channels first.
    """
    for split_name, split in (('train', cifar_data.train), ('test', cifar_data.test)):
        files = _expected_files(image_folder, split_name)
        assert split.images.shape == (len(files), 3, 32, 32)
        assert split.images.dtype == torch.uint8 and split.labels.dtype == torch.int64
        assert split.labels.tolist() == [label for _, label in files]
        for i, (path, label) in enumerate(files):
            with Image.open(path) as image:
                pixels = torch.from_numpy(np.array(image.convert('RGB'))).permute(2, 0, 1)
            assert torch.equal(split.images[i], pixels), path
            # The fixture paints each class's red channel by its alphabetical
            # rank, 60 levels apart; JPEG's colour subsampling blurs it a little
            tolerance = 0.5 if path.suffix == '.png' else 25
            assert abs(split.images[i, 0].float().mean().item() - (20 + 60 * label)) < tolerance, path
    # 'bird', 'cat', 'dog', 'ship'
    assert sorted(set(cifar_data.train.labels.tolist())) == [0, 1, 2, 3]


def test_image_folder_has_both_formats(image_folder):
    suffixes = {p.suffix for p in (image_folder / 'train').rglob('*') if p.is_file()}
    assert suffixes == {'.jpg', '.png'}


def test_image_folder_without_test_split(tmp_path, make_image_folder):
    root = _small_folder(tmp_path, make_image_folder)
    data = load_cifar10(str(root), download=False)
    assert data.test is None
    assert data.train.labels.tolist() == [0, 0, 1, 1]


def test_test_split_is_labelled_by_the_training_classes(tmp_path, make_image_folder):
    """
    A class missing from `test/` does not renumber the others.
    """
    root = make_image_folder(tmp_path / 'data', classes=('a', 'b', 'c'), train=2, test=2)
    for path in (root / 'test' / 'a').iterdir():
        path.unlink()
    (root / 'test' / 'a').rmdir()
    data = load_cifar10(str(root), download=False)
    assert data.train.labels.tolist() == [0, 0, 1, 1, 2, 2]
    assert data.test.labels.tolist() == [1, 1, 2, 2]
    # The red channel says which class an image was made for: 'b' is 20 + 60
    assert abs(data.test.images[0, 0].float().mean().item() - 80) < 25


def test_test_class_unknown_to_training(tmp_path, make_image_folder):
    root = make_image_folder(tmp_path / 'data', classes=('a', 'b'), train=1, test=1)
    make_image_folder(tmp_path / 'other', classes=('zebra',), train=1, test=None)
    (tmp_path / 'other' / 'train' / 'zebra').rename(root / 'test' / 'zebra')
    with pytest.raises(DataError, match='zebra'):
        load_cifar10(str(root), download=False)


def test_hidden_folders_and_files_are_not_data(tmp_path, make_image_folder):
    root = _small_folder(tmp_path, make_image_folder)
    (root / 'train' / '.ipynb_checkpoints').mkdir()
    (root / 'train' / 'a' / '._train_000.png').write_bytes(b'AppleDouble metadata, not an image')
    data = load_cifar10(str(root), download=False)
    assert data.train.labels.tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize('make, what', [(lambda path: path.mkdir(), 'a folder'),
                                        (lambda path: path.symlink_to(path.parent / 'gone.png'), 'a link to nothing'),
                                        (lambda path: os.mkfifo(path), 'not a regular file')],
                         ids=['folder', 'broken-link', 'pipe'])
def test_a_name_like_an_image_that_is_no_image_file_is_named(tmp_path, make_image_folder, make, what):
    """
    A folder, a broken link or a named pipe called like an image is refused
    with its path, before anything is read (a pipe would never end).
    """
    root = _small_folder(tmp_path, make_image_folder)
    odd = root / 'train' / 'a' / 'folder.jpg'
    make(odd)
    with pytest.raises(DataError) as error:
        load_cifar10(str(root), download=False)
    assert str(error.value) == f'{odd} is named like an image but is {what}, not an image file; remove or rename it'


def test_more_than_ten_classes(tmp_path, make_image_folder):
    root = make_image_folder(tmp_path / 'data', classes=[f'class{i:02d}' for i in range(11)], train=1, test=None)
    with pytest.raises(DataError, match='11 class folders; CIFAR-10 has 10'):
        load_cifar10(str(root), download=False)


CIFAR10_CLASSES = ('airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck')


def test_a_cifar10_folder_with_a_class_missing_says_which(tmp_path, make_image_folder, capsys):
    """
    Nine of CIFAR-10's ten class folders train a nine-class model: the
    loader says so, with the classes learned and the one without a folder.
    """
    root = make_image_folder(tmp_path / 'data', classes=CIFAR10_CLASSES[1:], train=1, test=None)
    data = load_cifar10(str(root), download=False)
    assert data.classes == list(CIFAR10_CLASSES[1:])
    assert capsys.readouterr().out == (
        f"note: {root / 'train'} has 9 class folders, so the models learn 9 classes, not CIFAR-10's 10: "
        f"{', '.join(CIFAR10_CLASSES[1:])}. CIFAR-10's airplane has no folder; if that is a mistake, "
        f"add {root / 'train' / 'airplane'}\n")


def test_a_folder_of_other_classes_says_how_many(tmp_path, make_image_folder, capsys):
    root = _small_folder(tmp_path, make_image_folder)
    load_cifar10(str(root), download=False)
    assert capsys.readouterr().out == (f"note: {root / 'train'} has 2 class folders, so the models learn 2 classes, "
                                       f"not CIFAR-10's 10: a, b\n")


def test_ten_classes_and_other_processes_say_nothing(tmp_path, make_image_folder, monkeypatch, capsys):
    """
    Only the process that started the command speaks: not another rank of
    torchrun, nor a worker process of the pipeline, which load the same data.
    """
    load_cifar10(str(make_image_folder(tmp_path / 'ten', classes=CIFAR10_CLASSES, train=1, test=None)),
                 download=False)
    root = _small_folder(tmp_path, make_image_folder)
    monkeypatch.setenv('RANK', '1')
    load_cifar10(str(root), download=False)
    monkeypatch.delenv('RANK')
    monkeypatch.setattr(data_module.multiprocessing, 'parent_process', lambda: object())
    load_cifar10(str(root), download=False)
    assert capsys.readouterr().out == ''


def test_cache_written_beside_the_data_and_reused(tmp_path, make_image_folder, monkeypatch):
    root = _small_folder(tmp_path, make_image_folder, test=1)
    first = load_cifar10(str(root), download=False)
    caches = sorted(p.name for p in (root / '.cache').iterdir())
    assert len(caches) == 2 and caches[0].startswith('test-') and caches[1].startswith('train-')
    assert all(name.endswith('.pt') for name in caches)
    # Readable like any file the user makes, for whoever else shares the data
    umask = os.umask(0)
    os.umask(umask)
    assert all((root / '.cache' / name).stat().st_mode & 0o777 == 0o666 & ~umask for name in caches)

    # The second load must not decode a single image
    def no_decoding(path):
        raise AssertionError(f'decoded {path} although a cache exists')

    monkeypatch.setattr(data_module, '_decode', no_decoding)
    second = load_cifar10(str(root), download=False)
    for a, b in ((first.train, second.train), (first.test, second.test)):
        assert torch.equal(a.images, b.images) and torch.equal(a.labels, b.labels)
    monkeypatch.undo()

    # Adding an image changes the folder's fingerprint: it is decoded again, into a new cache
    Image.fromarray(np.zeros((32, 32, 3), dtype=np.uint8)).save(root / 'train' / 'a' / 'new.png')
    third = load_cifar10(str(root), download=False)
    assert len(third.train.labels) == len(first.train.labels) + 1
    assert len(list((root / '.cache').glob('train-*.pt'))) == 2
    assert not list((root / '.cache').glob('*.tmp'))


def test_content_changed_with_the_same_size_and_time_is_noticed(tmp_path, make_image_folder):
    """
    A JPEG's bytes changed in place, with its size and modification time as
    they were: a new fingerprint, and the new pixels, not the cached ones.
    """
    root = _small_folder(tmp_path, make_image_folder)
    first = load_cifar10(str(root), download=False)
    jpeg = root / 'train' / 'a' / 'train_001.jpg'
    stat = jpeg.stat()
    content = bytearray(jpeg.read_bytes())
    # A byte of the compressed pixels, well inside the scan and before its end marker
    content[-40] ^= 0x55
    jpeg.write_bytes(bytes(content))
    os.utime(jpeg, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert jpeg.stat().st_size == stat.st_size and jpeg.stat().st_mtime_ns == stat.st_mtime_ns
    second = load_cifar10(str(root), download=False)
    assert second.fingerprint != first.fingerprint
    assert not torch.equal(second.train.images, first.train.images)


def test_a_copy_of_the_data_has_the_same_fingerprint(tmp_path, make_image_folder, monkeypatch):
    """
    `cp -r` (new modification times, the cache copied along): the same
    fingerprint, so the runs on the data are found again, and the copied
    cache is used, not decoded again.
    """
    root = _small_folder(tmp_path, make_image_folder, test=1)
    first = load_cifar10(str(root), download=False)
    copy = tmp_path / 'copy'
    shutil.copytree(root, copy, copy_function=shutil.copy)
    monkeypatch.setattr(data_module, '_decode', lambda path: pytest.fail(f'decoded {path} again'))
    copied = load_cifar10(str(copy), download=False)
    assert copied.fingerprint == first.fingerprint
    assert torch.equal(copied.train.images, first.train.images)
    assert len(list((copy / '.cache').glob('train-*.pt'))) == 1


def test_damaged_cache_is_replaced(tmp_path, make_image_folder):
    root = _small_folder(tmp_path, make_image_folder)
    first = load_cifar10(str(root), download=False)
    cache, = (root / '.cache').glob('train-*.pt')
    cache.write_bytes(b'not a torch file')
    second = load_cifar10(str(root), download=False)
    assert torch.equal(first.train.images, second.train.images)
    assert torch.load(cache, weights_only=True)['images'].shape == first.train.images.shape


def test_corrupt_image_names_the_file(tmp_path, make_image_folder):
    root = _small_folder(tmp_path, make_image_folder)
    bad = root / 'train' / 'a' / 'broken.jpg'
    bad.write_bytes(b'\x00garbage, not a JPEG' * 10)
    with pytest.raises(DataError) as error:
        load_cifar10(str(root), download=False)
    assert str(bad) in str(error.value)
    assert not (root / '.cache').exists() or not list((root / '.cache').iterdir())


@pytest.mark.parametrize('size', [(33, 32), (32, 16), (64, 64)])
def test_wrong_image_size_names_the_file(tmp_path, make_image_folder, size):
    root = _small_folder(tmp_path, make_image_folder)
    bad = root / 'train' / 'b' / 'big.png'
    Image.fromarray(np.zeros((size[1], size[0], 3), dtype=np.uint8)).save(bad)
    with pytest.raises(DataError) as error:
        load_cifar10(str(root), download=False)
    message = str(error.value)
    assert str(bad) in message and f'{size[0]}x{size[1]}' in message and '32x32' in message


def test_grayscale_image_is_converted(tmp_path, make_image_folder):
    """
    A grayscale 32x32 image is an ordinary image in RGB.
    """
    root = _small_folder(tmp_path, make_image_folder)
    Image.fromarray(np.full((32, 32), 77, dtype=np.uint8)).save(root / 'train' / 'a' / 'gray.png')
    data = load_cifar10(str(root), download=False)
    assert len(data.train.labels) == 5
    assert (data.train.images == 77).all(dim=(1, 2, 3)).sum() == 1


def test_empty_data_folder(tmp_path):
    with pytest.raises(DataError) as error:
        load_cifar10(str(tmp_path), download=False)
    message = str(error.value)
    assert str(tmp_path) in message and 'cifar-10-batches-py' in message and 'train/<class>' in message


def test_train_folder_without_classes(tmp_path):
    (tmp_path / 'train').mkdir()
    (tmp_path / 'train' / 'stray.jpg').write_bytes(b'')
    with pytest.raises(DataError, match='no class folders'):
        load_cifar10(str(tmp_path), download=False)


def test_class_folders_without_images(tmp_path):
    for name in ('a', 'b'):
        (tmp_path / 'train' / name).mkdir(parents=True)
        (tmp_path / 'train' / name / 'notes.txt').write_text('not an image')
    with pytest.raises(DataError, match='no .jpg or .png images'):
        load_cifar10(str(tmp_path), download=False)


@pytest.mark.parametrize('split', ['train', 'test'])
def test_an_empty_class_folder_is_named(tmp_path, make_image_folder, split):
    root = _small_folder(tmp_path, make_image_folder, test=1)
    (root / split / 'e_empty').mkdir()
    if split == 'test':
        (root / 'train' / 'e_empty').mkdir()
        (root / 'train' / 'a' / 'train_000.png').rename(root / 'train' / 'e_empty' / 'train_000.png')
    with pytest.raises(DataError, match=f'class folders without .jpg or .png images: {root / split / "e_empty"}'):
        load_cifar10(str(root), download=False)


def test_broken_test_split_is_reported(tmp_path, make_image_folder):
    root = _small_folder(tmp_path, make_image_folder, test=1)
    bad = root / 'test' / 'a' / 'test_000.png'
    bad.write_bytes(b'truncated')
    with pytest.raises(DataError, match='test_000.png'):
        load_cifar10(str(root), download=False)


# ## Missing data and the download

class _FailingDownload:
    """
    Stands in for `torchvision.datasets.CIFAR10`: the network is unreachable.
    """

    def __init__(self, root, train=True, download=False):
        raise RuntimeError('<urlopen error [Errno 101] Network is unreachable>')


def test_failed_download_is_one_clear_error(tmp_path, monkeypatch):
    import torchvision.datasets
    monkeypatch.setattr(torchvision.datasets, 'CIFAR10', _FailingDownload)
    root = tmp_path / 'data'
    with pytest.raises(DataError) as error:
        load_cifar10(str(root))
    message = str(error.value)
    assert message.count('No CIFAR-10 data in') == 1
    assert 'The download failed' in message and 'Network is unreachable' in message
    assert '--data-dir' in message
    # Python would chain the torchvision error; the message has all of it
    assert error.value.__cause__ is None and error.value.__suppress_context__
    # A --data-dir that did not exist, perhaps mistyped, is not made by a failed download
    assert list(tmp_path.iterdir()) == []


def test_a_missing_data_folder_is_not_made_with_its_parents(tmp_path, monkeypatch):
    import torchvision.datasets
    monkeypatch.setattr(torchvision.datasets, 'CIFAR10', _FailingDownload)
    with pytest.raises(DataError, match=f'Nothing was downloaded: {tmp_path / "dtaa"} does not exist'):
        load_cifar10(str(tmp_path / 'dtaa' / 'cifar'))
    assert list(tmp_path.iterdir()) == []


def _write_official_release(root: Path, train_per_batch: int = 3, test: int = 4, seed: int = 0):
    """
    A tiny `cifar-10-batches-py` in the official format: pickled dictionaries
    whose `data` is `uint8` `[N, 3072]`, each row the red, then the green,
    then the blue plane, row by row; `labels` a list; `batches.meta` the names.
    Returns the images, `[N, 3, 32, 32]`, and labels of the training and test batches.
    """
    rng = np.random.default_rng(seed)
    folder = root / 'cifar-10-batches-py'
    folder.mkdir(parents=True)
    expected = {'train': ([], []), 'test': ([], [])}
    names = [f'data_batch_{i}' for i in range(1, 6)] + ['test_batch']
    for name in names:
        count = test if name == 'test_batch' else train_per_batch
        rows = rng.integers(0, 256, (count, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, count).tolist()
        with open(folder / name, 'wb') as f:
            pickle.dump({'batch_label': name, 'data': rows, 'labels': labels,
                         'filenames': [f'{i}.png' for i in range(count)]}, f)
        split = 'test' if name == 'test_batch' else 'train'
        expected[split][0].append(rows.reshape(count, 3, 32, 32))
        expected[split][1].extend(labels)
    with open(folder / 'batches.meta', 'wb') as f:
        pickle.dump({'label_names': ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog',
                                     'frog', 'horse', 'ship', 'truck'],
                     'num_cases_per_batch': train_per_batch, 'num_vis': 3072}, f)
    return {split: (torch.from_numpy(np.concatenate(images)), torch.tensor(labels))
            for split, (images, labels) in expected.items()}


@pytest.fixture
def fake_checksums(monkeypatch):
    """
    torchvision checks the release's MD5 sums; a fake release passes when its files exist.
    """
    import torchvision.datasets.cifar
    monkeypatch.setattr(torchvision.datasets.cifar, 'check_integrity',
                        lambda path, md5=None: os.path.isfile(path))


def test_official_release_loads_channels_first(tmp_path, fake_checksums):
    expected = _write_official_release(tmp_path)
    data = load_cifar10(str(tmp_path), download=False)
    for split, (images, labels) in (('train', data.train), ('test', data.test)):
        assert images.dtype == torch.uint8 and images.shape == expected[split][0].shape
        assert images.is_contiguous()
        assert labels.dtype == torch.int64
        assert torch.equal(images, expected[split][0]) and torch.equal(labels, expected[split][1])
    assert data.train.images.shape == (15, 3, 32, 32) and data.test.images.shape == (4, 3, 32, 32)
    # An official release takes precedence and is not cached
    assert not (tmp_path / '.cache').exists()


def test_official_release_is_preferred_to_an_image_folder(tmp_path, make_image_folder, fake_checksums):
    _write_official_release(tmp_path)
    make_image_folder(tmp_path, classes=('a',), train=1, test=None)
    assert len(load_cifar10(str(tmp_path), download=False).train.labels) == 15


def test_incomplete_official_release(tmp_path, fake_checksums):
    _write_official_release(tmp_path)
    (tmp_path / 'cifar-10-batches-py' / 'data_batch_3').unlink()
    with pytest.raises(DataError) as error:
        load_cifar10(str(tmp_path), download=False)
    assert 'cifar-10-batches-py' in str(error.value) and 'incomplete or corrupt' in str(error.value)


def test_download_then_load(tmp_path, monkeypatch, fake_checksums):
    """
    With no data, a download that succeeds leaves the official release, which is then loaded.
    """
    import torchvision.datasets
    real = torchvision.datasets.CIFAR10
    downloads = []

    class Downloading(real):
        def __init__(self, root, train=True, download=False):
            if download:
                downloads.append(root)
                _write_official_release(Path(root))
            super().__init__(root, train=train, download=False)

    monkeypatch.setattr(torchvision.datasets, 'CIFAR10', Downloading)
    data = load_cifar10(str(tmp_path / 'new'))
    assert len(downloads) == 1
    assert len(data.train.labels) == 15 and len(data.test.labels) == 4
    # Downloaded beside it, then renamed: the new folder holds the release, and nothing else was left
    assert [p.name for p in tmp_path.iterdir()] == ['new'] and (tmp_path / 'new' / 'cifar-10-batches-py').is_dir()
    # Into a folder that exists, the download goes straight in
    (tmp_path / 'made').mkdir()
    load_cifar10(str(tmp_path / 'made'))
    assert downloads[1] == str(tmp_path / 'made')


# ## The validation split

def _numbered(n: int) -> Split:
    """
    `n` images whose label is their index, so that a split says which images it took.
    """
    images = torch.arange(n, dtype=torch.uint8).view(n, 1, 1, 1).expand(n, 3, 32, 32).contiguous()
    return Split(images, torch.arange(n))


def test_split_train_is_disjoint_and_complete():
    train, valid = split_train(_numbered(50), valid_size=10, train_size=None)
    assert len(valid.labels) == 10 and len(train.labels) == 40
    assert set(train.labels.tolist()).isdisjoint(valid.labels.tolist())
    assert set(train.labels.tolist()) | set(valid.labels.tolist()) == set(range(50))
    # The images travel with their labels
    assert torch.equal(train.images[:, 0, 0, 0].long(), train.labels)
    assert torch.equal(valid.images[:, 0, 0, 0].long(), valid.labels)


def test_split_train_is_seeded():
    data = _numbered(50)
    a_train, a_valid = split_train(data, 10, None, seed=0)
    b_train, b_valid = split_train(data, 10, None, seed=0)
    assert torch.equal(a_valid.labels, b_valid.labels) and torch.equal(a_train.labels, b_train.labels)
    _, c_valid = split_train(data, 10, None, seed=1)
    assert not torch.equal(a_valid.labels, c_valid.labels)
    # The split is a random one, not the first images
    assert a_valid.labels.tolist() != list(range(10))


def test_train_size_keeps_the_validation_images():
    """
    Every training size is chosen on the same validation images, and a smaller
    transfer set is the start of the larger one.
    """
    data = _numbered(50)
    full_train, full_valid = split_train(data, 10, None)
    small_train, small_valid = split_train(data, 10, 15)
    assert torch.equal(full_valid.labels, small_valid.labels)
    assert torch.equal(small_train.labels, full_train.labels[:15])
    assert len(split_train(data, 10, 40)[0].labels) == 40


@pytest.mark.parametrize('valid_size', [50, 51, 1000])
def test_valid_size_too_large(valid_size):
    with pytest.raises(DataError, match='--valid-size'):
        split_train(_numbered(50), valid_size, None)


def test_train_size_too_large():
    with pytest.raises(DataError, match='--train-size 41 is more than the 40'):
        split_train(_numbered(50), 10, 41)


# ## Normalization and augmentation

def test_normalize():
    images = torch.tensor([125, 123, 114], dtype=torch.uint8).view(1, 3, 1, 1).expand(2, 3, 32, 32)
    x = normalize(images)
    assert x.dtype == torch.float32 and x.shape == (2, 3, 32, 32)
    assert x.is_contiguous(memory_format=torch.channels_last)
    assert x.abs().max() < 0.01


def _random_images(n: int, seed: int = 0) -> torch.Tensor:
    """
    Random images with no zero pixel, so that padding is recognizable.
    """
    return torch.randint(1, 256, (n, 3, 32, 32), dtype=torch.uint8,
                         generator=torch.Generator().manual_seed(seed))


def _windows(image: torch.Tensor):
    """
    Every output `augment` may make of `image`: a 32x32 window of the image
    padded by 4 zeros, at offsets 0 to 8, flipped or not.
    """
    padded = torch.nn.functional.pad(image, (4, 4, 4, 4))
    for dy in range(9):
        for dx in range(9):
            window = padded[:, dy:dy + 32, dx:dx + 32]
            yield (dy, dx, False), window
            yield (dy, dx, True), window.flip(-1)


def test_augment_keeps_shape_and_dtype():
    images = _random_images(5)
    out = augment(images, torch.Generator().manual_seed(0))
    assert out.shape == images.shape and out.dtype == torch.uint8 and out.device == images.device
    # The input is not changed in place
    assert torch.equal(images, _random_images(5))


def test_augment_is_reproducible():
    images = _random_images(16)
    a = augment(images, torch.Generator().manual_seed(3))
    b = augment(images, torch.Generator().manual_seed(3))
    c = augment(images, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_augment_crops_and_flips():
    """
    Each output is one padded window of its own input, the same for all three
    channels; across a batch, windows are shifted both ways and both flipped
    and not.
    """
    images = _random_images(64)
    out = augment(images, torch.Generator().manual_seed(0))
    chosen = []
    for image, result in zip(images, out):
        matches = [how for how, window in _windows(image) if torch.equal(window, result)]
        assert len(matches) == 1
        chosen.append(matches[0])
    offsets = {(dy, dx) for dy, dx, _ in chosen}
    flips = [flip for _, _, flip in chosen]
    assert len(offsets) > 10
    assert len({dy for dy, _ in offsets}) >= 6 and len({dx for _, dx in offsets}) >= 6
    assert 16 < sum(flips) < 48


def test_augment_pads_with_zeros():
    """
    A constant image shows the padding: shifted windows have zero rows or
    columns at their border, and the rest stays the image's value.
    """
    images = torch.full((32, 3, 32, 32), 200, dtype=torch.uint8)
    out = augment(images, torch.Generator().manual_seed(1))
    assert set(out.unique().tolist()) <= {0, 200}
    zeros = (out == 0).flatten(1).sum(1)
    assert (zeros > 0).any() and (zeros < 3 * 32 * 32).all()
    for result in out:
        # The image's part of the window is one rectangle, at most 4 pixels in from the border
        rows = (result[0] == 200).any(1).nonzero().flatten()
        cols = (result[0] == 200).any(0).nonzero().flatten()
        assert len(rows) >= 28 and len(cols) >= 28
        assert (result[:, rows.min():rows.max() + 1, cols.min():cols.max() + 1] == 200).all()
        assert (result == 200).sum() == 3 * len(rows) * len(cols)


def test_augment_is_the_random_view_cut_out():
    """
    `augment` is `crop_views` of `random_views`, drawing the same random
    numbers as ever: the row and column offsets first, then the flips. The
    reference below is the definition, image by image: pad by 4 zeros, cut
    the 32x32 window at the offsets, flip it when drawn.
    """
    images = _random_images(40)
    out = augment(images, torch.Generator().manual_seed(7))
    generator = torch.Generator().manual_seed(7)
    views = random_views(len(images), generator, images.device)
    assert torch.equal(out, crop_views(images, views))
    # Both used the generator alike
    assert torch.equal(generator.get_state(), _after_augment(images, 7).get_state())
    generator = torch.Generator().manual_seed(7)
    offsets = torch.randint(0, 9, (2, len(images)), generator=generator)
    flips = torch.rand(len(images), generator=generator) < 0.5
    for image, result, dy, dx, flip in zip(images, out, offsets[0].tolist(), offsets[1].tolist(), flips.tolist()):
        window = torch.nn.functional.pad(image, (4, 4, 4, 4))[:, dy:dy + 32, dx:dx + 32]
        assert torch.equal(result, window.flip(-1) if flip else window)


def _after_augment(images: torch.Tensor, seed: int) -> torch.Generator:
    generator = torch.Generator().manual_seed(seed)
    augment(images, generator)
    return generator


def test_view_numbers():
    """
    A view's number is (9 row + col) 2 + flip: the 162
    numbers name the 162 views, each once.
    """
    numbers = torch.arange(VIEWS)
    views = Views.from_numbers(numbers)
    assert VIEWS == 162 and torch.equal(views.numbers(), numbers)
    triples = set(zip(views.rows.tolist(), views.cols.tolist(), views.flips.tolist()))
    assert triples == {(r, c, f) for r in range(9) for c in range(9) for f in (False, True)}
    assert all(n == (r * 9 + c) * 2 + f
               for n, r, c, f in zip(numbers.tolist(), views.rows.tolist(), views.cols.tolist(), views.flips.tolist()))
