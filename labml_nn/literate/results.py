"""
---
title: The results page
summary: >
  Every measurement committed as a results/*.json file, on one page generated
  when the site is built: what it measured, its table named in words, the
  machine, the command, the commit and the date, in English and Japanese.
---

# The results page

A study writes what it measured to a JSON file, and the files that back the
numbers quoted on a page are committed in a `results/` folder beside it. The
renderer gathers every `results/*.json` under the source folder into one page,
`results.html`, listed on the home page with the others. It is built with the
site, so a new file shows up by itself, and `--check` (`make docs-check`)
fails when a file was added or changed and the site was not built again.

The page is written for a reader who did not write the files. For each file
it shows

* a heading that says what was measured, "Language model: which divergence",
  and one sentence: what, in what unit, and which way is better, both from
  the file's `study` field and the [words for it](measures.html); two files of
  one study are told apart by their machine. Each section has an anchor made
  from its file's path, `results.html#distillation-cifar10-temperature` for
  `distillation/cifar10/results/temperature.json`, for a study page to link;
* the file, its `profile`, and how it was made: the `machine`, the `command`,
  the `commit` and the `date`, each "not recorded" where an older file does
  not say. A command is shown as a reader would type it again, without the
  folders of the machine it ran on (`--logs-dir` and `--out` with an absolute
  path), and under today's name of its module: a command whose module has
  since moved, `python -m labml_nn.distillation.pipeline` for the CIFAR-10
  studies, is shown as `python -m labml_nn.distillation.cifar10.pipeline`,
  followed by the command as the file recorded it;
* its `summary` as a table: a column for each model trained, the teacher
  first and called the teacher (the language model's teacher from the
  file's `teacher` field), a row for the seeds and a row for each measure,
  named in words with its unit (a study of more than seven models gets
  several such tables, so that each fits a screen); a model's accuracy on the class a study left
  out, where it has no measure of its own, is its entry of the accuracy per
  class. A mean over several runs is shown as `72.74 ± 0.39`, an accuracy or
  an agreement in percent, bits per byte to three decimals. A time whose
  standard deviation is larger than itself is marked †, with a note under
  the table: it says little about what the method costs.

A file of a shape it does not know still gets its section: its fields as
they are, and its first list of maps, such as a benchmark's measurements, as
a table with a row per map. A file that is not JSON stops the build with its
name.

The page is made as Markdown in each language and then rendered like any
other Markdown page; only its words are translated, since its numbers are
the same in every language.

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
from labml_nn.literate.measures import MEASURES, WORDS, class_name, measure_label, study_words
from labml_nn.literate.split import split_markdown
from labml_nn.literate.translate import PageTranslation

# The page's source path: it is listed and linked as `results.html`
RESULTS_PAGE = 'results.md'

# The fields that say how a file was made, in the order they are shown
PROVENANCE = ('machine', 'command', 'commit', 'date')

# The studies in the order the page shows them; another study comes after them, by its file's path
STUDY_ORDER = ('compare', 'omitted-class', 'temperature', 'weight', 'divergence', 'limited', 'on-policy')

# The options of a recorded command whose value is a folder of the machine it ran on, shown without it
SCRATCH_FOLDER = re.compile(r' --(?:logs-dir|out)(?:=| +)/\S*')
# The command modules that files recorded and that have since moved, each with
# what a reader types today for the same work: the CIFAR-10 commands moved to
# their own package, and the models' commands became one, `train`, with the
# model named first (the package's own command trained the distilled student)
MOVED_COMMANDS = {
    'labml_nn.distillation.pipeline': 'labml_nn.distillation.cifar10.pipeline',
    'labml_nn.distillation.large': 'labml_nn.distillation.cifar10.train large',
    'labml_nn.distillation.small': 'labml_nn.distillation.cifar10.train small',
    'labml_nn.distillation': 'labml_nn.distillation.cifar10.train distilled',
    'labml_nn.distillation.cifar10.large': 'labml_nn.distillation.cifar10.train large',
    'labml_nn.distillation.cifar10.small': 'labml_nn.distillation.cifar10.train small',
    'labml_nn.distillation.cifar10': 'labml_nn.distillation.cifar10.train distilled',
}
# A command that runs a module, `python -m MODULE` or `torchrun ... -m MODULE`, and what follows
MODULE_COMMAND = re.compile(r'(?P<python>\S+(?: \S+)*? -m) (?P<module>\S+)(?P<rest>.*)', re.S)
# The words after today's command for the one a file recorded
RECORDED_AS = {'en': ' (recorded as {command})', 'ja': '（記録では {command}）'}


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
    return Page(RESULTS_PAGE, split_markdown(_markdown(results, 'en')),
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
    sections = split_markdown(_markdown(results, code))
    texts = {f'{english.anchor}/1': own.notes[0].text for english, own in zip(page.sections, sections)}
    texts.update(title=WORDS[code]['title'], summary=WORDS[code]['summary'])
    return PageTranslation(path, texts, [])


def _load(file: Path):
    try:
        return json.loads(file.read_text(encoding='utf-8'))
    except (ValueError, UnicodeDecodeError) as e:
        raise LiterateError(f'{file}: not a JSON file of results ({e}); fix it or move it out of results/')


def _markdown(data: dict, code: str) -> str:
    """
    The whole page as Markdown in the language `code`: the introduction,
    then a section per file, the studies in `STUDY_ORDER`.
    """
    words = WORDS[code]
    files = {path: results if isinstance(results, dict) else {'': results} for path, results in data.items()}
    order = sorted(files, key=lambda path: (_study_rank(files[path]), path))
    titles = {path: _title(files[path], path, code) for path in order}
    sections = [f'# {words["title"]}\n\n{words["intro"]}']
    for path in order:
        title = titles[path]
        # Two files of one study, such as the same study on two machines, are told apart by their machine
        if list(titles.values()).count(title) > 1:
            title = words['qualified'].format(title=title, machine=files[path].get('machine') or words['missing'])
        sections.append(_file_section(path, files[path], title, code))
    return '\n\n'.join(sections) + '\n'


def _study_rank(results: dict) -> int:
    study = results.get('study')
    return STUDY_ORDER.index(study) if study in STUDY_ORDER else len(STUDY_ORDER)


def _title(results: dict, path: str, code: str) -> str:
    """
    What a file measured, as its section's heading: its study's title, or
    else its file's name.
    """
    known = study_words(str(results.get('study')), code)
    return known[0].format(**_facts(results, code)) if known else path.rsplit('/', 1)[-1]


def _facts(results: dict, code: str) -> dict:
    """
    What a study's title and sentence may name: the class it left out and
    the bytes its students trained on.
    """
    settings = [v.get('settings') or {} for v in results.get('variants') or [] if isinstance(v, dict)]
    train_bytes = next((s['train_bytes'] for s in settings if _is_number(s.get('train_bytes'))), None)
    return {'omitted': class_name(str(results.get('omitted_class') or ''), code),
            'train_bytes': _number(train_bytes) if train_bytes is not None else ''}


def anchor(path: str) -> str:
    """
    The anchor of a file's section, from its path, so that a page can link
    it: `distillation/cifar10/results/temperature.json` is `#distillation-cifar10-temperature`.
    """
    return '-'.join(part for part in path.removesuffix('.json').split('/') if part != 'results')


def _file_section(path: str, results: dict, title: str, code: str) -> str:
    """
    One file: its heading, what it measured, how it was made, and its table.
    """
    words = WORDS[code]
    known = study_words(str(results.get('study')), code)
    lines = [f'## {title} <a id="{anchor(path)}"></a>', '']
    if known:
        lines += [known[1].format(**_facts(results, code)), '']
    lines.append(f'* {words["file"]}{words["is"]}[`{path}`]({path})')
    if results.get('profile'):
        lines.append(f'* {words["profile"]}{words["is"]}`{_cell(str(results["profile"]))}`')
    for key in PROVENANCE:
        value = results.get(key)
        shown = _provenance(key, value, code) if value not in (None, '') else words['missing']
        lines.append(f'* {words[key]}{words["is"]}{shown}')
    corpus = _corpus(results.get('data'), words)
    if corpus:
        lines.append(f'* {words["corpus"]}{words["is"]}{corpus}')
    summary = results.get('summary')
    if isinstance(summary, dict) and any(isinstance(v, dict) for v in summary.values()):
        table, spread = _summary_table(results, code)
        lines += ['', table, '']
        lines += [f'{measure_label(key, code)}{words["is"]}{_value(key, value)}\n' for key, value in summary.items()
                  if _is_number(value) and key in MEASURES]
        lines += [words['spread']] if spread else []
    else:
        # A file of a shape the page does not know: its table of rows, and its other fields as they are
        key, table = _table_of(results)
        lines += [f'* `{k}`{words["is"]}{_value(k, v)}' for k, v in results.items()
                  if k not in ('study', 'profile') + PROVENANCE and (_is_number(v) or isinstance(v, str))]
        lines += ['', _render_rows(table)] if table else []
    return '\n'.join(lines).rstrip('\n')


def _provenance(key: str, value, code: str) -> str:
    """
    How a file was made, as the page shows it in the language `code`: a
    command without the folders of the machine it ran on, as a reader types
    it today, and as recorded where that differs; a commit as code.
    """
    text = _cell(str(value))
    if key == 'command':
        recorded = SCRATCH_FOLDER.sub('', text)
        today = current_command(recorded)
        return f'`{today}`' + (RECORDED_AS[code].format(command=f'`{recorded}`') if today != recorded else '')
    return f'`{text}`' if key == 'commit' else text


def current_command(command: str) -> str:
    """
    `command` as a reader types it today: a `python -m` command of a module
    that has moved names the module it moved to; any other, as it is.
    """
    match = MODULE_COMMAND.fullmatch(command)
    if match is None or match['module'] not in MOVED_COMMANDS:
        return command
    return f"{match['python']} {MOVED_COMMANDS[match['module']]}{match['rest']}"


def _corpus(data, words: dict) -> str:
    """
    The text a language model's study read, where the file says.
    """
    if not isinstance(data, dict) or not isinstance(data.get('bytes'), dict) or 'python' not in data:
        return ''
    sizes = {split: _number(data['bytes'].get(split, 0)) for split in ('train', 'valid', 'test')}
    if data.get('source', 'python-stdlib') != 'python-stdlib':
        # A folder of other text, by its name: its path was the machine's
        return words['folder text'].format(folder=Path(str(data['source'])).name, **sizes)
    return words['corpus text'].format(python=data['python'], **sizes)


# The most models one table of the results page shows: seven columns of
# numbers and the measures' names fit a 1,024-pixel screen in both languages
MODELS_PER_TABLE = 7


def _summary_table(results: dict, code: str) -> tuple:
    """
    A study's summary as a Markdown table: a column per model trained (the
    teacher first, where the file has it), a row for the seeds and one per
    measure, named in words; more models than `MODELS_PER_TABLE` make
    several tables. A time whose spread is larger than itself is marked †;
    the second value says whether one is.
    """
    words = WORDS[code]
    summary = {name: fields for name, fields in results['summary'].items() if isinstance(fields, dict)}
    teacher = results.get('teacher')
    if isinstance(teacher, dict) and 'large' not in summary:
        summary = {'large': teacher, **summary}
    names = _variant_names(results, code)
    columns = list(summary)
    first = next((c for c in columns if c != 'large'), '')
    heading = {c: words['variants'].get(c) or (names.get(c) if code != 'en' else None) or c for c in columns}
    omitted = str(results.get('omitted_class') or '')
    classes = results.get('classes') or []
    # The measures named in words, then any other measure over seeds under its own name
    fields = [f for f in MEASURES if any(_shown(summary[c], f, omitted, classes) is not None for c in columns)]
    fields += [f for f in _fields(summary.values()) if f not in MEASURES
               and any(_is_mean(summary[c].get(f)) for c in columns)]
    # More models than fit a screen's width are shown as several tables of
    # about as many models each, every one with the measures' names
    parts = math.ceil(len(columns) / MODELS_PER_TABLE)
    size = math.ceil(len(columns) / parts)
    tables, spread = [], False
    for start in range(0, len(columns), size):
        part = columns[start:start + size]
        lines = [f'| {words["measure"]} | ' + ' | '.join(_cell(heading[c]) for c in part) + ' |',
                 '|---|' + '---:|' * len(part)]
        # A model with no mean over seeds, such as the teacher, is one run
        seeds = [max((v.get('n', 0) for v in summary[c].values() if _is_mean(v)), default=1) for c in part]
        if any(seeds):
            lines.append(f'| {words["seeds"]} | ' + ' | '.join(_number(n) if n else '' for n in seeds) + ' |')
        for field in fields:
            label = measure_label(field, code, omitted, heading.get(first, first))
            cells = []
            for column in part:
                value = _shown(summary[column], field, omitted, classes)
                # A count against the first model is not the first model's own measure
                cells.append('—' if field == 'below_baseline' and column == first else _value(field, value))
                if field.endswith('_seconds') and _is_mean(value) and (value.get('std') or 0) > value['mean']:
                    cells[-1], spread = cells[-1] + ' †', True
            lines.append(f'| {_cell(label)} | ' + ' | '.join(cells) + ' |')
        tables.append('\n'.join(lines))
    return '\n\n'.join(tables), spread


def _shown(fields: dict, field: str, omitted: str, classes: list):
    """
    A model's value of a measure: its own, or, for the accuracy on the class
    left out, its entry of the accuracy per class, as the teacher has it.
    """
    value = fields.get(field)
    per_class = fields.get('per_class_valid_accuracy')
    if value is None and field == 'omitted_valid_accuracy' and omitted in classes and isinstance(per_class, list):
        return per_class[classes.index(omitted)]
    return value


def _table_of(results: dict) -> tuple:
    """
    The field to show as a file of another shape's table, `(key, value)`:
    the first list of maps, such as a benchmark's measurements; `(None,
    None)` if there is none.
    """
    for key, value in results.items():
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            return key, value
    return None, None


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
    named an accuracy or an agreement is shown as a percentage, and bits
    per byte to three decimals, where language models differ.
    """
    if value is None:
        return ''
    scale = _scale(field)
    decimals = 3 if field.endswith('_bpb') else None
    if _is_mean(value):
        mean, std = scale * value['mean'], scale * (value.get('std') or 0.0)
        if value.get('n', 1) > 1:
            return f'{_number(mean, decimals)} ± {_number(std, decimals or _decimals(mean))}'
        return _number(mean, decimals)
    if _is_number(value):
        return _number(scale * value if isinstance(value, float) else value, decimals)
    return _cell(str(value))


def _scale(field: str) -> int:
    # An accuracy or an agreement, a fraction in the files, is shown in percent, and a difference of
    # accuracies in points
    return 100 if field.endswith(('accuracy', 'agreement')) or field == 'distillation_gain_valid' else 1


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


def _cell(text: str) -> str:
    # A table cell holds one line, and a `|` would end it
    return ' '.join(text.split()).replace('|', '\\|')


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_mean(value) -> bool:
    return isinstance(value, dict) and _is_number(value.get('mean'))
