"""
---
title: Splitting a source file into sections
summary: >
  The second stage of the renderer: Python's own tokenizer and parser decide
  which lines are notes and which are code, and where each section starts.
---

# Splitting a source file into sections

A page is a list of *sections*. Each section has *notes*, Markdown shown on the
left, and *code*, shown on the right with its original line numbers.

Notes come from two places: comments that sit on a line of their own, and the
docstrings of modules, classes and functions. A regular expression on lines
cannot tell a `#` inside a string from a comment, or a docstring from any other
string, so we ask Python: [`tokenize`](https://docs.python.org/3/library/tokenize.html)
finds the comments and [`ast`](https://docs.python.org/3/library/ast.html) finds
the docstrings and the definitions.

The rules:

* Consecutive comment lines join into one notes block; a bare `#` line is a
  paragraph break and a blank line ends the block.
* A comment that follows code starts a new section, so each comment explains the
  code below it.
* A `def` or `class`, with its decorators, starts a new section, and its docstring
  joins that section's notes.
* A comment at the end of a line of code stays in the code.
"""

import ast
import io
import re
import tokenize
import warnings
from dataclasses import dataclass, field
from typing import Optional

import yaml

from labml_nn.literate import LiterateError


@dataclass
class Note:
    """
    One block of Markdown: a run of comment lines or a docstring.
    `line` is the source line of its first line of text, for error messages.
    """
    text: str
    line: int


@dataclass
class Section:
    """
    Notes and the numbers (counted from 1) of the code lines beside them.
    """
    anchor: str
    notes: list = field(default_factory=list)
    code: list = field(default_factory=list)


def split_markdown(text: str) -> list:
    """
    A Markdown file is all notes. Each heading starts a section, so that a long
    page gets anchors and its translation gets blocks of a readable size.
    A `#` line inside a fenced code block is not a heading.
    """
    chunks = [[]]
    fenced = False
    for number, line in enumerate(text.split('\n'), 1):
        if re.match(r' {0,3}(```|~~~)', line):
            fenced = not fenced
        elif not fenced and re.match(r' {0,3}#{1,6}(\s|$)', line) and any(l.strip() for _, l in chunks[-1]):
            chunks.append([])
        chunks[-1].append((number, line))
    sections = []
    for chunk in chunks:
        while chunk and not chunk[0][1].strip():
            chunk.pop(0)
        if chunk:
            note = Note('\n'.join(line for _, line in chunk).rstrip(), chunk[0][0])
            sections.append(Section('', notes=[note]))
    return _tidy(sections, [])


def split_python(text: str) -> tuple:
    """
    Returns the sections of a Python file and a warning, or `None`.

    A file that Python cannot parse still gets a page, all code, so that one
    broken file does not stop the whole site; the caller prints the warning.
    """
    lines = text.split('\n')
    try:
        # An odd escape in a docstring is the author's business, not a warning of ours
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            tree = ast.parse(text)
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (SyntaxError, ValueError, tokenize.TokenError) as e:
        section = Section('', code=list(range(1, len(lines) + 1)))
        return _tidy([section], lines), f'cannot parse it ({e}), so it is shown as plain code'

    comments = _full_line_comments(tokens, lines)
    docstrings = _docstrings(tree, lines)
    starts = _definitions(tree)
    intro = _docstring_node(tree)

    # Walk the lines once, deciding for each whether it is a note or code
    sections = [Section('')]
    in_comment_run = False
    skip_until = 0
    for number in range(1, len(lines) + 1):
        if number <= skip_until:
            continue
        if number in docstrings:
            # A docstring is a notes block, and its lines leave the code
            skip_until, note = docstrings[number]
            sections[-1].notes.append(note)
            in_comment_run = False
            # The module docstring is the introduction, a section of its own
            if intro is not None and number == intro.lineno:
                sections.append(Section(''))
            continue
        if number in comments:
            # A comment after code starts a new section: it explains what follows
            if _has_code(sections[-1], lines):
                sections.append(Section(''))
                in_comment_run = False
            if in_comment_run:
                sections[-1].notes[-1].text += '\n' + comments[number]
            else:
                sections[-1].notes.append(Note(comments[number], number))
            in_comment_run = True
            continue
        in_comment_run = False
        if number in starts:
            # A definition starts a section, unless the section so far is only
            # the comments above it; either way the section is named after it
            if _has_code(sections[-1], lines):
                sections.append(Section(''))
            sections[-1].anchor = starts[number]
        sections[-1].code.append(number)
    return _tidy(sections, lines), None


def _has_code(section: Section, lines: list) -> bool:
    """
    Whether the section has a line of code that is not blank.
    """
    return any(lines[number - 1].strip() for number in section.code)


