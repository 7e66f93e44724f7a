"""
---
title: The distillation studies in one command
summary: >
  Trains the teacher, the small baseline and distilled students for several
  seeds, then writes a results table, a JSON file and plots: the comparison,
  the omitted class, and the temperature and weight sweeps.
---

# The whole study in one command

```bash
python -m labml_nn.distillation.cifar10.pipeline --data-dir DIR --profile cpu --seeds 3 --out OUT
```

1. trains the [large teacher](large.html) once (seed 0), unless `--teacher`
   names one;
2. for each seed, trains the [small model](small.html) on labels alone, and
   the small model [distilled](distill.html) from the teacher;
3. measures each student on the validation split: accuracy per class, and
   for distilled students their [fidelity](dark_knowledge.html) to the
   teacher (top-1 agreement and KL divergence);
4. writes `OUT/results.json`, `OUT/results.md` (accuracy as mean ± standard
   deviation over seeds; both name the command, the commit of the code and
   the date) and `OUT/accuracy.png` (validation accuracy per epoch),
   and the same plot with Japanese labels, `OUT/accuracy.ja.png`, for the
   Japanese pages, when a font with Japanese characters is installed.

That is the default study, `--study compare`. Three more ask what the soft
targets carry, each with its own page: `--study omitted-class --omit CLASS`
([a class the student never saw](omitted_class.html)), `--study temperature`
([which temperature](temperature.html)) and `--study weight` ([soft targets
against labels](weight.html)). Their distilled students read the teacher's
logits from the [teacher cache](teacher_cache.html) instead of running the
teacher at every step; the comparison distils online, as the plain commands do.

A study is many runs, so two options make it cheaper. The students of the
three studies other than `compare` measure validation accuracy every 10
epochs and after the last, not after every epoch (`--valid-every` sets it);
and `--jobs N` trains [N runs side by side](#jobs), each in a process of its
own on its share of the CPU threads.

`--temperature`, `--soft-target-weight` and `--label-loss-weight` set those
of every distilled student, in a study that does not vary them: the
omitted-class study at $T = 8$ is `--study omitted-class --temperature 8`.
The results name what was set.

Under `torchrun` every run of the study trains on all the processes, and
rank 0 alone writes the results ([distributed distillation](distributed.html)).

The command is this page: its options and their checks. What each study
trains is [its variants](studies.html); [running a study](study.html)
trains and measures them, and [its results](report.html) are the tables and
the plots.

Every run is identified by its settings, so running the same command again
reuses the runs that finished and resumes the one that was interrupted.
Choices (the profiles' schedules and the distillation settings) were made on
the held-out validation split; the test split, when the data has one, is only
reported.
"""

import argparse
import dataclasses
import json
import os
import sys
from dataclasses import field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

from labml_nn.distillation.cifar10.studies import DEFAULT_OMITTED, DISTILLED, SHARED, STUDIES, STUDY_VALID_EVERY, \
    distilled_settings
from labml_nn.distillation.cifar10.train import COMMANDS, OPTIONS, PROFILES, add_options, profile_settings
from labml_nn.experiments.checks import check_writable, command_errors, distillation_problem, folder, positive

# PyTorch, the training and the reporting are imported only when the command
# runs, in the functions that need them: importing PyTorch takes seconds, and
# `--help`, or an option with a bad value, should answer at once.


