"""
---
title: The search index
summary: >
  Every page's title, headings, notes and documented definitions, gathered from
  the built pages into one script that the search box loads, so that search
  works from a folder on disk with no server and no network.
---

# The search index

The search box on each page looks words up in its language's `search-index.js`,
at the top of the language's folder (`ja/search-index.js` for Japanese). It is a
script that sets one global,

```js
window.LITERATE_SEARCH = {"pages": [{"url": ..., "title": ..., "sections": [...]}]}
```

and not a JSON file, because a page opened from disk (`file://`) may load a
script but may not fetch a file.

The index is read back from the finished HTML, so it holds exactly what a reader
sees, in every language, whatever the renderer did to get there. Each section
gives its anchor, the heading it falls under, the name it documents (the anchor
of a section that documents a function or class is its name), and the words of
its notes. A heading starts an entry of its own, so that a result leads to it:
the page's script gives the $k$-th heading of section `s` the anchor `s-k`, and
the index names it the same way.

A formula is kept as a line of text that a reader can read in a search
result, `ℒ_soft = T² KL(softmax(v/T) ∥ softmax(z/T))` rather than the TeX it
was written in: its symbols in order, a superscript or a
subscript in Unicode's small letters where they have one, or after `^` or `_`,
and a fraction as `a/b`.

Most of a page's HTML is what the index leaves out: a span per token of the code
column, an element per symbol of a formula. An HTML parser written in Python
would walk every one of them, which made the index the slowest stage of the
build. So two regular expressions first drop the code column and put each
formula's text in place of its MathML, and the parser reads only the notes. The
code is escaped text, so it holds no `</div>`.
"""

import json
import re
import xml.etree.ElementTree as ElementTree
from html import escape
from html.parser import HTMLParser
from typing import Optional

# The name of the index in the output folder, next to the script that loads it
INDEX_FILE = 'search-index.js'

# The anchor of a section that documents no name
_NUMBERED = re.compile(r'section-\d+')

# The code column of a section, and a formula with its TeX, which is all of it that is kept
_CODE_COLUMN = re.compile(r'<div class="code">.*?</div>', re.DOTALL)
_FORMULA = re.compile(r'<math\b.*?</math>', re.DOTALL)

# Elements whose end separates words
_BLOCKS = {'p', 'li', 'pre', 'div', 'td', 'th', 'blockquote', 'dd', 'dt', 'tr'}

# Elements that have no end tag
_VOID = {'area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr'}


class _PageReader(HTMLParser):
    """
    Collects a page's title and sections as it reads the HTML of a page whose
    code and formulas are already left out. Each open element remembers what
    its text is: the title, notes, a heading, or nothing to keep (`skip`: the
    `#` links, scripts).
    """

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.title = ''
        self.sections = []
        self.heading = ''
        self._words = []
        self._open = [('', None)]
        self._anchor = ''
        self._headings = 0
        self._heading_id = ''

    def _kind(self, tag: str, classes: list) -> Optional[str]:
        """
        What the text of a new element is, from its tag, its classes and its parent.
        """
        parent = self._open[-1][1]
        if parent == 'skip' or tag in ('script', 'style', 'button') or 'anchor' in classes:
            return 'skip'
        if tag == 'title':
            return 'title'
        if tag == 'div' and 'notes' in classes and self.sections:
            return 'notes'
        if tag in ('h1', 'h2', 'h3') and parent == 'notes':
            return 'heading'
        return parent

    def handle_starttag(self, tag: str, attrs: list):
        attributes = dict(attrs)
        classes = (attributes.get('class') or '').split()
        if tag == 'section' and 'section' in classes:
            self._anchor = attributes.get('id', '')
            self._headings = 0
            name = '' if _NUMBERED.fullmatch(self._anchor) else self._anchor
            self.sections.append({'id': self._anchor, 'heading': self.heading, 'name': name, 'text': []})
        if tag not in _VOID:
            kind = self._kind(tag, classes)
            if kind == 'heading' and self._open[-1][1] == 'notes':
                # The k-th heading of a section is `#<section>-<k>`, as the page's script names it
                self._headings += 1
                self._heading_id = attributes.get('id') or f'{self._anchor}-{self._headings}'
                self._words = []
            self._open.append((tag, kind))

    def handle_endtag(self, tag: str):
        if tag in _VOID or all(open_tag != tag for open_tag, _ in self._open):
            return
        # HTML lets some elements close without an end tag: close them too
        while True:
            open_tag, kind = self._open.pop()
            if kind == 'heading' and self._open[-1][1] == 'notes':
                self._end_heading()
            elif kind == 'notes' and open_tag in _BLOCKS:
                self.sections[-1]['text'].append(' ')
            if open_tag == tag:
                return

    def _end_heading(self):
        """
        A heading begins an entry of its own, so that a search for its words
        leads to it.
        """
        self.heading = _clean(''.join(self._words))
        section = self.sections[-1]
        if any(t.strip() for t in section['text']):
            section = {'id': self._heading_id, 'heading': self.heading, 'name': '', 'text': []}
            self.sections.append(section)
        else:
            section['id'], section['heading'] = self._heading_id, self.heading
        section['text'].append(f' {self.heading} ')

    def handle_data(self, data: str):
        kind = self._open[-1][1]
        if kind == 'title':
            self.title += data
        elif kind == 'heading':
            self._words.append(data)
        elif kind == 'notes':
            self.sections[-1]['text'].append(data)