def _full_line_comments(tokens: list, lines: list) -> dict:
    """
    Comments alone on their line, by line number, without the `#` and the one
    space after it. A shebang on the first line is code, not a note.
    """
    comments = {}
    for token in tokens:
        if token.type != tokenize.COMMENT:
            continue
        row, col = token.start
        if lines[row - 1][:col].strip() or (row == 1 and token.string.startswith('#!')):
            continue
        body = token.string[1:]
        comments[row] = body[1:] if body.startswith(' ') else body
    return comments


def _docstring_node(node: ast.AST) -> Optional[ast.Expr]:
    """
    The statement holding `node`'s docstring, if it has one.
    """
    body = getattr(node, 'body', None)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0]
    return None


def _docstrings(tree: ast.Module, lines: list) -> dict:
    """
    Docstrings as notes, keyed by their first line: `{line: (last line, Note)}`.

    The text is read from the source, not from the string's value, so that
    `\frac` in a docstring that is not raw stays `\frac` and is not turned
    into a form feed and `rac`. A docstring that shares a line with other code
    stays code.
    """
    found = {}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        expr = _docstring_node(node)
        if expr is None:
            continue
        literal = _source_of(expr, lines)
        if literal is None:
            continue
        match = re.fullmatch(r'[rRuU]?("""|\'\'\'|"|\')(.*)\1', literal, re.DOTALL)
        if match is None:
            continue
        body, offset = _dedent(match.group(2))
        if body:
            found[expr.lineno] = (expr.end_lineno, Note(body, expr.lineno + offset))
    return found


def _source_of(node: ast.expr, lines: list) -> Optional[str]:
    """
    The source text of a statement that has its lines to itself, or `None` if
    other code shares its first or last line. The parser counts columns in
    UTF-8 bytes. (`ast.get_source_segment` splits the whole file again on every
    call, which made a long file take quadratic time.)
    """
    first = lines[node.lineno - 1].encode()
    last = lines[node.end_lineno - 1].encode()
    if first[:node.col_offset].strip() or last[node.end_col_offset:].strip():
        return None
    if node.lineno == node.end_lineno:
        return first[node.col_offset:node.end_col_offset].decode()
    middle = lines[node.lineno:node.end_lineno - 1]
    return '\n'.join([first[node.col_offset:].decode(), *middle, last[:node.end_col_offset].decode()])


def _dedent(body: str) -> tuple:
    """
    Strips a docstring's common indentation and its blank first and last lines.
    The first line is left out of the indentation, as it follows the quotes.
    Returns the text and how many lines were dropped from its top.
    """
    lines = [line.expandtabs().rstrip() for line in body.split('\n')]
    indents = [len(line) - len(line.lstrip()) for line in lines[1:] if line.strip()]
    margin = min(indents, default=0)
    lines = [lines[0].strip()] + [line[margin:] for line in lines[1:]]
    offset = 0
    while lines and not lines[0]:
        lines.pop(0)
        offset += 1
    while lines and not lines[-1]:
        lines.pop()
    return '\n'.join(lines), offset


def _definitions(tree: ast.Module) -> dict:
    """
    The first line of each `def` and `class`, its first decorator if it has any,
    mapped to its qualified name such as `Model.forward`, the section's anchor.
    """
    starts = {}

    def visit(node: ast.AST, prefix: str):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                first = min([child.lineno] + [d.lineno for d in child.decorator_list])
                starts[first] = prefix + child.name
                visit(child, prefix + child.name + '.')
            else:
                visit(child, prefix)

    visit(tree, '')
    return starts


def _tidy(sections: list, lines: list) -> list:
    """
    Trims blank lines from both ends of each section's code, drops empty notes
    and empty sections, and makes the anchors unique. Sections not named after
    a definition are numbered by their place on the page.
    """
    kept = []
    for section in sections:
        code = section.code
        while code and not lines[code[0] - 1].strip():
            code.pop(0)
        while code and not lines[code[-1] - 1].strip():
            code.pop()
        section.notes = [n for n in section.notes if n.text.strip()]
        if section.notes or section.code:
            kept.append(section)
    seen = set()
    for index, section in enumerate(kept):
        if not section.anchor:
            section.anchor = f'section-{index}'
        base, count = section.anchor, 1
        while section.anchor in seen:
            count += 1
            section.anchor = f'{base}-{count}'
        seen.add(section.anchor)
    return kept


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
    The text of the first `#` heading of a notes block, outside fenced code.
    """
    fenced = False
    for line in text.split('\n'):
        if re.match(r' {0,3}(```|~~~)', line):
            fenced = not fenced
            continue
        heading = re.match(r' {0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$', line)
        if heading and not fenced:
            return heading.group(1)
    return None
