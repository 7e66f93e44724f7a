"""
---
title: The results page
summary: >
  Every measurement committed as a results/*.json file, on one page generated
  when the site is built: its table, the machine, the command, the commit and
  the date, in English and Japanese, with no prose written by hand.
---

# The results page

A study writes what it measured to a JSON file, and the files that back the
numbers quoted on a page are committed in a `results/` folder beside it. The
renderer gathers every `results/*.json` under the source folder into one page,
`results.html`, listed on the home page with the others. It is built with the
site, so a new file shows up by itself, and `--check` (`make docs-check`)
fails when a file was added or changed and the site was not built again.

For each file the page shows

* what it measured, from its `study` and `profile` fields, if it has them;
* where it was measured (`machine`), the `command`, the `commit` and the
  `date`, each "not recorded" where an older file does not say;
* its table: the file's `summary` if it has one, or else its first table-like
  field, a map of maps or a list of maps. A map of maps, such as a summary by
  variant, is shown with one column per variant and one row per measure, so
  that a dozen measures fit across the page; a list of maps, such as a
  benchmark's measurements, with a row per map. A mean with its standard
  deviation over several runs is shown as `72.74 ± 0.39`, and an accuracy or
  an agreement as a percentage.

A file of a shape it does not know still gets its section: its other fields,
and no table. A file that is not JSON stops the build with its name.

The page is made as Markdown in each language and then rendered like any
other Markdown page; only its few words are translated, here, since its
numbers are the same in every language.

## A table of one file on any page

A page that discusses a study shows its numbers from the same files, with a
fenced block of the kind `results` in its notes (a Markdown page's or a
docstring's):

````md
```results
file: temperature.json
rows: [labels only, T = 1, T = 4, large: the teacher]
columns:
  variant: $T$
  valid_accuracy: validation accuracy (%)
  valid_accuracy per seed: per seed (%)
  valid_accuracy against T = 4: against $T = 4$, per seed (points)
  omitted_valid_accuracy or per_class_valid_accuracy[cat]: cat (%)
```
````

The block is YAML. `file` is in the `results/` folder beside the page.
`rows` are variants of the file's `summary`, in order, each under its own
name (its `ja` name on a Japanese page) or under the label given as
`name: label`; without `rows`, every variant. `columns` maps what a column
shows to its heading, in the page's language:

* `variant`, the row's name;
* a field of the summary, shown like a cell of the results page
  (`72.74 ± 0.39`, an accuracy in percent), or `field[class]`, a class's
  entry of a per-class list;
* `field per seed`, the runs' values, seed by seed;
* `field against NAME`, each seed's value minus that of the same seed of the
  variant `NAME`, in points for an accuracy;
* `A or B`, the first of those that the row has.

The renderer puts the table in place of the block before the notes are
rendered, so a translation translates the block's headings and labels, not
its numbers, and `--check` fails when a file changes and the pages were not
built again. A file, a variant or a field that is not there stops the build
with the page's and the file's names.
"""

import json
import math
import re
from pathlib import Path
from typing import Optional

import yaml

from labml_nn.literate import LiterateError
from labml_nn.literate.sources import Page
from labml_nn.literate.split import split_markdown
from labml_nn.literate.translate import PageTranslation

# The page's source path: it is listed and linked as `results.html`
RESULTS_PAGE = 'results.md'

# The fields that say how a file was made, in the order they are shown
PROVENANCE = ('machine', 'command', 'commit', 'date')

# The page's words in each language it is written in; another language shows it in English
WORDS = {
    'en': {
        'title': 'Results',
        'summary': 'Every measurement committed in a results folder: its table, machine, command, commit and '
                   'date, generated from the files.',
        'intro': 'Every measurement committed to the repository, one section per `results/*.json` file. '
                 'This page is generated from the files when the site is built, so a new file appears here '
                 'by itself. The pages that discuss a study name the files their numbers come from.\n\n'
                 'For each file: what it measured, on which machine, with which command, at which commit '
                 'and when, then its table. A measure over several runs is their mean ± standard deviation; '
                 'an accuracy or an agreement is in percent.',
        'study': 'study', 'profile': 'profile', 'machine': 'machine', 'command': 'command',
        'commit': 'commit', 'date': 'date', 'missing': 'not recorded', 'file': 'the file',
        'other': 'other fields', 'measure': 'measure', 'runs': 'runs', 'is': ': ', 'code': 'en',
    },
    'ja': {
        'title': '結果',
        'summary': 'results フォルダーにコミットしたすべての測定：表、マシン、コマンド、コミット、日付を、'
                   'ファイルから生成します。',
        'intro': 'リポジトリにコミットしたすべての測定です。`results/*.json` のファイルごとに一つの'
                 'セクションがあります。このページはサイトを作るときにファイルから生成されるので、'
                 '新しいファイルはひとりでにここに現れます。実験を論じるページは、その数値がどのファイルから'
                 '来たかを示しています。\n\n'
                 'ファイルごとに、何を測ったか、どのマシンで、どのコマンドで、どのコミットで、いつ測ったかを'
                 '示し、その後に表を示します。複数の実行にわたる値は平均 ± 標準偏差です。正解率と一致率は'
                 'パーセントで示します。',
        'study': '実験', 'profile': 'プロファイル', 'machine': 'マシン', 'command': 'コマンド',
        'commit': 'コミット', 'date': '日付', 'missing': '記録なし', 'file': 'ファイル',
        'other': 'その他のフィールド', 'measure': '測定', 'runs': '実行の数', 'is': '：', 'code': 'ja',
    },
}


