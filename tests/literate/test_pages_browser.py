"""
The pages in a real browser: nothing hidden, everything findable, readable in
both themes and on paper. One small site, in English and Japanese, is built
once for the module and opened in one headless Chromium.

Each test measures what a reader would see: boxes, colours, what a button hands
to the clipboard, where a search result leads.
"""

import re
from pathlib import Path

import pytest
import yaml

from labml_nn.literate.__main__ import main

LONG_CALL = ('    return torch.where(mask, torch.log_softmax(student_logits / temperature, dim=-1), '
             'torch.zeros_like(student_logits)) * temperature ** 2 + Model.unused_offset_for_a_long_line')

# A page with everything the style sheet and the script handle: headings,
# definitions, a shell command in the notes, a formula, an image, and code
# lines much longer than the code column
LOSS = f'''"""
---
title: The loss
summary: A page for the browser tests.
---

# The loss

The *teacher* and the student. At a higher temperature the soft targets are softer:

$$q_c = \\frac{{\\exp(z_c / T)}}{{\\sum_j \\exp(z_j / T)}}$$

$$\\mathrm{{KL}} = \\frac{{\\sum_c p_c r_c}}{{\\sum_c p_c}} - \\log \\frac{{\\sum_c p_c}}{{\\sum_c q_c}}
  \\approx \\sum_c p_c r_c - \\log\\Big(1 + \\sum_c (p_c - q_c)\\Big)$$

$$\\mathcal{{L}}_{{soft}} = \\frac{{T^2}}{{n}} \\sum_{{i\\ \\text{{valid}}}} \\sum_c p_{{i,c}}\\left(\\log p_{{i,c}} - \\log q_{{i,c}}\\right)$$

```sh
python -m labml_nn.distillation.cifar10.train distilled --data-dir /a/very/long/path/to/the/data --teacher latest --profile cpu --seeds 3 --out OUT
```

![A plot](plot.svg)

## Temperature

The temperature divides the logits.

Logits $z_1$, $z_2$, $z_3$, $z_4$, $z_5$, $z_6$; probabilities $p_1$, $p_2$, $p_3$, $p_4$, $p_5$, $p_6$.
Scaled ($z_1 / T$), then ($z_2 / T$): so $q_1$, $q_2$, $q_3$, $q_4$, $q_5$, $q_6$, $q_7$, $q_8$.

> A quote, in a muted colour.

| a | b |
| --- | --- |
| 1 | 2 |
"""

import torch

SCALE = 0x10 + 2.5  # a comment


# A function with a line too long for the code column
def soft_loss(student_logits: torch.Tensor, temperature: float, mask: torch.Tensor) -> torch.Tensor:
{LONG_CALL}


# A class, and *its* method
class Model(torch.nn.Module):
    """
    ## The model

    Its own heading.
    """

    @staticmethod
    def forward(x: torch.Tensor) -> torch.Tensor:
        if len(x) == 0:
            raise ValueError(f'empty input: {{x!r}}')
        return self.weights_of_the_layer_that_comes_first_in_this_model(x) + self.weights_of_the_second_layer(x)
'''

HOME = '''"""
---
title: The test site
summary: The home page, notes only.
---

# The test site

A package of [one page](loss.html).
"""
'''

PLOT = ('<svg xmlns="http://www.w3.org/2000/svg" width="300" height="150" viewBox="0 0 300 150">'
        '<rect width="300" height="150" fill="white"/>'
        '<polyline points="0,140 100,60 200,30 300,20" fill="none" stroke="#1f77b4" stroke-width="3"/>'
        '<text x="10" y="20" font-size="12">accuracy</text></svg>')

# The Japanese of the page's title and first notes block; source line breaks
# fall between two Japanese characters, before emphasis and links, and after a
# full stop before a Latin word
JAPANESE = {
    'title': '損失',
    'section-0/1': ('# 損失\n\n*教師*と生徒。温度が高いほど\nソフトターゲットは柔らかくなります。\n'
                    'これを\n*暗黙知*と呼び、つまり\n*ソフトターゲット*です。ラベル付きの\n[転移セット](index.html)。\n'
                    'Hinton は\nそう書きました。\nHinton と\n$T$、\nそして Dean。\n\n![グラフ](plot.svg)\n'),
}


