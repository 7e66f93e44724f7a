"""
The site: paths, the home page, translations, determinism and the command line.
"""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

import labml_nn

from labml_nn.literate.__main__ import build_site, main
from labml_nn.literate.site import output_path, reading_order, reading_path
from labml_nn.literate.sources import page_order, read_pages

LOSS = '''\
"""
---
title: The loss
summary: >
  A loss with
  a summary.
---

# The loss

It is $\\frac{T^2}{n}$ times the [large model](../other/thing.html)'s KL.
"""


# Scale by $T^2$; see [the package](index.html)
def loss(x):
    """
    The loss of `x`.
    """
    return x * 2
'''


def write_tree(root: Path, files: dict) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(textwrap.dedent(text), encoding='utf-8')
    return root


@pytest.fixture
def source(tmp_path) -> Path:
    return write_tree(tmp_path / 'src', {
        '__init__.py': '"""\n---\ntitle: Home\nsummary: The home page.\n---\n\nWelcome.\n"""\n',
        'pkg/__init__.py': '"""\n# The package\n\nSee [the loss](loss.html).\n"""\n',
        'pkg/loss.py': LOSS,
        'pkg/readme.md': '# Read me\n\nNotes only, $x$.\n',
        'other/__init__.py': '',
        'other/thing.py': '# A thing\nthing = 1\n',
        'other/data.txt': 'not a page',
        'other/__pycache__/cached.py': 'x = 1',
    })


@pytest.fixture
def translations(tmp_path) -> Path:
    root = write_tree(tmp_path / 'translations', {
        'ja/language.yaml': 'name: 日本語\npages: [__init__.py, pkg/]\nui:\n  source: ソース\n  contents: 目次\n',
    })
    return root


def test_paths():
    assert output_path('a/b.py') == 'a/b.html'
    assert output_path('a/__init__.py') == 'a/index.html'
    assert output_path('a/readme.md') == 'a/readme.html'
    assert output_path('__main__.py') == '__main__.html'


def test_english_pages(source, translations):
    files = build_site(source, translations, 'en').files
    # Pages, and no copies of their sources: each page shows its code
    assert sorted(files) == sorted([
        'literate.css', 'literate.js', 'favicon.svg', 'search-index.js', 'index.html', 'other/index.html',
        'other/thing.html', 'pkg/index.html', 'pkg/loss.html', 'pkg/readme.html'])
    # Every page names its icon, so no browser asks for a missing /favicon.ico
    assert '<link rel="icon" href="../favicon.svg" type="image/svg+xml">' in files['pkg/loss.html'].decode()
    loss = files['pkg/loss.html'].decode()
    assert '<html lang="en">' in loss and '<title>The loss</title>' in loss
    assert '<meta name="description" content="A loss with a summary.">' in loss
    assert '<meta property="og:title" content="The loss">' in loss
    # Breadcrumbs to home and the folder; no repository was given to link the source in
    assert '<a href="../index.html">src</a> / <a href="../pkg/index.html">pkg</a> / <span>loss.py</span>' in loss
    assert '>Source</a>' not in loss
    # Anchors named after definitions, code lines with their own numbers
    assert '<section class="section" id="loss">' in loss
    assert '<span class="line" data-n="16"><span class="k">def</span>' in loss
    assert 'href="../other/thing.html"' in loss and 'href="index.html"' in loss
    # With no reading path, the home page lists every page with its title and summary, by folder
    home = files['index.html'].decode()
    assert '<h2>Pages</h2>' in home
    assert '<a href="pkg/loss.html">The loss</a> <span class="summary">A loss with a summary.</span>' in home
    assert '<h3><a href="pkg/index.html">The package</a></h3>' in home
    assert '<a href="other/thing.html">other/thing.py</a>' in home
    # and every other page ends with a link back to it
    assert loss.endswith('<nav class="next-steps">\n<a class="home" href="../index.html">Home page</a>\n</nav>\n'
                         '</main>\n<script src="../literate.js"></script>\n</body>\n</html>\n')
    # A Markdown file is a page of notes only
    assert '<main class="notes-only">' in files['pkg/readme.html'].decode()


