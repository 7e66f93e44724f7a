"""
The Japanese pages use one term per concept: the glossary at the top of
`translations/ja/language.yaml`. These checks catch the words it rules out in
any translated block, so a new translation cannot bring back a second term.
"""

import re
from pathlib import Path

import pytest
import yaml

JAPANESE = Path(__file__).parents[2] / 'labml_nn' / 'literate' / 'translations' / 'ja'

# A word the glossary rules out, and what to write instead
RULED_OUT = [
    # Accuracy is 正解率; 精度 appears only in 数値精度, 低精度 and 混合精度 (numerical precision)
    (r'(?<![低合値])精度', 'accuracy is 正解率; 精度 only in 数値精度, 低精度, 混合精度'),
    # The authors, in Latin letters joined by 、
    (r'Hinton, Vinyals|Vinyals and Dean|ヒントン|ヴィニャルズ|ディーン', 'the authors are Hinton、Vinyals、Dean'),
    (r'ソフトな項|ソフト項|ソフトラベル|ソフト・ターゲット', 'ソフトターゲット / ソフトターゲットの項'),
    (r'先生|学生', 'teacher and student are 教師 and 生徒'),
    (r'転送セット|転移集合', 'the transfer set is 転移セット'),
    (r'KL ?ダイバージェンス', 'the KL divergence is KL 情報量'),
]


def problems(text: str) -> list:
    """
    The ruled-out words in one translated text, each with the rule it breaks.
    """
    return [f'{match.group(0)!r}: {rule}' for pattern, rule in RULED_OUT for match in re.finditer(pattern, text)]


def test_the_rules_catch_a_second_term():
    assert problems('検証精度は 72%') and problems('ヒントンらの論文') and problems('ソフトな項')
    assert problems('数値精度と正解率、Hinton、Vinyals、Dean（2015）、ソフトターゲットの項') == []


# Every page's translation file; `language.yaml` holds the glossary itself
PAGES = sorted(path for path in JAPANESE.rglob('*.yaml') if path.name != 'language.yaml')


@pytest.mark.parametrize('path', PAGES, ids=lambda path: path.relative_to(JAPANESE).as_posix())
def test_every_translation_follows_the_glossary(path):
    entries = yaml.safe_load(path.read_text(encoding='utf-8'))
    found = [f"{entry.get('key')}: {problem}" for entry in entries for problem in problems(entry.get('ja') or '')]
    assert not found, '\n'.join(found)
