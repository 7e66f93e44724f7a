"""
---
title: Running a study
summary: >
  How the CIFAR-10 pipeline runs a study: the teacher, then every student of
  every seed, one after another or side by side in worker processes, each
  followed by its measures on the validation split.
---

# Running a study

[The command](pipeline.html) checks its options, then hands them here: the
data is loaded once, the teacher trained or found, then each
[variant](studies.html) of the student trained for each seed, and each run
measured: accuracy per class, and what a distilled student took from its
teacher. The rows go to [the summary and the plots](report.html).
"""

import argparse
import copy
import dataclasses
import multiprocessing
import signal
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import torch

from labml_nn.distillation.cifar10 import dark_knowledge
from labml_nn.distillation.cifar10.data import CIFAR10, DataError, Split, load_cifar10, normalize, split_train
from labml_nn.distillation.cifar10.report import summarize
from labml_nn.distillation.cifar10.studies import DEFAULT_OMITTED, SHARED, STUDIES, STUDY_VALID_EVERY, \
    distilled_settings
from labml_nn.distillation.cifar10.teacher import TeacherNotFound, find_teacher, load_teacher_for
from labml_nn.distillation.cifar10.train import COMMANDS, command_class, configs_for, profile_settings
from labml_nn.distillation.cifar10.trainer import check_settings, epoch_path, eval_batch_size, train
from labml_nn.experiments import distributed
from labml_nn.experiments.reporting import Progress, machine, say
from labml_nn.experiments.runs import RunRecord, load_checkpoint
from labml_nn.experiments.training import default_device


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
        # The `labml` profile's runs are also measured as labml.ai measures its models
        self.as_labml = args.profile == 'labml'
        if self.active:
            model = load_teacher_for(teacher.path, data.classes)
            self.teacher = {name: logits(model, split, self.device) for name, split in self.splits.items()}
            self.teacher_as_labml = self.as_labml_measures(model)

    def of_teacher(self) -> Dict[str, Any]:
        """
        The teacher's accuracy per class on validation.
        """
        if not self.active:
            return {}
        labels = self.splits['valid'].labels
        return {'per_class_valid_accuracy': dark_knowledge.per_class_accuracy(
            self.teacher['valid'].argmax(-1), labels, len(self.classes))} | self.teacher_as_labml

    def as_labml_measures(self, model: torch.nn.Module) -> Dict[str, Any]:
        """
        For the `labml` profile, the validation accuracy with
        [batch statistics](#batch-statistics), as labml.ai evaluates.
        """
        if not self.as_labml:
            return {}
        return {'batch_statistics_valid_accuracy': batch_statistics_accuracy(model, self.splits['valid'], self.device)}

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
            student['valid'].argmax(-1), valid, len(self.classes))} | self.as_labml_measures(model)
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
    return batched_logits(model.to(device).eval(), split, device, eval_batch_size(device))


def batched_logits(model: torch.nn.Module, split: Split, device: torch.device, batch_size: int) -> torch.Tensor:
    """
    A model's logits on every image of `split`, `batch_size` images at a
    time in order, in the mode the model is in, in float32 on the CPU.
    """
    return torch.cat([model(normalize(split.images[i:i + batch_size].to(device))).float().cpu()
                      for i in range(0, len(split.labels), batch_size)])


# labml.ai's models keep no running statistics in batch normalization, so
# they are evaluated with the statistics of each batch, of 1,024 images
LABML_EVAL_BATCH = 1024


@torch.inference_mode()
def batch_statistics_accuracy(model: torch.nn.Module, split: Split, device: torch.device,
                              batch_size: int = LABML_EVAL_BATCH) -> float:
    """
    <a id="batch-statistics"></a>

    ## Accuracy with batch statistics

    A model's accuracy on `split` with dropout off but each batch
    normalization using the mean and variance of the batch of `batch_size`
    images it is given, in order, instead of its running statistics. Measured
    on a copy, whose running statistics this changes, in float32.
    """
    model = copy.deepcopy(model).to(device).eval()
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
            module.train()
    predicted = batched_logits(model, split, device, batch_size).argmax(-1)
    return int((predicted == split.labels).sum()) / len(split.labels)


def results_row(model_name: str, variant: str, record: RunRecord) -> Dict[str, Any]:
    """
    One row of `results.json`, from a run's final record.
    """
    return {'model': model_name, 'variant': variant, 'seed': record.seed, 'parameters': record.parameters,
            'epochs': record.epochs, 'valid_accuracy': record.valid_accuracy,
            'test_accuracy': record.test_accuracy, 'train_seconds': record.train_seconds,
            'train_images_per_second': record.images / max(record.train_seconds, 1e-9),
            'valid_history': record.history, 'run': record.uuid}

