"""
Reading the sources: which files are pages, UTF-8, line endings and front matter.
"""

import pytest

from labml_nn.literate import LiterateError
from labml_nn.literate.sources import find_sources, read_page, read_source
from labml_nn.literate.split import first_heading, front_matter


def test_pages_are_found_in_reading_order(tmp_path):
    for path in ('b/z.py', 'b/__init__.py', 'a.md', '__init__.py', 'b/__pycache__/cached.py', '.hidden/x.py',
                 'translations/ja/x.py', 'b/data.txt', 'b/plot.png'):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text('')
    assert find_sources(tmp_path, skip=tmp_path / 'translations') == ['__init__.py', 'a.md', 'b/__init__.py', 'b/z.py']
    assert find_sources(tmp_path, suffixes=('.png',)) == ['b/plot.png']


def test_front_matter_with_folded_summary():
    meta, body = front_matter('---\ntitle: The loss\nsummary: >\n  A long\n  summary.\n---\n\n# Heading\n', 'f')
    assert meta == {'title': 'The loss', 'summary': 'A long summary.'}
    assert body == '# Heading\n'


def test_no_front_matter():
    assert front_matter('# Just a heading\n', 'f') == ({}, '# Just a heading\n')


def test_first_heading_outside_fences():
    assert first_heading('Some text\n\n## The *title* ##\n') == 'The *title*'
    assert first_heading('```sh\n# a comment\n```\n# Title\n') == 'Title'
    assert first_heading('No heading\n#hashtag') is None


def test_bad_front_matter_names_the_file():
    with pytest.raises(LiterateError, match='loss.py:3: the front matter is not valid YAML'):
        front_matter('---\ntitle: [unclosed\n---\n', 'loss.py:3')


def test_a_page_takes_its_front_matter_off_its_first_notes(tmp_path):
    (tmp_path / 'loss.py').write_text('"""\n---\ntitle: The loss\n---\n\n# Heading\n"""\nx = 1\n')
    page, warning = read_page(tmp_path, 'loss.py')
    assert warning is None and page.meta == {'title': 'The loss'}
    assert page.sections[0].notes[0].text == '# Heading' and page.sections[0].notes[0].line == 6
    (tmp_path / 'only.py').write_text('"""\n---\ntitle: Only front matter\n---\n"""\n')
    assert read_page(tmp_path, 'only.py')[0].sections == []


def test_non_utf8_is_a_clear_error(tmp_path):
    path = tmp_path / 'latin1.py'
    path.write_bytes('# caf\xe9\n'.encode('latin-1'))
    with pytest.raises(LiterateError, match=r'latin1\.py: not UTF-8 .*0xe9'):
        read_source(path)


def test_crlf_line_endings(tmp_path):
    path = tmp_path / 'windows.py'
    path.write_bytes(b'# Note\r\nx = 1\r\n')
    assert read_source(path) == '# Note\nx = 1\n'
