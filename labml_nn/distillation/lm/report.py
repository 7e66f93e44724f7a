r"""
---
title: The results of a language-model study
summary: >
  What a language-model study writes: every run's numbers with the corpus,
  the machine and the command, a table of means and spreads over seeds, and
  its plot, by step or against the bytes the teacher's targets take.
---

# The results of a language-model study

The [studies' command](pipeline.html) hands each study's runs to this module,
which writes, each whole or not at all:

* `results.json`: every run's validation bits per byte by step, its test
  bits per byte and its training time, with the bytes its teacher's targets
  take for each position when they are [stored](target_cache.html) and the
  run it started from when it had a [warm start](trainer.html#warm-start);
  the corpus, the machine, and the command, the commit and the date that
  wrote it;
* `results.md`, the table of means and standard deviations over seeds;
* `bpb.png`, the study's plot, with its Japanese twin `bpb.ja.png` when a
  font with Japanese characters is installed.
"""

import json
import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional

from labml_nn.distillation.lm.data import corpus_words
from labml_nn.distillation.lm.target_cache import bytes_per_token
from labml_nn.distillation.lm.trainer import LMRecord
from labml_nn.experiments.reporting import figure, japanese_font, mean_std, write_figure
from labml_nn.experiments.runs import write_atomic


def run_result(variant: Any, record: LMRecord, warm: Optional[LMRecord] = None) -> Dict[str, Any]:
    """
    What the results keep of a run of `variant`, and of the run `warm` it started from.
    """
    settings = record.settings
    result = {'variant': variant.name, 'seed': record.seed, 'uuid': record.uuid, 'parameters': record.parameters,
              'steps': record.steps, 'valid_history': record.history, 'valid_bpb': record.valid_bpb,
              'test_bpb': record.test_bpb, 'train_seconds': record.train_seconds,
              'bytes_per_token': bytes_per_token(settings.get('targets', 'online'), settings.get('target_size', 0))}
    if warm is not None:
        result |= {'warm_start': warm.uuid, 'warm_steps': warm.steps}
    return result


def summarize(runs: List[Dict[str, Any]], variants: List[Any]) -> Dict[str, Any]:
    """
    Mean and standard deviation over seeds of each variant, and for each
    variant after the first, in how many seeds its test bits per byte are
    below the first variant's (the baseline) on the same seed.
    """
    summary = {}
    baseline = {r['seed']: r['test_bpb'] for r in runs if r['variant'] == variants[0].name}
    for variant in variants:
        mine = [r for r in runs if r['variant'] == variant.name]
        summary[variant.name] = {k: mean_std([r[k] for r in mine]) for k in ('valid_bpb', 'test_bpb', 'train_seconds')}
        summary[variant.name]['parameters'] = mine[0]['parameters']
        summary[variant.name]['bytes_per_token'] = mine[0]['bytes_per_token']
        summary[variant.name]['below_baseline'] = sum(r['test_bpb'] < baseline[r['seed']] for r in mine)
    return summary


def write_results(results: Dict[str, Any], out: Path):
    """
    ## Writing the results

    `results.json`, `results.md` and the plots, each whole or not at all.
    """
    table = markdown_table(results)
    write_atomic(out / 'results.json', lambda tmp: Path(tmp).write_text(json.dumps(results, indent=2)))
    write_atomic(out / 'results.md', lambda tmp: Path(tmp).write_text(table))
    write_figure(PLOTS.get(results['study'], plot_history), results, out / 'bpb.png', japanese_font())
    print('\n' + table + f'\nWrote {out}')


def markdown_table(results: Dict[str, Any]) -> str:
    """
    ## The results table

    Test and validation bits per byte, mean ± standard deviation over seeds;
    a student that read stored targets says how many bytes they take for
    each position.
    """
    data, teacher = results['data'], results['teacher']
    lines = [f"Study `{results['study']}`, profile `{results['profile']}`, on {results['machine']}; corpus "
             f"{corpus_words(data)} ({data['bytes']['train']:,} training bytes).", '',
             f"Teacher: {teacher['parameters']:,} parameters, {teacher['steps']} steps, test "
             f"{teacher['test_bpb']:.3f} bits per byte, {teacher['train_seconds']:.0f} s of training.", '',
             '| student | parameters | seeds | test bits per byte | validation bits per byte '
             '| seeds below the first row | train time (s) |',
             '|---|---:|---:|---:|---:|---:|---:|']
    for name, s in results['summary'].items():
        stored = f" ({s['bytes_per_token']} bytes a position)" if s.get('bytes_per_token') else ''
        lines.append(f"| {name}{stored} | {s['parameters']:,} | {s['test_bpb']['n']} "
                     f"| {s['test_bpb']['mean']:.4f} ± {s['test_bpb']['std']:.4f} "
                     f"| {s['valid_bpb']['mean']:.4f} ± {s['valid_bpb']['std']:.4f} "
                     f"| {s['below_baseline']} of {s['test_bpb']['n']} | {s['train_seconds']['mean']:.0f} |")
    return '\n'.join(lines) + '\n'