@pytest.fixture(scope='module')
def site(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp('source')
    (source / '__init__.py').write_text(HOME, encoding='utf-8')
    (source / 'loss.py').write_text(LOSS, encoding='utf-8')
    (source / 'plot.svg').write_text(PLOT, encoding='utf-8')
    # The plot with Japanese labels, for the Japanese page
    (source / 'plot.ja.svg').write_text(PLOT.replace('accuracy', '正解率'), encoding='utf-8')
    translations = tmp_path_factory.mktemp('translations')
    (translations / 'ja').mkdir()
    (translations / 'ja' / 'language.yaml').write_text(
        'name: 日本語\npages: [__init__.py, loss.py]\nui:\n  source: ソース\n  contents: 目次\n', encoding='utf-8')
    # The translator's part: fill in the entries the renderer asks for
    arguments = [str(source), '--translations', str(translations), '--lang', 'ja']
    assert main(arguments + ['--update-translations']) == 0
    catalogue = translations / 'ja' / 'loss.py.yaml'
    entries = yaml.safe_load(catalogue.read_text(encoding='utf-8'))
    for entry in entries:
        entry['ja'] = JAPANESE.get(entry['key'], entry['ja'])
    catalogue.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding='utf-8')
    out = tmp_path_factory.mktemp('site') / 'out'
    assert main([str(source), '--out', str(out), '--translations', str(translations)]) == 0
    return out


def url(site: Path, page: str) -> str:
    path, hash, anchor = page.partition('#')
    return (site / path).as_uri() + hash + anchor


# Every box whose content is wider than the box itself, and the page's own width
OVERFLOWS = '''(() => {
  const boxes = [...document.querySelectorAll(
    '.notes, .notes > *, .notes pre, .code, .code pre, .line, .math-display, .notes table, .toc, .bar')];
  const wide = boxes.filter(e => e.getClientRects().length && e.scrollWidth > e.clientWidth + 1)
    .map(e => e.className || e.tagName);
  return {wide, page: document.scrollingElement.scrollWidth, window: window.innerWidth};
})()'''


@pytest.mark.parametrize('width', [1000, 1200, 1400])
def test_nothing_is_cut_off_on_a_wide_screen(site, browser, width):
    for page in ('loss.html', 'index.html', 'ja/loss.html'):
        browser.open(url(site, page), width)
        found = browser.evaluate(OVERFLOWS)
        assert found['wide'] == [], (page, found)
        assert found['page'] <= found['window'], (page, found)


def test_long_lines_wrap_under_themselves(site, browser):
    browser.open(url(site, 'loss.html'), 1400)
    lines = browser.evaluate('''(() => [...document.querySelectorAll('.code .line')]
      .filter(l => l.textContent.length > 100).map(line => {
        // The code after its indent, which the script puts in a box of its own
        const range = document.createRange();
        range.selectNodeContents(line);
        if (line.querySelector('.indent')) range.setStartAfter(line.querySelector('.indent'));
        const rows = [...range.getClientRects()];
        const first = [...line.children].find(e => e.textContent.trim());
        const split = [...line.querySelectorAll('span')].filter(s => s.getClientRects().length > 1)
          .map(s => s.textContent);
        return {text: line.textContent, top: rows.map(r => r.top), left: rows.map(r => r.left),
                code: first.getBoundingClientRect().left, split};
      }))()''')
    assert {line['text'] for line in lines} >= {LONG_CALL}
    for line in lines:
        tops = sorted(set(round(top) for top in line['top']))
        # Wrapped onto more rows, never split inside a word
        assert len(tops) > 1, line['text']
        assert line['split'] == [], line
        # Every row after the first starts further in than the line's own code
        first_row = min(line['top'])
        continued = [left for left, top in zip(line['left'], line['top']) if top > first_row + 1]
        assert continued and min(continued) > line['code'] + 1, line


def test_phones_scroll_only_inside_code(site, browser):
    browser.open(url(site, 'loss.html'), 400, touch=True)
    found = browser.evaluate(OVERFLOWS)
    # The page itself never scrolls sideways; only code blocks may
    assert found['page'] <= found['window'], found
    assert set(found['wide']) <= {'line', 'highlight'}, found
    # The shell command wraps, so none of it is hidden
    shell = browser.evaluate("(() => { const p = document.querySelector('.notes pre');"
                             " return [p.scrollWidth, p.clientWidth, p.getClientRects()[0].height]; })()")
    assert shell[0] <= shell[1] + 1 and shell[2] > 60, shell


