"""
---
title: Building the site
summary: >
  The top layer of the renderer: find the source files, render each into every
  language that covers it, add the home page, and write the output folder or
  compare it with what is there.
---

# Building the site

A source file becomes a page beside where it sits:

| source | page |
| --- | --- |
| `a/b.py` | `a/b.html` |
| `a/__init__.py` | `a/index.html` |
| `a/readme.md` | `a/readme.html`, notes only |

and a copy of the source goes next to its page, so the page can link to it
without a server. The top `__init__.py` is the home page, and under its notes the
home page lists every page with its title and summary. Each other language gets
the same layout in its own folder, `ja/` for Japanese.

The whole site is built in memory as a map from path to bytes. Writing it and
checking it are then simple: write the bytes, or compare them with the folder.
Nothing depends on the clock or on the order the file system lists files in,
so the same sources always give the same bytes.
"""

import posixpath
import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Callable, Optional

from labml_nn.literate.code import highlight_lines
from labml_nn.literate.notes import first_heading, front_matter, render_notes
# Writing moved to `output`; the browser test still imports it from here
from labml_nn.literate.output import write  # noqa: F401
from labml_nn.literate.page import PageParts, code_html, render_page
from labml_nn.literate.split import read_source, split_markdown, split_python
from labml_nn.literate.translate import ENGLISH, Catalogue, Language

# The style sheet and the script every page uses, written to the output's top
ASSETS = Path(__file__).parent / 'assets'
ASSET_FILES = ('literate.css', 'literate.js')


@dataclass
class Page:
    """
    A source file, split and highlighted, with its front matter.
    `lines` holds the HTML of each code line; a Markdown file has none.
    """
    path: str
    sections: list
    meta: dict
    lines: list = field(default_factory=list)
    exists: bool = True


def page_order(path: str) -> tuple:
    """
    Sort key for pages: folder by folder, a folder's `__init__.py` first.
    """
    *folders, name = path.split('/')
    return folders, name != '__init__.py', name


def output_path(path: str) -> str:
    """
    Where the page of a source file goes, relative to the output folder.
    """
    folder, name = posixpath.split(path)
    name = 'index.html' if name == '__init__.py' else name.rsplit('.', 1)[0] + '.html'
    return posixpath.join(folder, name)


