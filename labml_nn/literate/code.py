"""
---
title: Highlighting code
summary: >
  Pygments splits code into tokens; each becomes a span with a short class name
  that the page's style sheet colours, one line of HTML per line of source,
  numbered.
---

# Highlighting code

[Pygments](https://pygments.org) knows the syntax of Python and of most other
languages. We use its lexers only, and write the HTML ourselves: the code column
needs one piece of HTML per source line, so that each line can carry its own
number, and a token that spans lines, like a long string, must be closed at the
end of each line and opened again on the next.
"""

import functools
import html

from pygments.lexers import get_lexer_by_name
from pygments.token import STANDARD_TYPES, _TokenType
from pygments.util import ClassNotFound


def code_sections(text: str, sections: list) -> list:
    """
    The code column of each section as HTML. Each line is a span that shows
    its number through the style sheet, so that copying the code does not copy
    the numbers.
    """
    lines = highlight_lines(text) if text else []
    columns = []
    for section in sections:
        rows = ''.join(f'<span class="line" data-n="{n}">{lines[n - 1]}</span>\n' for n in section.code)
        columns.append(f'<pre class="highlight"><code>{rows}</code></pre>' if rows else '')
    return columns


def highlight_lines(source: str) -> list:
    """
    The HTML of each line of a Python file; item `i` is line `i + 1`. The whole
    file is highlighted at once, so a section that starts inside a bracket or
    after a multi-line string is still coloured right.
    """
    return highlight(source, 'python').split('\n')


def highlight(code: str, language: str = 'python') -> str:
    """
    `code` as HTML with a span around each token, line breaks kept as they are.
    An unknown language is shown without colours rather than failing the build.
    """
    pieces = []
    for token_type, value in _lexer(language).get_tokens(code):
        css = _css_class(token_type)
        # Close the span before each line break, so that every line stands alone
        parts = [html.escape(part, quote=False) for part in value.split('\n')]
        if css:
            parts = [f'<span class="{css}">{part}</span>' if part else '' for part in parts]
        pieces.append('\n'.join(parts))
    return ''.join(pieces)


@functools.lru_cache(maxsize=None)
def _lexer(language: str):
    """
    The lexer of a language, made once: finding it by name takes longer than
    lexing a line of inline code. An unknown language gets the plain-text lexer.
    """
    try:
        return get_lexer_by_name(language or 'text', stripnl=False, ensurenl=False)
    except ClassNotFound:
        return get_lexer_by_name('text', stripnl=False, ensurenl=False)


def _css_class(token_type: _TokenType) -> str:
    """
    The short class Pygments gives a token type, such as `k` for a keyword or
    `nf` for a function name. A subtype without its own short name, like a
    lexer's private kind of string, takes its parent's. Plain text and
    whitespace need no colour, so they get no class and no span.
    """
    while token_type not in STANDARD_TYPES:
        token_type = token_type.parent
    short = STANDARD_TYPES[token_type]
    return '' if short == 'w' else short
