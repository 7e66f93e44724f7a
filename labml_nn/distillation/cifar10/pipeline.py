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

Every run is identified by its settings, so running the same command again
reuses the runs that finished and resumes the one that was interrupted.
Choices (the profiles' schedules and the distillation settings) were made on
the held-out validation split; the test split, when the data has one, is only
reported.
"""

import argparse
import dataclasses
import json
import multiprocessing
import os
import signal
import statistics
import sys
import time
from dataclasses import field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import torch

from labml_nn.distillation.cifar10 import dark_knowledge
from labml_nn.distillation.cifar10.data import CIFAR10, DataError, Split, load_cifar10, normalize, split_train
from labml_nn.distillation.cifar10.teacher import TeacherNotFound, find_teacher, load_teacher_for
from labml_nn.distillation.cifar10.train import COMMANDS, OPTIONS, PROFILES, add_options, command_class, configs_for, \
    profile_settings
from labml_nn.distillation.cifar10.trainer import check_settings, epoch_path, eval_batch_size, train
from labml_nn.experiments import distributed
from labml_nn.experiments.checks import check_writable, command_errors, distillation_problem, folder, positive
from labml_nn.experiments.reporting import Progress, figure, japanese_font, machine, mean_std, provenance, say, \
    write_figure
from labml_nn.experiments.runs import RunRecord, load_checkpoint, write_atomic
from labml_nn.experiments.training import default_device

# The settings the study's command line can change for all its runs at once
SHARED = ['valid_size', 'device', 'compile', 'bf16']
# and for all its distilled students, where the study does not vary them:
# the omitted-class study at another temperature, say
DISTILLED = ['temperature', 'soft_target_weight', 'label_loss_weight']


@dataclasses.dataclass
class Variant:
    """
    <a id="variant"></a>

    ## A variant of the student

    One row of a study's table: a model (`small` or `distilled`) and the
    settings it changes, trained once per seed. `x` is its place on a sweep's
    axis, `ja` its name on the Japanese pages.
    """
    name: str
    model: str
    settings: Dict[str, Any] = field(default_factory=dict)
    ja: str = ''
    x: Optional[float] = None


# The studies' students learn from the [teacher's cached outputs](teacher_cache.html):
# the same soft targets as computing them online, at a fraction of the time
CACHED = {'teacher_cache': True}


def compare_study(omit: str, profile: str) -> List[Variant]:
    """
    ## The studies

    `compare`, the default: the small model on labels against the distilled
    student, both learning online from the teacher as in the plain commands.
    """
    return [Variant('small', 'small', ja='小さなモデル（ラベルのみ）'),
            Variant('distilled', 'distilled', ja='蒸留した生徒')]


def omitted_class_study(omit: str, profile: str) -> List[Variant]:
    """
    `omitted-class`: [the transfer set without one class](omitted_class.html),
    on labels and distilled, and a distilled student that saw every class.
    """
    ja = CLASSES_JA.get(omit, omit)
    return [Variant(f'small, no {omit}', 'small', {'omit_class': omit}, f'ラベルのみ（{ja}なし）'),
            Variant(f'distilled, no {omit}', 'distilled', {'omit_class': omit} | CACHED, f'蒸留（{ja}なし）'),
            Variant('distilled, all classes', 'distilled', CACHED, '蒸留（全クラス）')]


def temperature_study(omit: str, profile: str) -> List[Variant]:
    """
    `temperature`: [$T$ from 1 to 16](temperature.html) at the profile's weights.
    """
    return [Variant('labels only', 'small', ja='ラベルのみ')] + [
        Variant(f'T = {t}', 'distilled', {'temperature': float(t)} | CACHED, f'T = {t}', t)
        for t in (1, 2, 4, 8, 16)]


def weight_study(omit: str, profile: str) -> List[Variant]:
    r"""
    `weight`: [the soft-target weight $w_{soft}$](weight.html) from $0$ (labels
    only) to $1$ (soft targets only), with $w_{label} = 1 - w_{soft}$ on the labels.
    The variants are named α = $w_{soft}$, as on the plot.
    """
    return [Variant('α = 0 (labels only)', 'small', ja='α = 0（ラベルのみ）', x=0.0)] + [
        Variant(f'α = {a}', 'distilled',
                {'soft_target_weight': a, 'label_loss_weight': round(1 - a, 6)} | CACHED, f'α = {a}', a)
        for a in (0.5, 0.9, 0.99, 1.0)]


def teacher_quality_study(omit: str, profile: str) -> List[Variant]:
    """
    `teacher-quality`: which teacher teaches best:
    students distilled from the teacher stopped after each of the epochs
    the profile keeps (`keep_epochs`) and from the finished teacher, against
    labels only. A variant's `teacher_epoch` picks its teacher; its place on
    the axis, that teacher's validation accuracy, is known once the teacher is.
    """
    large = profile_settings(profile, 'large')
    epochs = [*large.get('keep_epochs', ()), large['epochs']]
    return [Variant('labels only', 'small', ja='ラベルのみ')] + [
        Variant(f'teacher of epoch {e}', 'distilled', {'teacher_epoch': e} | CACHED, f'エポック {e} の教師')
        for e in epochs]


STUDIES: Dict[str, Callable[[str, str], List[Variant]]] = {
    'compare': compare_study, 'omitted-class': omitted_class_study,
    'temperature': temperature_study, 'weight': weight_study, 'teacher-quality': teacher_quality_study,
}
# The class the omitted-class study leaves out unless `--omit` names one
DEFAULT_OMITTED = 'cat'
# How often the students of the studies other than `compare` measure
# validation accuracy, in epochs: their results are the final accuracy, and
# measuring after every epoch took about 40% of a `cpu` student's time
STUDY_VALID_EVERY = 10


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
    out = Path(args.out)
    with command_errors():
        check_writable(out, '--out')
    print('Wrote ' + ', '.join(str(path) for path in draw_plots(args.replot, out)))


def distilled_settings(args: argparse.Namespace) -> Dict[str, Any]:
    """
    The settings of the distilled students given on the command line.
    """
    return {name: getattr(args, name) for name in DISTILLED if getattr(args, name) is not None}


def run_study(args: argparse.Namespace) -> Dict[str, Any]:
    """
    ## The study

    The data first (the omitted class must be one of its classes), then the
    teacher, then for each seed each variant of the student, each run
    followed by its measures on the validation split.
    """
    common = {'data_dir': args.data_dir, 'logs_dir': args.logs_dir,
              'valid_every': args.valid_every or (1 if args.study == 'compare' else STUDY_VALID_EVERY)}
    common |= {name: getattr(args, name) for name in SHARED if getattr(args, name) is not None}
    # A teacher that is named must exist, which is known before the data is read
    teacher_path = find_teacher(args.teacher, args.logs_dir, args.profile) if args.teacher else None
    # Load the data once for every run; a named teacher must fit it
    data = load_cifar10(args.data_dir)
    if teacher_path:
        load_teacher_for(teacher_path, data.classes)
    omit = class_name(args.omit or DEFAULT_OMITTED, data.classes) if args.study == 'omitted-class' else ''
    variants = STUDIES[args.study](omit, args.profile)
    students = [(variant, seed) for seed in range(args.seeds) for variant in variants]
    progress = Progress(len(students) + (0 if args.teacher else 1))
    # Every run's settings, the teacher's first, must fit the data before any of them trains
    teacher_settings = profile_settings(args.profile, 'large') | common
    tasks = []
    distilled = distilled_settings(args)
    for variant, seed in students:
        settings = profile_settings(args.profile, variant.model) | common | {'seed': seed} | variant.settings
        if COMMANDS[variant.model]['teacher']:
            settings |= distilled
        tasks.append((f'{variant.name} seed {seed}', variant.model, settings))
    for _, model, settings in [('teacher', 'large', teacher_settings)] + tasks:
        check_settings(command_class(model, 'configs'), settings, data)

    # The teacher: the one named, or one trained with seed 0 and shared by every seed
    if teacher_path:
        teacher = RunRecord.from_checkpoint(load_checkpoint(teacher_path, mmap=True), teacher_path)
    else:
        progress.start('large teacher')
        teacher = train(configs_for('large'), teacher_settings, data)
        progress.done(f'validation accuracy {teacher.valid_accuracy:.2%}', teacher.updated)
    # The study's time starts once the teacher is there
    started = time.perf_counter()
    judge = Measures(args, data, teacher, omit)
    runs = [results_row('large', 'large', teacher) | judge.of_teacher()]

    # The students, in order of seed, `--jobs` of them side by side; the
    # distilled ones learn from the teacher, or from one of its kept epochs
    for _, model, settings in tasks:
        if COMMANDS[model]['teacher']:
            settings['teacher'] = str(teacher_of_epoch(teacher, settings.pop('teacher_epoch', teacher.epochs)))
    variants = [dataclasses.replace(v, x=100 * teacher.history[v.settings['teacher_epoch'] - 1])
                if 'teacher_epoch' in v.settings else v for v in variants]
    records = train_students(tasks, data, args.jobs, Path(args.logs_dir), progress)
    for (variant, seed), record in zip(students, records):
        # A student of a kept epoch records how good its teacher was
        taught_by = ({'teacher_valid_accuracy': teacher.history[variant.settings['teacher_epoch'] - 1]}
                     if 'teacher_epoch' in variant.settings else {})
        runs.append(results_row(variant.model, variant.name, record) | judge.of_student(record) | taught_by)
    say(f'{args.study}: {len(students)} student runs in {(time.perf_counter() - started) / 60:.1f} minutes, '
        f'measures included, the teacher\'s training not (finished runs are reused, not timed again)')
    side_by_side = min(args.jobs, len(students))
    return {'study': args.study, 'profile': args.profile,
            'machine': machine(str(judge.device), threads_per_run(side_by_side), side_by_side),
            'classes': data.classes, 'omitted_class': omit or None, 'distilled_settings': distilled,
            'variants': [dataclasses.asdict(v) for v in variants],
            'runs': runs, 'summary': summarize(runs, variants)}


def teacher_of_epoch(teacher: RunRecord, epoch: int) -> Path:
    """
    The checkpoint of `teacher` after `epoch`: the run's own when it is the
    last, else the epoch it kept; a teacher that did not keep it is named.
    """
    if epoch == teacher.epochs:
        return teacher.path
    path = epoch_path(teacher.path, epoch)
    if not path.is_file():
        raise TeacherNotFound(f'teacher run {teacher.uuid} kept no checkpoint of epoch {epoch} ({path}); '
                              f'a teacher keeps the epochs of its profile\'s keep_epochs when it trains')
    return path


def train_students(tasks: List[Tuple[str, str, Dict[str, Any]]], data: CIFAR10, jobs: int,
                   logs_dir: Path, progress: Progress) -> List[RunRecord]:
    """
    <a id="jobs"></a>

    ## Several runs side by side

    Each task is a label for the progress lines, a model and its settings;
    returns the runs' records in the order of `tasks`. One job trains the
    runs one after another in this process, on every thread. More jobs train
    that many runs at a time, each in a process of its own on its share of
    the threads: a small model keeps one thread busier than two, so in the
    [weight sweep](weight.html) on the 2-core machine two runs on one thread
    each trained about 1.3× as many epochs an hour as one run on two threads
    (about 350 s a run against 220). A run's numbers depend on its
    number of threads (sums are split differently), so a study says how many
    it ran side by side. The workers' own output goes to
    `LOGS/pipeline-jobs.log`; Ctrl-C stops them all, and the same command
    resumes their runs.
    """
    # Never more workers than runs
    jobs = min(jobs, len(tasks))
    if jobs <= 1:
        records = []
        for label, model, settings in tasks:
            progress.start(label)
            records.append(train(configs_for(model), settings, data))
            progress.done(f'validation accuracy {records[-1].valid_accuracy:.2%}', records[-1].updated)
        return records
    warn_about_memory(jobs, data)
    threads, log = threads_per_run(jobs), logs_dir / 'pipeline-jobs.log'
    # Made here: a worker that cannot open its log fails as it starts, and the pool would start another forever
    log.parent.mkdir(parents=True, exist_ok=True)
    say(f'{len(tasks)} student runs, {jobs} side by side on {threads} thread(s) each; their output goes to {log}')
    # The workers are started with Ctrl-C ignored, which they keep from their
    # first instruction (a Ctrl-C while one was still starting printed its
    # traceback); this process stops them. (A Ctrl-C in the milliseconds
    # that starting them takes is lost: press it again.)
    ctrl_c = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        pool = multiprocessing.get_context('spawn').Pool(jobs, _start_worker, (threads, str(log)))
    finally:
        signal.signal(signal.SIGINT, ctrl_c)
    finished = {}
    try:
        for i, record in pool.imap_unordered(_train_task, enumerate(tasks)):
            finished[i] = record
            say(f'[{len(finished) + progress.index}/{progress.runs}] {tasks[i][0]}: '
                f'{record.valid_accuracy:.2%} validation accuracy')
    except BaseException:
        # Ctrl-C or a failed run: stop the other runs; their checkpoints keep the epochs done
        pool.terminate()
        raise
    finally:
        pool.close()
        pool.join()
    return [finished[i] for i in range(len(tasks))]


def cpu_cores() -> int:
    """
    The CPU cores this process may run on.
    """
    return len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count() or 1


# The memory one run side by side takes besides its copies of the images:
# the small command's peak resident memory, 1.1 GB, measured on the smoke
# profile (PyTorch and labml are most of it)
RUN_MEMORY = 1.1e9


def available_memory() -> Optional[float]:
    """
    The bytes of memory available for new processes, where Linux says (`MemAvailable`).
    """
    try:
        for line in Path('/proc/meminfo').read_text().splitlines():
            if line.startswith('MemAvailable:'):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def warn_about_memory(jobs: int, data: CIFAR10):
    """
    Say so when `jobs` runs side by side, each with its own copy of the data
    (loaded, then split: about three copies of the training images), would
    need more memory than is available.
    """
    needed, available = jobs * (RUN_MEMORY + 3 * data.train.images.nbytes), available_memory()
    if available is not None and needed > available:
        say(f'warning: {jobs} runs side by side need about {needed / 1e9:.1f} GB of memory, and '
            f'{available / 1e9:.1f} GB is available; with fewer --jobs they would not swap')


def threads_per_run(jobs: int) -> int:
    """
    Each of `jobs` runs side by side gets an equal share of this process's threads, at least one.
    """
    return max(1, torch.get_num_threads() // jobs)


def _start_worker(threads: int, log: str):
    """
    A worker process: Ctrl-C is for the main process, which stops the workers.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)
    sys.stdout = sys.stderr = open(log, 'a', buffering=1)


