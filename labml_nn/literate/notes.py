r"""
---
title: Rendering notes
summary: >
  Notes are CommonMark with TeX math. Front matter gives the page its title and
  summary, formulas become MathML when the site is built, and code in the notes
  is highlighted like the code beside them.
---

# Rendering notes

A notes block is [CommonMark](https://commonmark.org), parsed by
[markdown-it-py](https://markdown-it-py.readthedocs.io), with three kinds of math
from [mdit-py-plugins](https://mdit-py-plugins.readthedocs.io): `$inline$`,
`$$display$$` and `\begin{align}...\end{align}` blocks.

Math is typeset *when the site is built*, so the pages need no script and no
font from the network to show a formula, and a formula with a mistake stops the
build with its file and line instead of showing raw TeX to a reader.
"""

import functools
import re
import unicodedata
from typing import Callable, Optional

import pykatex
import yaml
from markdown_it import MarkdownIt
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin

from labml_nn.literate.code import highlight
from labml_nn.literate.split import LiterateError

# Front matter is a YAML document between two `---` lines at the very start
_FRONT_MATTER = re.compile(r'---\n(.*?)\n---[ \t]*(?:\n|$)', re.DOTALL)


def front_matter(text: str, where: str) -> tuple:
    """
    Splits the front matter off a notes block: returns its fields as a
    dictionary of strings, and the Markdown that follows. Folded values
    (`summary: >`) come back as one line.
    """
    match = _FRONT_MATTER.match(text)
    if match is None:
        return {}, text
    try:
        fields = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as e:
        raise LiterateError(f'{where}: the front matter is not valid YAML: {e}')
    if not isinstance(fields, dict):
        raise LiterateError(f'{where}: the front matter must be `key: value` lines')
    return {str(k): str(v).strip() for k, v in fields.items()}, text[match.end():].lstrip('\n')


def first_heading(text: str) -> Optional[str]:
    """
    The text of the first heading, the title of a page without front matter.
    """
    tokens = _MARKDOWN.parse(text)
    for token, following in zip(tokens, tokens[1:]):
        if token.type == 'heading_open':
            return following.content
    return None


# [KaTeX](https://katex.org) is the most complete TeX-to-web typesetter, and
# [PyKaTeX](https://pypi.org/project/PyKaTeX/) runs it inside Python on an
# embedded JavaScript engine, with no Node.js to install and no process to start
# for each formula. We ask for MathML only: browsers draw it with their own math
# fonts, so the pages need neither KaTeX's style sheet nor its fonts.
@functools.lru_cache(maxsize=None)
def _katex(tex: str, display: bool) -> str:
    mathml = pykatex.renderToString(tex, output=pykatex.OUTPUT_MATHML, displayMode=display,
                                    throwOnError=True, strict=pykatex.STRICT_IGNORE)
    # Chromium puts no space after an operator name, as in `log p`, where TeX
    # puts a thin one unless a bracket follows
    mathml = re.sub('<mo>\u2061</mo>(?!<mo)', '<mo rspace="0.1667em">\u2061</mo>', mathml)
    return _VARIANT.sub(_unicode_variant, mathml)


# KaTeX writes `\mathcal{L}` as `<mi mathvariant="script">L</mi>`, but browsers
# only draw the `normal` variant; the others are letters of their own in Unicode's
# mathematical alphabets, such as 𝓛, so we write those letters instead.
_VARIANT = re.compile(r'<(m[ion]) mathvariant="([a-z-]+)">([^<]*)</\1>')
_VARIANT_NAMES = {'bold': 'BOLD', 'italic': 'ITALIC', 'bold-italic': 'BOLD ITALIC', 'script': 'SCRIPT',
                  'bold-script': 'BOLD SCRIPT', 'double-struck': 'DOUBLE-STRUCK', 'fraktur': 'FRAKTUR',
                  'bold-fraktur': 'BOLD FRAKTUR', 'sans-serif': 'SANS-SERIF',
                  'bold-sans-serif': 'SANS-SERIF BOLD', 'monospace': 'MONOSPACE'}


