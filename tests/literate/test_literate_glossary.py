"""
One word for each concept, and one wording for each fact, on every page.

The Japanese pages use one term per concept: the `glossary` of
`translations/ja/language.yaml`, whose entries rule out the second terms
that have been seen (`ruled_out`). These checks look for them in every
translated block, so a new translation cannot bring back a second term.

Some facts are told on several pages, in both languages, and read the same
on each: the year of a cited paper, the machine the CPU numbers were
measured on, and the names of the two weights of the loss ($\\beta$ is only
the JSD's parameter). These checks look for the other wordings in every
page's source and in every translation.
"""

import re
from pathlib import Path

import pytest
import yaml

PACKAGE = Path(__file__).parents[2] / 'labml_nn'
JAPANESE = PACKAGE / 'literate' / 'translations' / 'ja'

# The glossary's entries that rule out a second term
GLOSSARY = yaml.safe_load((JAPANESE / 'language.yaml').read_text(encoding='utf-8'))['glossary']
RULED_OUT = [(entry['ruled_out'], f"{entry['en']} is {entry['ja']}") for entry in GLOSSARY if 'ruled_out' in entry]

# A fact's other wordings, in either language, and how every page tells it
FACTS = [
    (r'(?:Gu|Agarwal) (?:et al\.?|ら)[,、]? ?(?!2024)\d{4}',
     'MiniLLM (Gu et al., 2024) and GKD (Agarwal et al., 2024) are dated by their publication, ICLR 2024'),
    (r'(?i:laptop)|this project is developed on|ノートパソコン|ラップトップ|このプロジェクトを開発している',
     'the CPU numbers come from a 2-core server CPU (virtual machine), 2 コアのサーバー CPU（仮想マシン）'),
    (r'\\beta_\{label\}|\\beta\s*=\s*1\s*-\s*\\alpha|\\beta\s*\\,?\s*\\mathcal\{L\}_\{label\}'
     r'|\\alpha\s*\\,?\s*\\mathcal\{L\}_\{soft\}|\$\\alpha\$ and \$\\beta\$|\\alpha = [\d.]+\$, \$\\beta = ',
     'the weights are $w_{soft}$ and $w_{label}$; $\\beta$ is only the JSD\'s parameter'),
]


def problems(text: str, rules: list) -> list:
    """
    The words of `text` that `rules`, (pattern, what to write) pairs, rule out.
    """
    return [f'{match.group(0)!r}: {rule}' for pattern, rule in rules for match in re.finditer(pattern, text)]


def test_the_glossary_catches_a_second_term():
    for text in ['検証精度は 72%', 'ヒントンらの論文', 'ソフトな項', '暗黙知を運ぶ', 'ダイバージェンスの情報量',
                 'KL ダイバージェンス', 'このページの隣の `results/weight.json`', 'ノートパソコンの CPU']:
        assert problems(text, RULED_OUT), text
    assert problems('数値精度と正解率、Hinton、Vinyals、Dean（2015）、ソフトターゲットの項、ダークナレッジ（暗黙の知識）、'
                    '順方向の KL 情報量とカルバック・ライブラー情報量、JSD ダイバージェンス、'
                    '[結果のページ](../results.html#distillation-weight)', RULED_OUT) == []


def test_the_facts_catch_another_wording():
    for text in ['[MiniLLM, Gu et al. 2023](https://arxiv.org/abs/2306.08543)', 'GKD（Agarwal ら、2023）',
                 'on a laptop CPU', 'On the 2-core CPU this project is developed on',
                 '$\\alpha \\, \\mathcal{L}_{soft} + \\beta \\, \\mathcal{L}_{label}$', '$\\beta = 1 - \\alpha$',
                 '$\\alpha$ and $\\beta_{label}$', '$T = 4$, $\\alpha = 0.9$, $\\beta = 0.1$']:
        assert problems(text, FACTS), text
    assert problems('MiniLLM (Gu et al., 2024), GKD（Agarwal ら、2024）, a 2-core server CPU (virtual machine), '
                    '$w_{soft} \\, \\mathcal{L}_{soft} + w_{label} \\, \\mathcal{L}_{label}$, '
                    'JSD with $\\beta = 0.5$, $\\beta \\to 0$', FACTS) == []


# Every page's source; the translations are checked on their own
SOURCES = sorted(path.relative_to(PACKAGE).as_posix() for pattern in ('*.py', '*.md')
                 for path in PACKAGE.rglob(pattern) if JAPANESE not in path.parents)
# Every page's translation file; `language.yaml` holds the glossary itself
TRANSLATIONS = sorted(path.relative_to(JAPANESE).as_posix() for path in JAPANESE.rglob('*.yaml')
                      if path.name != 'language.yaml')


@pytest.mark.parametrize('name', SOURCES)
def test_every_page_tells_a_fact_the_same_way(name):
    found = problems((PACKAGE / name).read_text(encoding='utf-8'), FACTS)
    assert not found, '\n'.join(found)


@pytest.mark.parametrize('name', TRANSLATIONS)
def test_every_translation_follows_the_glossary_and_tells_a_fact_the_same_way(name):
    entries = yaml.safe_load((JAPANESE / name).read_text(encoding='utf-8'))
    found = [f"{entry.get('key')}: {problem}" for entry in entries
             for problem in problems(entry.get('ja') or '', RULED_OUT + FACTS)]
    assert not found, '\n'.join(found)
