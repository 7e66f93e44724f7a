"""
---
title: Building the site
summary: >
  The stage that puts the pages together: every source read, highlighted and
  translated once, then each page in each language that covers it, the home
  page listing the others, the search index, the style sheet and the images.
---

# Building the site

A source file becomes a page beside where it sits:

| source | page |
| --- | --- |
| `a/b.py` | `a/b.html` |
| `a/__init__.py` | `a/index.html` |
| `a/readme.md` | `a/readme.html`, notes only |

The top `__init__.py` is the home page, and under its notes the home page lists
every page with its title and summary, in reading order. Each other language
gets the same layout in its own folder, `ja/` for Japanese.

## Reading order

The home page lists the pages in the order a reader should meet them, and that
order is already written down: each folder's `__init__.py` links its pages, in
the order its author thought best. So a folder's index page comes first, then
the pages its notes link to, in the order of the links (an index page linked
brings its own folder along), then the folder's pages it does not link, by
name. To change the order, reorder the list of links in the index page.

The site is built in stages, each from the data of the ones before. [The
command line](__main__.html) runs the first three, whose work every language
shares, and makes a `Site` of what they give:

1. every source is [read](sources.html) and split;
2. the code column of each page is [highlighted](code.html);
3. the [translations](translate.html) of each page's notes are looked up.

Then `build` makes the files:

4. what every page is called in every language, so that the home page can
   list them whatever order the pages are rendered in;
5. each page in each language that covers it, its [notes](notes.html) beside
   its code in [a page](page.html), and the [search index](search.html) of the
   language's pages;
6. the style sheet, the script and the images, as they are.

The source files themselves are not copied: each page shows all of its code,
with line numbers. Given `--repository`, each page links to its file there.

The whole site is a map from path to bytes. Writing it and checking it are then
simple: write the bytes, or compare them with the folder. Nothing depends on the
clock or on the order the file system lists files in, so the same sources always
give the same bytes.
"""

import posixpath
import re
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Optional

from markdown_it import MarkdownIt

from labml_nn.literate.notes import Links, render_notes
from labml_nn.literate.page import PageParts, render_page
from labml_nn.literate.results import results_tables
from labml_nn.literate.search import INDEX_FILE, search_index
from labml_nn.literate.sources import Page
from labml_nn.literate.split import Note
from labml_nn.literate.translate import ENGLISH, Language, PageTranslation

# The style sheet, the script and the icon every page uses, written to the output's top
ASSETS = Path(__file__).parent / 'assets'
ASSET_FILES = ('literate.css', 'literate.js', 'favicon.svg')


