"""
Front matter, Markdown, math and highlighting in notes.
"""

import re

import pytest

from labml_nn.literate import LiterateError
from labml_nn.literate.notes import Links, render_notes


def visible_text(html: str) -> str:
    """
    The text a reader sees: tags and the hidden TeX annotations removed.
    """
    html = re.sub(r'<annotation.*?</annotation>', '', html, flags=re.DOTALL)
    return re.sub(r'<[^>]+>', '', html)


def test_inline_display_and_align_math_become_mathml():
    html = render_notes('Inline $T^2$.\n\n$$\\frac{a}{b}$$\n\n\\begin{align}\na &= b \\\\\nc &= d\n\\end{align}\n', 'f.py', 1)
    assert html.count('<math') == 3
    assert html.count('display="block"') == 2
    assert '<mfrac>' in html and '<mtable' in html
    assert '$' not in visible_text(html) and '\\frac' not in visible_text(html)


def test_script_letters_use_unicode_math_alphabets():
    assert 'ℒ' in render_notes('$\\mathcal{L}$', 'f.py')


def test_a_bad_formula_names_file_line_and_formula():
    with pytest.raises(LiterateError) as error:
        render_notes('First line\n\nthe loss $\\frac{a$ here', 'src/loss.py', 10)
    assert str(error.value).startswith("src/loss.py:12: cannot typeset the formula '\\\\frac{a'")


def test_a_bad_display_formula():
    with pytest.raises(LiterateError, match=r'f\.py:5: .*\\\\undefinedmacro'):
        render_notes('Text\n\n$$\n\\undefinedmacro{x}\n$$\n', 'f.py', 3)


def test_code_is_highlighted_in_notes():
    html = render_notes('Call `soft_target_loss(x)`:\n\n```python\nx = 1  # one\n```\n', 'f.py')
    assert '<code class="highlight"><span class="n">soft_target_loss</span>' in html
    assert '<span class="c1"># one</span>' in html


def links(**changes) -> Links:
    """
    The links of the page `pkg/loss.py`, whose folder `pkg/` is translated
    but whose sibling `other/` is not.
    """
    fields = dict(page='pkg/loss.py', here='pkg/loss.html', folder='',
                  translated={'pkg/loss.html', 'pkg/index.html'},
                  english={'pkg/loss.html', 'pkg/index.html', 'other/thing.html', 'pkg/plot.png'},
                  anchors={'loss', 'section-0'})
    return Links(**dict(fields, **changes))


def test_links_lead_to_pages_sections_and_images():
    english = links()
    html = render_notes('[index](index.html), [thing](../other/thing.html#x), [paper](https://arxiv.org/abs/1503.02531), '
                        '[loss](#loss) ![plot](plot.png)', 'f.py', links=english)
    assert 'href="index.html"' in html and 'href="../other/thing.html#x"' in html
    assert 'href="https://arxiv.org/abs/1503.02531"' in html and 'href="#loss"' in html and 'src="plot.png"' in html
    assert english.broken == []


def test_a_translated_page_links_up_to_english_pages_it_has_no_twin_of():
    japanese = links(folder='ja/')
    html = render_notes('[index](index.html) [thing](../other/thing.html#x) ![plot](plot.png)', 'f.py', links=japanese)
    assert 'href="index.html"' in html and 'href="../../other/thing.html#x"' in html and 'src="../../pkg/plot.png"' in html
    assert japanese.broken == []


def test_links_to_nowhere_are_warnings():
    page = links()
    html = render_notes('[gone](gone.html) and [no section](#nowhere)', 'f.py', links=page)
    assert 'href="gone.html"' in html
    assert page.broken == ['pkg/loss.py: the link gone.html leads to no page',
                           'pkg/loss.py: there is no section #nowhere to link to']


def test_dollar_signs_in_code_are_not_math():
    html = render_notes('`echo $HOME $PATH`', 'f.py')
    assert '<math' not in html


def test_line_breaks_between_japanese_characters_vanish():
    html = render_notes('一行目の文。\n二行目の文と\nEnglish text\ncontinues', 'f.py')
    assert '一行目の文。二行目の文と\nEnglish text\ncontinues' in html


@pytest.mark.parametrize('source, seen', [
    # The break falls before an emphasis, a link, inline code or after a formula's punctuation
    ('はこれを\n*暗黙知*と呼び', 'はこれを暗黙知と呼び'),
    ('つまり\n*ソフトターゲット*に', 'つまりソフトターゲットに'),
    ('ラベル付きの\n[転移セット](data.html)', 'ラベル付きの転移セット'),
    ('教師から\n`蒸留`する', '教師から蒸留する'),
    ('温度 $T$、\nつまり', '温度 T、つまり'),
    # After a Japanese full stop or comma, even before a Latin word
    ('物語っています。\n[Hinton](https://arxiv.org)、\nVinyals', '物語っています。Hinton、Vinyals'),
    # Between Japanese and Latin a space stays, as translators write one there
    ('小さな*生徒*は\none-hot のラベル', '小さな生徒は\none-hot のラベル'),
    ('the *teacher*\nand', 'the teacher\nand'),
])
def test_no_space_from_a_line_break_in_japanese(source: str, seen: str):
    assert visible_text(render_notes(source, 'f.py')).strip() == seen


