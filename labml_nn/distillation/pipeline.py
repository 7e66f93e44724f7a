"""
---
title: The distillation study in one command
summary: >
  Trains the teacher, the small baseline and the distilled student for several
  seeds, then writes a results table, a JSON file and a plot of validation accuracy.
---

# The whole study in one command

```bash
python -m labml_nn.distillation.pipeline --data-dir DIR --profile cpu --seeds 3 --out OUT
```

1. trains the [large teacher](large.html) once (seed 0), unless `--teacher`
   names one;
2. for each seed, trains the [small model](small.html) on labels alone, and
   the small model [distilled](distill.html) from the teacher;
3. writes `OUT/results.json`, `OUT/results.md` (accuracy as mean ± standard
   deviation over seeds) and `OUT/accuracy.png` (validation accuracy per epoch),
   and the same plot with Japanese labels, `OUT/accuracy.ja.png`, for the
   Japanese pages, when a font with Japanese characters is installed.

Under `torchrun` every run of the study trains on all the processes, and
rank 0 alone writes the results ([distributed distillation](distributed.html)).

Every run is identified by its settings, so running the same command again
reuses the runs that finished and resumes the one that was interrupted.
Choices (the profiles' schedules and the distillation settings) were made on
the held-out validation split; the test split, when the data has one, is only
reported.
"""

import argparse
import json
import platform
import statistics
from pathlib import Path
from typing import Any, Dict, List, Optional

from labml_nn.distillation.teacher import find_teacher, load_teacher
from labml_nn.distillation.train import (COMMANDS, PROFILES, add_options, check_writable, command_errors,
                                         configs_for, positive, profile_settings)
from labml_nn.experiments import distributed
from labml_nn.experiments.data import load_cifar10, write_atomic
from labml_nn.experiments.runs import RunRecord, load_checkpoint
from labml_nn.experiments.trainer import default_device, train

# The models of the study, in the order of the table
MODELS = ('large', 'small', 'distilled')
# The settings the study's command line can change for all its runs at once
SHARED = ['valid_size', 'device']


def main(argv=None):
    """
    ## Entry point

    The output folder is checked before any training, and the data and the
    teacher problems end with a message, not a traceback.
    """
    args = argument_parser().parse_args(argv)
    out = Path(args.out)
    with command_errors():
        # Every run's batch (the profile's) must divide among the processes
        for model in MODELS:
            distributed.check_batch_size(profile_settings(args.profile, model)['batch_size'])
        check_writable(out, '--out')
        check_writable(Path(args.logs_dir), '--logs-dir')
        with distributed.process_group(args.device or default_device()):
            results = run_study(args)
    # Under torchrun, rank 0 writes the results
    if distributed.is_main():
        write_results(args.profile, results, out)


def write_results(profile: str, results: Dict[str, Any], out: Path):
    """
    `results.json`, `results.md` and the plot, each written whole or not at all.
    """
    table = markdown_table(profile, results['summary'])
    write_atomic(out / 'results.json', lambda tmp: Path(tmp).write_text(json.dumps(results, indent=2)))
    write_atomic(out / 'results.md', lambda tmp: Path(tmp).write_text(table))
    plot(results['runs'], out / 'accuracy.png', PLOT_WORDS['en'])
    written = ['results.json', 'results.md', 'accuracy.png']
    # The Japanese plot needs a font that has Japanese characters
    font = japanese_font()
    if font:
        plot(results['runs'], out / 'accuracy.ja.png', PLOT_WORDS['ja'], font)
        written.append('accuracy.ja.png')
    print()
    print(table)
    print('Wrote ' + ', '.join(str(out / name) for name in written))
    if not font:
        print('matplotlib knows no font with Japanese characters, so no accuracy.ja.png: install one '
              '(on Debian: apt-get install fonts-noto-cjk), then delete its font cache, ~/.cache/matplotlib')


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m labml_nn.distillation.pipeline',
        description='Train the teacher, the small baseline and the distilled student on CIFAR-10 '
                    'and report how much distillation helps.')
    parser.add_argument('--data-dir', default='./data',
                        help='cifar-10-batches-py, or train/<class>/*.jpg (default: ./data)')
    parser.add_argument('--profile', choices=sorted(PROFILES), default='cpu',
                        help='settings profile (default: cpu)')
    parser.add_argument('--seeds', type=positive(int), default=1, help='student seeds, 0..N-1 (default: 1)')
    parser.add_argument('--out', default='./out', help='where the results are written (default: ./out)')
    parser.add_argument('--logs-dir', default='./logs', help='where runs are written (default: ./logs)')
    parser.add_argument('--teacher', help='use this teacher (latest, a run id or a checkpoint path) '
                                          'instead of training one')
    add_options(parser, 'small', SHARED)
    return parser