def main(argv=None):
    """
    ## Entry point

    The output folder is checked before any training, and the data and the
    teacher problems end with a message, not a traceback.
    """
    parser = argument_parser()
    args = parser.parse_args(argv)
    if args.replot is not None:
        replot(parser, args)
        return
    if args.omit is not None and args.study != 'omitted-class':
        parser.error(f'--omit is for --study omitted-class, not --study {args.study}')
    for name in distilled_settings(args):
        if any(name in variant.settings for variant in STUDIES[args.study](DEFAULT_OMITTED, args.profile)):
            parser.error(f"--{name.replace('_', '-')} is what --study {args.study} varies; leave it out")
    problem = distillation_problem(profile_settings(args.profile, 'distilled') | distilled_settings(args))
    if problem:
        parser.error(problem)
    from labml_nn.distillation.cifar10.report import write_results
    from labml_nn.distillation.cifar10.study import run_study
    from labml_nn.experiments import distributed
    from labml_nn.experiments.reporting import provenance
    from labml_nn.experiments.training import default_device
    if args.jobs > 1 and distributed.world().size > 1:
        parser.error('--jobs is for one process: under torchrun every run already trains on all the processes')
    if args.jobs > cpu_cores():
        parser.error(f'--jobs {args.jobs} is more than the {cpu_cores()} CPU cores this process may use: the runs '
                     f'would only take turns. Use --jobs {cpu_cores()} or less')
    out = Path(args.out)
    with command_errors():
        # Every run's batch (the profile's) must divide among the processes
        for model in COMMANDS:
            distributed.check_batch_size(profile_settings(args.profile, model)['batch_size'])
        check_writable(out, '--out')
        check_writable(Path(args.logs_dir), '--logs-dir')
        with distributed.process_group(args.device or default_device()):
            results = run_study(args)
    # Under torchrun, rank 0 writes the results, with where they came from
    if distributed.is_main():
        command = provenance(sys.argv[1:] if argv is None else argv, 'labml_nn.distillation.cifar10.pipeline')
        write_results(results | command, out)


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m labml_nn.distillation.cifar10.pipeline',
        description='Train the teacher, the small baseline and distilled students on CIFAR-10 '
                    'and report how much distillation helps.')
    parser.add_argument('--study', choices=list(STUDIES), default='compare',
                        help='compare (default): labels against distillation; omitted-class: a class the '
                             'students never see; temperature, weight: sweeps of T and of the soft-target weight; '
                             'teacher-quality: students of the teacher stopped at each kept epoch')
    parser.add_argument('--omit', help=f'the class the omitted-class study leaves out, a name or an index '
                                       f'(default: {DEFAULT_OMITTED})')
    parser.add_argument('--data-dir', default='./data',
                        help='cifar-10-batches-py, or train/<class>/*.jpg (default: ./data)')
    parser.add_argument('--profile', choices=sorted(PROFILES), default='cpu',
                        help='settings profile (default: cpu)')
    parser.add_argument('--seeds', type=positive(int), default=1, help='student seeds, 0..N-1 (default: 1)')
    parser.add_argument('--out', type=folder, default='./out', help='where the results are written (default: ./out)')
    parser.add_argument('--logs-dir', type=folder, default='./logs', help='where runs are written (default: ./logs)')
    parser.add_argument('--teacher', help='use this teacher (latest, a run id or a checkpoint path) '
                                          'instead of training one')
    parser.add_argument('--jobs', type=positive(int), default=1,
                        help='student runs to train side by side, each on its share of the CPU threads '
                             '(default: 1)')
    add_options(parser, 'small', SHARED)
    add_options(parser, 'distilled', DISTILLED)
    check, help_text = OPTIONS['valid_every']
    parser.add_argument('--valid-every', type=check,
                        help=f'{help_text} (default: 1 for compare, {STUDY_VALID_EVERY} for the other studies)')
    parser.add_argument('--replot', type=results_file, metavar='RESULTS.json',
                        help="train nothing: draw the plots of a study's results.json again, into --out")
    return parser


def replot(parser: argparse.ArgumentParser, args: argparse.Namespace):
    """
    `--replot RESULTS.json`: the study's plots drawn again into `--out`, the
    only other option it takes.
    """
    others = [name for name, value in vars(args).items()
              if name not in ('replot', 'out') and value != parser.get_default(name)]
    if others:
        parser.error(f"--replot draws a results file's plots and trains nothing; leave out "
                     f"--{others[0].replace('_', '-')}")
    from labml_nn.distillation.cifar10.report import draw_plots
    out = Path(args.out)
    with command_errors():
        check_writable(out, '--out')
    print('Wrote ' + ', '.join(str(path) for path in draw_plots(args.replot, out)))