def test_translation_fallback_and_staleness(source, translations):
    (translations / 'ja' / 'pkg').mkdir()
    (translations / 'ja' / 'pkg' / 'loss.py.yaml').write_text(yaml.safe_dump([
        {'key': 'title', 'en': 'The loss', 'ja': '損失'},
        {'key': 'section-0/1', 'en': 'An older English text', 'ja': '古い翻訳'},
        {'key': 'loss/1', 'en': 'Scale by $T^2$; see [the package](index.html)',
         'ja': '$T^2$ 倍します。[パッケージ](index.html) と [大きなモデル](../other/thing.html) を参照。'},
    ], allow_unicode=True), encoding='utf-8')
    built = build_site(source, translations)
    files = built.files
    assert 'ja/pkg/loss.html' in files and 'ja/index.html' in files and 'ja/other/thing.html' not in files
    page = files['ja/pkg/loss.html'].decode()
    assert '<html lang="ja">' in page and '<title>損失</title>' in page
    # The translation keeps its math and links; an untranslated page's link goes to English
    assert '倍します' in page and '<math' in page.split('倍します')[0].rsplit('<p>', 1)[1]
    assert 'href="index.html"' in page and 'href="../../other/thing.html"' in page
    # Stale and missing blocks show in English, marked as English
    assert '<div lang="en">\n<h1>The loss</h1>' in page and '古い翻訳' not in page
    assert any('stale block section-0/1' in line for line in built.untranslated)
    assert any("missing block loss/2" in line for line in built.untranslated)
    assert any('missing block summary' in line for line in built.untranslated)
    # The twins point at each other
    assert '<link rel="alternate" hreflang="en" href="../../pkg/loss.html">' in page
    assert '<a href="../ja/pkg/loss.html" hreflang="ja" lang="ja">日本語</a>' in files['pkg/loss.html'].decode()
    # The Japanese home lists untranslated pages, linked to their English versions
    assert 'href="../other/thing.html"' in files['ja/index.html'].decode()


def test_update_translations_writes_skeletons(source, translations, capsys):
    assert main([str(source), '--translations', str(translations), '--lang', 'ja', '--update-translations']) == 0
    listed = capsys.readouterr().out
    assert 'missing block loss/1' in listed
    entries = yaml.safe_load((translations / 'ja' / 'pkg' / 'loss.py.yaml').read_text(encoding='utf-8'))
    assert [e['key'] for e in entries] == ['title', 'summary', 'section-0/1', 'loss/1', 'loss/2']
    assert all(e['ja'] == '' for e in entries)
    # A translator fills in one entry; then its English changes in the source
    entries[3]['ja'] = '翻訳'
    (translations / 'ja' / 'pkg' / 'loss.py.yaml').write_text(yaml.safe_dump(entries, allow_unicode=True), encoding='utf-8')
    loss = source / 'pkg' / 'loss.py'
    loss.write_text(loss.read_text().replace('# Scale by', '# Multiply by'), encoding='utf-8')
    main([str(source), '--translations', str(translations), '--lang', 'ja', '--update-translations'])
    assert 'stale block loss/1' in capsys.readouterr().out
    entry = yaml.safe_load((translations / 'ja' / 'pkg' / 'loss.py.yaml').read_text(encoding='utf-8'))[3]
    assert entry == {'key': 'loss/1', 'en': 'Multiply by $T^2$; see [the package](index.html)',
                     'old_en': 'Scale by $T^2$; see [the package](index.html)', 'ja': '翻訳'}


def test_build_is_deterministic_and_check_passes(source, translations, tmp_path):
    arguments = [str(source), '--translations', str(translations)]
    assert main(arguments + ['--out', str(tmp_path / 'a')]) == 0
    assert main(arguments + ['--out', str(tmp_path / 'b')]) == 0
    first = {p.relative_to(tmp_path / 'a'): p.read_bytes() for p in (tmp_path / 'a').rglob('*') if p.is_file()}
    second = {p.relative_to(tmp_path / 'b'): p.read_bytes() for p in (tmp_path / 'b').rglob('*') if p.is_file()}
    assert first == second and len(first) > 10
    # The check compares, and passes but for the translations nobody wrote
    main([str(source), '--translations', str(translations), '--lang', 'ja', '--update-translations'])
    for file in (translations / 'ja').rglob('*.*.yaml'):
        entries = yaml.safe_load(file.read_text(encoding='utf-8'))
        for entry in entries:
            entry['ja'] = '訳: ' + entry['en']
        file.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding='utf-8')
    assert main(arguments + ['--out', str(tmp_path / 'a')]) == 0
    assert main(arguments + ['--out', str(tmp_path / 'a'), '--check']) == 0


