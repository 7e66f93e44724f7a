"""
The output folder: the renderer replaces and deletes only what it wrote, and
refuses folders where it could lose someone's files before writing anything.
"""

import errno
import os
import subprocess
import sys
from pathlib import Path

import pytest

from labml_nn.literate import LiterateError
from labml_nn.literate.__main__ import main
from labml_nn.literate.output import MANIFEST


def tree(root: Path) -> dict:
    """
    Every file and folder under `root`, with the bytes of the files.
    """
    if not root.exists():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() if p.is_file() else None for p in root.rglob('*')}


@pytest.fixture
def source(tmp_path) -> Path:
    root = tmp_path / 'src'
    (root / 'pkg').mkdir(parents=True)
    (root / '__init__.py').write_text('"""\n# Home\n"""\n', encoding='utf-8')
    (root / 'pkg' / '__init__.py').write_text('', encoding='utf-8')
    (root / 'pkg' / 'loss.py').write_text('# The loss\nloss = 1\n', encoding='utf-8')
    (root / 'other').mkdir()
    (root / 'other' / 'thing.py').write_text('# A thing\nthing = 2\n', encoding='utf-8')
    return root


def build(source: Path, out: Path, *extra: str) -> int:
    return main([str(source), '--lang', 'en', '--out', str(out), *extra])


def test_a_second_build_keeps_files_it_did_not_write(source, tmp_path):
    out = tmp_path / 'site'
    assert build(source, out) == 0
    (out / 'notes.txt').write_text('mine')
    (out / 'img').mkdir()
    (out / 'img' / 'photo.png').write_bytes(b'\x89PNG')
    (out / 'pkg' / 'draft.html').write_text('my draft')
    (out / 'empty').mkdir()
    assert build(source, out) == 0
    assert (out / 'notes.txt').read_text() == 'mine'
    assert (out / 'img' / 'photo.png').read_bytes() == b'\x89PNG'
    assert (out / 'pkg' / 'draft.html').read_text() == 'my draft'
    assert (out / 'empty').is_dir()


def test_a_first_build_keeps_empty_folders_it_did_not_make(source, tmp_path):
    out = tmp_path / 'site'
    (out / 'empty' / 'deeper').mkdir(parents=True)
    assert build(source, out) == 0
    assert (out / 'empty' / 'deeper').is_dir() and (out / 'pkg' / 'loss.html').is_file()


def test_pages_of_deleted_sources_go_with_the_folders_the_renderer_made(source, tmp_path):
    out = tmp_path / 'site'
    assert build(source, out) == 0
    (source / 'other' / 'thing.py').unlink()
    assert build(source, out) == 0
    assert not (out / 'other').exists()
    # A folder the renderer made but the user has put a file in stays, with the file
    (out / 'pkg' / 'mine.txt').write_text('mine')
    (source / 'pkg' / 'loss.py').unlink()
    (source / 'pkg' / '__init__.py').unlink()
    assert build(source, out) == 0
    assert tree(out / 'pkg') == {'mine.txt': b'mine'}


def test_the_manifest_lists_what_was_written_and_check_passes(source, tmp_path):
    out = tmp_path / 'site'
    assert build(source, out) == 0
    listed = [line for line in (out / MANIFEST).read_text().split('\n') if line and not line.startswith('#')]
    written = sorted(p for p, data in tree(out).items() if data is not None and p != MANIFEST)
    assert sorted(p for p in listed if not p.endswith('/')) == written
    assert sorted(p for p in listed if p.endswith('/')) == ['other/', 'pkg/']
    assert build(source, out, '--check') == 0


def test_files_are_readable_like_any_new_file(source, tmp_path):
    out = tmp_path / 'site'
    assert build(source, out) == 0
    mask = os.umask(0o022)
    os.umask(mask)
    assert (out / 'pkg' / 'loss.html').stat().st_mode & 0o777 == 0o666 & ~mask


def test_a_file_it_did_not_write_is_never_replaced(source, tmp_path):
    out = tmp_path / 'site'
    assert build(source, out) == 0
    (out / 'pkg' / 'new.html').write_text('the user made this page')
    (source / 'pkg' / 'new.py').write_text('x = 1\n')
    (source / 'pkg' / 'loss.py').write_text('# The loss, changed\nloss = 3\n')
    before = tree(out)
    with pytest.raises(LiterateError, match=r'already holds pkg/new\.html, not written by the renderer'):
        build(source, out)
    # Nothing was written: not even the page whose source changed
    assert tree(out) == before


