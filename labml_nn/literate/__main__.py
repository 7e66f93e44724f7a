"""
---
title: The command line
summary: >
  Build the site, check that the built site is up to date, or update the
  translation files for translators.
---

# The command line

```sh
python -m labml_nn.literate [SOURCE_DIR] --out OUT_DIR [--lang LANG] [--check] [--repository URL]
python -m labml_nn.literate [SOURCE_DIR] --lang ja --update-translations
```

`SOURCE_DIR` is the installed `labml_nn` package unless given. Without `--lang`
the site is built in English and in every language that has translations.

* `--check` builds the site in memory and compares it with `OUT_DIR` without
  writing anything; it fails, listing what differs, if a page is out of date or
  a translated block is stale or missing.
* `--repository URL` links each page to its source file at `URL` followed by
  the file's path, such as
  `https://github.com/you/project/blob/main/labml_nn/` for `labml_nn`.
* `--update-translations` adds an entry for each new or changed notes block to
  the translation files, and lists the blocks that still need a translator.

The site goes into `OUT_DIR`, where the renderer replaces and deletes only the
files it wrote there, as its manifest lists ([the output folder](output.html)).
A missing source, or an `OUT_DIR` that is a file, is the source folder or
inside it, holds it, or holds files the renderer did not write, is refused
before anything is written.

Exit status: 0 when all is well, 1 when `--check` finds differences, 2 for an
error in the input, such as a formula that does not parse or such a folder.
"""

import argparse
import sys
from pathlib import Path
from typing import Optional

import labml_nn
from labml_nn.literate import LiterateError
from labml_nn.literate.output import check_folders, compare, write
from labml_nn.literate.site import ASSET_FILES, Site
from labml_nn.literate.sources import read_pages
from labml_nn.literate.translate import language_of, load_languages, update_translations

TRANSLATIONS = Path(__file__).parent / 'translations'


def main(argv: Optional[list] = None) -> int:
    arguments = _arguments(argv)
    # The folders are checked before any work, and nothing is written before the site is built
    check_folders(arguments.source, None if arguments.update_translations else arguments.out)
    every_language = load_languages(arguments.translations, arguments.source)
    languages = [language for language in every_language if arguments.lang in (None, language.code)]
    if not languages:
        raise LiterateError(f'no translations for language {arguments.lang!r} in {arguments.translations}')
    if arguments.update_translations:
        pages, _ = read_pages(arguments.source, arguments.translations)
        print(''.join(line + '\n' for line in update_translations(list(pages.values()), languages)), end='')
        return 0

    # The files of the output folder that are this build's: those of the languages
    # asked for, and the style sheet and script they share
    codes = {language.code for language in languages}

    def owned(path: str) -> bool:
        return path in ASSET_FILES or language_of(path, every_language) in codes

    site = Site(arguments.source, languages, skip=arguments.translations, repository=arguments.repository)
    files = site.build()
    for warning in dict.fromkeys(site.warnings):
        print(f'warning: {warning}', file=sys.stderr)
    if arguments.check:
        problems = compare(arguments.out, files, owned)
        if problems:
            print(f'{arguments.out} is not what the sources give; run `make docs`:', file=sys.stderr)
            print(''.join(f'  {line}\n' for line in problems), end='', file=sys.stderr)
        if site.untranslated:
            print('Translations to write (see `--update-translations`):', file=sys.stderr)
            print(''.join(f'  {line}\n' for line in site.untranslated), end='', file=sys.stderr)
        return 1 if problems or site.untranslated else 0

    write(arguments.out, files, owned)
    if site.untranslated:
        print(f'{len(site.untranslated)} translated blocks are stale or missing and show in English; '
              f'list them with --check or --update-translations', file=sys.stderr)
    return 0


def _arguments(argv: Optional[list]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='python -m labml_nn.literate',
                                     description='Render the annotated source as a web site.')
    parser.add_argument('source', nargs='?', type=Path, default=Path(labml_nn.__file__).parent,
                        help='the folder of sources (default: the labml_nn package)')
    parser.add_argument('--out', type=Path, help='the folder to write the site to')
    parser.add_argument('--lang', help='only this language, such as en or ja')
    parser.add_argument('--check', action='store_true',
                        help='compare OUT with a fresh build instead of writing it')
    parser.add_argument('--repository', type=_folder_url, metavar='URL',
                        help='link each page to its source file at URL followed by its path')
    parser.add_argument('--update-translations', action='store_true',
                        help='add entries for new and changed notes to the translation files')
    parser.add_argument('--translations', type=Path, default=TRANSLATIONS,
                        help='the folder of translations (default: the one in this package)')
    arguments = parser.parse_args(argv)
    if arguments.out is None and not arguments.update_translations:
        parser.error('--out is required')
    return arguments


def _folder_url(url: str) -> str:
    # The URL of a folder, to which each page's path is added
    return url if url.endswith('/') else url + '/'


if __name__ == '__main__':
    try:
        sys.exit(main())
    except LiterateError as error:
        print(f'error: {error}', file=sys.stderr)
        sys.exit(2)