# For each formula, whether the punctuation right after it and the bracket
# right before it are on the formula's line
PUNCTUATION = '''(() => [...document.querySelectorAll('.notes p math')].flatMap(math => {
  const box = math.getBoundingClientRect();
  const around = [];
  const holder = math.closest('.katex') || math;
  const sameLine = (node, at) => {
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + 1);
    const r = range.getBoundingClientRect();
    return Math.abs(r.bottom - box.bottom) < box.height;
  };
  const walker = document.createTreeWalker(holder.closest('p'), NodeFilter.SHOW_TEXT);
  let node, previous = null;
  while ((node = walker.nextNode()) && !holder.contains(node)) previous = node;
  let next = node;
  while (next && holder.contains(next)) next = walker.nextNode();
  if (next && /^[,.;:)]/.test(next.textContent)) around.push(sameLine(next, 0));
  if (previous && /[(]$/.test(previous.textContent)) around.push(sameLine(previous, previous.length - 1));
  return around;
}))()'''


def test_formulas_keep_their_punctuation(site, browser):
    kept = []
    browser.open(url(site, 'loss.html'), 400, touch=True)
    # Many widths, so that lines break at many places
    for width in range(300, 420, 2):
        browser.screen(width, touch=True)
        kept += browser.evaluate(PUNCTUATION)
    assert len(kept) > 500 and all(kept), kept.count(False)


def test_a_page_without_code_is_one_column(site, browser):
    browser.open(url(site, 'index.html'), 1400)
    boxes = browser.evaluate('''(() => {
      const notes = document.querySelector('.notes').getBoundingClientRect();
      const code = document.querySelector('.code').getBoundingClientRect();
      return {notes: notes.width, code: code.width, left: notes.left, right: window.innerWidth - notes.right};
    })()''')
    assert boxes['code'] == 0 and boxes['notes'] > 600, boxes
    assert abs(boxes['left'] - boxes['right']) < 20, boxes


# A4 in CSS pixels less the style sheet's page margins of 15 mm on each side
PAPER = round((210 - 2 * 15) / 25.4 * 96)


def test_print_keeps_everything_on_the_page(site, browser):
    browser.open(url(site, 'loss.html'), PAPER, media='print')
    found = browser.evaluate(OVERFLOWS)
    assert found['wide'] == [] and found['page'] <= PAPER, found
    layout = browser.evaluate('''(() => {
      const section = [...document.querySelectorAll('.section')].find(s => s.querySelector('.code .line'));
      const box = e => e.getBoundingClientRect();
      const hidden = ['.bar .links', '.search', '.toc', '.copy']
        .map(s => document.querySelector(s)).filter(e => e && e.getClientRects().length);
      return {notes: box(section.querySelector('.notes')).toJSON(),
              code: box(section.querySelector('.code')).toJSON(),
              shown: hidden.map(e => e.className)};
    })()''')
    # Notes above their code, both across the page; header links, search and buttons dropped
    assert layout['code']['top'] >= layout['notes']['bottom'] - 1, layout
    assert layout['notes']['width'] > PAPER * 0.9 and layout['code']['width'] > PAPER * 0.9, layout
    assert layout['shown'] == [], layout
    pdf = browser.pdf(paperWidth=8.27, paperHeight=11.69, printBackground=True)
    assert pdf.startswith(b'%PDF') and len(re.findall(rb'/Type\s*/Page\b', pdf)) >= 2
    # Printed from a dark screen, the page is still dark on white
    browser.open(url(site, 'loss.html'), PAPER, media='print', dark=True)
    low = [item for item in browser.evaluate(CONTRAST) if item[2] < 4.5]
    assert low == [], low
    assert browser.evaluate("getComputedStyle(document.querySelector('.notes img')).filter") == 'none'
    browser.screen(1400)