def test_check_lists_differences_and_changes_nothing(source, translations, tmp_path, capsys):
    out = tmp_path / 'out'
    arguments = [str(source), '--translations', str(translations), '--lang', 'en', '--out', str(out)]
    assert main(arguments) == 0
    assert main(arguments + ['--check']) == 0
    (out / 'pkg' / 'loss.html').write_text('edited')
    (out / 'pkg' / 'notes.txt').write_text('the user keeps a file here')
    (source / 'pkg' / 'readme.md').unlink()
    before = {p: p.read_bytes() for p in out.rglob('*') if p.is_file()}
    assert main(arguments + ['--check']) == 1
    message = capsys.readouterr().err
    assert 'out of date: pkg/loss.html' in message
    # The message names the command that rewrites this folder, not the repository's `make docs`
    assert f'run `python -m labml_nn.literate {source} --translations {translations} --lang en --out {out}`' \
        in message
    assert 'not built from any source: pkg/readme.html' in message
    # The user's own file is not the renderer's business, nor is its manifest
    assert 'notes.txt' not in message and '.literate-manifest' not in message
    assert before == {p: p.read_bytes() for p in out.rglob('*') if p.is_file()}
    # Building again brings the folder up to date, removing the page of the deleted source
    assert main(arguments) == 0 and main(arguments + ['--check']) == 0
    assert not (out / 'pkg' / 'readme.html').exists()
    assert (out / 'pkg' / 'notes.txt').read_text() == 'the user keeps a file here'


def test_check_fails_on_missing_translations(source, translations, tmp_path, capsys):
    arguments = [str(source), '--translations', str(translations), '--out', str(tmp_path / 'out')]
    assert main(arguments) == 0
    assert main(arguments + ['--check']) == 1
    assert 'ja/pkg/loss.py.yaml: missing block title' in capsys.readouterr().err


def test_cli_reports_non_utf8_without_traceback(source, tmp_path):
    (source / 'pkg' / 'latin1.py').write_bytes('# caf\xe9\n'.encode('latin-1'))
    result = subprocess.run([sys.executable, '-m', 'labml_nn.literate', str(source), '--out', str(tmp_path / 'out')],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith('error: ') and 'latin1.py: not UTF-8' in result.stderr
    assert 'Traceback' not in result.stderr


def test_unparsable_file_still_renders_with_a_warning(source, tmp_path, capsys):
    (source / 'pkg' / 'broken.py').write_text('def broken(:\n    pass\n')
    assert main([str(source), '--lang', 'en', '--out', str(tmp_path / 'out')]) == 0
    assert 'broken.py: cannot parse it' in capsys.readouterr().err
    assert 'data-n="2"' in (tmp_path / 'out' / 'pkg' / 'broken.html').read_text()


def test_images_beside_the_sources_are_copied_and_linked(source, translations):
    png = b'\x89PNG\r\n\x1a\n' + bytes(16)
    (source / 'pkg' / 'plot.png').write_bytes(png)
    (source / 'pkg' / 'readme.md').write_text('# Read me\n\n![a plot](plot.png)\n', encoding='utf-8')
    built = build_site(source, translations)
    files = built.files
    assert files['pkg/plot.png'] == png
    assert '<img src="plot.png" alt="a plot"' in files['pkg/readme.html'].decode()
    # The Japanese page shows the one English copy of the image
    assert '<img src="../../pkg/plot.png" alt="a plot"' in files['ja/pkg/readme.html'].decode()
    assert not any('plot.png' in warning for warning in built.warnings)


def test_update_translations_of_a_subfolder_touches_only_its_pages(source, translations):
    # The source is a package (`src/__init__.py`); its subpackage `pkg` is built alone
    home = [{'key': 'title', 'en': 'Home', 'ja': 'ホーム'},
            {'key': 'summary', 'en': 'The home page.', 'ja': 'ホームページ。'},
            {'key': 'section-0/1', 'en': 'Welcome.', 'ja': 'ようこそ。'}]
    home_file = translations / 'ja' / '__init__.py.yaml'
    home_file.write_text(yaml.safe_dump(home, allow_unicode=True), encoding='utf-8')
    before = home_file.read_bytes()
    assert main([str(source / 'pkg'), '--translations', str(translations), '--lang', 'ja',
                 '--update-translations']) == 0
    # The top page's file is untouched; `pkg/__init__.py` has its own file
    assert home_file.read_bytes() == before
    package = yaml.safe_load((translations / 'ja' / 'pkg' / '__init__.py.yaml').read_text(encoding='utf-8'))
    assert [entry['key'] for entry in package] == ['section-0/1']
    assert 'The notes of pkg/loss.py' in (translations / 'ja' / 'pkg' / 'loss.py.yaml').read_text(encoding='utf-8')


def test_update_translations_keeps_title_and_summary(source, translations):
    entries = [{'key': 'title', 'en': 'Home', 'ja': 'ホーム'},
               {'key': 'summary', 'en': 'The home page.', 'ja': 'ホームページ。'},
               {'key': 'section-0/1', 'en': 'Welcome.', 'ja': 'ようこそ。'}]
    home_file = translations / 'ja' / '__init__.py.yaml'
    home_file.write_text(yaml.safe_dump(entries, allow_unicode=True), encoding='utf-8')
    # The front matter is gone for a while; its translations stay
    (source / '__init__.py').write_text('"""\nWelcome.\n"""\n', encoding='utf-8')
    assert main([str(source), '--translations', str(translations), '--lang', 'ja', '--update-translations']) == 0
    assert yaml.safe_load(home_file.read_text(encoding='utf-8')) == entries


def test_pages_link_to_their_source_in_the_repository(source, translations, tmp_path):
    out = tmp_path / 'out'
    assert main([str(source), '--lang', 'en', '--out', str(out),
                 '--repository', 'https://example.org/project/blob/main/src']) == 0
    loss = (out / 'pkg' / 'loss.html').read_text(encoding='utf-8')
    assert '<a href="https://example.org/project/blob/main/src/pkg/loss.py">Source</a>' in loss


def test_the_home_page_lists_titles_found_before_rendering(source, translations):
    # A title that only a translation gives shows on the home page, which is
    # rendered before the page itself (the home page comes first in reading order)
    (translations / 'ja' / 'pkg').mkdir()
    (translations / 'ja' / 'pkg' / 'loss.py.yaml').write_text(yaml.safe_dump(
        [{'key': 'title', 'en': 'The loss', 'ja': '損失'}], allow_unicode=True), encoding='utf-8')
    files = build_site(source, translations).files
    assert '<a href="pkg/loss.html">損失</a>' in files['ja/index.html'].decode()
    assert '<a href="pkg/loss.html">The loss</a>' in files['index.html'].decode()


def test_pages_come_in_the_order_the_index_pages_link_them(tmp_path):
    files = {
        '__init__.py': '"""\n# Home\n\n* [The package](pkg/index.html)\n"""\n',
        'a.md': '# A\n',
        'other/__init__.py': '',
        'pkg/__init__.py': '"""\n* [The loss](loss.html#top) first\n* [The models](models.html)\n* [Home](../index.html)\n'
                           '* [Elsewhere](https://example.org/x.html)\n\n```\n[not a link](aaa.html)\n```\n"""\n',
        'pkg/aaa.py': '', 'pkg/loss.py': '', 'pkg/models.py': '', 'pkg/zzz.py': '',
    }
    for path, text in files.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text, encoding='utf-8')
    pages, _ = read_pages(tmp_path)
    assert list(pages) == sorted(pages, key=page_order)
    # A linked index page brings its folder; pages no index links follow their folder's, by name
    assert reading_order(pages) == ['__init__.py', 'pkg/__init__.py', 'pkg/loss.py', 'pkg/models.py',
                                    'pkg/aaa.py', 'pkg/zzz.py', 'a.md', 'other/__init__.py']


