"""
A `results` block in a page's notes: replaced by a table made from a
`results/*.json` file beside the page, in English and Japanese; a file, a
variant or a field that is not there stops the build with the page's and the
file's names; and `--check` fails when the file changes.
"""

import json
from pathlib import Path

import pytest
import yaml

from labml_nn.literate import LiterateError
from labml_nn.literate.__main__ import TRANSLATIONS, build_site, main
from labml_nn.literate.results import results_tables
from labml_nn.literate.sources import read_pages
from labml_nn.literate.translate import blocks

# A sweep as the pipeline writes it: variants with Japanese names, runs by seed, and their summary
SWEEP = {
    'study': 'temperature', 'classes': ['cat', 'dog'],
    'variants': [{'name': 'labels only', 'ja': 'ラベルのみ'}, {'name': 'T = 4', 'ja': 'T = 4'}],
    'runs': [{'variant': v, 'seed': s, 'valid_accuracy': a}
             for v, s, a in [('labels only', 1, 0.6616), ('labels only', 0, 0.6694), ('T = 4', 0, 0.7348),
                             ('T = 4', 1, 0.7286), ('large', 0, 0.7848)]],
    'summary': {
        'large': {'valid_accuracy': {'mean': 0.7848, 'std': 0.0, 'n': 1}, 'teacher_kl': None,
                  'per_class_valid_accuracy': [0.6547, 0.74]},
        'labels only': {'valid_accuracy': {'mean': 0.6655, 'std': 0.0055, 'n': 2}, 'teacher_kl': None,
                        'per_class_valid_accuracy': [0.0, 0.7]},
        'T = 4': {'valid_accuracy': {'mean': 0.7317, 'std': 0.0044, 'n': 2},
                  'teacher_kl': {'mean': 0.1477, 'std': 0.0024, 'n': 2},
                  'per_class_valid_accuracy': [0.5756, 0.72]},
    },
}

BLOCK = '''```results
file: sweep.json
rows: [labels only, T = 4, large: the teacher]
columns:
  variant: $T$
  valid_accuracy: validation accuracy (%)
  valid_accuracy per seed: per seed (%)
  valid_accuracy against T = 4: against $T = 4$ (points)
  teacher_kl or per_class_valid_accuracy[cat]: KL, or cat (%)
```'''
PAGE = f'# Which temperature\n\nThe runs:\n\n{BLOCK}\n\nThe rest of the discussion.\n'


def source(tmp_path: Path, page: str = PAGE) -> Path:
    folder = tmp_path / 'source'
    (folder / 'study' / 'results').mkdir(parents=True)
    (folder / '__init__.py').write_text('"""\n# Home\n\n[The sweep](study/sweep.html)\n"""\n', encoding='utf-8')
    (folder / 'study' / 'sweep.md').write_text(page, encoding='utf-8')
    (folder / 'study' / 'results' / 'sweep.json').write_text(json.dumps(SWEEP), encoding='utf-8')
    return folder


def test_the_block_becomes_the_files_table(tmp_path):
    folder = source(tmp_path)
    table = results_tables(PAGE, folder / 'study', 'en', 'study/sweep.md')
    lines = table.split('\n')
    assert lines[4] == ('| $T$ | validation accuracy (%) | per seed (%) | against $T = 4$ (points) '
                        '| KL, or cat (%) |')
    # A name and the lists of seeds read from the left, a number from the right
    assert lines[5] == '|---|---:|---|---|---:|'
    # Mean ± deviation in percent; each seed in seed order; the difference from the same seed, signed
    assert lines[6] == '| labels only | 66.55 ± 0.55 | 66.94, 66.16 | \u22126.54, \u22126.70 | 0.00 |'
    assert lines[7] == '| T = 4 | 73.17 ± 0.44 | 73.48, 72.86 |  | 0.148 ± 0.002 |'
    # Under the label given; one run has no deviation, and only seed 0 to compare; a field it lacks falls to the next
    assert lines[8] == '| the teacher | 78.48 | 78.48 | +5.00 | 65.47 |'
    # The discussion around the block is kept as it is
    assert table.startswith('# Which temperature\n\nThe runs:\n\n')
    assert table.endswith('\n\nThe rest of the discussion.\n')
    # Built into the page as an HTML table
    page = build_site(folder, TRANSLATIONS, 'en').files['study/sweep.html'].decode('utf-8')
    assert '<table>' in page and '66.94, 66.16' in page and 'file: sweep.json' not in page


