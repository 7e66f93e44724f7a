"""
The results page of this package, for a reader who did not write its files:
each section titled by what it measured and opened by what, in what unit and
which way is better; every row and column named in words in both languages;
the teacher called the teacher; commands a reader could retype.
"""

import importlib
import importlib.util
import json
import re
import shlex
from html import unescape
from pathlib import Path

import pytest

import labml_nn
from labml_nn.literate.results import anchor, read_results

SOURCE = Path(labml_nn.__file__).parent


@pytest.fixture(scope='module')
def pages(package_site) -> dict:
    return {code: package_site[folder + 'results.html'].decode('utf-8')
            for code, folder in (('en', ''), ('ja', 'ja/'))}


@pytest.fixture(scope='module')
def results() -> dict:
    return read_results(SOURCE)


def text(html: str) -> str:
    return ' '.join(unescape(re.sub(r'<[^>]+>', ' ', html)).split())


def sections(page: str) -> list:
    """
    Each file's section: its heading, and the HTML up to the next one.
    """
    parts = page.split('<h2')[1:]
    return [(text(part.split('</h2>')[0].split('>', 1)[1]), part) for part in parts]


def labels(html: str) -> list:
    """
    The names a table shows: its column headings and each row's first cell.
    """
    headings = re.findall(r'<th[^>]*>(.*?)</th>', html, re.S)
    rows = re.findall(r'<tr>\s*<td[^>]*>(.*?)</td>', html, re.S)
    return [text(cell) for cell in headings + rows]


def keys(value) -> set:
    """
    Every key of a results file, at any depth.
    """
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


@pytest.mark.parametrize('code', ['en', 'ja'])
def test_every_section_says_what_it_measured(pages, results, code):
    found = sections(pages[code])
    assert len(found) == len(results)
    better = ('higher is better', 'lower is better') if code == 'en' else ('高いほどよい', '低いほどよい')
    for heading, html in found:
        # Titled by what it measured, not by its file
        assert '.json' not in heading and ('CIFAR-10' in heading or ('Language model' if code == 'en' else '言語モデル')
                                           in heading), heading
        # Opened by one sentence: what, in what unit, which way is better
        opening = text(html.split('<p>', 1)[1].split('</p>')[0])
        assert any(word in opening for word in better) and opening.count('. ') + opening.count('。') <= 2, opening


@pytest.mark.parametrize('code', ['en', 'ja'])
def test_rows_and_columns_are_named_in_words(pages, results, code):
    every_key = set().union(*(keys(data) for data in results.values()))
    named = [label for _, html in sections(pages[code]) for label in labels(html)]
    assert len(named) > 150
    raw = sorted({label for label in named if label in every_key and re.fullmatch(r'[a-z]+(_[a-z0-9]+)+', label)
                  or re.fullmatch(r'\w+_\w+', label)})
    assert raw == [], raw
    # The teacher is the teacher
    teacher = 'the teacher' if code == 'en' else '教師'
    assert 'large' not in named and named.count(teacher) == len(results)
    # On the Japanese page, only the names that are the same in Japanese have no Japanese in them
    if code == 'ja':
        same = {v['ja'] for data in results.values() for v in data.get('variants') or []}
        latin = {label for label in named if not re.search('[ぁ-んァ-ヶ一-龯]', label)}
        assert latin <= same, latin - same


def test_one_unit_per_quantity(pages):
    named = [label for _, html in sections(pages['en']) for label in labels(html)]
    # Accuracies in percent, probabilities as fractions, times in seconds
    assert all('(%)' in label for label in named if 'accuracy' in label and not label.startswith('bias'))
    assert all('%' not in label for label in named if 'probability' in label)
    assert all('(s)' in label for label in named if 'time' in label)


def _commands(page: str) -> list:
    """
    The command of each file, as the page shows it to be typed: the first of its line.
    """
    return [line.split('</code>')[0] for line in re.findall(r'<li>[^<]*<code>(python -m .*?)</li>', page)]


def test_the_commands_are_what_a_reader_would_type(pages, results):
    recorded = [data['command'] for data in results.values() if data.get('command')]
    assert recorded and any('--logs-dir /' in command for command in recorded)
    for code in ('en', 'ja'):
        shown = _commands(pages[code])
        assert len(shown) == len(recorded)
        # Folders of the machine it ran on, absolute paths, are left out; a folder relative to where it ran is kept
        assert not any(re.search(r'--(logs-dir|out)(=| +)/', command) for command in shown), shown
        # Each names its seeds, and its study unless it is the default one, the comparison
        assert all('--seeds' in command for command in shown)
        assert all('--study' in command or '--profile' in command for command in shown)


