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

The top `__init__.py` is the home page. Each other language gets the same
layout in its own folder, `ja/` for Japanese.

## The reading path

The first numbered list of the home page's notes is the *reading path*:
each item is a step, and the pages its links lead to are the step's pages, in
the order of the links. Every page of the path ends with a link to the next
page of the path, and every page with a link back to the home page. An item
whose links all lead to pages the site does not have is left out of the home
page, so the path can name a page before its source is written and never
shows a dead link.

Under its notes, the home page lists the other pages, each with its title and
summary, grouped by folder under the title of the folder's index page: an
appendix of how the tutorial runs. Without a path, it lists every page so.

## Reading order

Off the path, the pages are listed in the order a reader should meet them, and
that order is already written down: each folder's `__init__.py` links its pages, in
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
   list them whatever order the pages are rendered in, and the pages of the
   reading path;
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
        # 4. What each page is called in each language, in reading order, before any page is rendered,
        #    and the pages of the reading path, one after the other
        titles = {(language.code, path): self._title(self.pages[path], self.translations.get((language.code, path)))
                  for language in self.languages for path in reading_order(self.pages)}
        self.warnings.extend(_shared_titles(titles))
        path = [page for step in reading_path(self.pages) for page in step]
        # 5. Each page in each language that covers it, and the search box's index of them
        files = {}
        for language in self.languages:
            pages = {_folder(language) + output_path(page.path): self._render(page, language, titles, path)
                     .encode('utf-8') for page in self.pages.values() if language.covers(page.path)}
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

    def _render(self, page: Page, language: Language, titles: dict, path: list) -> str:
        """
        One page in one language: its frame, then each section's notes beside
        its code, and the links to the next page of the reading `path` and home.
        """
        translation = self.translations.get((language.code, page.path))
        out = output_path(page.path)
        root = '../' * (out.count('/') + _folder(language).count('/'))
        crumbs = self._crumbs(page, language, root)
        contents = self._contents(language, titles, path) if page.path == '__init__.py' else ''
        links = self._links(page, language, out)
        where = str(self.source / page.path)
        folder = (self.source / page.path).parent
        pages = {output_path(p) for p in self.pages}

        # A block in the page's language, or else in English, marked as English; its results tables filled
        # in, and on the home page, the steps of the reading path whose pages are not there left out
        def notes(key: str, note: Note) -> str:
            if translation is not None and translation.texts.get(key) is not None:
                text = results_tables(translation.texts[key], folder, language.code, f'{translation.path} [{key}]')
                text = without_missing_steps(text, pages) if page.path == '__init__.py' else text
                return render_notes(text, f'{translation.path} [{key}]', None, links)
            text = results_tables(note.text, folder, ENGLISH.code, where)
            text = without_missing_steps(text, pages) if page.path == '__init__.py' else text
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
            sections=sections, notes_only=page.markdown,
            after=contents + self._next_steps(page.path, language, titles, path))
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

    def _contents(self, language: Language, titles: dict, path: list) -> str:
        """
        The home page's list of the pages that are not on the reading `path`,
        each with its title and summary, grouped by folder under the title of
        the folder's index page, in the reading order of `titles`: the
        appendix, below the path; every page, where there is no path. A page
        that this language does not cover links to its English version.
        """
        here = _folder(language) + 'index.html'
        order = [p for (code, p) in titles if code == language.code]
        groups = {}
        for page in order:
            group = self._group(page)
            if page != '__init__.py' and page not in path and page != group:
                groups.setdefault(group, []).append(page)
        html = []
        for group in sorted(groups, key=lambda g: -1 if g is None else order.index(g)):
            items = ''.join(f'<li><a href="{escape(self._href(here, page, language))}">'
                            f'{escape(titles[language.code, page][0])}</a> '
                            f'<span class="summary">{escape(titles[language.code, page][1])}</span></li>\n'
                            for page in groups[group])
            heading = '' if group is None else (
                f'<h3><a href="{escape(self._href(here, group, language))}">'
                f'{escape(titles[language.code, group][0])}</a></h3>\n')
            html.append(f'<div class="group">\n{heading}<ul>\n{items}</ul>\n</div>\n')
        heading = escape(language.ui['appendix' if path else 'contents'])
        return (f'<section class="contents" id="contents">\n<h2>{heading}</h2>\n<div class="groups">\n'
                + ''.join(html) + '</div>\n</section>\n')

    def _group(self, path: str) -> Optional[str]:
        """
        The index page that heads a page's group on the home page: that of
        the nearest folder, the page's own included, that has one; `None` for
        a page of the top folder.
        """
        folder = posixpath.dirname(path)
        while folder:
            if f'{folder}/__init__.py' in self.pages:
                return f'{folder}/__init__.py'
            folder = posixpath.dirname(folder)
        return None

    def _next_steps(self, page: str, language: Language, titles: dict, path: list) -> str:
        """
        The links at the end of a page: to the next page of the reading
        `path`, from the home page and from each page of the path but the
        last; and back to the home page, from every other page.
        """
        here = _folder(language) + output_path(page)
        links = []
        if page == '__init__.py' or page in path:
            after = path.index(page) + 1 if page in path else 0
            if after < len(path):
                title = titles[language.code, path[after]][0]
                links.append(f'<a rel="next" href="{escape(self._href(here, path[after], language))}">'
                             f'<span class="label">{escape(language.ui["next"])}</span> {escape(title)}</a>')
        if page != '__init__.py':
            links.append(f'<a class="home" href="{escape(self._href(here, "__init__.py", language))}">'
                         f'{escape(language.ui["home"])}</a>')
        if not links:
            return ''
        return '<nav class="next-steps">\n' + '\n'.join(links) + '\n</nav>\n'

    def _href(self, here: str, page: str, language: Language) -> str:
        """
        The link from the output file `here` to the page of the source `page`
        in this language, or to its English version where the language does not cover it.
        """
        target = (_folder(language) if language.covers(page) else '') + output_path(page)
        return posixpath.relpath(target, posixpath.dirname(here) or '.')

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
    return [target for block in _MARKDOWN.parse(text) for target in _links_of(block, here)]


