"""
The search index: what it keeps of a page, and one index per language.
"""

import json
from pathlib import Path

from labml_nn.literate.__main__ import build_site
from labml_nn.literate.search import INDEX_FILE, _PageReader, index_page, search_index

PAGE = '''<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>The loss &amp; more</title><link rel="stylesheet" href="literate.css"></head>
<body>
<header class="bar"><nav class="crumbs"><a href="index.html">home</a></nav></header>
<main>
<section class="section" id="section-0">
<div class="notes"><a class="anchor" href="#section-0">#</a>
<h1>The loss</h1>
<p>A <em>teacher</em> and <code class="highlight"><span class="n">soft</span>_targets</code>.<br>
Next line.</p>
<h2>Why multiply by <span class="katex"><math><semantics><mrow><msup><mi>T</mi><mn>2</mn></msup></mrow>
<annotation encoding="application/x-tex">T^2</annotation></semantics></math></span></h2>
<p>The gradients shrink.</p>
</div>
<div class="code"><pre class="highlight"><code><span class="line" data-n="1">import torch</span></code></pre></div>
</section>
<section class="section" id="Model.forward">
<div class="notes"><a class="anchor" href="#Model.forward">#</a><p>The forward pass.</p></div>
<div class="code"><pre class="highlight"><code><span class="line" data-n="9">def forward(x): pass</span></code></pre></div>
</section>
<section class="section" id="section-2">
<div class="notes"><a class="anchor" href="#section-2">#</a></div>
<div class="code"><pre class="highlight"><code><span class="line" data-n="12">x = 1</span></code></pre></div>
</section>
</main>
</body>
</html>
'''


def test_a_page_in_the_index():
    page = index_page('pkg/loss.html', PAGE)
    assert page['url'] == 'pkg/loss.html' and page['title'] == 'The loss & more'
    # A heading starts an entry, anchored as the page's script anchors it; the
    # code, the `#` links and the MathML letters are left out, the TeX kept
    assert page['sections'] == [
        {'id': 'section-0-1', 'heading': 'The loss', 'name': '',
         'text': 'The loss A teacher and soft_targets. Next line.'},
        {'id': 'section-0-2', 'heading': 'Why multiply by T²', 'name': '',
         'text': 'Why multiply by T² The gradients shrink.'},
        {'id': 'Model.forward', 'heading': 'Why multiply by T²', 'name': 'Model.forward',
         'text': 'The forward pass.'},
    ]
    assert index_page('empty.html', '<html lang="en"><title>x</title><main></main></html>') is None


def test_the_index_is_a_script_that_sets_a_global():
    files = {'b.html': PAGE.encode(), 'a.html': PAGE.replace('The loss &amp;', 'A').encode(), 'x.css': b''}
    script = search_index(files).decode('utf-8')
    prefix, suffix = 'window.LITERATE_SEARCH = ', ';\n'
    assert script.startswith(prefix) and script.endswith(suffix)
    index = json.loads(script[len(prefix):-len(suffix)])
    assert [page['url'] for page in index['pages']] == ['a.html', 'b.html']
    # The same pages in another order give the same bytes
    assert search_index(dict(reversed(list(files.items())))) == search_index(files)


def test_one_index_per_language(tmp_path: Path):
    source = tmp_path / 'source'
    source.mkdir()
    (source / '__init__.py').write_text('"""\n# Home\n\nThe home page.\n"""\n', encoding='utf-8')
    (source / 'loss.py').write_text('"""\n# The loss\n\nAt a high temperature.\n"""\nx = 1\n', encoding='utf-8')
    translations = tmp_path / 'translations'
    (translations / 'ja').mkdir(parents=True)
    (translations / 'ja' / 'language.yaml').write_text(
        'name: 日本語\npages: [loss.py]\nui:\n  source: ソース\n  contents: 目次\n', encoding='utf-8')
    files = build_site(source, translations).files

    def urls(path: str) -> list:
        text = files[path].decode('utf-8')
        return [page['url'] for page in json.loads(text[text.index('{'):text.rindex('}') + 1])['pages']]

    assert urls(INDEX_FILE) == ['index.html', 'loss.html']
    assert urls('ja/' + INDEX_FILE) == ['ja/loss.html']


def test_the_parser_reads_neither_the_code_nor_the_mathml(monkeypatch):
    # The code column and MathML are most of a page's tags; walking them made
    # the index the slowest stage (benchmarks/render_speed.py). The index must
    # come out the same without them.
    seen = []
    start = _PageReader.handle_starttag
    monkeypatch.setattr(_PageReader, 'handle_starttag',
                        lambda self, tag, attrs: (seen.append((tag, dict(attrs))), start(self, tag, attrs)))
    assert index_page('pkg/loss.html', PAGE)['sections'][1]['heading'] == 'Why multiply by T²'
    tags = {tag for tag, _ in seen}
    assert not tags & {'math', 'mi', 'mn', 'msup', 'annotation'}
    assert 'line' not in {attrs.get('class') for _, attrs in seen}


def test_a_formula_is_indexed_as_readable_text():
    # KaTeX's MathML of \mathcal{L}_{soft} = \frac{T^2}{n} \sum_{i=1}^n x_i, with its TeX beside it
    formula = ('<p>So <span class="katex"><math xmlns="http://www.w3.org/1998/Math/MathML"><semantics><mrow>'
               '<msub><mi mathvariant="script">ℒ</mi><mrow><mi>s</mi><mi>o</mi><mi>f</mi><mi>t</mi></mrow></msub>'
               '<mo>=</mo><mfrac><msup><mi>T</mi><mn>2</mn></msup><mi>n</mi></mfrac>'
               '<munderover><mo>∑</mo><mrow><mi>i</mi><mo>=</mo><mn>1</mn></mrow><mi>n</mi></munderover>'
               '<msub><mi>x</mi><mi>i</mi></msub></mrow>'
               '<annotation encoding="application/x-tex">\\mathcal{L}_{soft} = \\frac{T^2}{n} \\sum_{i=1}^n x_i'
               '</annotation></semantics></math></span>.</p>')
    page = index_page('f.html', PAGE.replace('<p>The forward pass.</p>', formula))
    text = next(s['text'] for s in page['sections'] if s['id'] == 'Model.forward')
    assert text == 'So ℒ_soft = T²/n ∑_(i = 1)ⁿ xᵢ.', text