def _unicode_variant(match: re.Match) -> str:
    tag, variant, text = match.groups()
    if variant not in _VARIANT_NAMES:
        return match.group(0)
    letters = []
    for char in text:
        # `LATIN CAPITAL LETTER L` is `MATHEMATICAL SCRIPT CAPITAL L`; a few
        # letters that Unicode had before, like ℒ, go without `MATHEMATICAL`
        plain = re.sub(r'^(LATIN|GREEK) |LETTER ', '', unicodedata.name(char, ''))
        names = [f'MATHEMATICAL {_VARIANT_NAMES[variant]} {plain}', f'{_VARIANT_NAMES[variant]} {plain}',
                 f'BLACK-LETTER {plain}']
        letters.append(next((c for c in map(_character, names) if c), char))
    # A styled letter must not be slanted again as a variable
    normal = ' mathvariant="normal"' if tag == 'mi' and len(text) == 1 else ''
    return f'<{tag}{normal}>{"".join(letters)}</{tag}>'


def _character(name: str) -> Optional[str]:
    try:
        return unicodedata.lookup(name)
    except KeyError:
        return None


def _typeset(tex: str, display: bool, env: dict) -> str:
    """
    One formula as MathML. A formula KaTeX cannot parse is an error that names
    the file, the line the formula is on, and the formula.
    """
    try:
        mathml = _katex(tex.strip(), display)
    except pykatex.ParseError as e:
        text, line = env['text'], env['line']
        if line is not None:
            line += text[:max(text.find(tex), 0)].count('\n')
        place = env['path'] if line is None else f"{env['path']}:{line}"
        raise LiterateError(f'{place}: cannot typeset the formula {tex.strip()!r}: {e}')
    if display:
        return f'<div class="math-display">{mathml}</div>\n'
    return mathml


def _render_math(self, tokens, idx, options, env):
    token = tokens[idx]
    return _typeset(token.content, token.type != 'math_inline', env)


def _render_align(self, tokens, idx, options, env):
    return _typeset(tokens[idx].content, True, env)


def _render_code_inline(self, tokens, idx, options, env):
    # Inline code in the notes is nearly always Python: a name, a call, a shape
    return f'<code class="highlight">{highlight(tokens[idx].content)}</code>'


def _render_fence(self, tokens, idx, options, env):
    # A fence names its language; an indented block is taken to be Python
    info = tokens[idx].info.split()
    language = info[0] if info else 'python'
    return f'<pre class="highlight"><code>{highlight(tokens[idx].content, language)}</code></pre>\n'


def _relink(token, attribute: str, env):
    # The page decides where a relative link points, for translated pages
    if env.get('link') is not None:
        token.attrSet(attribute, env['link'](token.attrGet(attribute) or ''))


def _render_link(self, tokens, idx, options, env):
    _relink(tokens[idx], 'href', env)
    return self.renderToken(tokens, idx, options, env)


def _render_image(self, tokens, idx, options, env):
    # An image is found like a linked page, so a translated page shows the English copy
    _relink(tokens[idx], 'src', env)
    return self.image(tokens, idx, options, env)


# Chinese and Japanese characters, and the full-width forms of Latin ones
_WIDE = re.compile('[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]')


def _render_softbreak(self, tokens, idx, options, env):
    # A line break in the source is a space in English, but nothing between two
    # Japanese characters, where browsers would show it as a stray space
    before = tokens[idx - 1].content[-1:] if idx > 0 else ''
    after = tokens[idx + 1].content[:1] if idx + 1 < len(tokens) else ''
    return '' if _WIDE.match(before) and _WIDE.match(after) else '\n'


def _markdown() -> MarkdownIt:
    md = MarkdownIt('commonmark').enable(['table', 'strikethrough'])
    # The usual rule of TeX in Markdown, so that prices are not math: an opening
    # `$` is not followed by a space, and a closing `$` is neither preceded by a
    # space nor followed by a digit. `It costs $5 and $10` stays text.
    dollarmath_plugin(md, allow_labels=False, allow_space=False, allow_digits=False,
                      double_inline=True)
    amsmath_plugin(md)
    for name in ('math_inline', 'math_inline_double', 'math_block'):
        md.add_render_rule(name, _render_math)
    md.add_render_rule('amsmath', _render_align)
    md.add_render_rule('code_inline', _render_code_inline)
    md.add_render_rule('fence', _render_fence)
    md.add_render_rule('code_block', _render_fence)
    md.add_render_rule('link_open', _render_link)
    md.add_render_rule('image', _render_image)
    md.add_render_rule('softbreak', _render_softbreak)
    return md


_MARKDOWN = _markdown()


def render_notes(text: str, path: str, line: Optional[int] = None,
                 link: Optional[Callable[[str], str]] = None) -> str:
    """
    A notes block as HTML. `path` and `line` say where the text came from, for
    error messages; `link` rewrites the target of each link.
    """
    return _MARKDOWN.render(text, {'path': path, 'line': line, 'text': text, 'link': link})