def test_every_command_shown_runs_a_module_that_exists_and_takes_its_options(pages, results):
    """
    Every command the page gives to type names a command module of the
    package (a module run by `python -m`, or a package with a `__main__`),
    whose parser accepts its arguments; a command recorded under a module
    that has since moved is also shown as recorded.
    """
    recorded = [data['command'] for data in results.values() if data.get('command')]
    assert any(command.startswith('python -m labml_nn.distillation.pipeline ') for command in recorded)
    for code in ('en', 'ja'):
        page = pages[code]
        assert 'python -m labml_nn.distillation.pipeline ' in page
        for command in _commands(page):
            argv = shlex.split(unescape(command))
            assert argv[:2] == ['python', '-m'], command
            spec = importlib.util.find_spec(argv[2])
            assert spec is not None, command
            if spec.submodule_search_locations is not None:
                assert importlib.util.find_spec(argv[2] + '.__main__') is not None, command
            else:
                assert "if __name__ == '__main__':" in Path(spec.origin).read_text(encoding='utf-8'), command
                importlib.import_module(argv[2]).argument_parser().parse_args(argv[3:])


def test_the_gpu_comparison_shows_its_accuracies(pages, results):
    compare = next(data for data in results.values() if data.get('study') == 'compare')
    accuracies = [f"{100 * compare['summary'][name]['valid_accuracy']['mean']:.2f}"
                  for name in ('large', 'small', 'distilled')]
    for code in ('en', 'ja'):
        html = next(html for heading, html in sections(pages[code]) if 'CIFAR-10' in heading)
        row = next(cells for cells in re.findall(r'<tr>(.*?)</tr>', html, re.S)
                   if 'validation accuracy' in cells or '検証データの正解率' in cells)
        assert re.findall(r'\d+\.\d\d', text(row)) == accuracies
        # and no list of variants with their Japanese names on the English page
        assert code == 'ja' or '小さなモデル' not in html


def test_the_language_models_teacher_is_shown_with_its_score(pages, results):
    for path, data in results.items():
        if 'teacher' in data:
            html = pages['en'].split(f'id="{anchor(path)}"')[1].split('<h2')[0]
            assert f"{data['teacher']['test_bpb']:.3f}" in html


def test_a_time_spread_wider_than_itself_has_a_note(pages, results):
    for path, data in results.items():
        summary = data.get('summary') or {}
        wide = any(isinstance(fields, dict) and isinstance(fields.get('train_seconds'), dict)
                   and fields['train_seconds']['std'] > fields['train_seconds']['mean'] for fields in summary.values())
        html = pages['en'].split(f'id="{anchor(path)}"')[1].split('<h2')[0]
        assert ('†' in html and 'spread is larger than their mean' in html) == wide, path
    assert pages['en'].count('spread is larger than their mean') >= 1


def test_a_count_against_the_first_model_says_which(pages, results):
    for path, data in results.items():
        if 'below_baseline' in json.dumps(data):
            html = pages['en'].split(f'id="{anchor(path)}"')[1].split('<h2')[0]
            first = data['variants'][0]['name']
            row = next(cells for cells in re.findall(r'<tr>(.*?)</tr>', html, re.S) if 'seeds with lower' in cells)
            assert f'than {first}' in text(row) and text(row).count('—') == 1


def test_a_study_of_many_models_is_shown_as_tables_that_fit(pages, results):
    # The teacher-quality study trains 8 models: two tables of 4, each with every measure, every model once;
    # the sparse-targets study 11 students and its teacher: two tables of 6
    from labml_nn.literate.results import MODELS_PER_TABLE
    def models(data: dict) -> int:
        # The summary's models, and the language model's teacher, which the file keeps apart
        summary = data.get('summary') or {}
        return len(summary) + (isinstance(data.get('teacher'), dict) and 'large' not in summary)

    many = [(name, data) for name, data in results.items() if models(data) > MODELS_PER_TABLE]
    assert many, 'no study has more models than one table shows'
    page = dict(sections(pages['en']))
    for name, data in many:
        html = next(part for heading, part in page.items() if f'id="{anchor(name)}"' in part or name in heading)
        tables = re.findall(r'<table.*?</table>', html, re.S)
        columns = [re.findall(r'<th[^>]*>(.*?)</th>', table, re.S)[1:] for table in tables]
        assert len(tables) > 1 and all(len(c) <= MODELS_PER_TABLE for c in columns)
        assert sum(len(c) for c in columns) == models(data)
        rows = [labels(table)[len(c) + 1:] for table, c in zip(tables, columns)]
        assert all(r == rows[0] for r in rows)
