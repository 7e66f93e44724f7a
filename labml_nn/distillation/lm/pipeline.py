r"""
---
title: The language-model studies in one command
summary: >
  Trains the byte-level teacher once, then the students of a study over
  several seeds, and writes results.json, results.md and the study's plot.
---

# The language-model studies in one command

```bash
python -m labml_nn.distillation.lm.pipeline --study divergence --profile cpu --seeds 3 --out OUT
```

1. trains the [teacher](train.html) (seed 0) once, or reuses it;
2. for each seed, trains each variant of the study's students;
3. writes `OUT/STUDY/results.json`, `OUT/STUDY/results.md` and the plot
   `OUT/STUDY/bpb.png` ([what they hold](report.html)).

The five studies, whose results are on [their page](studies.html):

* `divergence`: on every training byte, the student on the next bytes alone
  against the student distilled with forward KL, reverse KL and JSD;
* `limited`: on the first 100,000 training bytes only (about 1% of them),
  the student on the next bytes against the distilled student (forward KL);
* `on-policy`: in the same limited regime, distillation with half the
  batches written by the student itself ($\lambda = 0.5$) against $\lambda = 0$;
* `sparse-targets`: in the limited regime, the student on the next bytes,
  and distilled (forward KL) from the teacher run at every step, from its
  [stored](target_cache.html) dense targets (512 bytes for each position),
  and from its top-k and its sampled targets of $k$ or $m$ = 4, 8, 16 and 32
  entries, which take the same bytes for the same size ($3k$);
* `on-policy-warm`: in the limited regime, the student first trained on
  the next bytes alone (the limited study's, unless `--warm-steps` gives
  another number of steps), then [started from](trainer.html#warm-start)
  and trained as many steps again: on the next bytes alone, and distilled
  with forward KL and with JSD ($\beta = 0.5$) at $\lambda = 0$, $0.5$ and $1$.

Runs are identified by their settings and the corpus, so a variant shared by
two studies (the limited regime's distilled student is the on-policy study's
$\lambda = 0$ and the sparse-targets study's online one) trains once, and
running the command again reuses every finished run and resumes an
interrupted one. The stored targets are built by the first run that needs
them and read by the others. Two studies may run at once in two processes:
a run that one of them is training, the other waits for, then reuses.
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from labml_nn.distillation.lm.train import configs_for, profile_settings, use_threads
from labml_nn.experiments.checks import check_writable, command_errors, folder, positive

# PyTorch, the models and the reporting are imported only when the command
# runs, in the functions that need them: importing PyTorch takes seconds, and
# `--help`, or an option with a bad value, should answer at once.


class Variant(NamedTuple):
    """
    One kind of student in a study: its name, in English and Japanese, its
    command's model, the settings it changes, and the name of the variant of
    the same study whose run of the same seed it starts from, for a
    [warm start](trainer.html#warm-start).
    """
    name: str
    ja: str
    model_name: str
    settings: Dict[str, Any]
    warm_start: str = ''


# The teacher every study shares, trained once with seed 0
TEACHER = Variant('teacher', '教師', 'teacher', {})
# The limited-data regime: the first 100,000 bytes of the training split, unless `--limited-bytes` says otherwise
LIMITED_BYTES = 100_000
# The sizes of the sparse targets: $k$, or the number of draws; the fractions
# $\lambda$ of on-policy batches after a warm start, and the divergences, with their names
SPARSE_SIZES = (4, 8, 16, 32)
WARM_FRACTIONS = (0.0, 0.5, 1.0)
WARM_DIVERGENCES = (('forward_kl', 'forward KL', '順方向 KL'), ('jsd', 'JSD', 'JSD'))


def studies(limited_bytes: int, warm_steps: Optional[int] = None) -> Dict[str, List[Variant]]:
    """
    The variants of each study; `warm_steps`, the steps of the on-policy
    study's warm start (`None`: the profile's, so that it is the limited
    study's labels-only student).
    """
    limited = {'train_bytes': limited_bytes}
    forward_kl = limited | {'divergence': 'forward_kl'}
    return {
        'divergence': [
            Variant('labels only', 'ラベルのみ', 'student', {}),
            Variant('forward KL', '順方向 KL', 'distilled', {'divergence': 'forward_kl'}),
            Variant('reverse KL', '逆方向 KL', 'distilled', {'divergence': 'reverse_kl'}),
            Variant('JSD', 'JSD', 'distilled', {'divergence': 'jsd'}),
        ],
        'limited': [
            Variant('labels only', 'ラベルのみ', 'student', limited),
            Variant('distilled', '蒸留', 'distilled', forward_kl),
        ],
        'on-policy': [
            Variant('λ = 0', 'λ = 0', 'distilled', forward_kl),
            Variant('λ = 0.5', 'λ = 0.5', 'distilled', forward_kl | {'on_policy': 0.5}),
        ],
        'sparse-targets': [
            Variant('labels only', 'ラベルのみ', 'student', limited),
            Variant('online', 'オンライン', 'distilled', forward_kl),
            Variant('dense', '密', 'distilled', forward_kl | {'targets': 'dense'}),
            *[Variant(f'top-{k}', f'上位 {k}', 'distilled', forward_kl | {'targets': 'top-k', 'target_size': k})
              for k in SPARSE_SIZES],
            *[Variant(f'{m} sampled', f'{m} 個のサンプル', 'distilled',
                      forward_kl | {'targets': 'sampled', 'target_size': m}) for m in SPARSE_SIZES],
        ],
        'on-policy-warm': [
            Variant('labels only', 'ラベルのみ', 'student', limited | ({} if warm_steps is None else
                                                                     {'steps': warm_steps})),
            Variant('labels only, continued', 'ラベルのみ（続き）', 'student', limited, 'labels only'),
            *[Variant(f'{name}, λ = {fraction:g}', f'{ja}、λ = {fraction:g}', 'distilled',
                      limited | {'divergence': divergence, 'on_policy': fraction}, 'labels only')
              for divergence, name, ja in WARM_DIVERGENCES for fraction in WARM_FRACTIONS],
        ],
    }


STUDIES = list(studies(LIMITED_BYTES))


def planned_run(variant: Variant, variants: List[Variant], seed: int) -> Tuple:
    """
    What makes a planned run the run it is: its model, its settings, its
    seed and the planned run it starts from. Runs shared by several studies
    are trained once and counted once.
    """
    warm = (planned_run(next(v for v in variants if v.name == variant.warm_start), variants, seed)
            if variant.warm_start else None)
    return variant.model_name, json.dumps(variant.settings, sort_keys=True), seed, warm


def main(argv: Optional[list] = None):
    """
    ## Entry point
    """
    args = argument_parser().parse_args(argv)
    argv = sys.argv[1:] if argv is None else argv
    use_threads(args.threads)
    import torch
    from labml_nn.distillation.lm.data import describe, load_corpus, training_bytes
    from labml_nn.distillation.lm.report import run_result, summarize, write_results
    from labml_nn.distillation.lm.trainer import train
    from labml_nn.experiments import distributed
    from labml_nn.experiments.reporting import Progress, machine, provenance
    from labml_nn.experiments.training import default_device
    variants = studies(args.limited_bytes, args.warm_steps)
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
        progress = Progress(1 + len({planned_run(v, variants[study], seed) for study in chosen
                                     for v in variants[study] for seed in range(args.seeds)}))
        progress.start('teacher')
        teacher = train(configs_for(TEACHER.model_name), run_settings(args, TEACHER.model_name, TEACHER.settings, 0),
                        corpus)
        progress.done(score(teacher), teacher.updated)
        done = {}

        def trained(variant: Variant, study: str, seed: int):
            """
            The run of `variant` with `seed`, trained now unless it was
            already, after the run it starts from; with that run.
            """
            which = planned_run(variant, variants[study], seed)
            warm = None
            if variant.warm_start:
                warm, _ = trained(next(v for v in variants[study] if v.name == variant.warm_start), study, seed)
            if which not in done:
                progress.start(f'{variant.name} seed {seed}')
                done[which] = train(configs_for(variant.model_name),
                                    run_settings(args, variant.model_name, variant.settings, seed, teacher, warm),
                                    corpus)
                progress.done(score(done[which]), done[which].updated)
            return done[which], warm

        for study in chosen:
            runs = [run_result(variant, *trained(variant, study, seed))
                    for seed in range(args.seeds) for variant in variants[study]]
            # The machine, and the command, the commit and the date that made these results
            results = {'study': study, 'profile': args.profile,
                       'machine': machine(str(default_device()), torch.get_num_threads()), 'data': describe(corpus),
                       **provenance(argv, 'labml_nn.distillation.lm.pipeline'),
                       'teacher': run_result(TEACHER, teacher),
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
                             'labels against distillation on 1%% of the bytes; on-policy: lambda 0.5 against 0; '
                             'sparse-targets: dense stored targets, and top-k and sampled ones of '
                             f'{SPARSE_SIZES[0]} to {SPARSE_SIZES[-1]} entries (a byte and its log-probability, '
                             '3 bytes each); '
                             'on-policy-warm: lambda 0, 0.5 and 1 after the labels-only student; all')
    parser.add_argument('--data-dir', default='',
                        help='a folder of text files (default: the Python standard library\'s source)')
    parser.add_argument('--profile', choices=['cpu', 'full', 'smoke'], default='cpu',
                        help='settings profile (default: cpu)')
    parser.add_argument('--seeds', type=positive(int), default=3, help='student seeds, 0..N-1 (default: 3)')
    parser.add_argument('--limited-bytes', type=positive(int), default=LIMITED_BYTES,
                        help=f'training bytes of the limited-data studies (default: {LIMITED_BYTES:,})')
    parser.add_argument('--warm-steps', type=positive(int),
                        help='on-policy-warm: steps on labels before distillation (default: the profile\'s '
                             'student steps, which makes the limited study\'s labels-only student the warm start)')
    parser.add_argument('--out', type=folder, default='./out/lm',
                        help='where the results are written (default: ./out/lm)')
    parser.add_argument('--logs-dir', type=folder, default='./logs', help='where runs are written (default: ./logs)')
    parser.add_argument('--threads', type=positive(int),
                        help="CPU threads PyTorch may use (default: PyTorch's, one per core)")
    return parser


def score(record) -> str:
    """
    A finished run's score, for the progress lines.
    """
    return f'test {record.test_bpb:.3f} bits per byte (validation {record.valid_bpb:.3f})'


def run_settings(args: argparse.Namespace, model_name: str, changes: Dict[str, Any], seed: int,
                 teacher=None, warm=None) -> Dict[str, Any]:
    """
    The settings of one run: the profile's (`args.profile`), the variant's
    changes, the seed, the folders (`args.data_dir`, `args.logs_dir`), for a
    distilled student its `teacher`'s checkpoint, and with a warm start the
    id of the run `warm` it starts from. Without a `teacher` they name none:
    the settings of a distilled student, whatever its teacher, as
    [`lm.sample`](sample.html) compares runs.
    """
    settings = profile_settings(args.profile, model_name) | changes
    settings |= {'seed': seed, 'data_dir': args.data_dir, 'logs_dir': args.logs_dir}
    if model_name == 'distilled' and teacher is not None:
        settings['teacher'] = str(Path(args.logs_dir) / teacher.name / teacher.uuid / 'checkpoints' / 'checkpoint.pt')
    if warm is not None:
        settings['warm_start'] = warm.uuid
    return settings


# The plots on the studies' page: each image beside the page, and its results file in `results/`
PAGE_PLOTS = {'divergence': 'divergence.json', 'limited': 'limited.json', 'on_policy': 'on_policy.json',
              'sparse_targets': 'sparse_targets.json', 'on_policy_warm': 'on_policy_warm.json'}


def redraw_page_plots(folder: Path = Path(__file__).parent) -> List[Path]:
    """
    The plots of the studies' page drawn again from their results, into
    `folder`, beside the page unless told; the paths written.
    """
    from labml_nn.distillation.lm.report import PLOTS, plot_history
    from labml_nn.experiments.reporting import japanese_font, write_figure
    written, font = [], japanese_font()
    for image, name in PAGE_PLOTS.items():
        results = json.loads((Path(__file__).parent / 'results' / name).read_text())
        written += write_figure(PLOTS.get(results['study'], plot_history), results, folder / f'{image}.png', font)
    return written

if __name__ == '__main__':
    main()
