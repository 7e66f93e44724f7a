"""
---
title: Writing the output folder
summary: >
  The renderer writes, replaces and deletes only files it wrote itself, as
  listed in a manifest it keeps in the output folder, and refuses before it
  writes anything when the folders it is given could lose someone's files.
---

# Writing the output folder

A site is rebuilt many times into the same folder, and pages of deleted sources
must go. But the folder is the user's: it may hold files of their own, and a
mistyped `--out` may point anywhere. So the renderer keeps a *manifest*,
`.literate-manifest` in the output folder, listing every file (and every
folder) it wrote there. A build

* writes every file that changed to a temporary file beside it first, and
  only once all of them are written renames them into place: a disk that fills
  up, or a build stopped while it writes, leaves the previous site whole, with
  no page half written and no page of the new site beside pages of the old;
* deletes only files of the manifest that the sources no longer give, and only
  folders of the manifest that are left empty;
* never touches any other file, and refuses, before writing anything, to
  replace a file that is not in the manifest.

The manifest is renamed into place before the files, listing everything the
build is about to put there, and written again at the end without what was
deleted; a build that is stopped half way leaves nothing unrecorded behind.

Before any work, [the command line](__main__.html) checks the folders
themselves: the source must be a folder, the output must not be a file, must not
hold the source or sit inside it (a site inside its source would be read back as
pages at the next build), and, if it holds files, must have a manifest: a folder
with files and no manifest was not made by the renderer.
"""

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from labml_nn.literate import LiterateError

MANIFEST = '.literate-manifest'
_HEADER = ('# Written by `python -m labml_nn.literate`: the files and folders (ending in /) it made here.\n'
           '# It replaces and deletes only these. Keep this file, and do not edit it.\n')


@dataclass
class Manifest:
    """
    What the renderer wrote in an output folder: files, and folders it made.
    Paths are relative, `/`-separated.
    """
    files: set = field(default_factory=set)
    folders: set = field(default_factory=set)

    @classmethod
    def read(cls, out: Path) -> Optional['Manifest']:
        path = out / MANIFEST
        if not path.is_file():
            return None
        lines = [line for line in path.read_text(encoding='utf-8').split('\n')
                 if line and not line.startswith('#') and _inside(out, line)]
        return cls({line for line in lines if not line.endswith('/')},
                   {line.rstrip('/') for line in lines if line.endswith('/')})

    def text(self) -> bytes:
        lines = sorted(self.files) + sorted(folder + '/' for folder in self.folders)
        return (_HEADER + ''.join(line + '\n' for line in lines)).encode('utf-8')

    def write(self, out: Path) -> None:
        os.replace(_stage(out / MANIFEST, self.text()), out / MANIFEST)


def compare(out: Path, files: dict, owned: Callable[[str], bool]) -> list:
    """
    How the output folder differs from the files it should hold, one line per
    file. Only files that `owned` accepts are looked at, and hidden files never.
    Where there is a manifest, only files the renderer wrote can be extra.
    """
    manifest = Manifest.read(out)
    if manifest is not None:
        written = manifest.files
    else:
        written = {f.relative_to(out).as_posix() for f in out.rglob('*') if f.is_file()} if out.is_dir() else set()
    paths = {p for p in written | set(files) if owned(p) and not any(s.startswith('.') for s in p.split('/'))}
    differences = []
    for path in sorted(paths):
        present = (out / path).is_file()
        if path not in files:
            if present:
                differences.append(f'not built from any source: {path}')
        elif not present:
            differences.append(f'missing: {path}')
        elif (out / path).read_bytes() != files[path]:
            differences.append(f'out of date: {path}')
    return differences


