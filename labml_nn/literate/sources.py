"""
---
title: Reading the sources
summary: >
  The first stage of the renderer: find the source files of the site, read each
  as UTF-8, split it into sections, and take its title and summary from the
  front matter.
---

# Reading the sources

Every `.py` and `.md` file under the source folder is a page, except in hidden
folders, caches and the translations. A page is read here once, whatever
languages it is shown in: its sections come from [splitting](split.html) it,
and its *front matter*, a YAML document between two `---` lines at the very
start of its first notes block, gives it a title and a summary:

```yaml
---
title: The loss
summary: >
  A summary, folded
  onto one line.
---
```
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from labml_nn.literate import LiterateError
from labml_nn.literate.split import first_heading, front_matter, split_markdown, split_python

# The files that are pages, and the images beside them that the notes show
PAGE_SUFFIXES = ('.py', '.md')
IMAGE_SUFFIXES = ('.png', '.svg')


@dataclass
class Page:
    """
    A source file, split into sections, with its front matter as `meta`.
    `heading` is the first heading of its first notes block, a title for a
    page without one in its front matter. `text` is the source, for the code
    column; a `markdown` page shows none. `exists` is false for a page with no
    source file: the home page made up when the top `__init__.py` is missing,
    and [the results page](results.html).
    """
    path: str
    sections: list
    meta: dict
    heading: str = ''
    text: str = ''
    markdown: bool = False
    exists: bool = True


def read_pages(source: Path, skip: Optional[Path] = None) -> tuple[dict, list]:
    """
    Every page under `source`, by path in folder order, and a warning for each
    file that could not be parsed. Without a top `__init__.py`, the home page is
    made up, to be only the list of pages.
    """
    pages, warnings = {}, []
    for path in find_sources(source, skip):
        pages[path], warning = read_page(source, path)
        if warning:
            warnings.append(warning)
    if '__init__.py' not in pages:
        pages = {'__init__.py': Page('__init__.py', [], {}, exists=False), **pages}
    return pages, warnings


def find_sources(source: Path, skip: Optional[Path] = None, suffixes: tuple = PAGE_SUFFIXES) -> list:
    """
    The files with these `suffixes` under `source` as `/`-separated relative
    paths in folder order, leaving out caches, hidden folders and the `skip`
    folder (the translations).
    """
    found = []
    for file in source.rglob('*'):
        relative = file.relative_to(source)
        if file.suffix not in suffixes or not file.is_file():
            continue
        if any(part.startswith('.') or part == '__pycache__' for part in relative.parts):
            continue
        if skip is not None and file.resolve().is_relative_to(skip.resolve()):
            continue
        found.append(relative.as_posix())
    return sorted(found, key=page_order)


def page_order(path: str) -> tuple:
    """
    Sort key for pages: folder by folder, a folder's `__init__.py` first.
    """
    *folders, name = path.split('/')
    return folders, name != '__init__.py', name


def read_page(source: Path, path: str) -> tuple[Page, Optional[str]]:
    """
    Reads and splits one file, and takes the front matter off its first notes
    block. Returns the page and a warning, or `None`.
    """
    file = source / path
    text = read_source(file)
    markdown = path.endswith('.md')
    if markdown:
        sections, warning, text = split_markdown(text), None, ''
    else:
        sections, warning = split_python(text)
    meta = {}
    if sections and sections[0].notes:
        first = sections[0].notes[0]
        meta, rest = front_matter(first.text, f'{file}:{first.line}')
        first.line += first.text[:len(first.text) - len(rest)].count('\n')
        first.text = rest
        # A docstring that was only front matter leaves nothing to show
        if not rest.strip():
            sections[0].notes.pop(0)
            if not sections[0].notes and not sections[0].code:
                sections.pop(0)
    first = sections[0].notes[0].text if sections and sections[0].notes else ''
    page = Page(path, sections, meta, first_heading(first) or '', text, markdown)
    return page, (f'{file}: {warning}' if warning else None)


def read_source(path: Path) -> str:
    """
    Source files must be UTF-8, as Python itself assumes. Anything else is an
    error that names the file, rather than a page of mojibake.
    """
    data = path.read_bytes()
    try:
        text = data.decode('utf-8-sig')
    except UnicodeDecodeError as e:
        raise LiterateError(f'{path}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})')
    # One kind of line ending, so that line numbers agree with every editor
    return text.replace('\r\n', '\n').replace('\r', '\n')