def read_results(source: Path) -> dict:
    """
    Every `results/*.json` file under `source`, read, by `/`-separated
    relative path in a fixed order; hidden folders and caches are left out.
    """
    found = [file.relative_to(source).as_posix() for file in source.rglob('results/*.json') if file.is_file()]
    paths = sorted(path for path in found
                   if not any(part.startswith('.') or part == '__pycache__' for part in path.split('/')))
    return {path: _load(source / path) for path in paths}


def results_page(results: dict) -> Page:
    """
    The English page of the files `results`, as `read_results` gives them.
    """
    words = WORDS['en']
    # Not a source file: it has no file of its own to link to in the repository
    return Page(RESULTS_PAGE, split_markdown(_markdown(results, words)),
                {'title': words['title'], 'summary': words['summary']}, words['title'], markdown=True,
                exists=False)


def results_translation(results: dict, page: Page, code: str) -> PageTranslation:
    """
    The results page in the language `code`: every block, where this module
    has the language's words; none, so English, where it does not.
    """
    path = Path(__file__)
    if code not in WORDS:
        return PageTranslation(path, {}, [])
    words = WORDS[code]
    sections = split_markdown(_markdown(results, words))
    texts = {f'{english.anchor}/1': own.notes[0].text for english, own in zip(page.sections, sections)}
    texts.update(title=words['title'], summary=words['summary'])
    return PageTranslation(path, texts, [])


def _load(file: Path):
    try:
        return json.loads(file.read_text(encoding='utf-8'))
    except (ValueError, UnicodeDecodeError) as e:
        raise LiterateError(f'{file}: not a JSON file of results ({e}); fix it or move it out of results/')


def _markdown(data: dict, words: dict) -> str:
    """
    The whole page as Markdown: the introduction, then a section per file.
    """
    sections = [f'# {words["title"]}\n\n{words["intro"]}']
    for path, results in data.items():
        sections.append(_file_section(path, results if isinstance(results, dict) else {'': results}, words))
    return '\n\n'.join(sections) + '\n'


def _file_section(path: str, results: dict, words: dict) -> str:
    """
    One file: its heading, what it measured and how, and its table.
    """
    lines = [f'## {path.rsplit("/", 1)[-1]}', '', f'{words["file"]}{words["is"]}[`{path}`]({path})', '']
    for key in ('study', 'profile') + PROVENANCE:
        value = results.get(key)
        shown = _inline(value) if value not in (None, '', [], {}) else words['missing']
        if key in PROVENANCE or value is not None:
            lines.append(f'* {words[key]}{words["is"]}{shown}')
    key, table = _table_of(results)
    others = [k for k, v in results.items()
              if k not in ('study', 'profile', key) + PROVENANCE and _is_scalar(v) and v is not None]
    if others:
        lines.append(f'* {words["other"]}{words["is"]}' + '; '.join(f'`{k}` {_inline(results[k])}' for k in others))
    if isinstance(table, dict):
        lines += ['', _render_table(table, words, _variant_names(results, words['code']))]
    elif isinstance(table, list):
        lines += ['', _render_rows(table)]
    return '\n'.join(lines)


def _table_of(results: dict) -> tuple:
    """
    The field to show as the file's table, `(key, value)`: `summary`, or the
    first map of maps or list of maps; `(None, None)` if there is none.
    """
    candidates = ['summary'] + [k for k in results if k != 'summary']
    for key in candidates:
        value = results.get(key)
        if isinstance(value, dict) and value and all(isinstance(v, dict) for v in value.values()):
            return key, value
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            return key, value
    return None, None


