"""
---
title: Translations
summary: >
  Translated notes live in one YAML file per page, each entry keeping the English
  it was made from, so a changed English block is caught as stale and shown in
  English until a translator updates it.
---

# Translations

Only the notes are translated; the code is the same in every language. A
language is a folder under `translations/`, such as `translations/ja/`, with:

* `language.yaml`: the language's own name, the pages it covers (paths or folder
  prefixes such as `distillation/`), and the words of the page frame;
* one file per page, mirroring the source path: the notes of
  `distillation/loss.py` are in `translations/ja/distillation/loss.py.yaml`.

A page file is a list of entries, one per notes block, plus the page's `title`
and `summary`:

```yaml
- key: DistillationLoss/1
  en: |
    The English block, exactly as it is in the source.
  ja: |
    その翻訳。
```

`key` is the block's section anchor and its place in the section. An entry
counts only while its `en` is the English on the page now, so editing a comment
in the source makes its translation *stale*: the page shows the English block
until a translator updates the entry. An entry is found by its English text
first and by its key second, so a block that merely moved keeps its translation.

The maintainer command `--update-translations` rewrites these files: it adds an
empty entry for each new block and, for a stale one, puts the new English in `en`
and the English that the old translation was made from in `old_en`. The
translator fixes `ja` and deletes `old_en`. It rewrites only the files of the
pages it finds, and keeps their `title` and `summary` entries even while the
page has no front matter. Page paths count from the top package, so building or
updating `labml_nn/distillation` alone uses `translations/ja/distillation/`.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from labml_nn.literate import LiterateError


@dataclass
class Language:
    """
    A language of the site: its code (`ja`), its name in itself (`日本語`),
    the pages it covers, the words of the page frame, and its folder.
    """
    code: str
    name: str
    pages: list
    ui: dict
    folder: Optional[Path] = None
    # The subfolder of the site being built, such as `distillation/`, if not the top
    within_folder: str = ''

    def covers(self, path: str) -> bool:
        """
        Whether the page with this source path is translated.
        """
        return any(path == p or (path.startswith(p) and p[-1:] in ('', '/')) for p in self.pages)

    def within(self, folder: str) -> 'Language':
        """
        The language as seen from a subfolder of the site, such as
        `distillation/`: the pages it covers there, and its files for them.
        """
        if not folder:
            return self
        pages = [p[len(folder):] if p.startswith(folder) else '' for p in self.pages
                 if p.startswith(folder) or (folder.startswith(p) and p[-1:] in ('', '/'))]
        return Language(self.code, self.name, pages, self.ui, self.folder, folder)


# English is the language of the source; the empty prefix covers every page
ENGLISH = Language('en', 'English', [''], {'source': 'Source', 'contents': 'Pages',
                                           'appendix': 'Appendix: how it works', 'next': 'Next',
                                           'home': 'Home page'})


def load_languages(folder: Path, source: Optional[Path] = None) -> list:
    """
    English, then each language with a `language.yaml` in the translations
    folder, sorted by code, as seen from the `source` folder being built.
    """
    within = package_folder(source) if source is not None else ''
    languages = [ENGLISH]
    for config in sorted(folder.glob('*/language.yaml')) if folder.is_dir() else []:
        data = _load_yaml(config) or {}
        ui = dict(ENGLISH.ui, **data.get('ui', {}))
        language = Language(config.parent.name, data.get('name', config.parent.name),
                            list(data.get('pages', [])), ui, config.parent)
        languages.append(language.within(within))
    return languages


def choose_languages(languages: list, code: Optional[str], folder: Path) -> list:
    """
    The languages to build: all of them, or the one with this code, which the
    translations `folder` must have.
    """
    chosen = [language for language in languages if code in (None, language.code)]
    if not chosen:
        raise LiterateError(f'no translations for language {code!r} in {folder}')
    return chosen


def language_of(path: str, languages: list) -> str:
    """
    Which language a file of the built site belongs to, by its top folder:
    `ja/` for Japanese, the top for English.
    """
    top = path.split('/', 1)[0]
    codes = {language.code for language in languages if language is not ENGLISH}
    return top if '/' in path and top in codes else ENGLISH.code


def package_folder(source: Path) -> str:
    """
    Where `source` sits in the Python package it belongs to, such as
    `distillation/` for `labml_nn/distillation`; empty for a top folder.
    Translations are named by a page's path from the top package, so that
    building a subfolder reads and updates the files of its own pages.
    """
    parts = []
    folder = source.resolve()
    while (folder / '__init__.py').is_file() and (folder.parent / '__init__.py').is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    return ''.join(part + '/' for part in parts)


def _load_yaml(path: Path):
    try:
        return yaml.safe_load(path.read_text(encoding='utf-8'))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise LiterateError(f'{path}: cannot read it: {e}')


@dataclass
class Catalogue:
    """
    The translations of one page into one language.
    """
    path: Path
    page: str
    entries: list = field(default_factory=list)

    @classmethod
    def load(cls, language: Language, page: str) -> 'Catalogue':
        page = language.within_folder + page
        path = language.folder / f'{page}.yaml'
        entries = (_load_yaml(path) or []) if path.exists() else []
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            raise LiterateError(f'{path}: expected a list of entries with key, en and {language.code}')
        return cls(path, page, entries)

    def lookup(self, key: str, english: str, code: str) -> tuple:
        """
        The translation of a block as `(text, status)`, status being `ok`,
        `stale` or `missing`; the text is `None` unless the status is `ok`.
        """
        for entry in self.entries:
            if entry.get('en') == english and _done(entry, code):
                return entry[code], 'ok'
        for entry in self.entries:
            if entry.get('key') == key:
                return None, 'stale' if entry.get(code) else 'missing'
        return None, 'missing'

    def update(self, blocks: list, code: str) -> None:
        """
        Rewrites the file for the page's blocks, given as `(key, english)`, in
        page order. Entries of blocks that are gone are dropped, but not the
        page's title and summary: a page can lose its front matter for a while.
        """
        keys = {key for key, _ in blocks}
        entries = [e for e in self.entries if e.get('key') in ('title', 'summary') and e['key'] not in keys]
        for key, english in blocks:
            text, status = self.lookup(key, english, code)
            if status == 'ok':
                entries.append({'key': key, 'en': english, code: text})
                continue
            old = next((e for e in self.entries if e.get('key') == key), {})
            entry = {'key': key, 'en': english}
            # Keep the stale translation, and the English it was made from
            if old.get(code):
                entry['old_en'] = old.get('old_en', old.get('en', ''))
            entry[code] = old.get(code, '')
            entries.append(entry)
        self.entries = entries
        self.path.parent.mkdir(parents=True, exist_ok=True)
        header = (f'# The notes of {self.page}: write each `{code}` from its `en`, and delete\n'
                  f'# `old_en` once `{code}` says what `en` says. Made by --update-translations.\n')
        self.path.write_text(header + yaml.dump(entries, Dumper=_Dumper, allow_unicode=True,
                                                sort_keys=False, width=100000), encoding='utf-8')


@dataclass
class PageTranslation:
    """
    A page's blocks in one language, by key: the translation, or `None` where
    it is stale or missing, which `untranslated` lists for the translator.
    `path` is the translation file.
    """
    path: Path
    texts: dict
    untranslated: list


def translate_page(page, language: Language) -> PageTranslation:
    """
    Looks up every block of a page, its title and summary included.
    """
    catalogue = Catalogue.load(language, page.path)
    texts, untranslated = {}, []
    for key, english in blocks(page):
        texts[key], status = catalogue.lookup(key, english, language.code)
        if status != 'ok':
            untranslated.append(f'{catalogue.path}: {status} block {key}')
    return PageTranslation(catalogue.path, texts, untranslated)


def blocks(page) -> list:
    """
    What there is to translate on a page, as `(key, english)`: its title and
    summary, then each notes block, keyed by its section and its place there.
    """
    found = [(key, page.meta[key]) for key in ('title', 'summary') if page.meta.get(key)]
    return found + [(f'{section.anchor}/{i}', note.text)
                    for section in page.sections for i, note in enumerate(section.notes, 1)]


def update_translations(pages: list, languages: list) -> list:
    """
    Rewrites the translation file of each page a language covers, and returns
    a line for each block that still needs a translator.
    """
    needed = []
    for language in languages:
        for page in pages:
            if language is ENGLISH or not language.covers(page.path) or not page.exists:
                continue
            catalogue = Catalogue.load(language, page.path)
            catalogue.update(blocks(page), language.code)
            needed += translate_page(page, language).untranslated
    return needed


def _done(entry: dict, code: str) -> bool:
    """
    An entry is done when it has a translation and no `old_en` waiting.
    """
    return bool(entry.get(code)) and 'old_en' not in entry


class _Dumper(yaml.SafeDumper):
    """
    Writes multi-line text as YAML block scalars (`|`), so that translators
    read and edit it as it shows in the source, backslashes and all.
    """


def _represent_text(dumper: yaml.SafeDumper, text: str):
    style = '|' if '\n' in text else None
    return dumper.represent_scalar('tag:yaml.org,2002:str', text, style=style)


_Dumper.add_representer(str, _represent_text)