def reading_path(pages: dict) -> list:
    """
    The steps of the reading path, each a list of source paths: the items
    of the first numbered list of the home page's notes, each with the pages
    its links lead to, in the order of the links, each page in the first
    step that links it. Empty where the home page has no numbered list.
    """
    home = pages['__init__.py']
    source_of = {output_path(path): path for path in pages}
    tokens = _MARKDOWN.parse('\n\n'.join(note.text for section in home.sections for note in section.notes))
    steps, seen = [], set()
    opening = next((i for i, t in enumerate(tokens) if t.type == 'ordered_list_open' and t.level == 0), None)
    for token in tokens[opening + 1:] if opening is not None else []:
        if token.type == 'ordered_list_close' and token.level == 0:
            break
        if token.type == 'list_item_open' and token.level == 1:
            steps.append([])
        targets = [source_of.get(target) for target in _links_of(token, 'index.html')]
        steps[-1] += [page for page in targets if page is not None and page not in seen]
        seen.update(targets)
    return [step for step in steps if step]


def without_missing_steps(text: str, pages: set) -> str:
    """
    The home page's notes `text` without the items of its first numbered
    list, the reading path, whose links all lead to pages the site does not
    have (`pages` are the output paths of those it has): the path may name
    a page before its source is written, and never shows a dead link.
    """
    tokens = _MARKDOWN.parse(text)
    opening = next((i for i, t in enumerate(tokens) if t.type == 'ordered_list_open' and t.level == 0), None)
    if opening is None:
        return text
    items, depth = [], []
    for token in tokens[opening + 1:]:
        if token.type == 'ordered_list_close' and token.level == 0:
            break
        if token.type == 'list_item_open':
            depth.append({'lines': token.map, 'links': []})
        elif token.type == 'list_item_close':
            items.append(depth.pop())
        for item in depth:
            item['links'] += _links_of(token, 'index.html')
    lines = text.split('\n')
    missing = [item['lines'] for item in items if item['links'] and not set(item['links']) & pages]
    # An item within one that goes is gone with it; the last first, so that the line numbers hold
    for start, end in sorted(missing, reverse=True):
        if not any(s <= start and end <= e and (s, e) != (start, end) for s, e in missing):
            del lines[start:end]
    return '\n'.join(lines)


def _links_of(token, here: str) -> list:
    """
    The pages an inline token's links lead to, as output paths from the
    output file `here`; links within the page and to other sites left out.
    """
    targets = []
    for child in token.children or []:
        href = child.attrGet('href') if child.type == 'link_open' else None
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
