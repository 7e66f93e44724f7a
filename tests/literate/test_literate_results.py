"""
The results page: generated from every committed `results/*.json`, in
English and Japanese, and out of date (so `--check` fails) when a file changes.
"""

import json
from pathlib import Path

import pytest

from labml_nn.literate import LiterateError
from labml_nn.literate.__main__ import TRANSLATIONS, build_site, main

# A study's file as the pipeline writes it, with how it was made
STUDY = {
    'study': 'temperature', 'profile': 'cpu',
    'machine': 'AMD EPYC, avx512_bf16, 2 threads, torch 2.14.1',
    'command': 'python -m labml_nn.distillation.cifar10.pipeline --study temperature --seeds 3',
    'commit': '79eb837', 'date': '2026-12-01',
    'summary': {
        'labels only': {'parameters': 437034, 'valid_accuracy': {'mean': 0.6708, 'std': 0.00997, 'n': 3},
                        'teacher_kl': None, 'per_class_valid_accuracy': [0.5, 0.6]},
        'T = 4': {'parameters': 437034, 'valid_accuracy': {'mean': 0.7333, 'std': 0.0018, 'n': 3},
                  'teacher_kl': {'mean': 0.147, 'std': 0.001, 'n': 3}},
    },
}
# An older file: no machine, command, commit or date
OLD = {'study': 'weight', 'profile': 'cpu', 'summary': {'α = 0.5': {'valid_accuracy': {'mean': 0.7381, 'std': 0.0019,
                                                                                      'n': 3}}}}
# A benchmark of a shape the page does not know: a list of rows
BENCHMARK = {'benchmark': 'loss memory', 'rows': [{'vocabulary': 32000, 'ratio': 0.51}, {'vocabulary': 4096,
                                                                                        'ratio': 0.93}]}


def source(tmp_path: Path) -> Path:
    folder = tmp_path / 'source'
    (folder / 'study' / 'results').mkdir(parents=True)
    (folder / 'bench' / 'results').mkdir(parents=True)
    (folder / '__init__.py').write_text('"""\n# Home\n"""\n', encoding='utf-8')
    (folder / 'study' / 'results' / 'temperature.json').write_text(json.dumps(STUDY), encoding='utf-8')
    (folder / 'study' / 'results' / 'weight.json').write_text(json.dumps(OLD), encoding='utf-8')
    (folder / 'bench' / 'results' / 'memory.json').write_text(json.dumps(BENCHMARK), encoding='utf-8')
    return folder


def test_every_result_file_on_one_page(tmp_path):
    files = build_site(source(tmp_path), TRANSLATIONS, 'en').files
    page = files['results.html'].decode('utf-8')
    # A section per file, the studies in their order and then the rest, each linked to the file, which the site holds
    order = [page.index(name) for name in ('temperature.json', 'weight.json', 'memory.json')]
    assert order == sorted(order)
    assert 'href="study/results/temperature.json"' in page
    assert files['study/results/temperature.json'] == (tmp_path / 'source/study/results/temperature.json').read_bytes()
    # How it was made, or "not recorded"
    temperature = page[page.index('CIFAR-10: which temperature'):page.index('CIFAR-10: soft targets')]
    for said in ('AMD EPYC, avx512_bf16, 2 threads, torch 2.14.1', '<code>79eb837</code>', '2026-12-01',
                 'python -m labml_nn.distillation.cifar10.pipeline --study temperature --seeds 3'):
        assert said in temperature, said
    weight = page[page.index('CIFAR-10: soft targets'):page.index('memory.json')]
    assert weight.count('not recorded') == 4
    # The table: a column per variant, a row per measure, accuracies in percent, a mean ± its deviation
    assert '<th style="text-align:right">labels only</th>' in temperature
    assert '67.11\u00a0±\u00a00.997' not in temperature and '67.08\u00a0±\u00a01.00' in temperature
    assert '0.147\u00a0±\u00a00.001' in temperature and '437,034' in temperature
    assert 'per_class_valid_accuracy' not in temperature
    # A shape it does not know: a row per item, and its other fields
    memory = page[page.index('memory.json'):]
    assert '32,000' in memory and '0.93' in memory and 'loss memory' in memory
    # Listed on the home page, and searchable
    assert 'href="results.html"' in files['index.html'].decode('utf-8')
    assert b'AMD EPYC' in files['search-index.js']