def _train_task(task: Tuple[int, Tuple[str, str, Dict[str, Any]]]) -> Tuple[int, RunRecord]:
    """
    Train one run in a worker, on the data loaded from its cache.
    """
    i, (_, model, settings) = task
    return i, train(configs_for(model), settings, load_cifar10(settings['data_dir']))


def class_name(spec: str, classes: List[str]) -> str:
    """
    The class `spec` names, by name or by index. An index is written in
    ASCII digits only: `str.isdigit` is also true for `²`, which `int`
    cannot read, and `int` reads other scripts' digits, such as `٣`.
    """
    if spec in classes:
        return spec
    if spec.isascii() and spec.isdigit() and int(spec) < len(classes):
        return classes[int(spec)]
    raise DataError(f'--omit {spec!r} is not a class of the data: use a name or an index 0-{len(classes) - 1} '
                    f'of {", ".join(classes)}')


class Measures:
    """
    <a id="measures"></a>

    ## The measures of every run

    On the validation split (and the test split, when the data has one):
    the teacher's logits once, then each student's, from which
    [what the student learned](dark_knowledge.html) is computed: fidelity
    for distilled students, and the omitted class's measures in that study.
    Only rank 0 computes them; the others return nothing.
    """

    def __init__(self, args: argparse.Namespace, data: CIFAR10, teacher: RunRecord, omit: str):
        self.device = torch.device(args.device or default_device())
        valid_size = args.valid_size or profile_settings(args.profile, 'small')['valid_size']
        self.splits = {'valid': split_train(data.train, valid_size, None)[1]}
        if data.test is not None:
            self.splits['test'] = data.test
        self.classes, self.omit = data.classes, omit
        self.active = distributed.is_main()
        if self.active:
            model = load_teacher_for(teacher.path, data.classes)
            self.teacher = {name: logits(model, split, self.device) for name, split in self.splits.items()}

    def of_teacher(self) -> Dict[str, Any]:
        """
        The teacher's accuracy per class on validation.
        """
        if not self.active:
            return {}
        labels = self.splits['valid'].labels
        return {'per_class_valid_accuracy': dark_knowledge.per_class_accuracy(
            self.teacher['valid'].argmax(-1), labels, len(self.classes))}

    def of_student(self, record: RunRecord) -> Dict[str, Any]:
        """
        A student's measures, from its final weights.
        """
        if not self.active:
            return {}
        model = command_class(record.model_name, 'model')(len(self.classes))
        model.load_state_dict(load_checkpoint(record.path, mmap=True)['model'])
        student = {name: logits(model, split, self.device) for name, split in self.splits.items()}
        valid = self.splits['valid'].labels
        row = {'per_class_valid_accuracy': dark_knowledge.per_class_accuracy(
            student['valid'].argmax(-1), valid, len(self.classes))}
        if COMMANDS[record.model_name]['teacher']:
            row |= dark_knowledge.fidelity(student['valid'], self.teacher['valid'])
        if self.omit and record.settings.get('omit_class') == self.omit:
            row |= self.omitted(student)
        return row

    def omitted(self, student: Dict[str, torch.Tensor]) -> Dict[str, Any]:
        """
        The omitted class's measures, before and after the bias corrections,
        both biases chosen on the validation split alone: one for accuracy,
        one for the teacher's count of the class.
        """
        k = self.classes.index(self.omit)
        bias = dark_knowledge.best_bias(student['valid'], self.splits['valid'].labels, k)
        teacher_count = int((self.teacher['valid'].argmax(-1) == k).sum())
        matched = dark_knowledge.matched_bias(student['valid'], k, teacher_count)
        row = {'omitted_class': self.omit, 'bias': bias, 'matched_bias': matched}
        for name in ('valid', 'test'):
            if name in self.splits:
                row |= dark_knowledge.omitted_class_measures(student[name], self.splits[name].labels, k, bias,
                                                             matched, self.teacher[name], name)
            else:
                row |= {f'{what}_test_accuracy': None
                        for what in ('omitted', 'corrected', 'corrected_omitted', 'matched', 'matched_omitted')}
        return row


