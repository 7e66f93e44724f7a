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
every page with its title and summary, in [reading order](sources.html): the
order in which the index pages link them. Each other language gets the same
layout in its own folder, `ja/` for Japanese.

The site is built in stages, each from the data of the ones before. When the
`Site` is made, what every language shares is done once:

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

import re
from html import escape
from pathlib import Path
from typing import Optional

from labml_nn.literate.code import code_sections
from labml_nn.literate.notes import Links, render_notes
from labml_nn.literate.page import PageParts, render_page
from labml_nn.literate.search import INDEX_FILE, search_index
from labml_nn.literate.sources import IMAGE_SUFFIXES, Page, find_sources, output_path, read_pages
from labml_nn.literate.split import Note
from labml_nn.literate.translate import ENGLISH, Language, PageTranslation, translate_page

# The style sheet and the script every page uses, written to the output's top
ASSETS = Path(__file__).parent / 'assets'
ASSET_FILES = ('literate.css', 'literate.js')


class Site:
    """
    The pages of a source folder in some languages. `build` renders them into
    files, and notes on the way which translated blocks are stale or missing
    (`untranslated`) and what looks wrong but does not stop the build
    (`warnings`). `repository`, if given, is where the source files are online,
    such as `https://github.com/you/project/blob/main/labml_nn/`.
    """

    def __init__(self, source: Path, languages: list, skip: Optional[Path] = None,
                 repository: Optional[str] = None):
        self.source = source
        self.languages = languages
        self.repository = repository
        # 1. Every source, read and split, in reading order, and the images beside them
        self.pages, self.warnings = read_pages(source, skip)
        self.images = find_sources(source, skip, IMAGE_SUFFIXES)
        # 2. The code column of each page, the same in every language
        self.code = {path: code_sections(page.text, page.sections) for path, page in self.pages.items()}
        # 3. Each page's notes in each language that covers it, where translated
        self.translations = {(language.code, path): translate_page(page, language)
                             for language in self.languages if language is not ENGLISH
                             for path, page in self.pages.items() if language.covers(path)}
        self.untranslated = [line for translation in self.translations.values()
                             for line in translation.untranslated]

    def build(self) -> dict:
        """
        All output files, as a map from relative path to bytes.
        """
        # 4. What each page is called in each language, before any page is rendered
        titles = {(language.code, path): self._title(page, self.translations.get((language.code, path)))
                  for language in self.languages for path, page in self.pages.items()}
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

        # A block in the page's language, or else in English, marked as English
        def notes(key: str, note: Note) -> str:
            if translation is not None and translation.texts.get(key) is not None:
                return render_notes(translation.texts[key], f'{translation.path} [{key}]', None, links)
            english = render_notes(note.text, where, note.line, links)
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
                        for other in self.languages if other.covers(page.path)],
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
        if name != '__init__.py':
            crumbs.append((name, None))
        return crumbs

    def _contents(self, language: Language, titles: dict) -> str:
        """
        The home page's list of pages, each with its title and summary. A page
        that this language does not cover links to its English version.
        """
        items = []
        for page in self.pages.values():
            if page.path == '__init__.py':
                continue
            title, summary = titles[language.code, page.path]
            covered = language.covers(page.path)
            link = ('' if covered or language is ENGLISH else '../') + output_path(page.path)
            items.append(f'<li><a href="{escape(link)}">{escape(title)}</a> '
                         f'<code class="path">{escape(page.path)}</code>'
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


def _folder(language: Language) -> str:
    """
    The folder of a language's pages in the output: the top for English.
    """
    return '' if language is ENGLISH else f'{language.code}/'
