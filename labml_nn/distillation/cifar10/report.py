"""
---
title: The results of a study
summary: >
  What the CIFAR-10 pipeline writes once a study has trained: the summary
  over seeds, the results files and tables, and the plots in English and
  Japanese.
---

# The results of a study

The rows of [the runs](study.html) are summarized over seeds, written as
`results.json` and a Markdown table, and drawn: every study's validation
accuracy per epoch, and the plot of what it varies. The
[command](pipeline.html) draws the plots again from a results file with
`--replot`.
"""

import json
import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional

from labml_nn.distillation.cifar10.studies import CLASSES_JA, Variant
from labml_nn.experiments.reporting import figure, japanese_font, mean_std, write_figure
from labml_nn.experiments.runs import write_atomic


def summarize(runs: List[Dict[str, Any]], variants: List[Variant]) -> Dict[str, Any]:
    """
    ## Summary over seeds

    Per variant (and the teacher, `large`): the mean and spread of every
    number the runs have, the accuracies first. For the comparison, the gain
    from distillation: the distilled student's mean validation accuracy
    minus the baseline's.
    """
    summary = {}
    for name in ['large'] + [v.name for v in variants]:
        rows = [r for r in runs if r['variant'] == name]
        if not rows:
            continue
        summary[name] = {'parameters': rows[0]['parameters'], 'epochs': rows[0]['epochs']}
        for key in MEASURED:
            values = [r[key] for r in rows if r.get(key) is not None]
            summary[name][key] = mean_std(values) if values else None
        if 'per_class_valid_accuracy' in rows[0]:
            summary[name]['per_class_valid_accuracy'] = [
                statistics.fmean(column) for column in zip(*(r['per_class_valid_accuracy'] for r in rows))]
    if 'small' in summary and 'distilled' in summary:
        summary['distillation_gain_valid'] = (summary['distilled']['valid_accuracy']['mean'] -
                                              summary['small']['valid_accuracy']['mean'])
    return summary


# The numbers summarized over seeds, where a run has them
MEASURED = ('valid_accuracy', 'batch_statistics_valid_accuracy', 'teacher_valid_accuracy', 'test_accuracy',
            'train_seconds', 'train_images_per_second', 'teacher_agreement', 'teacher_kl', 'bias',
            'omitted_valid_accuracy', 'corrected_valid_accuracy', 'corrected_omitted_valid_accuracy',
            'omitted_test_accuracy', 'corrected_test_accuracy', 'corrected_omitted_test_accuracy', 'matched_bias',
            'matched_valid_accuracy', 'matched_omitted_valid_accuracy', 'matched_test_accuracy',
            'matched_omitted_test_accuracy', 'omitted_valid_probability', 'teacher_omitted_valid_probability',
            'omitted_valid_probability_on_class', 'teacher_omitted_valid_probability_on_class')


def write_results(results: Dict[str, Any], out: Path):
    """
    ## Writing the results

    `results.json`, `results.md` and the plots, each written whole or not at
    all; the plots also in Japanese when a font with Japanese characters is
    installed.
    """
    table = markdown_table(results)
    write_atomic(out / 'results.json', lambda tmp: Path(tmp).write_text(json.dumps(results, indent=2)))
    write_atomic(out / 'results.md', lambda tmp: Path(tmp).write_text(table))
    written = [out / 'results.json', out / 'results.md'] + draw_plots(results, out)
    print()
    print(table)
    print('Wrote ' + ', '.join(str(path) for path in written))