def test_a_command_of_a_module_since_moved_is_shown_as_typed_today_and_as_recorded(tmp_path):
    folder = source(tmp_path)
    moved = STUDY | {'command': 'python -m labml_nn.distillation.pipeline --study temperature --seeds 3 '
                                '--logs-dir /home/someone/logs'}
    (folder / 'study' / 'results' / 'temperature.json').write_text(json.dumps(moved), encoding='utf-8')
    files = build_site(folder, TRANSLATIONS).files
    today = '<code>python -m labml_nn.distillation.cifar10.pipeline --study temperature --seeds 3</code>'
    recorded = '<code>python -m labml_nn.distillation.pipeline --study temperature --seeds 3</code>'
    assert f'command: {today} (recorded as {recorded})' in files['results.html'].decode('utf-8')
    assert f'コマンド：{today}（記録では {recorded}）' in files['ja/results.html'].decode('utf-8')


def test_a_command_as_typed_today_is_shown_once(tmp_path):
    page = build_site(source(tmp_path), TRANSLATIONS, 'en').files['results.html'].decode('utf-8')
    assert page.count('python -m labml_nn.distillation.cifar10.pipeline --study temperature --seeds 3') == 1
    assert 'recorded as' not in page


def test_the_japanese_page_has_its_own_words(tmp_path):
    translations = tmp_path / 'translations'
    (translations / 'ja').mkdir(parents=True)
    (translations / 'ja' / 'language.yaml').write_text('name: 日本語\npages: [""]\n', encoding='utf-8')
    built = build_site(source(tmp_path), translations)
    page = built.files['ja/results.html'].decode('utf-8')
    assert '<title>結果</title>' in page and '記録なし' in page and 'マシン：AMD EPYC' in page
    assert 'lang="en"' not in page.split('<main')[1]
    assert 'href="../study/results/temperature.json"' in page
    # Nothing for a translator to write: the page's words are the renderer's own
    assert [line for line in built.untranslated if 'results' in line] == []


def test_check_fails_when_a_result_file_is_added(tmp_path, capsys):
    folder = source(tmp_path)
    out = tmp_path / 'site'
    # English only: the test's home page has no translation
    assert main([str(folder), '--out', str(out), '--lang', 'en']) == 0
    assert main([str(folder), '--out', str(out), '--lang', 'en', '--check']) == 0
    (folder / 'study' / 'results' / 'new.json').write_text(json.dumps(OLD), encoding='utf-8')
    assert main([str(folder), '--out', str(out), '--lang', 'en', '--check']) == 1
    assert 'results.html' in capsys.readouterr().err


def test_no_result_files_no_page(tmp_path):
    folder = tmp_path / 'source'
    folder.mkdir()
    (folder / 'a.py').write_text('x = 1\n', encoding='utf-8')
    assert not any('results' in path for path in build_site(folder, TRANSLATIONS).files)


def test_a_file_that_is_not_json_is_named(tmp_path):
    folder = source(tmp_path)
    (folder / 'study' / 'results' / 'broken.json').write_text('{"study": ', encoding='utf-8')
    with pytest.raises(LiterateError, match='broken.json'):
        build_site(folder, TRANSLATIONS)


def test_the_page_has_no_source_to_link(tmp_path):
    files = build_site(source(tmp_path), TRANSLATIONS, 'en', 'https://example.org/p/blob/main/src/').files
    page = files['results.html'].decode('utf-8')
    # Named by its page, not by a file that does not exist, and no link to one
    assert '<span>results.html</span>' in page and 'results.md' not in page
    assert 'example.org' not in page
