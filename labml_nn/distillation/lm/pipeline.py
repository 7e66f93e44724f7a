r"""
---
title: The language-model studies in one command
summary: >
  Trains the byte-level teacher once, then the students of a study over
  several seeds, and writes results.json, results.md and a plot of
  validation bits per byte by step.
---

# The language-model studies in one command

```bash
python -m labml_nn.distillation.lm.pipeline --study divergence --profile cpu --seeds 3 --out OUT
```

1. trains the [teacher](train.html) (seed 0) once, or reuses it;
2. for each seed, trains each variant of the study's students;
3. writes `OUT/STUDY/results.json` (every run's settings, its validation
   bits per byte by step, its test bits per byte and its training time, with
   the Python version and the hash of the corpus's file list, the machine,
   and the command, the commit and the date that wrote it),
   `OUT/STUDY/results.md`, and `OUT/STUDY/bpb.png` with its Japanese twin
   `bpb.ja.png` when a font with Japanese characters is installed.

The three studies, with their results on [their page](studies.html):

* `divergence`: on every training byte, the student on the next bytes alone
  against the student distilled with forward KL, reverse KL and JSD;
* `limited`: on the first 100,000 training bytes only (about 1% of them),
  the student on the next bytes against the distilled student (forward KL);
* `on-policy`: in the same limited regime, distillation with half the
  batches written by the student itself ($\lambda = 0.5$) against $\lambda = 0$.

Runs are identified by their settings and the corpus, so a variant shared by
two studies (the limited regime's distilled student is the on-policy study's
$\lambda = 0$) trains once, and running the command again reuses every
finished run and resumes an interrupted one. Two studies may run at once in
two processes: a run being trained by one is refused to the other, which
then ends with a message; run it again later to collect the results.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional

import torch

from labml_nn.distillation.lm.data import corpus_words, describe, load_corpus, training_bytes
from labml_nn.distillation.lm.train import configs_for, profile_settings, use_threads
from labml_nn.distillation.lm.trainer import LMRecord, train
from labml_nn.experiments import distributed
from labml_nn.experiments.checks import check_writable, command_errors, folder, positive
from labml_nn.experiments.reporting import Progress, figure, japanese_font, machine, mean_std, provenance, \
    write_figure
from labml_nn.experiments.runs import write_atomic
from labml_nn.experiments.training import default_device


class Variant(NamedTuple):
    """
    One kind of student in a study: its name, in English and Japanese, its
    command's model, and the settings it changes.
    """
    name: str
    ja: str
    model_name: str
    settings: Dict[str, Any]


# The limited-data regime: the first 100,000 bytes of the training split, unless `--limited-bytes` says otherwise
LIMITED_BYTES = 100_000


def studies(limited_bytes: int) -> Dict[str, List[Variant]]:
    """
    The variants of each study.
    """
    limited = {'train_bytes': limited_bytes}
    return {
        'divergence': [
            Variant('labels only', 'ラベルのみ', 'student', {}),
            Variant('forward KL', '順方向 KL', 'distilled', {'divergence': 'forward_kl'}),
            Variant('reverse KL', '逆方向 KL', 'distilled', {'divergence': 'reverse_kl'}),
            Variant('JSD', 'JSD', 'distilled', {'divergence': 'jsd'}),
        ],
        'limited': [
            Variant('labels only', 'ラベルのみ', 'student', limited),
            Variant('distilled', '蒸留', 'distilled', limited | {'divergence': 'forward_kl'}),
        ],
        'on-policy': [
            Variant('λ = 0', 'λ = 0', 'distilled', limited | {'divergence': 'forward_kl'}),
            Variant('λ = 0.5', 'λ = 0.5', 'distilled', limited | {'divergence': 'forward_kl', 'on_policy': 0.5}),
        ],
    }


STUDIES = list(studies(LIMITED_BYTES))


def main(argv: Optional[list] = None):
    """
    ## Entry point
    """
    args = argument_parser().parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    use_threads(args.threads)
    variants = studies(args.limited_bytes)
    chosen = STUDIES if args.study == 'all' else [args.study]
    with command_errors(), distributed.process_group(default_device()):
        for model in ('teacher', 'student'):
            distributed.check_batch_size(profile_settings(args.profile, model)['batch_size'])
        check_writable(Path(args.out), '--out')
        check_writable(Path(args.logs_dir), '--logs-dir')
        corpus = load_corpus(args.data_dir, 1 + max(profile_settings(args.profile, m)['context']
                                                   for m in ('teacher', 'student')))
        # Every run's training bytes must be in the corpus before the teacher trains
        for study in chosen:
            for variant in variants[study]:
                training_bytes(corpus, variant.settings.get('train_bytes', 0))
        # Runs shared by several studies are trained once and counted once
        progress = Progress(1 + len({(v.model_name, tuple(sorted(v.settings.items())), seed) for study in chosen
                                     for v in variants[study] for seed in range(args.seeds)}))
        progress.start('teacher')
        teacher = train(configs_for('teacher'), run_settings(args, 'teacher', {}, 0), corpus)
        progress.done(score(teacher), teacher.updated)
        done = {}
        for study in chosen:
            runs = []
            for seed in range(args.seeds):
                for variant in variants[study]:
                    which = (variant.model_name, tuple(sorted(variant.settings.items())), seed)
                    if which not in done:
                        progress.start(f'{variant.name} seed {seed}')
                        done[which] = train(configs_for(variant.model_name),
                                            run_settings(args, variant.model_name, variant.settings, seed, teacher),
                                            corpus)
                        progress.done(score(done[which]), done[which].updated)
                    runs.append(run_result(variant, done[which]))
            # The machine, and the command, the commit and the date that made these results
            results = {'study': study, 'profile': args.profile,
                       'machine': machine(str(default_device()), torch.get_num_threads()), 'data': describe(corpus),
                       **provenance(argv, 'labml_nn.distillation.lm.pipeline'),
                       'teacher': run_result(Variant('teacher', '教師', 'teacher', {}), teacher),
                       'variants': [v._asdict() for v in variants[study]], 'runs': runs,
                       'summary': summarize(runs, variants[study])}
            # Under torchrun every run trains on all the processes, and rank 0 writes the results
            if distributed.is_main():
                write_results(results, Path(args.out) / study)


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python -m labml_nn.distillation.lm.pipeline',
                                     description='Train the byte-level teacher and the students of a study, '
                                                 'and write the results.')
    parser.add_argument('--study', choices=[*STUDIES, 'all'], default='divergence',
                        help='divergence (default): labels against forward KL, reverse KL and JSD; limited: '
                             'labels against distillation on 1%% of the bytes; on-policy: lambda 0.5 against 0; all')
    parser.add_argument('--data-dir', default='',
                        help='a folder of text files (default: the Python standard library\'s source)')
    parser.add_argument('--profile', choices=['cpu', 'full', 'smoke'], default='cpu',
                        help='settings profile (default: cpu)')
    parser.add_argument('--seeds', type=positive(int), default=3, help='student seeds, 0..N-1 (default: 3)')
    parser.add_argument('--limited-bytes', type=positive(int), default=LIMITED_BYTES,
                        help=f'training bytes of the limited and on-policy studies (default: {LIMITED_BYTES:,})')
    parser.add_argument('--out', type=folder, default='./out/lm',
                        help='where the results are written (default: ./out/lm)')
    parser.add_argument('--logs-dir', type=folder, default='./logs', help='where runs are written (default: ./logs)')
    parser.add_argument('--threads', type=positive(int),
                        help="CPU threads PyTorch may use (default: PyTorch's, one per core)")
    return parser


def score(record: LMRecord) -> str:
    """
    A finished run's score, for the progress lines.
    """
    return f'test {record.test_bpb:.3f} bits per byte (validation {record.valid_bpb:.3f})'



def run_settings(args: argparse.Namespace, model_name: str, changes: Dict[str, Any], seed: int,
                 teacher: Optional[LMRecord] = None) -> Dict[str, Any]:
    """
    The settings of one run: the profile's, the variant's changes, the seed,
    the folders, and for a distilled student its teacher's checkpoint.
    """
    settings = profile_settings(args.profile, model_name) | changes
    settings |= {'seed': seed, 'data_dir': args.data_dir, 'logs_dir': args.logs_dir}
    if model_name == 'distilled':
        settings['teacher'] = str(Path(args.logs_dir) / teacher.name / teacher.uuid / 'checkpoints' / 'checkpoint.pt')
    return settings


def run_result(variant: Variant, record: LMRecord) -> Dict[str, Any]:
    """
    What the results keep of a run.
    """
    return {'variant': variant.name, 'seed': record.seed, 'uuid': record.uuid, 'parameters': record.parameters,
            'steps': record.steps, 'valid_history': record.history, 'valid_bpb': record.valid_bpb,
            'test_bpb': record.test_bpb, 'train_seconds': record.train_seconds}


def summarize(runs: List[Dict[str, Any]], variants: List[Variant]) -> Dict[str, Any]:
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
    write_figure(plot_history, results, out / 'bpb.png', japanese_font())
    print('\n' + table + f'\nWrote {out}')


def markdown_table(results: Dict[str, Any]) -> str:
    """
    ## The results table

    Test and validation bits per byte, mean ± standard deviation over seeds.
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
        lines.append(f"| {name} | {s['parameters']:,} | {s['test_bpb']['n']} "
                     f"| {s['test_bpb']['mean']:.4f} ± {s['test_bpb']['std']:.4f} "
                     f"| {s['valid_bpb']['mean']:.4f} ± {s['valid_bpb']['std']:.4f} "
                     f"| {s['below_baseline']} of {s['test_bpb']['n']} | {s['train_seconds']['mean']:.0f} |")
    return '\n'.join(lines) + '\n'