def write(out: Path, files: dict, owned: Callable[[str], bool]) -> None:
    """
    Brings the output folder up to date: writes the files that changed, and
    deletes the files of the last build that `owned` accepts and the sources
    no longer give. Files of other languages' builds stay. A file system
    error while the new files are written (a full disk) leaves the folder as
    it was and is one `LiterateError`.
    """
    manifest = Manifest.read(out) or Manifest()
    # A file of someone else's that already holds what the build would write is left as it is
    theirs = _foreign(out, files, manifest)
    files = {path: data for path, data in files.items() if path not in theirs}
    changed = {path: data for path, data in files.items()
               if not (out / path).is_file() or (out / path).read_bytes() != data}
    stale = {path for path in manifest.files if owned(path) and path not in files}
    made = {folder for path in files for folder in _parents(path) if not (out / folder).is_dir()}
    # Record first what is about to be written, so a stopped build leaves nothing unlisted
    manifest = Manifest(manifest.files | set(files), manifest.folders | made)
    staged = _stage_all(out, changed, made, manifest)
    try:
        for path, temporary in staged.items():
            os.replace(temporary, out / path)
    finally:
        # Those not renamed when the build was stopped
        for temporary in staged.values():
            temporary.unlink(missing_ok=True)
    for path in stale:
        if (out / path).is_file():
            (out / path).unlink()
    # Folders the renderer made and has left empty go, the deepest first
    for folder in sorted(manifest.folders, key=lambda f: f.count('/'), reverse=True):
        if (out / folder).is_dir() and not any((out / folder).iterdir()):
            (out / folder).rmdir()
    try:
        Manifest(manifest.files - stale, {f for f in manifest.folders if (out / f).is_dir()}).write(out)
    except OSError as e:
        # The manifest in place lists more than there is now, which the next build puts right
        raise LiterateError(f'the site in {out} is written, but its {MANIFEST} could not be updated: '
                            f'{e.strerror or e}; build again once that is fixed') from None


def _stage_all(out: Path, changed: dict, made: set, manifest: Manifest) -> dict:
    """
    Writes each changed file, and the manifest, to a temporary file beside
    its target, making the folders `made`; returns the temporary files by
    target path, the manifest first. Nothing a reader sees has changed yet:
    on any error, the temporary files and the new folders go again, and a
    file system error (a full disk) is a `LiterateError` saying so.
    """
    staged, made = {}, made | ({''} if not out.exists() else set())
    try:
        out.mkdir(parents=True, exist_ok=True)
        staged[MANIFEST] = _stage(out / MANIFEST, manifest.text())
        for path, data in changed.items():
            (out / path).parent.mkdir(parents=True, exist_ok=True)
            staged[path] = _stage(out / path, data)
    except BaseException as e:
        for temporary in staged.values():
            temporary.unlink(missing_ok=True)
        for folder in sorted(made, key=lambda f: len(Path(f).parts), reverse=True):
            if (out / folder).is_dir() and not any((out / folder).iterdir()):
                (out / folder).rmdir()
        if isinstance(e, OSError):
            raise LiterateError(f'cannot write the site to {out}: {e.strerror or e}; nothing there was '
                                f'changed. Make room (or fix the folder) and build again') from None
        raise
    return staged


def _foreign(out: Path, files: dict, manifest: Manifest) -> set:
    """
    The files the build would write that are there already and not the
    renderer's. Those holding exactly the bytes it would write are returned, to
    be left alone; any other is refused before anything is written.
    """
    foreign = {path for path in files if path not in manifest.files and (out / path).exists()}
    same = {path for path in foreign if (out / path).is_file() and (out / path).read_bytes() == files[path]}
    refused = sorted(foreign - same)
    if refused:
        listed = ', '.join(refused[:5]) + (f' and {len(refused) - 5} more' if len(refused) > 5 else '')
        raise LiterateError(f'{out} already holds {listed}, not written by the renderer; '
                            f'move them away and build again')
    return same


def _inside(out: Path, path: str) -> bool:
    # A line of an edited manifest never leads the renderer out of its folder
    return (out / path).resolve().is_relative_to(out.resolve()) and (out / path).resolve() != out.resolve()


def _parents(path: str) -> list:
    """
    The folders above a relative path: `a/b/c.html` gives `a` and `a/b`.
    """
    parts = path.split('/')[:-1]
    return ['/'.join(parts[:depth]) for depth in range(1, len(parts) + 1)]


def _stage(target: Path, data: bytes) -> Path:
    """
    Writes `data` to a new temporary file beside `target`, with the
    permissions a new file gets (a temporary file is private at first), and
    returns its path; renaming it onto `target` puts it into place whole.
    The file's name starts with a dot, so a check never lists it.
    """
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f'.{target.name}.')
    try:
        with os.fdopen(handle, 'wb') as file:
            file.write(data)
        os.chmod(temporary, 0o666 & ~_umask())
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return Path(temporary)


def _umask() -> int:
    # The only way to read the umask is to set it, so it is set straight back
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