def test_two_pages_with_one_title_are_a_warning(source, translations, capsys, tmp_path):
    (source / 'pkg' / 'readme.md').write_text('---\ntitle: The package\n---\n\n# Read me\n', encoding='utf-8')
    assert main([str(source), '--lang', 'en', '--out', str(tmp_path / 'out')]) == 0
    assert ("warning: pkg/__init__.py and pkg/readme.md are both titled 'The package' (en); "
            "give one a title of its own in its front matter") in capsys.readouterr().err


def test_this_packages_home_page_reads_in_order_with_a_title_each():
    source = Path(labml_nn.__file__).parent
    pages, _ = read_pages(source, source / 'literate' / 'translations')
    pages = {path: pages[path] for path in reading_order(pages)}
    titles = [page.meta.get('title') or page.heading or path for path, page in pages.items()]
    assert sorted(title for title in titles if titles.count(title) > 1) == []
    # The reading path: why, the loss, the models, the step, the experiment, the studies, the language model
    cifar10 = 'distillation/cifar10/'
    studies = [cifar10 + 'omitted_class.md', cifar10 + 'temperature.md', cifar10 + 'weight.md']
    if (source / 'distillation' / 'cifar10' / 'teacher_quality.md').exists():
        studies.append(cifar10 + 'teacher_quality.md')
    assert reading_path(pages) == [
        ['distillation/__init__.py'], ['distillation/loss.py'],
        [cifar10 + '__init__.py', cifar10 + 'large.py', cifar10 + 'small.py'],
        [cifar10 + 'distill.py'], [cifar10 + 'pipeline.py', cifar10 + 'readme.md'], studies,
        ['distillation/lm/__init__.py', 'distillation/lm/distill.py', 'distillation/lm/studies.md']]
    # and the appendix ends with the renderer
    order = list(pages)
    assert all(path.startswith('literate/') for path in order[order.index('literate/__init__.py'):])