PLOT_WORDS = {'en': {'step': 'step', 'bpb': 'validation bits per byte', 'teacher': 'teacher (end of training)'},
              'ja': {'step': 'ステップ', 'bpb': '検証データのビット／バイト', 'teacher': '教師（学習後）'}}


def plot_history(results: Dict[str, Any], path: Path, language: str, font: Optional[str] = None):
    """
    ## The plot

    Validation bits per byte by step, one line per run, a colour per
    variant, and the teacher's final value as a dashed line; the legend sits
    above the axes, where it covers no curve
    ([figures](../../experiments/reporting.html#figure)).
    """
    words = PLOT_WORDS[language]
    with figure(path, font) as axes:
        for colour, variant in enumerate(results['variants']):
            # Every seed's line carries its variant's name, which the legend shows once
            for run in (r for r in results['runs'] if r['variant'] == variant['name']):
                label = variant['ja'] if language == 'ja' else variant['name']
                axes.plot(*zip(*run['valid_history']), '.-', color=f'C{colour}', alpha=0.8, label=label)
        axes.axhline(results['teacher']['valid_bpb'], color='black', linestyle='--', label=words['teacher'])
        axes.set_xlabel(words['step'])
        axes.set_ylabel(words['bpb'])


# The plots on the studies' page: each image beside the page, and its results file in `results/`
PAGE_PLOTS = {'divergence': 'divergence.json', 'limited': 'limited.json', 'on_policy': 'on_policy.json'}


def redraw_page_plots(folder: Path = Path(__file__).parent) -> List[Path]:
    """
    The plots of the studies' page drawn again from their results, into
    `folder`, beside the page unless told; the paths written.
    """
    written, font = [], japanese_font()
    for image, name in PAGE_PLOTS.items():
        results = json.loads((Path(__file__).parent / 'results' / name).read_text())
        written += write_figure(plot_history, results, folder / f'{image}.png', font)
    return written

if __name__ == '__main__':
    main()