def run_study(args: argparse.Namespace) -> Dict[str, Any]:
    """
    ## The study

    The settings of every run first, then the data, then the runs: the
    teacher, and for each seed the baseline and the distilled student.
    """
    common = {'data_dir': args.data_dir, 'logs_dir': args.logs_dir}
    common |= {name: getattr(args, name) for name in SHARED if getattr(args, name) is not None}
    teacher_settings = profile_settings(args.profile, 'large') | common
    students = [(model, seed, profile_settings(args.profile, model) | common | {'seed': seed})
                for seed in range(args.seeds) for model in ('small', 'distilled')]
    # A teacher that is named must exist, which is known before the data is read
    teacher_path = find_teacher(args.teacher, args.logs_dir, args.profile) if args.teacher else None
    # Load the data once for every run
    data = load_cifar10(args.data_dir)
    stages = 1 + len(students)

    # The teacher: the one named, or one trained with seed 0 and shared by every seed
    if teacher_path:
        # It must fit the data before any training starts
        load_teacher(teacher_path, len(data.classes))
        teacher = RunRecord.from_checkpoint(load_checkpoint(teacher_path, mmap=True), teacher_path)
    else:
        say(f'[1/{stages}] large teacher')
        teacher = train(configs_for('large'), teacher_settings, data)
    runs = [results_row('large', teacher)]

    # The students, in order of seed
    for stage, (model, seed, settings) in enumerate(students, start=2):
        say(f'[{stage}/{stages}] {model} seed {seed}')
        if COMMANDS[model]['teacher']:
            settings['teacher'] = str(teacher.path)
        runs.append(results_row(model, train(configs_for(model), settings, data)))
    return {'profile': args.profile, 'runs': runs, 'summary': summarize(runs)}


def say(message: str):
    """
    Print, once: under torchrun only rank 0 prints the study's progress.
    """
    if distributed.is_main():
        print(message)


def results_row(model_name: str, record: RunRecord) -> Dict[str, Any]:
    """
    One row of `results.json`, from a run's final record.
    """
    return {'model': model_name, 'seed': record.seed, 'parameters': record.parameters,
            'epochs': record.epochs, 'valid_accuracy': record.valid_accuracy,
            'test_accuracy': record.test_accuracy, 'train_seconds': record.train_seconds,
            'train_images_per_second': record.images / max(record.train_seconds, 1e-9),
            'valid_history': record.history, 'run': record.uuid}


