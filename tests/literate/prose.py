"""
Project talk in the prose of the pages: words about the work on this project
("issue", "budget", "the targets set for this study", "meant to take 45
minutes") and commit hashes, which belong to the history of the repository
and the results page, not to a tutorial.

`project_talk(html)` lists what a page's notes say of it; the code column and
code blocks are left out, since code may name anything. Run this file on a
built site to list every page that has some:

    python tests/literate/prose.py SITE
"""

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

# Words about the project's own work, in English and Japanese
TALK = re.compile(r"\b(issues?|budgets?|sessions?)\b|\btargets? (?:set )?for this\b|\bthe targets set\b"
                  r"|\bmeant to take\b|イシュー|予算|セッション", re.IGNORECASE)

# A commit: 7 to 12 hexadecimal digits with a letter and a digit among them, or all 40
COMMIT = re.compile(r'\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)(?:[0-9a-f]{7,12}|[0-9a-f]{40})\b')

# The elements whose text is not read
VOID = {'area', 'base', 'br', 'col', 'embed', 'hr', 'img', 'input', 'link', 'meta', 'source', 'track', 'wbr'}


class _Notes(HTMLParser):
    """
    The text of a page's notes and of the home page's list of pages, without
    the code column and code blocks: `prose` as the reader reads it, and
    `code`, the inline code among it, where a commit is usually written.
    """

    def __init__(self):
        super().__init__()
        self.skipped = [True]
        self.inline = [False]
        self.prose, self.code = [], []

    def handle_starttag(self, tag, attributes):
        if tag in VOID:
            return
        classes = (dict(attributes).get('class') or '').split()
        skipped = self.skipped[-1]
        if 'notes' in classes or 'contents' in classes:
            skipped = False
        if tag in ('pre', 'script', 'style') or 'code' in classes:
            skipped = True
        self.skipped.append(skipped)
        self.inline.append(self.inline[-1] or tag == 'code')

    def handle_endtag(self, tag):
        if tag not in VOID and len(self.skipped) > 1:
            self.skipped.pop()
            self.inline.pop()

    def handle_data(self, data):
        if not self.skipped[-1]:
            (self.code if self.inline[-1] else self.prose).append(data)


def project_talk(html: str) -> list:
    """
    The words about the project's work in a page's notes, and the commits
    in its notes and their inline code.
    """
    notes = _Notes()
    notes.feed(html)
    prose, code = ' '.join(notes.prose), ' '.join(notes.code)
    return [m.group(0) for m in TALK.finditer(prose)] + [m.group(0) for m in COMMIT.finditer(prose + ' ' + code)]


def main(site: Path) -> None:
    for page in sorted(site.rglob('*.html')):
        found = project_talk(page.read_text(encoding='utf-8'))
        if found:
            print(f'{page.relative_to(site)}: {", ".join(sorted(set(found)))}')


if __name__ == '__main__':
    main(Path(sys.argv[1]))