def _render_table(table: dict, words: dict, names: dict) -> str:
    """
    A map of maps as a Markdown table: a column per outer key, headed by its
    name in `names` where it has one, and a row per inner field that has a
    number or a mean in some column.
    """
    columns = list(table)
    fields = _fields(table.values())
    header = f'| {words["measure"]} | ' + ' | '.join(_cell(str(names.get(c) or c)) for c in columns) + ' |'
    lines = [header, '|---|' + '---:|' * len(columns)]
    runs = [max((v.get('n', 0) for v in table[c].values() if _is_mean(v)), default=0) for c in columns]
    if any(runs):
        lines.append(f'| {words["runs"]} | ' + ' | '.join(str(n) if n else '' for n in runs) + ' |')
    for field in fields:
        lines.append(f'| `{field}` | ' + ' | '.join(_value(field, table[c].get(field)) for c in columns) + ' |')
    return '\n'.join(lines)


def _render_rows(rows: list) -> str:
    """
    A list of maps, such as a benchmark's measurements, as a Markdown table:
    a row per map, a column per field that holds a number or text.
    """
    fields = _fields(rows)
    lines = ['| ' + ' | '.join(f'`{f}`' for f in fields) + ' |', '|' + '---:|' * len(fields)]
    for row in rows:
        lines.append('| ' + ' | '.join(_value(f, row.get(f)) for f in fields) + ' |')
    return '\n'.join(lines)


def _variant_names(results: dict, code: str) -> dict:
    """
    A study's name for each of its variants in the language `code`, where
    the file has one.
    """
    return {v.get('name'): v.get(code) for v in results.get('variants') or [] if isinstance(v, dict)}


# A fence's opening line: its backticks or tildes, and its kind
FENCE = re.compile(r' {0,3}(`{3,}|~{3,})\s*(\S*)')


def results_tables(text: str, folder: Path, code: str, where: str) -> str:
    """
    The notes `text` of a page in the folder `folder`, in the language
    `code`, with each `results` block replaced by its table; `where` names
    the page in errors. A block inside another fence, shown as an example,
    stays as it is.
    """
    out, block, fence = [], None, None
    for line in text.split('\n'):
        opening = FENCE.match(line)
        if block is not None and opening and opening[1] == fence and not opening[2]:
            out.append(_results_table('\n'.join(block), folder, code, where))
            block, fence = None, None
        elif block is not None:
            block.append(line)
        elif fence is None and opening and opening[1] == '```' and opening[2] == 'results':
            block, fence = [], '```'
        else:
            if fence is None and opening:
                fence = opening[1]
            elif fence is not None and opening and opening[1].startswith(fence) and not opening[2]:
                fence = None
            out.append(line)
    if block is not None:
        raise LiterateError(f'{where}: a results block with no closing ```')
    return '\n'.join(out)


