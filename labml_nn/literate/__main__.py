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
With it, only that language's pages are written or checked, and they are the
same pages the whole build gives, links to the other languages included; the
other languages' pages in `OUT_DIR` stay as they are.

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
The folders are checked before any work: a missing source, or an `OUT_DIR`
that is a file, is the source folder or inside it, holds it, holds files
and no manifest (so the renderer did not make it), or cannot be written to,
is refused.

`build_site` runs the pipeline in order, each stage a page of its own: read
the sources, highlight their code, look up their translations, and render the
site; `main` then writes it, or compares it with the output folder.

Exit status: 0 when all is well, 1 when `--check` finds differences, 2 for an
error in the input, such as a formula that does not parse or such a folder.
"""

import argparse
import shlex
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import labml_nn
from labml_nn.literate import LiterateError
from labml_nn.literate.code import code_sections
from labml_nn.literate.output import MANIFEST, compare, write
from labml_nn.literate.results import RESULTS_PAGE, read_results, results_page, results_translation
from labml_nn.literate.site import ASSET_FILES, Site
from labml_nn.literate.sources import IMAGE_SUFFIXES, find_sources, read_pages
from labml_nn.literate.translate import ENGLISH, choose_languages, language_of, load_languages, translate_page, \
    update_translations

TRANSLATIONS = Path(__file__).parent / 'translations'


def main(argv: Optional[list] = None) -> int:
    arguments = _arguments(argv)
    # The folders are checked before any work, and nothing is written before the site is built
    _check_folders(arguments.source, None if arguments.update_translations else arguments.out)
    if not (arguments.update_translations or arguments.check):
        _check_writable(arguments.out)
    if arguments.update_translations:
        return _update_translations(arguments)
    built = build_site(arguments.source, arguments.translations, arguments.lang, arguments.repository)
    for warning in dict.fromkeys(built.warnings):
        print(f'warning: {warning}', file=sys.stderr)
    if arguments.check:
        return _check(arguments.out, built, _build_command(argv))
    write(arguments.out, built.files, built.owned)
    if built.untranslated:
        print(f'{len(built.untranslated)} translated blocks are stale or missing and show in English; '
              f'list them with --check or --update-translations', file=sys.stderr)
    return 0


@dataclass
class Built:
    """
    What a build gives: the `files` of the site (path to bytes); which files
    of an output folder are this build's (`owned`), so that a build of one
    language keeps the pages of the others; what looks wrong but does not stop
    the build (`warnings`); and a line for each translated block that is stale
    or missing (`untranslated`).
    """
    files: dict
    owned: Callable[[str], bool]
    warnings: list
    untranslated: list


def build_site(source: Path, translations: Path, lang: Optional[str] = None,
               repository: Optional[str] = None) -> Built:
    """
    The site of the sources in `source`, in the language `lang`, or in English
    and every language of `translations`, built stage by stage.
    """
    # 1. Every page, read and split into sections, and the images beside them; the
    #    committed result files, a page of their own, copied for its links
    pages, warnings = read_pages(source, translations)
    results = read_results(source)
    if RESULTS_PAGE in pages and results:
        raise LiterateError(f'{source / RESULTS_PAGE} is where the page of the result files goes; rename it')
    if results:
        pages[RESULTS_PAGE] = results_page(results)
    images = find_sources(source, translations, IMAGE_SUFFIXES) + list(results)
    # 2. The code column of each page, highlighted once for every language
    code = {path: code_sections(page.text, page.sections) for path, page in pages.items()}
    # 3. The languages asked for, and each page's notes in each language that covers it, where translated
    every_language = load_languages(translations, source)
    languages = choose_languages(every_language, lang, translations)
    codes = {language.code for language in languages}

    # The files of the output folder that are this build's: its languages' pages, and what they share
    def owned(path: str) -> bool:
        return path in ASSET_FILES or language_of(path, every_language) in codes

    # The results page is written in each language here; every other page has its translations
    def translate(page, language):
        if page.path == RESULTS_PAGE and results:
            return results_translation(results, page, language.code)
        return translate_page(page, language)

    translated = {(language.code, path): translate(page, language)
                  for language in languages if language is not ENGLISH
                  for path, page in pages.items() if language.covers(path)}
    # 4. Every page in every language, the home page, the search index, the style sheet and the images
    site = Site(source, pages, images, code, translated, languages, every_language, warnings, repository)
    untranslated = [line for translation in translated.values() for line in translation.untranslated]
    return Built(site.build(), owned, site.warnings, untranslated)


def _check_folders(source: Path, out: Optional[Path]) -> None:
    """
    Refuses a source that is not a folder, and an output folder the renderer
    could lose someone's files in, before any work.
    """
    if not source.exists():
        raise LiterateError(f'the source folder {source} does not exist; give the folder of your sources')
    if not source.is_dir():
        raise LiterateError(f'the source {source} is not a folder; give the folder of your sources')
    if out is None:
        return
    if out.exists() and not out.is_dir():
        raise LiterateError(f'--out {out} is a file; give a folder for the site')
    source_, out_ = source.resolve(), out.resolve()
    if out_ == source_ or out_.is_relative_to(source_):
        raise LiterateError(f'--out {out} is inside the source folder {source}, where the next build '
                            f'would read the site as sources; give a folder outside it')
    if source_.is_relative_to(out_):
        raise LiterateError(f'--out {out} holds the source folder {source}; give the site a folder '
                            f'of its own, such as {out / "site"}')
    if not (out / MANIFEST).is_file() and out.is_dir() and any(path.is_file() for path in out.rglob('*')):
        raise LiterateError(f'--out {out} holds files and no {MANIFEST}, so the renderer did not make it, '
                            f'and it replaces or deletes only files it wrote. Give an empty or new folder; '
                            f'if {out} holds only a site built before manifests existed, delete it and '
                            f'build again')


def _check_writable(out: Path) -> None:
    """
    Refuses an output folder that cannot be written to (a read-only file
    system, a folder of another user) before the minutes of rendering, by
    writing and removing a temporary file in it, or in the nearest folder
    above it that exists: nothing is made before the site is built.
    """
    folder = out
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise LiterateError(f'cannot write to --out {out}: {e.strerror or e}; give a folder you can write to') \
            from None


def _build_command(argv: Optional[list]) -> str:
    """
    The command that writes the site `--check` compared: the same one, without `--check`.
    """
    arguments = [a for a in (sys.argv[1:] if argv is None else argv) if a != '--check']
    return ' '.join(['python -m labml_nn.literate'] + [shlex.quote(a) for a in arguments])


def _check(out: Path, built: Built, build_command: str) -> int:
    """
    `--check`: lists how the output folder differs from the site, and the
    translations to write; 1 if there is either. The message names the
    command that brings the folder up to date.
    """
    problems = compare(out, built.files, built.owned)
    if problems:
        print(f'{out} is not what the sources give; run `{build_command}`:', file=sys.stderr)
        print(''.join(f'  {line}\n' for line in problems), end='', file=sys.stderr)
    if built.untranslated:
        print('Translations to write (see `--update-translations`):', file=sys.stderr)
        print(''.join(f'  {line}\n' for line in built.untranslated), end='', file=sys.stderr)
    return 1 if problems or built.untranslated else 0


def _update_translations(arguments: argparse.Namespace) -> int:
    """
    `--update-translations`: adds entries for new and changed notes to the
    translation files, and lists the blocks that still need a translator.
    """
    pages, _ = read_pages(arguments.source, arguments.translations)
    languages = choose_languages(load_languages(arguments.translations, arguments.source), arguments.lang,
                                 arguments.translations)
    print(''.join(line + '\n' for line in update_translations(list(pages.values()), languages)), end='')
    return 0


def _out_folder(text: str) -> Path:
    """
    The site's folder; an empty path would silently mean the current folder.
    """
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path; give the site's folder (use '.' for the current one)")
    return Path(text)


def _arguments(argv: Optional[list]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog='python -m labml_nn.literate',
                                     description='Render the annotated source as a web site.')
    parser.add_argument('source', nargs='?', type=Path, default=Path(labml_nn.__file__).parent,
                        help='the folder of sources (default: the labml_nn package)')
    parser.add_argument('--out', type=_out_folder, help='the folder to write the site to')
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