@dataclass
class Site:
    """
    The pages of a source folder in some languages, as the first stages left
    them. `build` renders them into files, and notes on the way what looks
    wrong but does not stop the build (`warnings`).

    * `pages` are the pages by source path, in reading order, and `images` the
      paths of the images beside them
    * `code` is the code column of each page, by path: one piece of HTML per section
    * `translations` are each page's notes in each language that covers it,
      by language code and path
    * `languages` are the languages to build, and `every_language` those the
      site has: a page links to itself in each, so that a build of one
      language gives the same pages as a build of all
    * `repository`, if given, is where the source files are online, such as
      `https://github.com/you/project/blob/main/labml_nn/`
    """
    source: Path
    pages: dict
    images: list
    code: dict
    translations: dict
    languages: list
    every_language: list
    warnings: list = field(default_factory=list)
    repository: Optional[str] = None

    def build(self) -> dict:
        """
        All output files, as a map from relative path to bytes.
        """
        # 4. What each page is called in each language, in reading order, before any page is rendered
        titles = {(language.code, path): self._title(self.pages[path], self.translations.get((language.code, path)))
                  for language in self.languages for path in reading_order(self.pages)}
        self.warnings.extend(_shared_titles(titles))
        # 5. Each page in each language that covers it, and the search box's index of them
        files = {}
        for language in self.languages:
            pages = {_folder(language) + output_path(path): self._render(page, language, titles).encode('utf-8')
                     for path, page in self.pages.items() if language.covers(path)}
            files.update(pages)
            files[_folder(language) + INDEX_FILE] = search_index(pages)
        # 6. What every page shares, and the images the notes show
        for name in ASSET_FILES:
            files[name] = (ASSETS / name).read_bytes()
        for path in self.images:
            files[path] = (self.source / path).read_bytes()
        return files

    def _title(self, page: Page, translation: Optional[PageTranslation]) -> tuple:
        """
        The page's title and summary: from the front matter, translated where
        the language has them; or else its first heading, or else its path.
        """
        title, summary = page.meta.get('title', ''), page.meta.get('summary', '')
        if translation is not None:
            title = translation.texts.get('title') or title
            summary = translation.texts.get('summary') or summary
        if not page.exists:
            return title or self.source.name, summary
        return title or page.heading or page.path, summary

    def _render(self, page: Page, language: Language, titles: dict) -> str:
        """
        One page in one language: its frame, then each section's notes beside its code.
        """
        translation = self.translations.get((language.code, page.path))
        out = output_path(page.path)
        root = '../' * (out.count('/') + _folder(language).count('/'))
        crumbs = self._crumbs(page, language, root)
        contents = self._contents(language, titles) if page.path == '__init__.py' else ''
        links = self._links(page, language, out)
        where = str(self.source / page.path)
        folder = (self.source / page.path).parent

        # A block in the page's language, or else in English, marked as English; its results tables filled in
        def notes(key: str, note: Note) -> str:
            if translation is not None and translation.texts.get(key) is not None:
                text = results_tables(translation.texts[key], folder, language.code, f'{translation.path} [{key}]')
                return render_notes(text, f'{translation.path} [{key}]', None, links)
            text = results_tables(note.text, folder, ENGLISH.code, where)
            english = render_notes(text, where, note.line, links)
            return english if translation is None else f'<div lang="en">\n{english}</div>\n'

        sections = []
        for section, column in zip(page.sections, self.code[page.path]):
            html = ''.join(notes(f'{section.anchor}/{i}', note) for i, note in enumerate(section.notes, 1))
            sections.append((section.anchor, html, column))
        self.warnings.extend(links.broken)
        title, summary = titles[language.code, page.path]
        parts = PageParts(
            lang=language.code, title=title, summary=summary, root=root, crumbs=crumbs,
            source_link=self.repository + page.path if self.repository and page.exists else None,
            source_label=language.ui['source'],
            alternates=[(other.code, root + _folder(other) + out, other.name)
                        for other in self.every_language if other.covers(page.path)],
            sections=sections, notes_only=page.markdown, after=contents)
        # A page in one language only needs no language links
        if len(parts.alternates) == 1:
            parts.alternates = []
        return render_page(parts)

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
        # A page with no source file of its own is named by its page
        if name != '__init__.py':
            crumbs.append((name if page.exists else output_path(name), None))
        return crumbs

    def _contents(self, language: Language, titles: dict) -> str:
        """
        The home page's list of pages, each with its title and summary, in
        the reading order of `titles`. A page
        that this language does not cover links to its English version.
        """
        items = []
        for (code, path), (title, summary) in titles.items():
            if code != language.code or path == '__init__.py':
                continue
            covered = language.covers(path)
            link = ('' if covered or language is ENGLISH else '../') + output_path(path)
            items.append(f'<li><a href="{escape(link)}">{escape(title)}</a> '
                         f'<code class="path">{escape(path)}</code>'
                         + escape(summary) + '</li>')
        heading = escape(language.ui['contents'])
        return (f'<section class="contents" id="contents">\n<h2>{heading}</h2>\n<ul>\n'
                + '\n'.join(items) + '\n</ul>\n</section>\n')

    def _links(self, page: Page, language: Language, out: str) -> Links:
        """
        Where the page's links may lead: its own sections, the pages of its
        language, and every file of the English site.
        """
        notes = '\n'.join(note.text for section in page.sections for note in section.notes)
        return Links(
            page=page.path, here=out, folder=_folder(language),
            translated={output_path(p) for p in self.pages if language.covers(p)},
            english={output_path(p) for p in self.pages} | set(ASSET_FILES) | set(self.images),
            anchors={section.anchor for section in page.sections} | set(re.findall(r'\bid="([^"]+)"', notes)))


def _shared_titles(titles: dict) -> list:
    """
    A warning for each title that two pages of one language share: the home
    page would list them under one name.
    """
    first, warnings = {}, []
    for (code, path), (title, _) in titles.items():
        if (code, title) in first:
            warnings.append(f'{first[code, title]} and {path} are both titled {title!r} ({code}); '
                            f'give one a title of its own in its front matter')
        first.setdefault((code, title), path)
    return warnings


def reading_order(pages: dict) -> list:
    """
    The paths of `pages` (in folder order) in the order the index pages link
    them, starting at the home page: see *Reading order* above.
    """
    source_of = {output_path(path): path for path in pages}
    order = {}

    def visit(path: str):
        # Each page where it is first met
        if path in order:
            return
        order[path] = True
        if posixpath.basename(path) != '__init__.py':
            return
        # An index page is followed by the pages of its folder that it links, then by the rest of its folder
        folder = posixpath.dirname(path)
        linked = [source_of.get(target) for target in _linked_pages(pages[path], output_path(path))]
        in_folder = [p for p in pages if not folder or p.startswith(folder + '/')]
        for page in [p for p in linked if p in in_folder] + in_folder:
            visit(page)

    # The home page's folder holds every page
    visit('__init__.py')
    return list(order)


# Only the links of the notes are wanted here, not their rendering
_MARKDOWN = MarkdownIt('commonmark')


def _linked_pages(page: Page, here: str) -> list:
    """
    The pages a page's notes link to, as output paths, in the order of the links.
    """
    text = '\n\n'.join(note.text for section in page.sections for note in section.notes)
    targets = []
    for block in _MARKDOWN.parse(text):
        for token in block.children or []:
            href = token.attrGet('href') if token.type == 'link_open' else None
            if href and not href.startswith(('#', '/')) and ':' not in href:
                targets.append(posixpath.normpath(posixpath.join(posixpath.dirname(here), href.split('#')[0])))
    return targets


def output_path(path: str) -> str:
    """
    Where the page of a source file goes, relative to its language's folder.
    """
    folder, name = posixpath.split(path)
    name = 'index.html' if name == '__init__.py' else name.rsplit('.', 1)[0] + '.html'
    return posixpath.join(folder, name)


def _folder(language: Language) -> str:
    """
    The folder of a language's pages in the output: the top for English.
    """
    return '' if language is ENGLISH else f'{language.code}/'
