"""
The real site, every page in English and Japanese, in headless Chromium at the
widths readers use, from a small phone to a desktop. The site is built once
for the module from the `labml_nn` package; each page is loaded once and the
window resized around it, which is what keeps this to about a minute.
"""

from pathlib import Path

import pytest

from labml_nn.literate.__main__ import main

# Phones, tablets upright and on their side, laptops and desktops; on either
# side of where the table of contents takes a column of its own
WIDTHS = (360, 390, 768, 820, 1024, 1200, 1279, 1280, 1366, 1400)


@pytest.fixture(scope='module')
def site(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('site') / 'docs'
    assert main(['--out', str(out)]) == 0
    return out


def pages(site: Path) -> list:
    return sorted(path.relative_to(site).as_posix() for path in site.rglob('*.html'))


# After the window changes size, the script's resize handlers run, then the page settles
SETTLED = 'new Promise(r => requestAnimationFrame(() => requestAnimationFrame(() => r(true))))'

# At one width: how many rows each wrapped source line takes (the worst),
# how wide the page is, each table of the notes that hides some of itself
# while there is room beside it that it could take, each that hides some of
# itself at all, and how wide the code column is
LAYOUT = '''(() => {
  const rows = line => Math.round(line.getBoundingClientRect().height / parseFloat(getComputedStyle(line).lineHeight));
  let worst = [0, ''];
  document.querySelectorAll('.code .line').forEach(line => {
    const n = rows(line);
    if (n > worst[0]) worst = [n, line.dataset.n + ': ' + line.textContent.trim().slice(0, 50)];
  });
  const room = document.querySelector('main').clientWidth - 40;
  const hiding = [...document.querySelectorAll('.notes table')].filter(t => t.scrollWidth > t.clientWidth + 1);
  const clipped = hiding.filter(t => t.clientWidth < room).map(t => t.rows[0].textContent.trim().slice(0, 40));
  const code = document.querySelector('.code pre');
  return {rows: worst, page: document.scrollingElement.scrollWidth, clipped,
          hidden: hiding.map(t => t.rows[0].textContent.trim().slice(0, 40)),
          code: code && code.getClientRects().length ? code.getBoundingClientRect().width : null};
})()'''


# Item 5: each heading whose entry in the table of contents lacks the
# heading's formula (T2 for T²), and each name there broken inside a word
# (a name may break after a dot only, where the script puts a <wbr>)
CONTENTS = '''(() => {
  const wrong = [];
  document.querySelectorAll('.notes h1, .notes h2, .notes h3').forEach(h => {
    const entry = document.querySelector('.toc a[href="#' + encodeURIComponent(h.id) + '"]');
    if (h.querySelector('math') && !(entry && entry.querySelector('math'))) wrong.push(h.textContent);
  });
  document.querySelectorAll('.toc code').forEach(code => [...code.childNodes].forEach(node => {
    if (node.nodeType !== 3) return;
    const range = document.createRange();
    range.selectNodeContents(node);
    if (new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1) wrong.push(code.textContent);
  }));
  return {wrong, names: document.querySelectorAll('.toc code').length,
          formulas: document.querySelectorAll('.toc math').length};
})()'''


def test_every_page_at_every_width(site, browser):
    # Issue 23, items 1 to 3 and 5: no source line wraps into more than 4 rows,
    # no page scrolls sideways, and no table is cut off while the window has
    # room for it (a table wider than the window scrolls inside its own box);
    # the table of contents keeps formulas and whole names. Issue 30: from
    # 1024 px up, no table hides any of its columns, and the code column never
    # narrows as the window widens
    found, names, formulas = [], 0, 0
    for page in pages(site):
        browser.open((site / page).as_uri(), 1400)
        code = 0
        for width in WIDTHS:
            browser.screen(width, touch=width < 768)
            browser.evaluate(SETTLED)
            layout = browser.evaluate(LAYOUT)
            if layout['rows'][0] > 4 or layout['page'] > width or layout['clipped']:
                found.append((page, width, layout))
            if width >= 1024 and (layout['hidden'] or (layout['code'] or 0) < code - 1):
                found.append((page, width, layout, f'code column {code} px at the width before'))
            code = (layout['code'] or 0) if width >= 1024 else 0
            # The table of contents is a column beside the notes from 1280 px, narrowest at 1280
            if width == 1280:
                contents = browser.evaluate(CONTENTS)
                names, formulas = names + contents['names'], formulas + contents['formulas']
                if contents['wrong']:
                    found.append((page, width, contents['wrong']))
    browser.screen(1400)
    assert len(pages(site)) > 60 and names > 100 and formulas >= 2, (names, formulas)
    assert found == [], found


def test_the_other_language_opens_at_the_same_section(site, browser):
    for page, other in (('distillation/loss.html', 'ja/distillation/loss.html'),
                        ('ja/distillation/loss.html', 'distillation/loss.html')):
        # Two of the page's sections, far apart (section ids follow the source, with gaps)
        browser.open((site / page).as_uri(), 1400)
        early, late = browser.evaluate("(() => { const ids = [...document.querySelectorAll('[id^=\"section-\"]')]"
                                       ".map(e => e.id); return [ids[2], ids[ids.length - 3]]; })()")
        browser.open((site / page).as_uri() + '#' + late, 1400)
        link = browser.evaluate("document.querySelector('.bar .links a[hreflang]').href")
        assert link == (site / other).as_uri() + '#' + late
        # And after following a link within the page
        browser.evaluate(f"location.hash = '{early}'; true")
        assert browser.evaluate("document.querySelector('.bar .links a[hreflang]').href").endswith('#' + early)
        browser.open(link)
        assert browser.evaluate("document.querySelector(':target').id") == late


def test_japanese_words_and_numbers_stay_whole(site, browser):
    # Item 10: a table header breaks between words, not inside one (シー|ド),
    # and a number keeps its unit on its line (1,470 | 万), at phone and tablet widths
    found = []
    for page in ('ja/distillation/cifar10/readme.html', 'ja/distillation/cifar10/temperature.html',
                 'ja/distillation/cifar10/weight.html', 'ja/distillation/cifar10/omitted_class.html'):
        browser.open((site / page).as_uri(), 1400)
        for width in (390, 768):
            browser.screen(width, touch=width < 768)
            browser.evaluate(SETTLED)
            found += browser.evaluate('''(() => {
              const split = [];
              const walker = document.createTreeWalker(document.querySelector('main'), NodeFilter.SHOW_TEXT);
              for (let node; (node = walker.nextNode());) {
                const header = node.parentNode.closest('th');
                const pattern = header ? /[\\u30a0-\\u30ff\\u4e00-\\u9fff]{2,}/g
                                       : /\\d[\\d,.]*\\u00a0[\\u4e00-\\u9fff]/g;
                for (const match of node.textContent.matchAll(pattern)) {
                  const range = document.createRange();
                  range.setStart(node, match.index);
                  range.setEnd(node, match.index + match[0].length);
                  if (new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1) split.push(match[0]);
                }
              }
              return split;
            })()''')
    browser.screen(1400)
    assert found == [], found


def test_the_other_language_keeps_the_section_after_plain_scrolling(site, browser):
    # Issue 30: scrolled to a section without a link, the language link leads to it
    for page, other in (('distillation/loss.html', 'ja/distillation/loss.html'),
                        ('ja/distillation/cifar10/omitted_class.html', 'distillation/cifar10/omitted_class.html')):
        browser.open((site / page).as_uri(), 1400)
        # A section taller than half the window, half way down the page, brought to the top
        section = browser.evaluate('''(() => {
          const tall = [...document.querySelectorAll('main .section[id]')]
            .filter(s => s.offsetHeight > innerHeight / 2);
          const section = tall[Math.floor(tall.length / 2)];
          window.scrollTo(0, section.getBoundingClientRect().top + scrollY - 10);
          return section.id;
        })()''')
        browser.evaluate(SETTLED)
        link = browser.evaluate("document.querySelector('.bar .links a[hreflang]').href")
        assert link == (site / other).as_uri() + '#' + section
        # Back at the top, the link leads to the top of the other page
        browser.evaluate('window.scrollTo(0, 0); true')
        browser.evaluate(SETTLED)
        assert browser.evaluate("document.querySelector('.bar .links a[hreflang]').href") == (site / other).as_uri()
        browser.open(link)
        assert browser.evaluate("document.querySelector(':target').id") == section


# Each row label of a Japanese table (a row's first cell) with one or two
# characters on a line before its last
SQUEEZED = r'''(() => {
  const found = [];
  document.querySelectorAll('.notes tr > :first-child').forEach(cell => {
    const text = cell.textContent.trim();
    if (!/[\u3040-\u30ff\u4e00-\u9fff]/.test(text)) return;
    const lines = [];
    const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode());) {
      for (let i = 0; i < node.textContent.length; i++) {
        if (!node.textContent[i].trim()) continue;
        const range = document.createRange();
        range.setStart(node, i);
        range.setEnd(node, i + 1);
        const box = range.getBoundingClientRect();
        if (!box.height) continue;
        const middle = box.top + box.height / 2;
        const line = lines.find(l => Math.abs(l.middle - middle) < box.height / 2);
        if (line) line.characters++;
        else lines.push({middle, characters: 1});
      }
    }
    lines.sort((a, b) => a.middle - b.middle);
    if (lines.slice(0, -1).some(l => l.characters < 3)) {
      found.push(text + ': ' + lines.map(l => l.characters).join('/'));
    }
  });
  return found;
})()'''


def test_japanese_row_labels_are_never_squeezed(site, browser):
    # Issue 30: never 「ラベ/ルの/み」, from a phone to a desktop
    found, labels = [], 0
    for page in pages(site):
        if not page.startswith('ja/') or '<table>' not in (site / page).read_text(encoding='utf-8'):
            continue
        browser.open((site / page).as_uri(), 1400)
        labels += browser.evaluate("document.querySelectorAll('.notes tr > :first-child').length")
        for width in (360, 1024, 1400):
            browser.screen(width, touch=width < 768)
            browser.evaluate(SETTLED)
            found += [(page, width, label) for label in browser.evaluate(SQUEEZED)]
    browser.screen(1400)
    assert labels > 50 and found == [], found


def test_the_results_page_hides_no_column(site, browser):
    # Issue 30: the tables of every study, with a column per model, whole at 1024 and 1400 px
    for page in ('results.html', 'ja/results.html'):
        browser.open((site / page).as_uri(), 1400)
        for width in (1024, 1400):
            browser.screen(width)
            browser.evaluate(SETTLED)
            tables = browser.evaluate("[...document.querySelectorAll('.notes table')]"
                                      ".map(t => [t.rows[0].cells.length, t.scrollWidth - t.clientWidth])")
            assert len(tables) >= 10 and max(columns for columns, _ in tables) >= 8, tables
            assert [hidden for _, hidden in tables if hidden > 1] == [], (page, width, tables)


def test_the_loss_page_reads_in_one_sitting(site, browser):
    # The loss page teaches the loss; what engineers it has pages of its own:
    # at most 9,000 px tall at 1400 px wide in English. The Japanese page, set
    # in a CJK font where one is installed, takes some more lines: 9,500 px
    for page, most in (('distillation/loss.html', 9000), ('ja/distillation/loss.html', 9500)):
        browser.open((site / page).as_uri(), 1400)
        browser.evaluate(SETTLED)
        height = browser.evaluate('document.scrollingElement.scrollHeight')
        assert 2000 < height <= most, (page, height)