def _results_table(block: str, folder: Path, code: str, where: str) -> str:
    """
    One `results` block's table, as Markdown.
    """
    try:
        settings = yaml.safe_load(block)
    except yaml.YAMLError as e:
        raise LiterateError(f'{where}: a results block that is not YAML ({" ".join(str(e).split())})')
    if not isinstance(settings, dict) or not isinstance(settings.get('file'), str) or \
            not isinstance(settings.get('columns'), dict):
        raise LiterateError(f'{where}: a results block needs a file: and columns: (heading by column)')
    file = folder / 'results' / settings['file']
    if not file.is_file():
        raise LiterateError(f'{where}: the results block names {file}, which does not exist; '
                            f'fix the name or commit the file')
    results = _load(file)
    summary = results.get('summary') if isinstance(results, dict) else None
    if not isinstance(summary, dict):
        raise LiterateError(f'{where}: {file} has no summary to make a table of')

    def fail(problem: str):
        raise LiterateError(f'{where}: {file} has no {problem}; fix the results block or the file')

    names = _variant_names(results, code)
    rows = []
    for row in settings.get('rows') or [k for k, v in summary.items() if isinstance(v, dict)]:
        name, label = next(iter(row.items())) if isinstance(row, dict) else (row, None)
        if not isinstance(summary.get(name), dict):
            fail(f'variant {name!r}')
        rows.append((name, label or names.get(name) or name))
    columns = list(settings['columns'].items())
    for column, _ in columns:
        for part in column.split(' or ') if column != 'variant' else []:
            if not any(_has(results, name, part) for name, _ in rows):
                fail(f'field {part!r} in the rows named')
    lines = ['| ' + ' | '.join(_cell(str(heading)) for _, heading in columns) + ' |',
             # A name or a list of seeds reads from the left, one number from the right
             '|' + ''.join('---|' if column == 'variant' or ' per seed' in column or ' against ' in column
                           else '---:|' for column, _ in columns)]
    for name, label in rows:
        cells = [_cell(str(label)) if column == 'variant' else _column(results, name, column) for column, _ in columns]
        lines.append('| ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


# A column of a results block: a field, a class's entry of a per-class field, and what is done with it
COLUMN = re.compile(r'(?P<field>\w+)(\[(?P<cls>[^\]]+)\])?( (?P<per_seed>per seed)| against (?P<against>.+))?$')


def _has(results: dict, name: str, column: str) -> bool:
    """
    Whether the variant `name` has the column, even if its value is missing.
    """
    match = COLUMN.match(column.strip())
    if not match:
        return False
    if match['per_seed'] or match['against']:
        runs = results.get('runs') or []
        return all(any(r.get('variant') == variant and match['field'] in r for r in runs)
                   for variant in (name, match['against'] or name))
    if match['cls'] and match['cls'] not in (results.get('classes') or []):
        return False
    return match['field'] in results['summary'][name]


def _column(results: dict, name: str, column: str) -> str:
    """
    One cell: the first part of `A or B` that the variant `name` has a value for.
    """
    for part in column.split(' or '):
        cell = _part(results, name, COLUMN.match(part.strip()))
        if cell:
            return cell
    return ''


def _part(results: dict, name: str, match: re.Match) -> str:
    """
    One part of a column, matched by `COLUMN`, for the variant `name`.
    """
    field, scale = match['field'], _scale(match['field'])
    if match['per_seed'] or match['against']:
        seeds = _by_seed(results, name, field)
        if match['per_seed']:
            return ', '.join(_number(scale * v) for v in seeds.values())
        other = _by_seed(results, match['against'], field)
        if name == match['against'] or not other:
            return ''
        # A difference has its sign
        return ', '.join(('+' if v >= other[s] else '') + _number(scale * (v - other[s]), 2)
                         for s, v in seeds.items() if s in other)
    value = results['summary'][name].get(field)
    if match['cls']:
        if not isinstance(value, list):
            return ''
        value = value[results['classes'].index(match['cls'])]
    return _value(field, value)


def _by_seed(results: dict, name: str, field: str) -> dict:
    """
    The variant `name`'s value of `field` in each run that has one, by seed.
    """
    runs = [r for r in results.get('runs') or [] if r.get('variant') == name and _is_number(r.get(field))]
    return {r.get('seed'): r[field] for r in sorted(runs, key=lambda r: r.get('seed') or 0)}


def _fields(rows) -> list:
    """
    The fields of some maps, in the order first met, that hold a number, a
    mean or text in at least one of them; lists and nested maps are left out.
    """
    fields = []
    for row in rows:
        fields += [k for k, v in row.items() if k not in fields and (_is_number(v) or _is_mean(v) or
                                                                     isinstance(v, str))]
    return fields


def _value(field: str, value) -> str:
    """
    One cell: a number, a mean ± standard deviation, or text; a fraction
    named an accuracy or an agreement is shown as a percentage.
    """
    if value is None:
        return ''
    scale = _scale(field)
    if _is_mean(value):
        mean, std = scale * value['mean'], scale * (value.get('std') or 0.0)
        if value.get('n', 1) > 1:
            return f'{_number(mean)} ± {_number(std, _decimals(mean))}'
        return _number(mean)
    if _is_number(value):
        return _number(scale * value if isinstance(value, float) else value)
    return _cell(str(value))


def _scale(field: str) -> int:
    # An accuracy or an agreement, a fraction in the files, is shown in percent
    return 100 if field.endswith(('accuracy', 'agreement')) else 1


def _number(value, decimals: Optional[int] = None) -> str:
    """
    An integer with its thousands marked; a float to two decimals, or to
    three significant digits below 1 (`0.0353`), or the `decimals` given.
    """
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int):
        return f'{value:,}'
    if not math.isfinite(value):
        return str(value)
    decimals = _decimals(value) if decimals is None else decimals
    # A minus sign, not a hyphen, where a line could break inside `2.13e-05`
    return (f'{value:,.{decimals}f}' if decimals <= 6 else f'{value:.2e}').replace('-', '\u2212')


def _decimals(value: float) -> int:
    if abs(value) >= 1000:
        return 0
    if value == 0 or abs(value) >= 1:
        return 2
    return 2 - math.floor(math.log10(abs(value)))


def _inline(value) -> str:
    """
    A field's value on one line: a map as `key: value` pairs, a list joined.
    """
    if isinstance(value, dict):
        return '; '.join(f'{k}: {_inline(v)}' for k, v in value.items())
    if isinstance(value, list):
        return ', '.join(_inline(v) for v in value)
    if _is_number(value):
        return _number(value)
    text = _cell(str(value))
    # A command, a commit or a path reads as code
    return f'`{text}`' if ' --' in text or text.startswith(('python', 'make')) or _is_hash(text) else text


def _cell(text: str) -> str:
    # A table cell holds one line, and a `|` would end it
    return ' '.join(text.split()).replace('|', '\\|')


def _is_hash(text: str) -> bool:
    return 7 <= len(text) <= 40 and all(c in '0123456789abcdef' for c in text)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_mean(value) -> bool:
    return isinstance(value, dict) and _is_number(value.get('mean'))


def _is_scalar(value) -> bool:
    return not isinstance(value, (dict, list))