def cpu_cores() -> int:
    """
    <a id="jobs"></a>

    ## Several runs side by side

    `--jobs N` trains N runs at a time, [each in a process of its
    own](study.html#jobs) on its share of the threads; N is at most the CPU
    cores this process may run on, beyond which the runs would only take turns.
    """
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1


def results_file(text: str) -> Dict[str, Any]:
    """
    The results of one of these studies, read from a `results.json` for `--replot`.
    """
    try:
        results = json.loads(Path(text).read_text())
    except (OSError, ValueError) as e:
        raise argparse.ArgumentTypeError(f'cannot read {text} as JSON: {e}')
    if not isinstance(results, dict) or results.get('study') not in STUDIES:
        raise argparse.ArgumentTypeError(f"{text} is not the results.json of a study of this pipeline: its "
                                         f"'study' should be one of {', '.join(STUDIES)}")
    return results


@dataclasses.dataclass(frozen=True)
class PagePlot:
    """
    A plot on the study pages: its image beside the pages (`IMAGE.png` and
    `IMAGE.ja.png`), the file in `results/` it is drawn from, and which of
    [its study's plots](report.html) it is, by file name. One that shows
    some runs only names their `variants`, each with its name on the plot in
    English and Japanese, and their `seed`.
    """
    image: str
    results: str
    plot: str
    variants: Dict[str, Tuple[str, str]] = field(default_factory=dict)
    seed: Optional[int] = None


PAGE_PLOTS = [
    # The overview's: the temperature study's teacher, and its students on labels and at T = 4, seed 0
    PagePlot('accuracy', 'temperature.json', 'accuracy',
             {'labels only': ('small, labels only', '小さなモデル（ラベルのみ）'),
              'T = 4': ('small, distilled', '蒸留した生徒')}, seed=0),
    PagePlot('temperature_sweep', 'temperature.json', 'sweep'),
    PagePlot('weight_sweep', 'weight.json', 'sweep'),
    PagePlot('omitted_cat', 'omitted-class-cat.json', 'per_class'),
    PagePlot('omitted_automobile', 'omitted-class-automobile.json', 'per_class'),
    PagePlot('teacher_quality', 'teacher-quality-cpu.json', 'sweep'),
]


def shown(results: Dict[str, Any], plot: PagePlot) -> Dict[str, Any]:
    """
    The part of `results` that `plot` shows: the teacher, and the runs of
    its variants and seed, renamed; all of it when it names no variants.
    """
    if not plot.variants:
        return results
    variants = [v | dict(zip(('name', 'ja'), plot.variants[v['name']])) for v in results['variants']
                if v['name'] in plot.variants]
    runs = [r for r in results['runs'] if r['variant'] == 'large']
    runs += [r | {'variant': plot.variants[r['variant']][0]} for r in results['runs']
             if r['variant'] in plot.variants and r['seed'] == plot.seed]
    return results | {'variants': variants, 'runs': runs}


def redraw_page_plots(folder: Path = Path(__file__).parent) -> List[Path]:
    """
    The plots of the study pages drawn again from their results, into
    `folder`, beside the pages unless told; the paths written.
    """
    from labml_nn.distillation.cifar10.report import PLOTS
    from labml_nn.experiments.reporting import japanese_font, write_figure
    written, font = [], japanese_font()
    for plot in PAGE_PLOTS:
        results = json.loads((Path(__file__).parent / 'results' / plot.results).read_text())
        draw = dict(PLOTS[results['study']])[plot.plot]
        written += write_figure(draw, shown(results, plot), folder / f'{plot.image}.png', font)
    return written

if __name__ == '__main__':
    main()
