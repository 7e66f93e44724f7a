"""
Splitting source files into sections of notes and code.
"""

import textwrap

from labml_nn.literate.split import split_markdown, split_python


def split(source: str) -> list:
    sections, warning = split_python(textwrap.dedent(source).lstrip('\n'))
    assert warning is None
    return sections


def notes(sections: list) -> list:
    return [note.text for section in sections for note in section.notes]


def test_hash_inside_a_string_is_code():
    sections = split('''
        x = "# not a note"
        y = """
        # nor this
        """
        ''')
    assert notes(sections) == []
    assert sections[0].code == [1, 2, 3, 4]


def test_comment_lines_join_and_bare_hash_breaks_paragraphs():
    sections = split('''
        # First line
        # continues.
        #
        # Second paragraph.

        # A separate block.
        x = 1  # a trailing comment stays in the code
        ''')
    assert notes(sections) == ['First line\ncontinues.\n\nSecond paragraph.', 'A separate block.']
    assert sections[0].notes[0].line == 1 and sections[0].notes[1].line == 6
    assert sections[0].code == [7]


def test_comment_after_code_starts_a_section():
    sections = split('''
        a = 1
        # Now b
        b = 2
        ''')
    assert [(notes([s]), s.code) for s in sections] == [([], [1]), (['Now b'], [3])]


def test_docstrings_raw_and_not_raw_keep_their_backslashes():
    sections = split('''
        """
        Module $\\frac{a}{b}$
        """


        def f():
            r"""
            Raw $\\alpha$
            """
            return 1


        class C:
            """Not raw $\\nabla$ on one line"""
        ''')
    assert notes(sections) == ['Module $\\frac{a}{b}$', 'Raw $\\alpha$', 'Not raw $\\nabla$ on one line']
    # Docstrings leave the code; the definitions stay
    assert [s.anchor for s in sections] == ['section-0', 'f', 'C']
    assert sections[1].code == [6, 10] and sections[2].code == [13]
    assert sections[1].notes[0].line == 8


def test_docstring_indentation_is_removed():
    sections = split('''
        def f():
            """First line.

                Indented more.
            Back.
            """
        ''')
    assert notes(sections) == ['First line.\n\n    Indented more.\nBack.']


def test_decorators_belong_to_their_definition():
    sections = split('''
        x = 1


        # About f
        @property
        @other(1)
        def f(self):
            pass
        ''')
    assert sections[1].anchor == 'f'
    assert notes([sections[1]]) == ['About f']
    assert sections[1].code == [5, 6, 7, 8]


def test_nested_definitions_get_qualified_anchors():
    sections = split('''
        class Model:
            def forward(self):
                def inner():
                    pass
                return inner
        ''')
    # Code after a nested definition stays in its section, until a note or a definition
    assert [s.anchor for s in sections] == ['Model', 'Model.forward', 'Model.forward.inner']
    assert sections[-1].code == [3, 4, 5]


def test_main_guard_and_its_comment():
    sections = split('''
        def main():
            pass


        if __name__ == '__main__':
            # Run it
            main()
        ''')
    assert sections[-2].code == [1, 2, 3, 4, 5]
    assert notes([sections[-1]]) == ['Run it'] and sections[-1].code == [7]


def test_tabs():
    sections = split('def f():\n\t"""\n\tTabbed doc\n\t"""\n\t# Step\n\treturn 1\n')
    assert notes(sections) == ['Tabbed doc', 'Step']


def test_empty_file_and_empty_sections():
    assert split('') == []
    assert split('\n\n#\n\n') == []


def test_duplicate_names_get_unique_anchors():
    sections = split('''
        if True:
            def f():
                pass
        else:
            def f():
                pass
        ''')
    assert [s.anchor for s in sections] == ['section-0', 'f', 'f-2']


def test_shebang_is_code():
    assert split('#!/usr/bin/env python\n# Note\nx = 1\n')[0].code == [1]


def test_unparsable_file_is_all_code_with_a_warning():
    sections, warning = split_python('def broken(:\n    # a comment\n    pass\n')
    assert 'cannot parse' in warning
    assert notes(sections) == [] and sections[0].code == [1, 2, 3]


def test_markdown_splits_at_headings_outside_fences():
    sections = split_markdown('# Title\n\nText\n\n```python\n# not a heading\n```\n\n## Next\nMore\n')
    assert [n.text for s in sections for n in s.notes] == [
        '# Title\n\nText\n\n```python\n# not a heading\n```', '## Next\nMore']
    assert sections[1].notes[0].line == 9


def test_docstrings_after_wide_characters():
    # The parser counts columns in bytes; the notes must still be cut right
    sections = split('''
        x = "ünïcödé ∑"


        def f():
            """Größe: $\\sum_i x_i$ — ü"""
            return x


        def g():
            """
            Zweite — ∑
            Zeile ü"""
        ''')
    assert notes(sections) == ['Größe: $\\sum_i x_i$ — ü', 'Zweite — ∑\nZeile ü']