HOME_WITH_A_PATH = '''"""
# Home

1. [Why](pkg/index.html): the idea.
2. The two: [the loss](pkg/loss.html) and
   [the thing](other/thing.html#a-section).
3. What we found:
   * [in the notes](pkg/readme.html): what they say;
   * [a page still to write](pkg/draft.html): not there yet.
4. [A step still to write](pkg/later.html), not there either.

Other pages follow, and [the loss](pkg/loss.html) is not linked twice.
"""
'''


def test_the_reading_path_is_the_home_pages_numbered_list(source, translations, capsys, tmp_path):
    # Issue 30: a numbered path through the tutorial, every page ending with the next step and home
    (source / '__init__.py').write_text(HOME_WITH_A_PATH, encoding='utf-8')
    (source / 'pkg' / 'extra.py').write_text('# More\nextra = 1\n', encoding='utf-8')
    pages, _ = read_pages(source)
    assert reading_path(pages) == [['pkg/__init__.py'], ['pkg/loss.py', 'other/thing.py'], ['pkg/readme.md']]
    # A Japanese home page, with the same links
    home = HOME_WITH_A_PATH.split('"""')[1].strip('\n')
    japanese = (home.replace('the idea', '考え方').replace('what they say', '注釈の内容')
                .replace('not there yet', 'まだない'))
    with open(translations / 'ja' / 'language.yaml', 'a', encoding='utf-8') as language:
        language.write('  home: トップページ\n')
    (translations / 'ja' / '__init__.py.yaml').write_text(yaml.safe_dump(
        [{'key': 'section-0/1', 'en': home, 'ja': japanese}], allow_unicode=True), encoding='utf-8')
    assert main([str(source), '--translations', str(translations), '--out', str(tmp_path / 'site')]) == 0
    # The steps whose pages are not there are left out, and no link leads nowhere
    assert 'no page' not in capsys.readouterr().err
    site = tmp_path / 'site'
    for folder, idea, said in (('', 'the idea', 'what they say'), ('ja/', '考え方', '注釈の内容')):
        front = (site / folder / 'index.html').read_text(encoding='utf-8')
        assert idea in front and said in front
        assert 'draft.html' not in front and 'later.html' not in front and '4.' not in front
        # The appendix: the pages off the path, by folder
        appendix = front.split('<section class="contents"', 1)[1]
        assert 'pkg/extra.html' in appendix and 'pkg/loss.html' not in appendix and 'other/thing.html' not in appendix
    # Each page of the path links the next one and home; the last, and a page off the path, only home
    nav = {path: (site / path).read_text(encoding='utf-8').split('<nav class="next-steps">')[1].split('</nav>')[0]
           for path in ('index.html', 'pkg/index.html', 'pkg/loss.html', 'other/thing.html', 'pkg/readme.html',
                        'pkg/extra.html', 'ja/pkg/loss.html')}
    assert 'href="pkg/index.html"' in nav['index.html'] and 'class="home"' not in nav['index.html']
    assert 'rel="next" href="loss.html">' in nav['pkg/index.html']
    assert 'rel="next" href="../other/thing.html">' in nav['pkg/loss.html']
    assert 'rel="next" href="../pkg/readme.html">' in nav['other/thing.html']
    assert 'rel="next"' not in nav['pkg/readme.html'] and 'rel="next"' not in nav['pkg/extra.html']
    assert all('class="home" href="../index.html"' in links for path, links in nav.items() if path != 'index.html')
    # A Japanese page leads to the next Japanese page where there is one, or else to the English one
    assert 'rel="next" href="../../other/thing.html">' in nav['ja/pkg/loss.html']
    assert 'href="../index.html">トップページ' in nav['ja/pkg/loss.html']


def test_make_docs_takes_the_repository():
    # Issue 23, item 11: `make docs REPOSITORY=...` links every page to its source, and the check builds the same
    make = shutil.which('make')
    if make is None:
        pytest.skip('make is not installed')
    address = 'https://example.org/project/blob/main/labml_nn/'
    ran = subprocess.run([make, '-n', 'docs', 'docs-check', f'REPOSITORY={address}'], capture_output=True, text=True,
                         cwd=Path(__file__).parents[2], check=True)
    commands = [line for line in ran.stdout.splitlines() if '-m labml_nn.literate' in line]
    assert len(commands) == 2 and all(line.endswith(f'--repository {address}') for line in commands), commands
