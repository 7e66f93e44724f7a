"""
---
title: Writing a page
summary: >
  One HTML page from rendered notes and highlighted code: the head with its
  title, description and language links, breadcrumbs, and a row per section.
---

# Writing a page

The page is plain HTML with one style sheet, one small script and an icon, all
shipped in the output folder, so it reads the same from a web server and from a folder
on disk, and asks the network for nothing.

Each section is a row: notes on the left, code on the right. On a narrow screen
the style sheet stacks them, notes first.
"""

from dataclasses import dataclass, field
from html import escape
from typing import Optional


@dataclass
class PageParts:
    """
    Everything a page shows, already rendered to HTML where it is HTML.

    * `root` leads from the page to the top of the output folder, like `../../`
    * `crumbs` are the parent folders and the page itself as `(label, link)`;
      the link is `None` where there is no page to go to
    * `alternates` are the page in every language as `(language, link, name)`
    * `sections` are `(anchor, notes, code)`, each already HTML
    * `source_link` leads to the source file in its repository, if one is known
    """
    lang: str
    title: str
    summary: str
    root: str
    crumbs: list
    source_link: Optional[str]
    source_label: str
    alternates: list = field(default_factory=list)
    sections: list = field(default_factory=list)
    notes_only: bool = False
    after: str = ''


def render_page(parts: PageParts) -> str:
    """
    The whole page as a string; the same parts always give the same bytes.
    """
    sections = '\n'.join(_section(*section) for section in parts.sections)
    layout = ' class="notes-only"' if parts.notes_only else ''
    return (f'<!DOCTYPE html>\n<html lang="{parts.lang}">\n<head>\n{_head(parts)}\n</head>\n<body>\n'
            f'{_header(parts)}\n<main{layout}>\n{sections}\n{parts.after}</main>\n'
            f'<script src="{parts.root}literate.js"></script>\n</body>\n</html>\n')


def _head(parts: PageParts) -> str:
    title, summary = escape(parts.title), escape(parts.summary)
    lines = [
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        '<meta name="color-scheme" content="light dark">',
        f'<title>{title}</title>',
    ]
    # The summary is what search engines and link previews show under the title
    if summary:
        lines.append(f'<meta name="description" content="{summary}">')
    lines += [
        '<meta property="og:type" content="article">',
        f'<meta property="og:title" content="{title}">',
    ]
    if summary:
        lines.append(f'<meta property="og:description" content="{summary}">')
    lines.append(f'<meta property="og:locale" content="{escape(parts.lang)}">')
    # Each translation of the page, itself included, as search engines expect
    for lang, link, _ in parts.alternates:
        lines.append(f'<link rel="alternate" hreflang="{lang}" href="{escape(link)}">')
    lines.append(f'<link rel="icon" href="{parts.root}favicon.svg" type="image/svg+xml">')
    lines.append(f'<link rel="stylesheet" href="{parts.root}literate.css">')
    return '\n'.join(lines)


def _header(parts: PageParts) -> str:
    crumbs = []
    for label, link in parts.crumbs:
        label = escape(label)
        crumbs.append(f'<a href="{escape(link)}">{label}</a>' if link else f'<span>{label}</span>')
    links = []
    if parts.source_link:
        links.append(f'<a href="{escape(parts.source_link)}">{escape(parts.source_label)}</a>')
    for lang, link, name in parts.alternates:
        if lang != parts.lang:
            links.append(f'<a href="{escape(link)}" hreflang="{lang}" lang="{lang}">{escape(name)}</a>')
    return (f'<header class="bar">\n<nav class="crumbs">{" / ".join(crumbs)}</nav>\n'
            f'<nav class="links">{" ".join(links)}</nav>\n</header>')


def _section(anchor: str, notes: str, code: str) -> str:
    return (f'<section class="section" id="{escape(anchor)}">\n'
            f'<div class="notes"><a class="anchor" href="#{escape(anchor)}" aria-label="link to this section">#</a>\n'
            f'{notes}</div>\n<div class="code">{code}</div>\n</section>')
