"""
---
title: Reporting a study
summary: >
  What both tracks' studies share when they report: progress while they run,
  mean and spread over seeds, where the numbers came from (command, commit,
  date, machine), and figures in English and Japanese.
---

# Reporting a study

A study is many runs, and its results are only as good as what they say
about themselves. Both tracks' pipelines, [CIFAR-10's](../distillation/pipeline.html)
and the [language model's](../distillation/lm/pipeline.html), report through
this module:

* while they run, [`Progress`](#progress) prints which run of how many is
  training, each run's score when it ends, and an estimate of the time left;
* over seeds, [`mean_std`](#mean-std) gives the mean and the sample standard
  deviation;
* every results file names the [command, the commit and the date](#provenance)
  that made it, and the [machine](#machine);
* figures are written whole or not at all, in a font with Japanese
  characters for the Japanese pages when one is installed.
"""

import platform
import shlex
import statistics
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

from labml_nn.experiments import distributed
from labml_nn.experiments.runs import write_atomic


def say(message: str):
    """
    Print, once: under torchrun only rank 0 prints a study's progress; at
    once, too, when the output goes to a file rather than a terminal.
    """
    if distributed.is_main():
        print(message, flush=True)


class Progress:
    """
    <a id="progress"></a>

    ## Where a study is

    `Progress(runs)` for a study of `runs` runs. Call `start(what)` before
    each run and `done(score, updated)` after it: each prints a line such as
    `[3/7] distilled seed 1` and `distilled seed 1: validation accuracy
    72.40% (3.1 min); 4 runs left, about 12 min`. The estimate is the mean
    time of the runs this command trained, the first (the teacher) left out
    when others have trained; a run reused as it was, whose checkpoint was
    last `updated` before it started, takes no time and is left out too.
    """

    def __init__(self, runs: int):
        self.runs, self.index = runs, 0
        self.what, self.started, self.started_at = '', 0.0, 0.0
        self.trained: List[float] = []

    def start(self, what: str):
        self.index += 1
        self.what, self.started, self.started_at = what, time.perf_counter(), time.time()
        say(f'[{self.index}/{self.runs}] {what}')

    def done(self, score: str, updated: float):
        """
        The run just ended with `score`; its checkpoint was last written at `updated`, a `time.time()`.
        """
        seconds = time.perf_counter() - self.started
        trained = updated >= self.started_at
        if trained:
            self.trained.append(seconds)
        left = self.runs - self.index
        took = f' ({seconds / 60:.1f} min)' if trained else ' (reused)'
        say(f'{self.what}: {score}{took}' + (f'; {left} run{"s" if left > 1 else ""} left{self._estimate(left)}'
                                              if left else ''))

    def _estimate(self, left: int) -> str:
        times = self.trained[1:] or self.trained
        return f', about {statistics.fmean(times) * left / 60:.0f} min' if times else ''


def mean_std(values: List[float]) -> Dict[str, float]:
    """
    <a id="mean-std"></a>

    Mean and sample standard deviation ($0$ for a single value), with the number of values.
    """
    return {'mean': statistics.fmean(values), 'std': statistics.stdev(values) if len(values) > 1 else 0.0,
            'n': len(values)}


def provenance(argv: List[str], module: str) -> Dict[str, Any]:
    """
    <a id="provenance"></a>

    ## Where results come from

    What a reader needs to make the results again: the command (`module`
    run with the arguments `argv`), the commit of the code (`+changes` when
    the working tree differed from it; `None` outside a git repository) and
    the date, in UTC.
    """
    folder = Path(__file__).parent

    def git(*arguments) -> Optional[str]:
        try:
            done = subprocess.run(['git', '-C', str(folder), *arguments], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git('rev-parse', '--short', 'HEAD')
    if commit and git('status', '--porcelain', '--untracked-files=no'):
        commit += '+changes'
    return {'command': shlex.join(['python', '-m', module, *argv]), 'commit': commit,
            'date': time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}


def machine(device: str, threads: int, side_by_side: int = 1) -> str:
    """
    <a id="machine"></a>

    Where the runs trained: the GPU's name, or the CPU's model and each run's
    `threads`; how many runs trained `side_by_side`; and PyTorch's version.
    """
    import torch
    if device.startswith('cuda'):
        where = torch.cuda.get_device_name(device)
    else:
        where = f'{cpu_name()}, {threads} thread{"s" if threads > 1 else ""}'
    if side_by_side > 1:
        where += f' per run, {side_by_side} runs side by side'
    return f'{where}, torch {torch.__version__}'


def cpu_name() -> str:
    """
    The CPU's model, as Linux names it, else the architecture.
    """
    info = Path('/proc/cpuinfo')
    names = [line.split(':', 1)[1].strip() for line in info.read_text().splitlines()
             if line.startswith('model name')] if info.exists() else []
    return names[0] if names else f'{platform.processor() or platform.machine()} CPU'


@contextmanager
def figure(path: Path, font: Optional[str], size=(7, 4.5)) -> Iterator[Any]:
    """
    A matplotlib figure's axes, saved to `path` as PNG, whole or not at
    all, in the font family `font` (matplotlib's default when `None`).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    with plt.rc_context({'font.family': font} if font else {}):
        fig, axes = plt.subplots(figsize=size)
        yield axes
        axes.grid(alpha=0.3)
        fig.tight_layout()
        write_atomic(path, lambda tmp: fig.savefig(tmp, format='png', dpi=120, metadata={'Software': None}))
    plt.close(fig)


# Font families with Japanese characters: Debian's and Ubuntu's first, then macOS's and Windows'
JAPANESE_FONTS = ('Noto Sans CJK JP', 'IPAexGothic', 'IPAGothic', 'TakaoGothic', 'VL Gothic',
                  'Source Han Sans JP', 'Hiragino Sans', 'Yu Gothic', 'MS Gothic')


def japanese_font() -> Optional[str]:
    """
    The first installed font family of `JAPANESE_FONTS`, or `None` when none
    of them is installed.
    """
    from matplotlib import font_manager
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((family for family in JAPANESE_FONTS if family in installed), None)