def summarize(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """
    ## Summary over seeds

    Per model: validation and test accuracy, training time and throughput.
    Then the gain from distillation, the distilled student's mean validation
    accuracy minus the baseline's.
    """
    summary = {}
    for model in MODELS:
        rows = [r for r in runs if r['model'] == model]
        if not rows:
            continue
        tests = [r['test_accuracy'] for r in rows if r['test_accuracy'] is not None]
        summary[model] = {'parameters': rows[0]['parameters'], 'epochs': rows[0]['epochs'],
                          'valid_accuracy': mean_std([r['valid_accuracy'] for r in rows]),
                          'test_accuracy': mean_std(tests) if tests else None,
                          'train_seconds': mean_std([r['train_seconds'] for r in rows]),
                          'train_images_per_second': mean_std([r['train_images_per_second'] for r in rows])}
    if 'small' in summary and 'distilled' in summary:
        summary['distillation_gain_valid'] = (summary['distilled']['valid_accuracy']['mean'] -
                                              summary['small']['valid_accuracy']['mean'])
    return summary


def mean_std(values: List[float]) -> Dict[str, float]:
    """
    Mean and sample standard deviation ($0$ for a single value).
    """
    return {'mean': statistics.fmean(values), 'std': statistics.stdev(values) if len(values) > 1 else 0.0,
            'n': len(values)}


def markdown_table(profile: str, summary: Dict[str, Any]) -> str:
    """
    ## The results table
    """
    def percent(stats):
        if stats is None:
            return 'n/a'
        return f"{100 * stats['mean']:.2f} ± {100 * stats['std']:.2f}"

    lines = [f'Profile `{profile}`, on {platform.machine()} {platform.processor() or ""}'.rstrip(), '',
             '| model | parameters | epochs | seeds | valid accuracy (%) | test accuracy (%) '
             '| train time (s) | images/s |',
             '|---|---:|---:|---:|---:|---:|---:|---:|']
    for model in MODELS:
        if model not in summary:
            continue
        s = summary[model]
        lines.append(f"| {model} | {s['parameters']:,} | {s['epochs']} | {s['valid_accuracy']['n']} "
                     f"| {percent(s['valid_accuracy'])} | {percent(s['test_accuracy'])} "
                     f"| {s['train_seconds']['mean']:.0f} | {s['train_images_per_second']['mean']:.0f} |")
    if 'distillation_gain_valid' in summary:
        lines += ['', f"Distillation gain on validation accuracy: "
                      f"{100 * summary['distillation_gain_valid']:+.2f} points (mean over seeds)."]
    return '\n'.join(lines) + '\n'


# The words of the plot, in each language of the pages
PLOT_WORDS = {
    'en': {'x': 'epoch', 'y': 'validation accuracy (%)',
           'large': 'large', 'small': 'small', 'distilled': 'distilled'},
    'ja': {'x': 'エポック', 'y': '検証正解率 (%)',
           'large': '大きな教師', 'small': '小さなモデル（ラベルのみ）', 'distilled': '蒸留した生徒'},
}


def plot(runs: List[Dict[str, Any]], path: Path, words: Dict[str, str], font: Optional[str] = None):
    """
    ## The plot

    Validation accuracy after each epoch, one line per run, a colour per model,
    labelled with `words`, in the font family `font` (matplotlib's default
    when `None`).
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    style = {'font.family': font} if font else {}
    with plt.rc_context(style):
        figure, axes = plt.subplots(figsize=(7, 4.5))
        colours = {'large': 'tab:blue', 'small': 'tab:orange', 'distilled': 'tab:green'}
        for model in MODELS:
            for i, run in enumerate(r for r in runs if r['model'] == model):
                history = run['valid_history']
                axes.plot(range(1, len(history) + 1), [100 * a for a in history], color=colours[model],
                          alpha=0.85, label=words[model] if i == 0 else None)
        axes.set_xlabel(words['x'])
        axes.set_ylabel(words['y'])
        axes.grid(alpha=0.3)
        axes.legend()
        figure.tight_layout()
        write_atomic(path, lambda tmp: figure.savefig(tmp, format='png', dpi=120,
                                                      metadata={'Software': None}))
    plt.close(figure)


def japanese_font() -> Optional[str]:
    """
    The first installed font family of `JAPANESE_FONTS`, fonts made for
    Japanese text, or `None` when none of them is installed.
    """
    from matplotlib import font_manager
    installed = {entry.name for entry in font_manager.fontManager.ttflist}
    return next((family for family in JAPANESE_FONTS if family in installed), None)


# Font families with Japanese characters: Debian's and Ubuntu's first, then macOS's and Windows'
JAPANESE_FONTS = ('Noto Sans CJK JP', 'IPAexGothic', 'IPAGothic', 'TakaoGothic', 'VL Gothic',
                  'Source Han Sans JP', 'Hiragino Sans', 'Yu Gothic', 'MS Gothic')


if __name__ == '__main__':
    main()