def test_table_of_contents(site, browser):
    browser.open(url(site, 'loss.html'), 1400)
    toc = browser.evaluate('''(() => [...document.querySelectorAll('.toc a')].map(a => ({
      text: a.textContent, target: !!document.getElementById(decodeURIComponent(a.hash.slice(1)))})))()''')
    assert [entry['text'] for entry in toc] == [
        'The loss', 'Temperature', 'soft_loss', 'The model', 'Model', 'Model.forward']
    assert all(entry['target'] for entry in toc), toc
    # Beside the notes, and still in view after scrolling down
    place = browser.evaluate('''(async () => {
      window.scrollTo(0, document.body.scrollHeight);
      await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
      const toc = document.querySelector('.toc').getBoundingClientRect();
      const notes = document.querySelector('.notes').getBoundingClientRect();
      return {top: toc.top, bottom: toc.bottom, right: toc.right, notes: notes.left, scrolled: window.scrollY};
    })()''')
    assert place['scrolled'] > 100 and place['top'] >= 0 and place['top'] < 5, place
    assert place['right'] <= place['notes'] + 1, place
    # Folded on a phone, above the notes, and opened with a tap
    browser.open(url(site, 'loss.html'), 400, touch=True)
    folded = browser.evaluate('''(() => {
      const details = document.querySelector('.toc details');
      const closed = !details.open;
      const notes = document.querySelector('.notes').getBoundingClientRect();
      const above = details.getBoundingClientRect().bottom <= notes.top;
      details.querySelector('summary').click();
      return [closed, above, details.open, document.querySelector('.toc a').getClientRects().length > 0];
    })()''')
    assert folded == [True, True, True, True]


def test_anchors_on_touch_screens_and_the_target_highlighted(site, browser):
    opacity = "getComputedStyle(document.querySelector('.anchor')).opacity"
    browser.open(url(site, 'loss.html'), 400, touch=True)
    assert browser.evaluate(opacity) == '1'
    browser.open(url(site, 'loss.html'), 1400)
    assert browser.evaluate(opacity) == '0'
    browser.open(url(site, 'loss.html#Model'), 1400)
    colours = browser.evaluate('''(() => [...document.querySelectorAll('.section')]
      .map(s => [s.id, getComputedStyle(s.querySelector('.notes')).backgroundColor]))()''')
    targeted = {colour for name, colour in colours if name == 'Model'}
    others = {colour for name, colour in colours if name != 'Model'}
    assert len(targeted) == 1 and not targeted & others, colours


def test_copy_buttons_copy_the_code_without_line_numbers(site, browser):
    browser.open(url(site, 'loss.html'), 1400)
    copied = browser.evaluate('''(async () => {
      const copied = [];
      navigator.clipboard.writeText = async text => { copied.push(text); };
      const buttons = [...document.querySelectorAll('.code .copy, .notes pre .copy')];
      for (const button of buttons) button.click();
      await new Promise(r => setTimeout(r, 50));
      return {copied, sections: document.querySelectorAll('.code .line:first-child').length,
              shells: document.querySelectorAll('.notes pre').length};
    })()''')
    # One button for each code section and each command
    assert len(copied['copied']) == copied['sections'] + copied['shells']
    for text in copied['copied']:
        assert text in LOSS, text
    assert any(LONG_CALL in text for text in copied['copied'])
    assert any(text.startswith('python -m labml_nn.distillation.cifar10.train distilled --data-dir')
               for text in copied['copied'])
    # On a touch screen the buttons always show, so they must not cover the code
    browser.open(url(site, 'loss.html'), 400, touch=True)
    covered = browser.evaluate('''(() => [...document.querySelectorAll('.code .copy')].filter(button => {
      const b = button.getBoundingClientRect();
      const line = button.parentNode.querySelector('.line').getBoundingClientRect();
      return b.bottom > line.top && getComputedStyle(button).opacity !== '0';
    }).length)()''')
    assert covered == 0


def test_images_enlarge_on_click(site, browser):
    for width, larger in ((1400, 1.5), (400, 1.9)):
        browser.open(url(site, 'loss.html'), width, touch=width < 768)
        sizes = browser.evaluate('''(async () => {
          const image = document.querySelector('.notes img');
          const before = image.getBoundingClientRect().width;
          image.click();
          const zoomed = document.querySelector('.zoom img');
          await zoomed.decode();
          const after = zoomed.getBoundingClientRect().width;
          document.dispatchEvent(new KeyboardEvent('keydown', {key: 'Escape'}));
          return [before, after, !!document.querySelector('.zoom')];
        })()''')
        assert sizes[1] >= sizes[0] * larger and not sizes[2], (width, sizes)


