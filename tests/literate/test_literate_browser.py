"""
A rendered page in a real browser: headless Chromium, driven over the Chrome
DevTools Protocol with a small WebSocket client written on the standard library.

It checks what only a browser can tell: that the MathML has a size, that the
columns sit side by side on a wide screen and stack on a phone, and that the
page asks the network for nothing.
"""

import pytest

from chromium import Browser, require_chromium
from labml_nn.literate.__main__ import main

SOURCE = '''"""
---
title: A page for the browser
summary: Math, code and a link.
---

# A page for the browser

The loss is $\\mathcal{L} = \\frac{T^2}{n} \\sum_i \\mathrm{KL}(p_i \\| q_i)$ and

$$q_c = \\frac{\\exp(z_c / T)}{\\sum_j \\exp(z_j / T)}$$

See [the other page](other.html).
"""

import math


# A function with *notes* beside it, $x^2$ inline
def square(x: float) -> float:
    return x * x
'''


# Where the notes and code of the first section with both are, and every formula
MEASURE = '''(() => {
  const box = e => { const r = e.getBoundingClientRect();
                     return {left: r.left, right: r.right, top: r.top, bottom: r.bottom,
                             width: r.width, height: r.height}; };
  const section = [...document.querySelectorAll('.section')]
    .find(s => s.querySelector('.notes p') && s.querySelector('.code .line'));
  return {notes: box(section.querySelector('.notes')), code: box(section.querySelector('.code')),
          math: [...document.querySelectorAll('math')].map(box),
          resources: performance.getEntriesByType('resource').map(r => r.name)};
})()'''


@pytest.fixture(scope='module')
def page_url(tmp_path_factory) -> str:
    source = tmp_path_factory.mktemp('source')
    (source / 'page.py').write_text(SOURCE, encoding='utf-8')
    (source / 'other.py').write_text('"""\n# Other\n"""\nx = 1\n', encoding='utf-8')
    out = tmp_path_factory.mktemp('site')
    assert main([str(source), '--lang', 'en', '--out', str(out)]) == 0
    return (out / 'page.html').as_uri()


def test_page_in_chromium(page_url, tmp_path):
    require_chromium()
    measured = {}
    with Browser(tmp_path / 'profile') as browser:
        for width in (1280, 400):
            browser.screen(width)
            if width == 1280:
                browser.open(page_url)
            measured[width] = browser.evaluate(MEASURE)
        # Clicking a name highlights it wherever it is used: `x` is used three times
        clicked = browser.evaluate(
            "[...document.querySelectorAll('.code .n')].find(e => e.textContent === 'x').click();"
            "[...document.querySelectorAll('.hl')].map(e => e.textContent)")
        requests = browser.requests()

    assert clicked == ['x', 'x', 'x']
    wide, narrow = measured[1280], measured[400]
    # Every formula is typeset, with a size
    assert len(wide['math']) == 3
    assert all(box['width'] > 0 and box['height'] > 0 for box in wide['math'])
    # Wide: notes and code side by side, on the same row
    assert wide['code']['left'] >= wide['notes']['right'] - 1
    assert abs(wide['code']['top'] - wide['notes']['top']) < 1
    # Narrow: code below notes, both the width of the screen
    assert narrow['code']['top'] >= narrow['notes']['bottom'] - 1
    assert narrow['code']['width'] > 350 and narrow['notes']['width'] > 350
    # The page, its style sheet, its script and its icon, all from disk, and nothing else
    assert requests and all(url.startswith('file://') for url in requests), requests
    assert {url.rsplit('/', 1)[-1] for url in requests} == {'page.html', 'literate.css', 'literate.js', 'favicon.svg'}
    assert all(url.startswith('file://') for url in wide['resources'])
