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
about themselves. Both tracks' pipelines, [CIFAR-10's](../distillation/cifar10/pipeline.html)
and the [language model's](../distillation/lm/pipeline.html), report through
this module:

* while they run, [`Progress`](#progress) prints which run of how many is
  training, each run's score when it ends, and an estimate of the time left;
* over seeds, [`mean_std`](#mean-std) gives the mean and the sample standard
  deviation;
* every results file names the [command, the commit and the date](#provenance)
  that made it, and the [machine](#machine);
* [figures](#figure) are drawn to be read on a phone, with their legend
  where it covers nothing, and written whole or not at all, in a font with
  Japanese characters for the Japanese pages when one is installed.
"""

import platform
import shlex
import statistics
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional

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


# Figures are drawn to be read on a phone, where a page shows them about 360 px
# wide: text of $p$ points on a figure $w$ inches wide is then
# $p \cdot 360 / (72 w)$ px, 13 px for 13 points on 5 inches, where
# matplotlib's default, 10 points on 7 inches, would be 7 px. On a desktop page
# they are 400 to 550 px wide.
FIGURE_WIDTH = 5
# 900 pixels across: sharp where a CSS pixel is two or three of the screen's
FIGURE_DPI = 180
FIGURE_STYLE = {'font.size': 13, 'lines.linewidth': 2, 'legend.frameon': False,
                'axes.grid': True, 'grid.alpha': 0.3, 'axes.axisbelow': True}


@contextmanager
def figure(path: Path, font: Optional[str], height: float = 4.6) -> Iterator[Any]:
    """
    ## Figures

    A matplotlib figure's axes, `FIGURE_WIDTH` inches wide and `height`
    tall, saved to `path` as PNG, whole or not at all, in the font family
    `font` (matplotlib's default when `None`). Each axis has at most six
    labelled ticks, at steps of 1, 2 or 5 times a power of ten, unless the
    plot sets its own; a grid behind the plot; and the labelled lines get
    [a legend above the axes](#legend-above).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
    with plt.rc_context(FIGURE_STYLE | ({'font.family': font} if font else {})):
        fig, axes = plt.subplots(figsize=(FIGURE_WIDTH, height), dpi=FIGURE_DPI, layout='constrained')
        try:
            for axis in (axes.xaxis, axes.yaxis):
                axis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 5, 10]))
            yield axes
            legend_above(axes)
            write_atomic(path, lambda tmp: fig.savefig(tmp, format='png', metadata={'Software': None}))
        finally:
            plt.close(fig)


def legend_above(axes: Any):
    """
    <a id="legend-above"></a>

    The legend of `axes`, above them, outside, where it covers no curve and
    no point: one entry per label, in as many columns as fit the figure's
    width, read across. The lines of one variant's seeds share a label and are
    one entry; a band and the line of its mean share one too, and the entry
    shows both.
    """
    entries: Dict[str, List[Any]] = {}
    for handle, label in zip(*axes.get_legend_handles_labels()):
        entries.setdefault(label, []).append(handle)
    if not entries:
        return
    handles = []
    for group in entries.values():
        kinds = {}
        for handle in group:
            kinds.setdefault(type(handle), handle)
        handles.append(tuple(kinds.values()) if len(kinds) > 1 else group[0])
    labels, fig = list(entries), axes.figure
    for columns in range(len(handles), 0, -1):
        # matplotlib fills the legend column by column; this order reads across, row by row
        legend = fig.legend([h for j in range(columns) for h in handles[j::columns]],
                            [l for j in range(columns) for l in labels[j::columns]],
                            loc='outside upper left', ncols=columns)
        # Laid out as it will be saved, the legend must lie within the figure
        fig.draw_without_rendering()
        if columns == 1 or legend.get_window_extent().x1 <= fig.bbox.x1:
            return
        legend.remove()


def write_figure(draw: Callable[[Dict[str, Any], Path, str, Optional[str]], None], results: Dict[str, Any],
                 path: Path, font: Optional[str]) -> List[Path]:
    """
    `draw(results, path, language, font)` in English to `path`, and in
    Japanese beside it, `NAME.ja.png`, in the font family `font`, one with
    Japanese characters ([`japanese_font()`](#japanese-font)), unless it is
    `None`; the paths written.
    """
    draw(results, path, 'en', None)
    if not font:
        return [path]
    japanese = path.with_suffix('.ja.png')
    draw(results, japanese, 'ja', font)
    return [path, japanese]


# Font families with Japanese characters: Debian's and Ubuntu's first, then macOS's and Windows'
JAPANESE_FONTS = ('Noto Sans CJK JP', 'IPAexGothic', 'IPAGothic', 'TakaoGothic', 'VL Gothic',
                  'Source Han Sans JP', 'Hiragino Sans', 'Yu Gothic', 'MS Gothic')


def japanese_font() -> Optional[str]:
    """
    <a id="japanese-font"></a>

    The first installed font family of `JAPANESE_FONTS`, or `None` when none
    of them is installed.
    """
    from matplotlib import font_manager
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((family for family in JAPANESE_FONTS if family in installed), None)