# The characters that Unicode has a superscript or a subscript of
_SUPERSCRIPT = dict(zip('0123456789+-=()inT', '⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁱⁿᵀ'))
_SUBSCRIPT = dict(zip('0123456789+-=()aeijoruvx', '₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢⱼₒᵣᵤᵥₓ'))
# Big operators, whose limits are scripts
_BIG = set('∑∏∫⋃⋂')
# Relations read better with a space on each side
_RELATIONS = set('=≈≠<>≤≥→←∝∈')


def _formula_text(match: re.Match) -> str:
    """
    A formula's MathML as one line of readable text, escaped for the HTML it
    goes back into; its TeX, if the MathML does not parse.
    """
    mathml = match.group(0)
    try:
        text = _math_text(ElementTree.fromstring(mathml))
    except ElementTree.ParseError:
        tex = re.search(r'<annotation encoding="application/x-tex">(.*?)</annotation>', mathml, re.DOTALL)
        return tex.group(1) if tex else ''
    return escape(re.sub(r'\s+', ' ', text).strip(), quote=False)


def _math_text(element: ElementTree.Element) -> str:
    """
    The text of a MathML element: its symbols in order, scripts raised or
    lowered where Unicode can, fractions on one line.
    """
    tag = element.tag.rsplit('}', 1)[-1]
    parts = [_math_text(child) for child in element]
    if tag == 'annotation':
        return ''
    if tag in ('mi', 'mn', 'mo', 'mtext', 'ms'):
        text = element.text or ''
        return f' {text} ' if tag == 'mo' and text in _RELATIONS else text
    if tag == 'mspace':
        return ' '
    if tag in ('msup', 'mover') and len(parts) == 2:
        # An accent over a letter (a hat, a bar) is left out
        accent = tag == 'mover' and element.get('accent') == 'true'
        return parts[0] + ('' if accent else _script(parts[1], _SUPERSCRIPT, '^'))
    # A sum with its limits stands apart from what is around it
    space = ' ' if parts and parts[0] in _BIG else ''
    if tag in ('msub', 'munder') and len(parts) == 2:
        return space + parts[0] + _script(parts[1], _SUBSCRIPT, '_') + space
    if tag in ('msubsup', 'munderover') and len(parts) == 3:
        return space + parts[0] + _script(parts[1], _SUBSCRIPT, '_') + _script(parts[2], _SUPERSCRIPT, '^') + space
    if tag == 'mfrac' and len(parts) == 2:
        return '/'.join(_grouped(part) for part in parts)
    if tag in ('msqrt', 'mroot'):
        return '√' + _grouped(parts[0] if tag == 'mroot' else ''.join(parts))
    if tag == 'mtr':
        return '; '.join(parts)
    return ''.join(parts)


def _script(text: str, small: dict, mark: str) -> str:
    text = text.strip()
    if text and all(c in small for c in text):
        return ''.join(small[c] for c in text)
    return mark + _grouped(text)


def _grouped(text: str) -> str:
    # Brackets around anything longer than a symbol, so that `a/(b + c)` reads right
    text = text.strip()
    return text if len(text) <= 1 or re.fullmatch(r'\w+|\(.*\)', text) else f'({text})'


def _clean(text: str) -> str:
    return re.sub(r'\s+', ' ', text).strip()


def index_page(url: str, html: str) -> Optional[dict]:
    """
    What the index keeps of one page, or `None` for a page with no sections.
    """
    reader = _PageReader()
    reader.feed(_FORMULA.sub(_formula_text, _CODE_COLUMN.sub('', html)))
    reader.close()
    sections = []
    for section in reader.sections:
        text = _clean(''.join(section['text']))
        if text or section['name']:
            sections.append({'id': section['id'], 'heading': section['heading'], 'name': section['name'],
                             'text': text})
    if not sections:
        return None
    return {'url': url, 'title': _clean(reader.title), 'sections': sections}


def search_index(files: dict) -> bytes:
    """
    The index of every HTML page among the built `files` (path to bytes), as
    the script that the search box loads. The same pages always give the same
    bytes.
    """
    pages = []
    for path in sorted(files):
        if path.endswith('.html'):
            page = index_page(path, files[path].decode('utf-8'))
            if page is not None:
                pages.append(page)
    data = json.dumps({'pages': pages}, ensure_ascii=False, sort_keys=True, separators=(',', ':'))
    return f'window.LITERATE_SEARCH = {data};\n'.encode('utf-8')