def test_an_image_enlarges_from_the_keyboard_and_has_a_close_button(site, browser):
    # Issue 23, item 9: Tab reaches the image, Enter opens it, the close button
    # is focused and on the screen, and closing puts the keyboard back on the image
    browser.open(url(site, 'loss.html'), 1400)
    steps = browser.evaluate('''(async () => {
      const image = document.querySelector('.notes img');
      image.focus();
      const reached = document.activeElement === image;
      image.dispatchEvent(new KeyboardEvent('keydown', {key: 'Enter', bubbles: true}));
      const close = document.querySelector('.zoom .close');
      const box = close && close.getBoundingClientRect();
      const shown = !!close && document.activeElement === close && box.top >= 0 &&
                    box.right <= window.innerWidth && box.width >= 24;
      close.click();
      return [reached, shown, !document.querySelector('.zoom'), document.activeElement === image];
    })()''')
    assert steps == [True, True, True, True]


# The contrast of every piece of text with what is behind it, WCAG 2's formula
CONTRAST = '''(() => {
  const rgb = c => { const p = c.match(/[\\d.]+/g).map(Number); return p.length > 3 ? p : [...p, 1]; };
  const linear = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const luminance = ([r, g, b]) => 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
  const background = e => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) return c;
    }
    return [255, 255, 255, 1];
  };
  const ratio = (fg, bg) => { const [a, b] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
                              return (a + 0.05) / (b + 0.05); };
  const texts = [...document.querySelectorAll('body *')].filter(e => e.getClientRects().length &&
    [...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()));
  const found = texts.map(e => [e.className || e.tagName, e.textContent.slice(0, 20),
                                ratio(rgb(getComputedStyle(e).color), background(e))]);
  const line = document.querySelector('.line');
  found.push(['line number', line.dataset.n, ratio(rgb(getComputedStyle(line, '::before').color), background(line))]);
  const input = document.querySelector('.search input');
  if (input) found.push(['placeholder', '', ratio(rgb(getComputedStyle(input, '::placeholder').color),
                                                  background(input))]);
  return found;
})()'''


@pytest.mark.parametrize('dark', [False, True])
def test_text_contrast(site, browser, dark):
    browser.open(url(site, 'loss.html#Model'), 1400, dark=dark)
    # Also a name marked by a click (a plain name, a function's, a
    # decorator), a section led to by a link, and search results
    found = []
    for kind in ('nf', 'nd', 'n'):
        browser.evaluate(f"document.querySelector('.code .{kind}').click(); true")
        found += browser.evaluate(CONTRAST)
    assert browser.evaluate(SEARCH % 'temperature')['links']
    found += browser.evaluate(CONTRAST)
    kinds = {name for name, _, _ in found}
    # The code's tokens are among what was measured
    assert {'k', 'nf', 'nc', 'nb', 's1', 'c1', 'mf', 'o', 'nd', 'ne', 'line number', 'n hl', 'nf hl', 'nd hl',
            'said', 'MARK'} <= kinds, kinds
    low = [item for item in found if item[2] < 4.5]
    assert low == [], low
    browser.screen(1400)


def test_japanese_pages(site, browser):
    browser.open(url(site, 'ja/loss.html'), 1400)
    em = browser.evaluate('''(() => { const s = getComputedStyle(document.querySelector('.notes em'));
                             return [s.fontStyle, s.textEmphasisStyle]; })()''')
    assert em[0] == 'normal' and 'sesame' in em[1], em
    # An English block not yet translated keeps its italics
    english = browser.evaluate('''(() => { const s = getComputedStyle(document.querySelector('[lang="en"] em'));
                                  return [s.fontStyle, s.textEmphasisStyle]; })()''')
    assert english == ['italic', 'none'], english
    text = browser.evaluate("document.querySelector('main').innerText")
    assert '温度が高いほどソフトターゲット' in text and 'これを暗黙知と呼び、つまりソフトターゲットです。' in text
    assert 'ラベル付きの転移セット。' in text and 'そう書きました。Hinton と' in text
    # No space between two Japanese characters, nor after a Japanese comma or full stop, on any
    # Japanese page (a line break in innerText is the end of a block, not a space)
    for page in ('ja/loss.html', 'ja/index.html'):
        browser.open(url(site, page), 1400)
        text = browser.evaluate("document.querySelector('main').innerText")
        spaced = re.findall(r'[\u3000-\u30ff\u4e00-\u9fff] +[\u3000-\u30ff\u4e00-\u9fff]|[、。] ', text)
        assert spaced == [], (page, spaced)
    browser.open(url(site, 'ja/loss.html'), 1400)
    assert browser.evaluate("document.querySelector('.toc summary').textContent") == '目次'