def markdown_table(results: Dict[str, Any]) -> str:
    """
    ## The results tables

    Accuracy, fidelity and cost of every variant; in the omitted-class
    study, a second table about the omitted class.
    """
    summary = results['summary']

    def percent(stats):
        return 'n/a' if stats is None else f"{100 * stats['mean']:.2f} ± {100 * stats['std']:.2f}"

    def number(stats):
        return 'n/a' if stats is None else f"{stats['mean']:.3f} ± {stats['std']:.3f}"

    names = [n for n in summary if isinstance(summary[n], dict) and 'valid_accuracy' in summary[n]]
    changed = ''.join(f', {name} {value}' for name, value in results.get('distilled_settings', {}).items())
    lines = [f"Study `{results['study']}`, profile `{results['profile']}`{changed}, on {results['machine']}.", '',
             '| model | parameters | epochs | seeds | valid accuracy (%) | test accuracy (%) '
             '| agreement with teacher (%) | KL(teacher ‖ student) | train time (s) | images/s |',
             '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
    for name in names:
        s = summary[name]
        lines.append(f"| {name} | {s['parameters']:,} | {s['epochs']} | {s['valid_accuracy']['n']} "
                     f"| {percent(s['valid_accuracy'])} | {percent(s['test_accuracy'])} "
                     f"| {percent(s['teacher_agreement'])} | {number(s['teacher_kl'])} "
                     f"| {s['train_seconds']['mean']:.0f} | {s['train_images_per_second']['mean']:.0f} |")
    if 'distillation_gain_valid' in summary:
        lines += ['', f"Distillation gain on validation accuracy: "
                      f"{100 * summary['distillation_gain_valid']:+.2f} points (mean over seeds)."]
    omit = results.get('omitted_class')
    if omit:
        teacher = summary['large']['per_class_valid_accuracy'][results['classes'].index(omit)]
        lines += ['', f'The omitted class, `{omit}`, on validation (the teacher gets {100 * teacher:.2f}% of it '
                      f'right); both biases are chosen on validation, one for accuracy and one, '
                      f'without labels, for the teacher\'s count of {omit}:', '',
                  f'| model | {omit} right (%) | bias | {omit} right, corrected (%) | all right, corrected (%) '
                  f'| bias, count matched | {omit} right, count matched (%) | all right, count matched (%) '
                  f'| p({omit}) on {omit} images | teacher\'s p({omit}) |',
                  '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|']
        for name in names:
            s = summary[name]
            if s.get('bias') is not None:
                lines.append(f"| {name} | {percent(s['omitted_valid_accuracy'])} | {number(s['bias'])} "
                             f"| {percent(s['corrected_omitted_valid_accuracy'])} "
                             f"| {percent(s['corrected_valid_accuracy'])} | {number(s['matched_bias'])} "
                             f"| {percent(s['matched_omitted_valid_accuracy'])} "
                             f"| {percent(s['matched_valid_accuracy'])} "
                             f"| {number(s['omitted_valid_probability_on_class'])} "
                             f"| {number(s['teacher_omitted_valid_probability_on_class'])} |")
    if results.get('command'):
        lines += ['', f"Made by `{results['command']}` at commit {results['commit'] or 'unknown'}, "
                      f"{results['date']}."]
    return '\n'.join(lines) + '\n'


# The words of the plots, in each language of the pages
PLOT_WORDS = {
    'en': {'epoch': 'epoch', 'accuracy': 'validation accuracy (%)', 'large': 'large teacher',
           'temperature': 'temperature T', 'weight': 'soft-target weight α',
           'teacher-quality': "the teacher's validation accuracy (%)",
           'by epoch': "distilled, numbered by\nthe teacher's epoch",
           'distilled': 'distilled', 'students': 'students', 'mean of seeds': '{} (mean of seeds)',
           'teacher': 'teacher', 'before': 'distilled without the class', 'after': 'the same, bias corrected'},
    'ja': {'epoch': 'エポック', 'accuracy': '検証正解率 (%)', 'large': '大きな教師',
           'temperature': '温度 T', 'weight': 'ソフトターゲットの重み α',
           'teacher-quality': '教師の検証正解率 (%)',
           'by epoch': '蒸留した生徒、番号は\n教師のエポック',
           'distilled': '蒸留した生徒', 'students': '生徒', 'mean of seeds': '{}（シードの平均）',
           'teacher': '教師', 'before': 'そのクラスなしで蒸留した生徒', 'after': '同じ生徒、バイアス補正後'},
}


def variant_label(results: Dict[str, Any], name: str, language: str) -> str:
    """
    A variant's name on a plot in `language`.
    """
    if name == 'large':
        return PLOT_WORDS[language]['large']
    variant = next(v for v in results['variants'] if v['name'] == name)
    return variant['ja'] if language == 'ja' and variant['ja'] else name


def plot_history(results: Dict[str, Any], path: Path, language: str, font: Optional[str] = None):
    """
    ## The plots

    Each is drawn to be read on a phone, its legend above it where it covers
    no curve ([figures](../../experiments/reporting.html#figure)).
    `--replot RESULTS.json --out DIR` draws a study's plots again from its
    results file, and `redraw_page_plots()` the images of these pages from
    their results in `results/`.

    This one: validation accuracy after each epoch that measured it, one line
    per run, a colour per variant.
    """
    words = PLOT_WORDS[language]
    names = ['large'] + [v['name'] for v in results['variants']]
    with figure(path, font) as axes:
        for colour, name in enumerate(names):
            # Every seed's line carries its variant's name, which the legend shows once
            for run in (r for r in results['runs'] if r['variant'] == name):
                measured = [(epoch, 100 * a) for epoch, a in enumerate(run['valid_history'], start=1)
                            if a is not None]
                axes.plot(*zip(*measured), '.-', color=f'C{colour}', alpha=0.85, markersize=4,
                          label=variant_label(results, name, language))
        axes.set_xlabel(words['epoch'])
        axes.set_ylabel(words['accuracy'])


# Where a sweep's settings go on its axis. The temperatures double from one to
# the next, so a log scale spaces them evenly. The weights 0.99 and 1 would be
# a hundredth apart on a linear axis from 0 to 1, their points and bars on top
# of each other; so the weights are spaced evenly, in order, each named by its
# value, and not joined by a line, since the distance between two points then
# says nothing about the distance between their weights. The teachers go at
# their own validation accuracy.
SWEEP_AXES = {'temperature': 'log', 'weight': 'in order', 'teacher-quality': 'linear'}


def plot_sweep(results: Dict[str, Any], path: Path, language: str, font: Optional[str] = None):
    """
    A sweep's final validation accuracy against the swept setting: the mean
    over seeds with a bar from the lowest to the highest seed; the labels-only
    baseline, when it is not on the axis, as a band of the same spread.
    """
    words = PLOT_WORDS[language]
    final = {v['name']: [100 * r['valid_accuracy'] for r in results['runs'] if r['variant'] == v['name']]
             for v in results['variants']}
    on_axis = [v for v in results['variants'] if v['x'] is not None]
    spacing = SWEEP_AXES[results['study']]
    xs = list(range(len(on_axis))) if spacing == 'in order' else [v['x'] for v in on_axis]
    means = [statistics.fmean(final[v['name']]) for v in on_axis]
    spread = [[m - min(final[v['name']]) for v, m in zip(on_axis, means)],
              [max(final[v['name']]) - m for v, m in zip(on_axis, means)]]
    # The distilled students; on the weight's axis, whose 0 is labels only, the students
    students = words['distilled'] if all(v['model'] == 'distilled' for v in on_axis) else words['students']
    if results['study'] == 'teacher-quality':
        students = words['by epoch']
    with figure(path, font) as axes:
        axes.errorbar(xs, means, yerr=spread, marker='o', capsize=4, color='C2',
                      linestyle='none' if spacing == 'in order' else '-',
                      label=words['mean of seeds'].format(students))
        for v in results['variants']:
            if v['x'] is None:
                values = final[v['name']]
                label = words['mean of seeds'].format(variant_label(results, v['name'], language))
                axes.axhspan(min(values), max(values), color='C1', alpha=0.2, label=label)
                axes.axhline(statistics.fmean(values), color='C1', label=label)
        if spacing == 'log':
            axes.set_xscale('log', base=2)
        if spacing != 'linear':
            axes.set_xticks(xs, [f"{v['x']:g}" for v in on_axis])
            axes.minorticks_off()
        if results['study'] == 'teacher-quality':
            # Each teacher named by the epoch it stopped after, above and left of its point, where the
            # rising line leaves room
            for v, x, y in zip(on_axis, xs, means):
                axes.annotate(str(v['settings']['teacher_epoch']), (x, y), textcoords='offset points',
                              xytext=(-5, 5), ha='right', va='bottom')
        axes.set_xlabel(words[results['study']])
        axes.set_ylabel(words['accuracy'])


def plot_per_class(results: Dict[str, Any], path: Path, language: str, font: Optional[str] = None):
    """
    Validation accuracy on each class: the teacher, and the distilled student
    that never saw the omitted class (its name in bold), before and after the
    bias correction (means over seeds). The bars lie across, one class under
    the other, so that ten class names fit a phone's width.
    """
    words = PLOT_WORDS[language]
    classes = results['classes']
    students = [r for r in results['runs'] if r.get('bias') is not None and r['model'] == 'distilled']
    before, after = ([statistics.fmean(column) for column in zip(*(r[key] for r in students))]
                     for key in ('per_class_valid_accuracy', 'corrected_per_class_valid_accuracy'))
    teacher = next(r for r in results['runs'] if r['model'] == 'large')['per_class_valid_accuracy']
    names = [CLASSES_JA.get(c, c) if language == 'ja' else c for c in classes]
    with figure(path, font, height=7) as axes:
        thickness = 0.27
        for i, (label, values) in enumerate(((words['teacher'], teacher), (words['before'], before),
                                            (words['after'], after))):
            axes.barh([c + (i - 1) * thickness for c in range(len(classes))], [100 * v for v in values],
                      thickness, label=label, color=f'C{i}')
        axes.set_yticks(range(len(classes)), names)
        axes.grid(False, axis='y')
        # The classes from the top down, in their order; the teacher's bar first in each
        axes.invert_yaxis()
        # The omitted class's name in bold
        axes.get_yticklabels()[classes.index(results['omitted_class'])].set_fontweight('bold')
        axes.set_xlabel(words['accuracy'])


# Each study's plots: the file name, and what draws it
PLOTS = {
    'compare': [('accuracy', plot_history)],
    'omitted-class': [('accuracy', plot_history), ('per_class', plot_per_class)],
    'temperature': [('accuracy', plot_history), ('sweep', plot_sweep)],
    'weight': [('accuracy', plot_history), ('sweep', plot_sweep)],
    'teacher-quality': [('accuracy', plot_history), ('sweep', plot_sweep)],
}


def draw_plots(results: Dict[str, Any], out: Path) -> List[Path]:
    """
    The plots of a study's `results`, into `out`, in English and Japanese; the paths written.
    """
    font = japanese_font()
    if not font:
        print('matplotlib knows no font with Japanese characters, so no Japanese plots: install one '
              '(on Debian: apt-get install fonts-noto-cjk), then delete its font cache, ~/.cache/matplotlib')
    return [written for name, draw in PLOTS[results['study']]
            for written in write_figure(draw, results, out / f'{name}.png', font)]