@pytest.mark.parametrize('case, message', [
    ('missing source', 'the source folder .* does not exist'),
    ('source is a file', 'the source .* is not a folder'),
    ('out is a file', r'--out .* is a file'),
    ('out is the source', '--out .* is inside the source folder'),
    ('out inside the source', '--out .* is inside the source folder'),
    ('out holds the source', '--out .* holds the source folder'),
    ('out holds files and no manifest', f'--out .* holds files and no {MANIFEST}'),
])
def test_folders_that_could_lose_files_are_refused_before_writing(source, tmp_path, case, message):
    out = tmp_path / 'site'
    given = source
    if case == 'missing source':
        given = tmp_path / 'scr'
    elif case == 'source is a file':
        given = source / 'pkg' / 'loss.py'
    elif case == 'out is a file':
        out = tmp_path / 'file.txt'
        out.write_text('a file')
    elif case == 'out is the source':
        out = source
    elif case == 'out inside the source':
        out = source / 'site'
    elif case == 'out holds the source':
        out = tmp_path
    else:
        (out / 'photos').mkdir(parents=True)
        (out / 'photos' / 'cat.png').write_bytes(b'cat')
    before = tree(tmp_path)
    with pytest.raises(LiterateError, match=message):
        build(given, out)
    assert tree(tmp_path) == before


@pytest.mark.parametrize('exists', [True, False])
def test_an_output_folder_that_cannot_be_written_is_refused_before_rendering(source, tmp_path, monkeypatch,
                                                                               exists):
    """
    A read-only `--out` (or the folder it would be made in) is refused before
    any page is rendered, as on a read-only file system, where even root cannot write.
    """
    import tempfile
    from labml_nn.literate import site
    out = tmp_path / 'site'
    if exists:
        out.mkdir()
    refused = out if exists else tmp_path
    original = tempfile.TemporaryFile

    def read_only(*args, dir=None, **kwargs):
        if dir is not None and Path(dir) == refused:
            raise OSError(30, 'Read-only file system')
        return original(*args, dir=dir, **kwargs)

    def no_rendering(*args, **kwargs):
        raise AssertionError('rendered before checking the output folder')

    monkeypatch.setattr(tempfile, 'TemporaryFile', read_only)
    monkeypatch.setattr(site.Site, 'build', no_rendering)
    with pytest.raises(LiterateError, match=f'cannot write to --out {out}: Read-only file system'):
        build(source, out)
    assert out.exists() == exists


def test_a_misspelled_source_leaves_the_site_alone(source, tmp_path):
    out = tmp_path / 'site'
    assert build(source, out) == 0
    before = tree(out)
    with pytest.raises(LiterateError, match='does not exist'):
        build(tmp_path / 'scr', out)
    assert tree(out) == before


