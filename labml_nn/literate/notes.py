r"""
---
title: Rendering notes
summary: >
  Notes are CommonMark with TeX math. Formulas become MathML when the site is
  built, code in the notes is highlighted like the code beside them, and links
  are checked and pointed at the right language.
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
import posixpath
import re
import unicodedata
from dataclasses import dataclass, field
from html import escape
from typing import Optional

import pykatex
from markdown_it import MarkdownIt
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin

from labml_nn.literate import LiterateError
from labml_nn.literate.code import highlight


def render_notes(text: str, path: str, line: Optional[int] = None, links: Optional['Links'] = None) -> str:
    """
    A notes block as HTML. `path` and `line` say where the text came from, for
    error messages; `links`, where its relative links may lead.
    """
    return _markdown().render(text, {'path': path, 'line': line, 'text': text, 'links': links})


@dataclass
class Links:
    """
    Where the relative links of one page's notes may lead. Notes name a page
    as from source to source, `[the loss](loss.html)`; on a translated page, a
    link to a page that is not translated must go up to the English one.

    * `page` is the page's source path, for warnings
    * `here` is the page's path from its language's folder, such as `a/b.html`
    * `folder` is that folder in the output: empty for English, or `ja/`
    * `translated` holds the paths of the pages in the page's language, from its folder
    * `english` holds every file of the English site
    * `anchors` are the page's sections and the ids its notes set in HTML
    * `broken` collects a warning for each link that leads nowhere
    """
    page: str
    here: str
    folder: str
    translated: set
    english: set
    anchors: set
    broken: list = field(default_factory=list)


def resolve(href: str, links: Links) -> str:
    """
    The target a link of the notes gets on the page. Absolute links and links
    to other sites are left alone.
    """
    if href.startswith('#'):
        if href[1:] not in links.anchors and href != '#':
            links.broken.append(f'{links.page}: there is no section {href} to link to')
        return href
    if not href or href.startswith('/') or re.match(r'[a-zA-Z][a-zA-Z0-9+.-]*:', href):
        return href
    path = re.split('[#?]', href)[0]
    target = posixpath.normpath(posixpath.join(posixpath.dirname(links.here), path))
    if target in links.translated or (target in links.english and not links.folder):
        return href
    if target in links.english:
        # From the translated page's folder to the English file
        here = posixpath.dirname(links.folder + links.here)
        return posixpath.relpath(target, here) + href[len(path):]
    links.broken.append(f'{links.page}: the link {href} leads to no page')
    return href


@functools.lru_cache(maxsize=None)
def _markdown() -> MarkdownIt:
    """
    The parser, made once: CommonMark with tables, math, and our own rules for
    code, links, images and line breaks.
    """
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
    md.core.ruler.push('math_punctuation', _hold_punctuation)
    md.core.ruler.push('keep_together', _keep_together)
    md.core.ruler.push('figures', _figures)
    return md


# Inline code that is not Python: an option (`--teacher`), a path
# (`benchmarks/loss_memory.py`, `docs/`), a command (`make docs`), a commit
# hash, which would otherwise show as a number followed by a name
_NOT_PYTHON = re.compile(r'-(?!\d)|[\w.-]*/|(python|make|pip|git|cd) |[0-9a-f]{7,40}$')


def _render_code_inline(self, tokens, idx, options, env):
    # Inline code in the notes is mostly Python: a name, a call, a shape
    code = tokens[idx].content
    if _NOT_PYTHON.match(code):
        return f'<code>{escape(code, quote=False)}</code>'
    return f'<code class="highlight">{highlight(code)}</code>'


def _render_fence(self, tokens, idx, options, env):
    # A fence names its language; an indented block is taken to be Python
    info = tokens[idx].info.split()
    language = info[0] if info else 'python'
    return f'<pre class="highlight"><code>{highlight(tokens[idx].content, language)}</code></pre>\n'


def _relink(token, attribute: str, env):
    if env.get('links') is not None:
        token.attrSet(attribute, resolve(token.attrGet(attribute) or '', env['links']))


def _render_link(self, tokens, idx, options, env):
    _relink(tokens[idx], 'href', env)
    return self.renderToken(tokens, idx, options, env)


def _render_image(self, tokens, idx, options, env):
    # An image is found like a linked page, so a translated page shows the
    # English copy, or the language's own beside it: `plot.ja.png` for `plot.png`
    token = tokens[idx]
    if env.get('links') is not None and env['links'].folder:
        token.attrSet('src', _own_version(token.attrGet('src') or '', env['links']))
    _relink(token, 'src', env)
    image = self.image(tokens, idx, options, env)
    # An image alone in its paragraph is a figure, captioned with its description
    if token.meta.get('figure'):
        return f'{image}\n<figcaption>{self.renderInline(token.children, options, env)}</figcaption>'
    return image


def _own_version(src: str, links: Links) -> str:
    """
    `src`, or the image of the page's language beside it where there is one.
    """
    if not src or src.startswith(('/', '#')) or re.match(r'[a-zA-Z][a-zA-Z0-9+.-]*:', src):
        return src
    stem, dot, suffix = src.rpartition('.')
    own = f'{stem}.{links.folder.strip("/")}.{suffix}'
    target = posixpath.normpath(posixpath.join(posixpath.dirname(links.here), own))
    return own if dot and target in links.english else src


def _figures(state):
    """
    Makes a paragraph that holds only an image a figure, which the image's
    renderer captions.
    """
    for opening, inline, closing in zip(state.tokens, state.tokens[1:], state.tokens[2:]):
        children = inline.children or []
        if opening.type == 'paragraph_open' and closing.type == 'paragraph_close' and \
                len(children) == 1 and children[0].type == 'image':
            opening.tag = closing.tag = 'figure'
            children[0].meta['figure'] = True


# Chinese and Japanese characters, and the full-width forms of Latin ones
_WIDE = re.compile('[\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]')

# Japanese punctuation whose glyph has the space after it built in
_SPACED = set('、。，．！？：；）」』】〕')


def _render_softbreak(self, tokens, idx, options, env):
    # A line break in the source is a space in English. In Japanese it is
    # nothing, where browsers would show a stray space: not between two Japanese
    # characters, even with the start of an emphasis or a link between them, nor
    # after a Japanese comma or full stop, even before a Latin word
    before, after = _letter_beside(tokens, idx, -1), _letter_beside(tokens, idx, 1)
    if before in _SPACED or _WIDE.match(before) and _WIDE.match(after):
        return ''
    return '\n'


def _letter_beside(tokens: list, idx: int, step: int) -> str:
    """
    The character a reader sees next to a line break, before it (`step` -1) or
    after it (1), looking through markup such as the start of an emphasis or a
    link. A formula counts as a Latin letter unless punctuation is held with it.
    """
    idx += step
    while 0 <= idx < len(tokens):
        token = tokens[idx]
        if token.type in ('softbreak', 'hardbreak', 'image'):
            return ''
        if token.type.startswith('math'):
            held = token.meta.get('after' if step < 0 else 'before', '')
            return (held[-1:] if step < 0 else held[:1]) or 'x'
        if token.content:
            return token.content[-1] if step < 0 else token.content[0]
        idx += step
    return ''


def _render_math(self, tokens, idx, options, env):
    token = tokens[idx]
    mathml = _typeset(token.content, token.type != 'math_inline', env)
    before, after = token.meta.get('before', ''), token.meta.get('after', '')
    if before or after:
        return f'<span class="nobreak">{escape(before)}{mathml}{escape(after)}</span>'
    return mathml


# A line must not start with the punctuation after a formula (`, batch 64`), nor
# end with the bracket before one
_PUNCTUATION_AFTER = re.compile(r'^[,.;:!?)\]}、。，．：；！？）」』]+')
_BRACKET_BEFORE = re.compile(r'[(\[{「『（]+$')


def _hold_punctuation(state):
    """
    Moves the punctuation that touches an inline formula into the formula's
    token, which renders them as one piece that a line does not break.
    """
    for block in state.tokens:
        children = block.children or []
        for i, token in enumerate(children):
            if token.type != 'math_inline':
                continue
            before = children[i - 1] if i > 0 and children[i - 1].type == 'text' else None
            after = children[i + 1] if i + 1 < len(children) and children[i + 1].type == 'text' else None
            if before is not None and (match := _BRACKET_BEFORE.search(before.content)):
                token.meta['before'], before.content = match.group(0), before.content[:match.start()]
            if after is not None and (match := _PUNCTUATION_AFTER.match(after.content)):
                token.meta['after'], after.content = match.group(0), after.content[match.end():]


# A measurement and its error, `58.92 ± 0.07`, and a number and the Japanese
# unit after it, `1,470 万`, are one piece that a line does not break
_TOGETHER = re.compile(r'(?<=\S) (?=± )|(?<= ±) (?=\S)|(?<=\d) (?=[\u3040-\u30ff\u4e00-\u9fff])')


def _keep_together(state):
    """
    Puts a no-break space where a line must not break.
    """
    for block in state.tokens:
        for token in block.children or []:
            if token.type == 'text':
                token.content = _TOGETHER.sub('\u00a0', token.content)


def _render_align(self, tokens, idx, options, env):
    return _typeset(tokens[idx].content, True, env)


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
    # and none before it after a letter, a number or a closing bracket, where
    # TeX puts a thin one too (`p_c \log q_c`)
    mathml = _BEFORE_OPERATOR_NAME.sub('\\1<mspace width="0.1667em"></mspace>\\2', mathml)
    # A word as a subscript names something, as in ℒ_soft, and is set upright
    # like a word: a name of one letter of MathML is italic, of more is not
    mathml = _WORD_SUBSCRIPT.sub(lambda m: m.group(1) + '<mi>' + re.sub('</?mi>', '', m.group(2)) + '</mi>', mathml)
    return _VARIANT.sub(_unicode_variant, mathml)


_BEFORE_OPERATOR_NAME = re.compile('(</mi>|</mn>|</msub>|</msup>|</msubsup>|<mo[^>]*>[)\\]}|]</mo>)'
                                   '(<mi>[^<]{2,}</mi><mo[^>]*>\u2061</mo>)')


# A subscript of three letters or more, such as `soft` in `\mathcal{L}_{soft}`,
# of a base that is one name; `p_{ij}` keeps its two italic indices
_WORD_SUBSCRIPT = re.compile('(<msub(?:sup)?><mi[^>]*>[^<]*</mi>)<mrow>((?:<mi>[A-Za-z]</mi>){3,})</mrow>')


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