def test_a_plot_is_a_figure_with_a_caption_and_japanese_labels_on_japanese_pages(site, browser):
    shown = {}
    for page in ('loss.html', 'ja/loss.html'):
        browser.open(url(site, page), 1400)
        shown[page] = browser.evaluate('''(async () => {
          const image = document.querySelector('.notes figure img');
          await image.decode();
          const caption = image.closest('figure').querySelector('figcaption');
          return [image.src.split('/').pop(), image.naturalWidth, caption.textContent,
                  caption.getBoundingClientRect().top >= image.getBoundingClientRect().bottom];
        })()''')
    assert shown == {'loss.html': ['plot.svg', 300, 'A plot', True],
                     'ja/loss.html': ['plot.ja.svg', 300, 'グラフ', True]}, shown


def test_images_are_dimmed_in_the_dark(site, browser):
    filters = {}
    for dark in (False, True):
        browser.open(url(site, 'loss.html'), 1400, dark=dark)
        filters[dark] = browser.evaluate("getComputedStyle(document.querySelector('.notes img')).filter")
    assert filters[False] == 'none' and 'invert' in filters[True], filters


SEARCH = '''(async () => {
  const input = document.querySelector('.search input');
  input.focus();
  input.value = %r;
  input.dispatchEvent(new Event('input'));
  for (let i = 0; i < 100 && !document.querySelector('.search li'); i++)
    await new Promise(r => setTimeout(r, 20));
  const results = document.querySelector('.search ol').getBoundingClientRect();
  return {links: [...document.querySelectorAll('.search li a')].map(a => a.href),
          left: results.left, right: results.right, width: window.innerWidth};
})()'''


def test_search_finds_a_section_offline(site, browser):
    browser.open(url(site, 'index.html'), 1400)
    found = browser.evaluate(SEARCH % 'temperature')
    href = found['links'][0] if found['links'] else None
    assert href and href.startswith('file://') and '#' in href, found
    browser.open(href)
    # The heading the words are in, not only its page
    target = browser.evaluate("(() => { const t = document.querySelector(':target');"
                              " return t && [t.tagName, t.innerText]; })()")
    assert target == ['H2', 'Temperature'], target
    # On a phone the results stay on the screen; a Japanese page searches the Japanese pages
    browser.open(url(site, 'ja/loss.html'), 400, touch=True)
    found = browser.evaluate(SEARCH % '温度')
    assert found['links'] and all('/ja/' in link for link in found['links']), found
    assert found['left'] >= 0 and found['right'] <= found['width'], found


# Headings and documented definitions: what the table of contents lists
FINDABLE = """document.querySelectorAll('.notes h1, .notes h2, .notes h3').length +
  [...document.querySelectorAll('.section')].filter(s => !/^section-\\d+$/.test(s.id)).length"""


def test_every_page(site, browser):
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob('*.html'))
    assert len(pages) == 4
    for page in pages:
        browser.open(url(site, page), 1400)
        found = browser.evaluate(OVERFLOWS)
        assert found['wide'] == [] and found['page'] <= found['window'], (page, found)
        # A table of contents wherever there are two things to list
        if browser.evaluate(FINDABLE) > 1:
            assert browser.evaluate("document.querySelectorAll('.toc a').length") > 1, page
        browser.open(url(site, page), 400, touch=True)
        found = browser.evaluate(OVERFLOWS)
        assert found['page'] <= found['window'], (page, found)
    # Focusing the search box loads the index; everything came from disk
    browser.evaluate("const input = document.querySelector('.search input');"
                     "if (input) input.dispatchEvent(new Event('focus')); true")
    requests = browser.requests()
    assert len(requests) > len(pages)
    assert [r for r in requests if not r.startswith('file://')] == []