def test_the_command_exits_with_status_2_and_no_traceback(source, tmp_path):
    before = tree(tmp_path)
    result = subprocess.run([sys.executable, '-m', 'labml_nn.literate', str(source), '--out', str(tmp_path)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith('error: --out') and 'holds the source folder' in result.stderr
    assert 'Traceback' not in result.stderr
    assert tree(tmp_path) == before


def test_an_empty_out_is_refused_not_the_current_folder(source, tmp_path):
    here = tmp_path / 'here'
    here.mkdir()
    result = subprocess.run([sys.executable, '-m', 'labml_nn.literate', str(source), '--out', ''],
                            capture_output=True, text=True, cwd=here)
    assert result.returncode == 2 and 'an empty path' in result.stderr and 'Traceback' not in result.stderr
    assert list(here.iterdir()) == []


def changed_source(source: Path) -> None:
    """
    Changes every page of the `source` fixture and adds one, as an edit would.
    """
    (source / '__init__.py').write_text('"""\n# Home, changed\n"""\n', encoding='utf-8')
    (source / 'pkg' / 'loss.py').write_text('# The loss, changed\nloss = 3\n', encoding='utf-8')
    (source / 'other' / 'thing.py').write_text('# A thing, changed\nthing = 4\n', encoding='utf-8')
    (source / 'new').mkdir()
    (source / 'new' / 'page.py').write_text('# A new page\npage = 5\n', encoding='utf-8')


class FillsUp:
    """
    `os.fdopen` on a disk that is full once `room` files have been written:
    the next file's write fails as it would there.
    """

    def __init__(self, room: int):
        self.room, self.real = room, os.fdopen

    def __call__(self, *args, **kwargs):
        file = self.real(*args, **kwargs)
        if self.room == 0:
            file.write = self.full
        self.room -= 1
        return file

    @staticmethod
    def full(data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize('room', [0, 2])
def test_a_full_disk_leaves_the_previous_site_whole_with_one_message(source, tmp_path, monkeypatch, room):
    # Issue 28, item 11: on a full disk, after `room` files were written
    out = tmp_path / 'site'
    assert build(source, out) == 0
    before = tree(out)
    changed_source(source)
    monkeypatch.setattr(os, 'fdopen', FillsUp(room))
    with pytest.raises(LiterateError, match=f'cannot write the site to {out}: No space left on device; '
                                            f'nothing there was changed'):
        build(source, out)
    monkeypatch.undo()
    # Every page as it was, no temporary file, no new folder
    assert tree(out) == before
    # Once there is room, the build finishes
    assert build(source, out) == 0 and build(source, out, '--check') == 0


def test_a_full_disk_on_a_first_build_leaves_no_folder(source, tmp_path, monkeypatch):
    out = tmp_path / 'site'
    monkeypatch.setattr(os, 'fdopen', FillsUp(1))
    with pytest.raises(LiterateError, match='No space left on device'):
        build(source, out)
    assert not out.exists()


def test_a_build_stopped_while_writing_leaves_the_previous_site(source, tmp_path, monkeypatch):
    out = tmp_path / 'site'
    assert build(source, out) == 0
    before = tree(out)
    changed_source(source)
    stop = FillsUp(2)
    stop.full = lambda data: (_ for _ in ()).throw(KeyboardInterrupt)
    monkeypatch.setattr(os, 'fdopen', stop)
    with pytest.raises(KeyboardInterrupt):
        build(source, out)
    monkeypatch.undo()
    assert tree(out) == before


def test_a_build_stopped_while_renaming_leaves_nothing_unrecorded(source, tmp_path, monkeypatch):
    out = tmp_path / 'site'
    assert build(source, out) == 0
    changed_source(source)
    renamed = []

    def stop_after_three(source_path, target):
        if len(renamed) == 3:
            raise KeyboardInterrupt
        renamed.append(target)
        real_replace(source_path, target)

    real_replace = os.replace
    monkeypatch.setattr(os, 'replace', stop_after_three)
    with pytest.raises(KeyboardInterrupt):
        build(source, out)
    monkeypatch.undo()
    # The manifest went first; no temporary file is left behind
    assert Path(renamed[0]).name == MANIFEST
    assert not any(p.name.startswith('.') and p.name != MANIFEST for p in out.rglob('*'))
    # The next build knows the files as its own and finishes the job
    assert build(source, out) == 0 and build(source, out, '--check') == 0


def test_an_edited_manifest_cannot_lead_outside_the_folder(source, tmp_path):
    out = tmp_path / 'site'
    assert build(source, out) == 0
    (tmp_path / 'outside.txt').write_text('keep me')
    with open(out / MANIFEST, 'a') as manifest:
        manifest.write('../outside.txt\n../\n')
    assert build(source, out) == 0
    assert (tmp_path / 'outside.txt').read_text() == 'keep me'


def test_a_build_of_one_language_keeps_the_others(source, tmp_path):
    translations = tmp_path / 'translations'
    (translations / 'ja').mkdir(parents=True)
    (translations / 'ja' / 'language.yaml').write_text('name: 日本語\npages: [pkg/]\n', encoding='utf-8')
    out = tmp_path / 'site'
    arguments = [str(source), '--translations', str(translations), '--out', str(out)]
    assert main(arguments) == 0
    japanese = tree(out / 'ja')
    assert 'pkg/loss.html' in japanese
    (source / 'pkg' / 'loss.py').unlink()
    assert main(arguments + ['--lang', 'en']) == 0
    assert tree(out / 'ja') == japanese and not (out / 'pkg' / 'loss.html').exists()


def test_a_file_of_someone_else_that_matches_the_build_stays_theirs(source, tmp_path):
    out = tmp_path / 'site'
    assert build(source, out) == 0
    (source / 'pkg' / 'new.py').write_text('x = 1\n')
    page = tmp_path / 'elsewhere'
    assert build(source, page) == 0
    # The user copies the page in before the build would write it: it is left alone...
    (out / 'pkg' / 'new.html').write_bytes((page / 'pkg' / 'new.html').read_bytes())
    assert build(source, out) == 0 and build(source, out, '--check') == 0
    assert 'pkg/new.html' not in (out / MANIFEST).read_text()
    # ...and not deleted as the renderer's when its source goes
    (source / 'pkg' / 'new.py').unlink()
    assert build(source, out) == 0 and (out / 'pkg' / 'new.html').is_file()


@pytest.mark.parametrize('lang', ['ja', 'en'])
def test_a_build_of_one_language_gives_the_pages_of_the_full_build(source, tmp_path, lang):
    # Issue 28, item 12: each page keeps its links to its other languages
    translations = tmp_path / 'translations'
    (translations / 'ja').mkdir(parents=True)
    (translations / 'ja' / 'language.yaml').write_text('name: 日本語\npages: [pkg/]\n', encoding='utf-8')
    (translations / 'ja' / 'pkg').mkdir()
    (translations / 'ja' / 'pkg' / 'loss.py.yaml').write_text('- {key: section-0/1, en: The loss, ja: 損失}\n',
                                                              encoding='utf-8')
    out = tmp_path / 'site'
    arguments = [str(source), '--translations', str(translations), '--out', str(out)]
    assert main(arguments) == 0 and main(arguments + ['--check']) == 0
    full = tree(out)
    assert 'hreflang="en"' in full['ja/pkg/loss.html'].decode() and 'hreflang="ja"' in full['pkg/loss.html'].decode()
    assert main(arguments + ['--lang', lang, '--check']) == 0
    assert main(arguments + ['--lang', lang]) == 0
    assert tree(out) == full
