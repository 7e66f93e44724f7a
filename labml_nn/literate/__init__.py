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

It is built in layers, each a page of its own:

1. [Splitting](split.html) a source file into sections of notes and code,
   with Python's own tokenizer and parser.
2. Rendering them: [notes](notes.html) become HTML with typeset math, and
   [code](code.html) becomes highlighted lines with their numbers.
3. [Writing a page](page.html) from those parts, in two columns.
4. [Building the site](site.html): every page in every language, and the home page.
5. [Writing the output folder](output.html), or checking it, without touching
   a file the renderer did not write.

[Translations](translate.html) come in when the site is built, and
[the command line](__main__.html) ties it all together:

```sh
python -m labml_nn.literate --out docs          # build the site
python -m labml_nn.literate --out docs --check  # is it up to date?
```

The pages need nothing from the network: the style sheet and the small script
that highlights a name where it is used are in the output folder, and the math
is MathML that the browser draws itself.
"""
