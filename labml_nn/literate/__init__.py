"""
---
title: The literate renderer
summary: >
  How the source files of labml_nn become the pages you are reading: notes
  beside code, math typeset at build time, and translations that know when
  they are out of date.
---

# The literate renderer

In this project the source code is the tutorial. Comments and docstrings are
written as Markdown, with math, and this package turns each source file into a
page: the notes on the left, the code they explain on the right.

```sh
python -m labml_nn.literate --out docs          # build the site
python -m labml_nn.literate --out docs --check  # is it up to date?
```

[The command line](__main__.html) runs a pipeline; each stage is a page of its
own, and each uses only the stages before it:

1. [Reading the sources](sources.html): find the files, read each one, and take
   its title and summary from its front matter;
2. [splitting](split.html) each into sections of notes and code, with Python's
   own tokenizer and parser;
3. rendering the [notes](notes.html) as HTML with typeset math, and the
   [code](code.html) as highlighted lines with their numbers;
4. [a page](page.html) from those parts, in two columns;
5. [the site](site.html): what every page is called in every language, then
   every page, the home page listing the others in reading order, and the
   [search index](search.html);
6. [the output folder](output.html), written or checked, without touching a
   file the renderer did not write.

[Translations](translate.html) come in at the site: each notes block is shown
in the page's language where a translator has written it. One page is written
by the renderer itself: [the results page](results.html), from the committed
`results/*.json` files, with [the words](measures.html) that name what they
measured.

The pages need nothing from the network: the style sheet and the small script
that highlights a name where it is used are in the output folder, and the math
is MathML that the browser draws itself.
"""


class LiterateError(Exception):
    """
    An error in the input that the author must fix, with a message that names
    the file, or the folder or option, and the fix. The command line prints it
    without a traceback and exits with status 2.
    """