def test_without_rows_every_variant_of_the_summary(tmp_path):
    folder = source(tmp_path)
    block = '```results\nfile: sweep.json\ncolumns: {variant: name, valid_accuracy: accuracy}\n```'
    rows = [line.split(' | ')[0] for line in results_tables(block, folder / 'study', 'en', 'p').split('\n')[2:]]
    assert rows == ['| large', '| labels only', '| T = 4']


def test_the_japanese_page_has_japanese_names_and_headings(tmp_path):
    folder = source(tmp_path)
    translations = tmp_path / 'translations'
    (translations / 'ja' / 'study').mkdir(parents=True)
    (translations / 'ja' / 'language.yaml').write_text('name: 日本語\npages: [study/]\n', encoding='utf-8')
    pages, _ = read_pages(folder, translations)
    (key, english), = blocks(pages['study/sweep.md'])
    japanese = english.replace('validation accuracy (%)', '検証正解率 (%)').replace('the teacher', '教師')
    (translations / 'ja' / 'study' / 'sweep.md.yaml').write_text(
        yaml.dump([{'key': key, 'en': english, 'ja': japanese}], allow_unicode=True), encoding='utf-8')
    built = build_site(folder, translations)
    assert not [line for line in built.untranslated if 'sweep' in line]
    page = built.files['ja/study/sweep.html'].decode('utf-8')
    # The variant's `ja` name, the translator's headings and labels; the same numbers
    assert '>ラベルのみ<' in page and '>教師<' in page and '検証正解率 (%)' in page
    assert '66.94, 66.16' in page and 'labels only' not in page


@pytest.mark.parametrize('change, named', [
    (('sweep.json', 'gone.json'), 'gone.json'),
    (('valid_accuracy per seed', 'valid_acuracy per seed'), 'valid_acuracy per seed'),
    (('teacher_kl or', 'teacher_kl'), 'teacher_kl per_class'),
    (('[cat]', '[horse]'), 'per_class_valid_accuracy[horse]'),
    (('large: the teacher', 'largest'), 'largest'),
])
def test_what_is_not_there_stops_the_build_naming_page_and_file(tmp_path, change, named):
    folder = source(tmp_path, PAGE.replace(*change))
    with pytest.raises(LiterateError) as error:
        build_site(folder, TRANSLATIONS, 'en')
    message = str(error.value)
    assert '\n' not in message and named in message
    assert str(folder / 'study' / 'sweep.md') in message and 'results' in message
    assert ('gone.json' if named == 'gone.json' else 'sweep.json') in message


def test_a_block_that_is_not_a_results_block_is_named(tmp_path):
    for block in ('```results\nfile: [\n```', '```results\ncolumns: {variant: name}\n```', '```results\nfile: a'):
        with pytest.raises(LiterateError, match='^p: a results block'):
            results_tables(block, tmp_path, 'en', 'p')


def test_a_block_shown_inside_another_fence_stays(tmp_path):
    example = f'````md\n{BLOCK}\n````\n\n~~~\n{BLOCK}\n~~~\n'
    # No file to read: nothing is read
    assert results_tables(example, tmp_path, 'en', 'p') == example


def test_check_fails_when_the_file_of_a_table_changes(tmp_path, capsys):
    folder = source(tmp_path)
    out = tmp_path / 'site'
    assert main([str(folder), '--out', str(out), '--lang', 'en']) == 0
    assert main([str(folder), '--out', str(out), '--lang', 'en', '--check']) == 0
    changed = json.loads(json.dumps(SWEEP))
    changed['runs'][0]['valid_accuracy'] = 0.6617
    (folder / 'study' / 'results' / 'sweep.json').write_text(json.dumps(changed), encoding='utf-8')
    capsys.readouterr()
    assert main([str(folder), '--out', str(out), '--lang', 'en', '--check']) == 1
    assert 'study/sweep.html' in capsys.readouterr().err