def test_prices_are_not_math():
    # The usual rule: no space after an opening `$`, none before a closing one,
    # and no digit straight after a closing one
    for text in ('It costs $5 and $10 here.', 'From $ 5 to $ 10', 'between $5 and 6$7'):
        assert '<math' not in render_notes(text, 'f.py'), text
    html = render_notes('It costs $5, and $T^2$ is math.', 'f.py')
    assert html.count('<math') == 1 and 'It costs $5, and ' in html


def test_a_formula_and_its_punctuation_are_one_piece():
    html = render_notes('Logits ($z_c$), then $T$, batch 64; and $x$ alone', 'f.py')
    # The bracket before, the formula and the punctuation after, in one span
    assert html.count('<span class="nobreak">') == 2
    assert 'Logits <span class="nobreak">(<span class="katex"><math' in html
    assert '</math></span>),</span> then <span class="nobreak"><span class="katex">' in html
    assert '</math></span>,</span> batch 64; and <span class="katex">' in html
    assert visible_text(html).count('(') == 1 and visible_text(html).count(',') == 2


def test_inline_code_is_highlighted_only_when_it_is_python():
    html = render_notes('`--teacher`, `benchmarks/loss_memory.py`, `make docs`, `-1` and `F.kl_div(x)`', 'f.py')
    assert '<code>--teacher</code>' in html and '<code>benchmarks/loss_memory.py</code>' in html
    assert '<code>make docs</code>' in html
    assert '<code>79eb837</code>' in render_notes('at commit `79eb837`', 'f.py')
    assert '<code class="highlight"><span class="o">-</span><span class="mi">1</span></code>' in html
    assert '<code class="highlight"><span class="n">F</span>' in html


def test_a_thin_space_before_an_operator_name_after_a_letter():
    html = render_notes(r'$p_c \log q_c$, $a \log b$, $f(x) \exp y$, $\log x$ and $(\log x)$', 'f.py')
    space = '<mspace width="0.1667em"></mspace>'
    assert html.count(space) == 3
    assert f'</msub>{space}<mi>log</mi>' in html and f'<mi>a</mi>{space}<mi>log</mi>' in html
    assert f'<mo stretchy="false">)</mo>{space}<mi>exp</mi>' in html


def test_a_word_as_a_subscript_is_upright():
    # MathML sets a name of one letter in italics and a longer name upright
    html = render_notes('$\\mathcal{L}_{soft}$, $\\mathcal{L}_{label}^2$ and $p_{i,c}$, $x_{ij}$, $abc$', 'f.py')
    assert '<msub><mi mathvariant="normal">ℒ</mi><mi>soft</mi></msub>' in html
    assert '<msubsup><mi mathvariant="normal">ℒ</mi><mi>label</mi><mn>2</mn></msubsup>' in html
    # Indices and products stay letters of their own
    assert '<mrow><mi>i</mi><mo separator="true">,</mo><mi>c</mi></mrow>' in html
    assert '<mrow><mi>i</mi><mi>j</mi></mrow>' in html and '<mi>a</mi><mi>b</mi><mi>c</mi>' in html


def test_an_image_alone_is_a_figure_with_its_description_as_caption():
    html = render_notes('![Accuracy: the teacher in blue](plot.png)\n\nA line with ![an icon](i.png) in it.', 'f.py')
    assert html.startswith('<figure><img src="plot.png" alt="Accuracy: the teacher in blue" />\n'
                           '<figcaption>Accuracy: the teacher in blue</figcaption></figure>\n')
    assert '<p>A line with <img src="i.png" alt="an icon" /> in it.</p>' in html
    # The caption is typeset like the notes: no space from a line break in Japanese
    assert '<figcaption>エポックごとの<em>正解率</em></figcaption>' in render_notes('![エポックごとの\n*正解率*](p.png)', 'f.py')


def test_a_translated_page_shows_its_languages_own_image_where_there_is_one():
    links = Links(page='d/readme.md', here='d/readme.html', folder='ja/', translated={'d/readme.html'},
                  english={'d/readme.html', 'd/plot.png', 'd/plot.ja.png', 'd/other.png'}, anchors=set())
    html = render_notes('![グラフ](plot.png)\n\n![other](other.png)', 'f.py', None, links)
    assert 'src="../../d/plot.ja.png"' in html and 'src="../../d/other.png"' in html and links.broken == []
    # The English page keeps the English image
    english = Links(page='d/readme.md', here='d/readme.html', folder='', translated=set(),
                    english=links.english, anchors=set())
    assert 'src="plot.png"' in render_notes('![plot](plot.png)', 'f.py', None, english)