@torch.inference_mode()
def logits(model: torch.nn.Module, split: Split, device: torch.device) -> torch.Tensor:
    """
    A model's logits on every image of `split`, in evaluation mode, in float32 on the CPU.
    """
    model, batch_size = model.to(device).eval(), eval_batch_size(device)
    return torch.cat([model(normalize(split.images[i:i + batch_size].to(device))).float().cpu()
                      for i in range(0, len(split.labels), batch_size)])


def results_row(model_name: str, variant: str, record: RunRecord) -> Dict[str, Any]:
    """
    One row of `results.json`, from a run's final record.
    """
    return {'model': model_name, 'variant': variant, 'seed': record.seed, 'parameters': record.parameters,
            'epochs': record.epochs, 'valid_accuracy': record.valid_accuracy,
            'test_accuracy': record.test_accuracy, 'train_seconds': record.train_seconds,
            'train_images_per_second': record.images / max(record.train_seconds, 1e-9),
            'valid_history': record.history, 'run': record.uuid}


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
MEASURED = ('valid_accuracy', 'teacher_valid_accuracy', 'test_accuracy', 'train_seconds', 'train_images_per_second',
            'teacher_agreement', 'teacher_kl', 'bias', 'omitted_valid_accuracy', 'corrected_valid_accuracy',
            'corrected_omitted_valid_accuracy', 'omitted_test_accuracy', 'corrected_test_accuracy',
            'corrected_omitted_test_accuracy', 'matched_bias', 'matched_valid_accuracy',
            'matched_omitted_valid_accuracy', 'matched_test_accuracy', 'matched_omitted_test_accuracy',
            'omitted_valid_probability', 'teacher_omitted_valid_probability',
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
# CIFAR-10's classes on the Japanese plots
CLASSES_JA = {'airplane': '飛行機', 'automobile': '自動車', 'bird': '鳥', 'cat': '猫', 'deer': '鹿',
              'dog': '犬', 'frog': 'カエル', 'horse': '馬', 'ship': '船', 'truck': 'トラック'}


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


def results_file(text: str) -> Dict[str, Any]:
    """
    The results of one of these studies, read from a `results.json` for `--replot`.
    """
    try:
        results = json.loads(Path(text).read_text())
    except (OSError, ValueError) as e:
        raise argparse.ArgumentTypeError(f'cannot read {text} as JSON: {e}')
    if not isinstance(results, dict) or results.get('study') not in PLOTS:
        raise argparse.ArgumentTypeError(f"{text} is not the results.json of a study of this pipeline: its "
                                         f"'study' should be one of {', '.join(PLOTS)}")
    return results


@dataclasses.dataclass(frozen=True)
class PagePlot:
    """
    A plot on the study pages: its image beside the pages (`IMAGE.png` and
    `IMAGE.ja.png`), the file in `results/` it is drawn from, and what draws
    it. One that shows some runs only names their `variants`, each with its
    name on the plot in English and Japanese, and their `seed`.
    """
    image: str
    results: str
    draw: Callable[[Dict[str, Any], Path, str, Optional[str]], None]
    variants: Dict[str, Tuple[str, str]] = field(default_factory=dict)
    seed: Optional[int] = None


PAGE_PLOTS = [
    # The overview's: the temperature study's teacher, and its students on labels and at T = 4, seed 0
    PagePlot('accuracy', 'temperature.json', plot_history,
             {'labels only': ('small, labels only', '小さなモデル（ラベルのみ）'),
              'T = 4': ('small, distilled', '蒸留した生徒')}, seed=0),
    PagePlot('temperature_sweep', 'temperature.json', plot_sweep),
    PagePlot('weight_sweep', 'weight.json', plot_sweep),
    PagePlot('omitted_cat', 'omitted-class-cat.json', plot_per_class),
    PagePlot('omitted_automobile', 'omitted-class-automobile.json', plot_per_class),
    PagePlot('teacher_quality', 'teacher-quality-cpu.json', plot_sweep),
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
    written, font = [], japanese_font()
    for plot in PAGE_PLOTS:
        results = json.loads((Path(__file__).parent / 'results' / plot.results).read_text())
        written += write_figure(plot.draw, shown(results, plot), folder / f'{plot.image}.png', font)
    return written

if __name__ == '__main__':
    main()
