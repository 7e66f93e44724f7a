"""
No page teaches with talk of the project's own work: no issue, budget or
target of the work, no commit hash (the results page, which records how each
file was made, excepted).
"""

import pytest

from prose import project_talk

PAGE = '''<html><head><title>issue 5</title></head><body>
<main><section class="section"><div class="notes">
<p>This study fits the issue's budget and was meant to take 45 minutes, at commit <code>fe70e65</code>;
Both classes reach the targets set for this study. 予算の範囲で。</p>
<pre class="highlight"><code>git checkout 79eb837  # an issue in a code block</code></pre>
<p>A tissue, a discussion, the target class, the data's fingerprint <code>dcb608b59349ec9d</code>, 2.5e-05.</p>
</div><div class="code"><pre><span class="line">issue = budget = "abc1234"</span></pre></div></section>
</main></body></html>'''


def test_the_checker_finds_project_talk_in_notes_only():
    assert sorted(project_talk(PAGE)) == sorted(['issue', 'budget', 'meant to take', 'the targets set', '予算',
                                                 'fe70e65'])


# The results page records how each file was made, commits included: the one page left out
RECORD = 'results.html'


@pytest.mark.parametrize('folder', ['', 'ja/'])
def test_no_project_talk_on_any_page_but_the_results_page(package_site, folder):
    checked = [page for page in package_site if page.endswith('.html') and page.startswith(folder)
               and not page.startswith('ja/', len(folder)) and page[len(folder):] != RECORD]
    found = {page: project_talk(package_site[page].decode('utf-8')) for page in checked}
    assert len(checked) >= 50 and {page: words for page, words in found.items() if words} == {}