def discover(source: Path, skip: Optional[Path] = None, suffixes: tuple = ('.py', '.md')) -> list:
    """
    The files with these `suffixes` under `source` (the pages' sources, or
    the images the notes show) as `/`-separated relative paths, leaving out
    caches, hidden folders and the `skip` folder (the translations).
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


def load_page(source: Path, path: str) -> tuple:
    """
    Reads and splits one file, and takes the front matter off its first notes
    block. Returns the page and a warning, or `None`.
    """
    file = source / path
    text = read_source(file)
    if path.endswith('.md'):
        sections, warning, lines = split_markdown(text), None, []
    else:
        (sections, warning), lines = split_python(text), highlight_lines(text)
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
    return Page(path, sections, meta, lines), (f'{file}: {warning}' if warning else None)


class Site:
    """
    Renders every page in every language into `files`, and notes on the way
    which translated blocks are stale or missing (`untranslated`) and what
    looks wrong but does not stop the build (`warnings`).
    """

    def __init__(self, source: Path, languages: list, skip: Optional[Path] = None):
        self.source = source
        self.languages = languages
        self.warnings = []
        self.untranslated = []
        self.pages = {}
        # Images beside the sources are copied as they are, for the notes to show
        self.images = discover(source, skip, ('.png', '.svg'))
        for path in discover(source, skip):
            self.pages[path], warning = load_page(source, path)
            if warning:
                self.warnings.append(warning)
        # Without a top `__init__.py`, the home page is only the list of pages
        if '__init__.py' not in self.pages:
            self.pages = {'__init__.py': Page('__init__.py', [], {}, exists=False), **self.pages}
        self.files = {}
        self.titles = {}

    def build(self) -> dict:
        """
        All output files, as a map from relative path to bytes.
        """
        for name in ASSET_FILES:
            self.files[name] = (ASSETS / name).read_bytes()
        for language in self.languages:
            # The home page lists the others, so it comes after them
            for page in self._others() + [self.pages['__init__.py']]:
                if language.covers(page.path):
                    self._render(page, language)
        for path in [page.path for page in self.pages.values() if page.exists] + self.images:
            self.files[path] = (self.source / path).read_bytes()
        return self.files

    def _others(self) -> list:
        """
        Every page but the home page, in order.
        """
        return [page for page in self.pages.values() if page.path != '__init__.py']

    def _render(self, page: Page, language: Language):
        out = output_path(page.path)
        prefix = _folder(language)
        root = '../' * (out.count('/') + prefix.count('/'))
        catalogue = Catalogue.load(language, page.path) if language is not ENGLISH else None
        link = self._linker(page, language, out)

        def notes(key: str, english: str, line: Optional[int]) -> str:
            # A block shows its translation, or the English with its language marked
            if catalogue is None:
                return render_notes(english, str(self.source / page.path), line, link)
            text, status = catalogue.lookup(key, english, language.code)
            if status == 'ok':
                return render_notes(text, f'{catalogue.path} [{key}]', None, link)
            self.untranslated.append(f'{catalogue.path}: {status} block {key}')
            return f'<div lang="en">\n{render_notes(english, str(self.source / page.path), line, link)}</div>\n'

        sections = []
        for section in page.sections:
            html = ''.join(notes(f'{section.anchor}/{i}', note.text, note.line)
                           for i, note in enumerate(section.notes, 1))
            code = code_html([(n, page.lines[n - 1]) for n in section.code])
            sections.append((section.anchor, html, code))

        title, summary = self._title(page, language, catalogue)
        parts = PageParts(
            lang=language.code, title=title, summary=summary, root=root,
            crumbs=self._crumbs(page, language, root),
            source_link=root + page.path if page.exists else None,
            source_label=language.ui['source'],
            alternates=[(other.code, root + _folder(other) + out, other.name)
                        for other in self.languages if other.covers(page.path)],
            sections=sections,
            notes_only=page.path.endswith('.md'),
            after=self._contents(language) if page.path == '__init__.py' else '')
        # A page in one language only needs no language links
        if len(parts.alternates) == 1:
            parts.alternates = []
        self.files[prefix + out] = render_page(parts).encode('utf-8')

    def _title(self, page: Page, language: Language, catalogue: Optional[Catalogue]) -> tuple:
        """
        The page's title and summary in `language`: from the front matter, or
        else the first heading, or else the file's path.
        """
        found = {}
        for key in ('title', 'summary'):
            english = page.meta.get(key, '')
            found[key] = english
            if english and catalogue is not None:
                text, status = catalogue.lookup(key, english, language.code)
                if status == 'ok':
                    found[key] = text
                else:
                    self.untranslated.append(f'{catalogue.path}: {status} block {key}')
        if not found['title'] and not page.exists:
            found['title'] = self.source.name
        elif not found['title']:
            first = page.sections[0].notes[0].text if page.sections and page.sections[0].notes else ''
            found['title'] = first_heading(first) or page.path
        self.titles[language.code, page.path] = found['title'], found['summary']
        return found['title'], found['summary']

    def _crumbs(self, page: Page, language: Language, root: str) -> list:
        """
        Home, each parent folder (linked where it has a page), and the page.
        """
        home = root + _folder(language) + 'index.html'
        if page.path == '__init__.py':
            return [(self.source.name, None)]
        crumbs = [(self.source.name, home)]
        *folders, name = page.path.split('/')
        for depth, folder in enumerate(folders, 1):
            init = '/'.join(folders[:depth]) + '/__init__.py'
            is_page = depth == len(folders) and name == '__init__.py'
            link = None
            if init in self.pages and not is_page:
                link = root + (_folder(language) if language.covers(init) else '') + output_path(init)
            crumbs.append((folder, link))
        if name != '__init__.py':
            crumbs.append((name, None))
        return crumbs

    def _contents(self, language: Language) -> str:
        """
        The home page's list of pages, each with its title and summary. A page
        that this language does not cover links to its English version.
        """
        items = []
        for page in self._others():
            covered = language.covers(page.path)
            if covered:
                title, summary = self.titles[language.code, page.path]
            else:
                title, summary = self._title(page, ENGLISH, None)
            link = ('' if covered or language is ENGLISH else '../') + output_path(page.path)
            items.append(f'<li><a href="{escape(link)}">{escape(title)}</a> '
                         f'<code class="path">{escape(page.path)}</code>'
                         + escape(summary) + '</li>')
        heading = escape(language.ui['contents'])
        return (f'<section class="contents" id="contents">\n<h2>{heading}</h2>\n<ul>\n'
                + '\n'.join(items) + '\n</ul>\n</section>\n')

    def _linker(self, page: Page, language: Language, out: str) -> Callable[[str], str]:
        """
        Relative links in the notes are written as between source pages, such as
        `[the loss](loss.html)`. On a translated page, a link to a page that is
        not translated goes up to the English one. A link to nowhere, or to an
        anchor the page does not have, is a warning.
        """
        own = {output_path(p) for p in self.pages if language.covers(p)}
        english = {output_path(p) for p in self.pages} | set(self.pages) | set(ASSET_FILES) | set(self.images)
        # Sections, and any `id` the notes set themselves in HTML
        notes = '\n'.join(note.text for section in page.sections for note in section.notes)
        anchors = {section.anchor for section in page.sections} | set(re.findall(r'\bid="([^"]+)"', notes))

        def link(href: str) -> str:
            if href.startswith('#'):
                if href[1:] not in anchors and href != '#':
                    self.warnings.append(f'{page.path}: there is no section {href} to link to')
                return href
            if not href or href.startswith('/') or re.match(r'[a-zA-Z][a-zA-Z0-9+.-]*:', href):
                return href
            path = re.split('[#?]', href)[0]
            target = posixpath.normpath(posixpath.join(posixpath.dirname(out), path))
            if target in own:
                return href
            if target in english:
                if language is ENGLISH:
                    return href
                # From the translated page's folder to the English file
                here = posixpath.dirname(_folder(language) + out)
                return posixpath.relpath(target, here) + href[len(path):]
            self.warnings.append(f'{page.path}: the link {href} leads to no page')
            return href

        return link


def _folder(language: Language) -> str:
    """
    The folder of a language's pages in the output: the top for English.
    """
    return '' if language is ENGLISH else f'{language.code}/'


def language_of(path: str, languages: list) -> str:
    """
    Which language an output file belongs to, by its top folder.
    """
    top = path.split('/', 1)[0]
    codes = {language.code for language in languages if language is not ENGLISH}
    return top if '/' in path and top in codes else ENGLISH.code
