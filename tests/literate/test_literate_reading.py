"""
The tutorial reads from the home page to the end by following links: a
numbered reading path in each language, whose every link leads to a page of
the site, and at the end of every page the next page of the path and home.
"""

import posixpath
import re
from pathlib import Path

import pytest

import labml_nn
from labml_nn.literate.site import output_path, reading_path
from labml_nn.literate.sources import read_pages

SOURCE = Path(labml_nn.__file__).parent


def resolve(page: str, href: str) -> str:
    return posixpath.normpath(posixpath.join(posixpath.dirname(page), href.split('#')[0]))


def pages(files: dict) -> list:
    return sorted(path for path in files if path.endswith('.html'))


@pytest.mark.parametrize('folder', ['', 'ja/'])
def test_the_home_page_opens_with_the_reading_path(package_site, folder):
    home = package_site[folder + 'index.html'].decode('utf-8')
    notes = home.split('<section class="contents"')[0]
    path = notes[notes.index('<ol>'):notes.index('</ol>\n', notes.index('<ol>'))]
    steps = re.findall(r'^<li>', re.sub(r'<ul>.*?</ul>', '', path, flags=re.S), re.M)
    links = [resolve(folder + 'index.html', href) for href in re.findall(r'<a href="([^"]+)"', path)]
    assert len(steps) == 7 and len(links) >= 13
    # Every link leads to a page of the site, in the page's own language
    assert [link for link in links if link not in package_site] == []
    assert all(link.startswith(folder) for link in links)
    # The study of the teacher's quality is on the path once its page is written, and never a dead link
    written = (SOURCE / 'distillation' / 'cifar10' / 'teacher_quality.md').exists()
    assert (folder + 'distillation/cifar10/teacher_quality.html' in links) == written
    # and the appendix lists the rest, not the path's pages: the shared layer's and each experiment's machinery
    appendix = home.split('<section class="contents"')[1]
    assert 'distillation/loss.html' not in appendix and 'distillation/cifar10/large.html' not in appendix
    assert all(page in appendix for page in ('experiments/runs.html', 'distillation/cifar10/trainer.html',
                                             'distillation/lm/trainer.html'))


@pytest.mark.parametrize('folder', ['', 'ja/'])
def test_the_next_links_walk_the_whole_path(package_site, folder):
    source_pages, _ = read_pages(SOURCE, SOURCE / 'literate' / 'translations')
    path = [folder + output_path(page) for step in reading_path(source_pages) for page in step]
    walked, page = [], folder + 'index.html'
    while True:
        html = package_site[page].decode('utf-8')
        following = re.search(r'<nav class="next-steps">.*?<a rel="next" href="([^"]+)"', html, re.S)
        if not following:
            break
        page = resolve(page, following.group(1))
        walked.append(page)
    assert walked == path and len(path) >= 13


def test_every_page_ends_with_the_next_step_and_home(package_site):
    missing = []
    for page in pages(package_site):
        html = package_site[page].decode('utf-8')
        end = re.search(r'<nav class="next-steps">(.*?)</nav>\n</main>', html, re.S)
        home = ('ja/' if page.startswith('ja/') else '') + 'index.html'
        links = [resolve(page, href) for href in re.findall(r'href="([^"]+)"', end.group(1))] if end else []
        if page != home and home not in links or any(link not in package_site for link in links):
            missing.append(page)
    assert len(pages(package_site)) > 100 and missing == [], missing
