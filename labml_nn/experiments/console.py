"""
---
title: What a command prints
summary: >
  labml's progress lines, made readable wherever the output goes: redrawn in
  place on a terminal, plain lines in a file, and each of labml's warnings
  once per command.
---

# What a command prints

labml draws its progress (the epoch's steps, the loss, the time left) as
one line that it redraws in place with a carriage return and colours it
with terminal escape codes. On a terminal that is what a reader wants; in a
file (`python -m ... > run.log`, a batch job, CI) it is a log full of
`\\r` and `\\x1b[...m`, where each redraw is one more line. So both trainers
call [`readable_output`](#readable-output) before a run starts, and labml
then prints

* on a terminal, as before;
* elsewhere, only finished lines, as plain text: one line per epoch, or
  per measured step, and no escape codes;

and, in both cases, each of its warnings once per command: outside a git
repository labml warns at every run that it cannot record the commit, which
a study of seven runs printed seven times.
"""

import sys
from typing import List, Optional, Set, Tuple, Union

from labml.internal.logger import logger_singleton
from labml.internal.logger.destinations import Destination

# A part of a labml line: its text, or its text and its style
Part = Union[str, Tuple[str, object]]


class ReadableDestination(Destination):
    """
    Where labml's lines go: to `screen`, labml's own terminal destination,
    on a terminal; as plain lines otherwise. Warnings already printed are
    left out.
    """

    def __init__(self, screen: Optional[Destination]):
        self.screen = screen
        self.warned: Set[str] = set()
        # The line being redrawn, printed once labml ends it
        self.pending = ''

    def log(self, parts: List[Part], *, is_new_line: bool, is_reset: bool):
        text = ''.join(part if isinstance(part, str) else part[0] for part in parts)
        if 'LABML WARNING' in text:
            if text in self.warned:
                return
            self.warned.add(text)
        if self.screen is not None:
            self.screen.log(parts, is_new_line=is_new_line, is_reset=is_reset)
            return
        # A line redrawn in place is printed only once it is ended, as it was last drawn
        text = ' '.join(text.split()) or self.pending
        if not is_new_line:
            self.pending = text
        elif text:
            print(text, flush=True)
            self.pending = ''


def readable_output():
    """
    <a id="readable-output"></a>

    Route labml's output through `ReadableDestination`, once per process.
    """
    logger = logger_singleton()
    destinations = logger._Logger__destinations
    if any(isinstance(d, ReadableDestination) for d in destinations):
        return
    screen = destinations[0] if sys.stdout.isatty() else None
    logger._Logger__destinations = [ReadableDestination(screen)]