PLOT_WORDS = {'en': {'step': 'step', 'bpb': 'validation bits per byte', 'teacher': 'teacher (end of training)',
                     'test bpb': 'test bits per byte (median of seeds)', 'bytes': 'bytes stored for each position',
                     'top-k': 'top-k', 'sampled': 'sampled', 'stored': ' ({} bytes)'},
              'ja': {'step': 'ステップ', 'bpb': '検証データのビット／バイト', 'teacher': '教師（学習後）',
                     'test bpb': 'テストのビット／バイト（シードの中央値）', 'bytes': '位置ごとに保存するバイト数',
                     'top-k': '上位 k', 'sampled': 'サンプル', 'stored': '（{} バイト）'}}


def plot_history(results: Dict[str, Any], path: Path, language: str, font: Optional[str] = None):
    """
    ## The plot by step

    Validation bits per byte by step, one line per run, a colour per
    variant, and the teacher's final value as a dashed line; the legend sits
    above the axes, where it covers no curve
    ([figures](../../experiments/reporting.html#figure)). A run with a warm
    start is drawn from where the run it started from ended.
    """
    words = PLOT_WORDS[language]
    # A study of many variants gets a taller figure, so that the legend above leaves the axes room
    with figure(path, font, height=4.6 if len(results['variants']) <= 4 else 7.0) as axes:
        for colour, variant in enumerate(results['variants']):
            # Every seed's line carries its variant's name, which the legend shows once
            for run in (r for r in results['runs'] if r['variant'] == variant['name']):
                label = variant['ja'] if language == 'ja' else variant['name']
                steps, bpb = zip(*run['valid_history'])
                axes.plot([s + run.get('warm_steps', 0) for s in steps], bpb, '.-', color=f'C{colour}', alpha=0.8,
                          label=label)
        axes.axhline(results['teacher']['valid_bpb'], color='black', linestyle='--', label=words['teacher'])
        axes.set_xlabel(words['step'])
        axes.set_ylabel(words['bpb'])


def plot_bytes(results: Dict[str, Any], path: Path, language: str, font: Optional[str] = None):
    """
    ## The plot against stored bytes

    Test bits per byte against the bytes stored for each position, on a
    logarithmic axis: the median over seeds of top-k and of sampled targets
    at each size, with a bar from the lowest to the highest seed, and the
    students that store nothing or everything (labels only, online and dense
    distillation) as horizontal lines at their median. The median, because
    a run from stored targets can end far behind the others of its kind, and
    one such seed moves a mean of few seeds more than the forms differ.
    """
    words = PLOT_WORDS[language]
    test = {v['name']: [r['test_bpb'] for r in results['runs'] if r['variant'] == v['name']]
            for v in results['variants']}
    stored = {r['variant']: r['bytes_per_token'] for r in results['runs']}
    with figure(path, font) as axes:
        sizes = set()
        for colour, form in enumerate(('top-k', 'sampled')):
            mine = [v['name'] for v in results['variants'] if v['settings'].get('targets') == form]
            xs, medians = [stored[n] for n in mine], [statistics.median(test[n]) for n in mine]
            spread = [[m - min(test[n]) for n, m in zip(mine, medians)],
                      [max(test[n]) - m for n, m in zip(mine, medians)]]
            axes.errorbar(xs, medians, yerr=spread, marker='o', capsize=4, color=f'C{colour}', label=words[form])
            sizes |= set(xs)
        # A style of its own for each line: two of them may lie on top of each other
        lines = [v for v in results['variants'] if v['settings'].get('targets') not in ('top-k', 'sampled')]
        for colour, (v, style) in enumerate(zip(lines, ('-', '--', ':')), start=2):
            name = v['ja'] if language == 'ja' else v['name']
            if stored[v['name']]:
                name += words['stored'].format(stored[v['name']])
            axes.axhline(statistics.median(test[v['name']]), color=f'C{colour}', linestyle=style, label=name)
        axes.set_xscale('log', base=2)
        axes.set_xticks(sorted(sizes), [f'{x:g}' for x in sorted(sizes)])
        axes.minorticks_off()
        axes.set_xlabel(words['bytes'])
        axes.set_ylabel(words['test bpb'])


# The plot of each study, by step unless named here
PLOTS = {'sparse-targets': plot_bytes}
