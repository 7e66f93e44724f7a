r"""
---
title: Text sampled from each model
summary: >
  A command that prints what the teacher, the student trained on the next
  bytes, and the distilled student write after the same prompt, so that the
  difference in bits per byte can be read, not only measured.
---

# Text sampled from each model

```bash
python -m labml_nn.distillation.lm.sample --study limited --seed 1
python -m labml_nn.distillation.lm.sample --study limited --variant distilled --seed 1 --prompt 'class '
python -m labml_nn.distillation.lm.sample --variant teacher --profile cpu
python -m labml_nn.distillation.lm.sample RUN_ID RUN_ID
```

## Which runs

The runs are named the way a [study](pipeline.html) names them: `--study`,
its `--variant`s and the students' `--seed`. A variant is written as the
results tables write it, or in lower case with hyphens (`labels-only`,
`lambda-0.5` for $\lambda = 0.5$, `jsd-lambda-1` for `JSD, λ = 1`);
`teacher` is the teacher every study shares, trained once with seed 0.
Without `--variant`, the teacher and every variant of the study are sampled.
A variant's run is the finished run with the settings the study's command
gives it, so `--profile`, `--limited-bytes` and `--warm-steps` are the ones
the study ran with, and a variant that continues another (a warm start) is
the run started from that variant's run of the same seed. The teacher's checkpoint,
which a distilled student's settings name, is not compared, nor is the
corpus. When two runs fit (a study run on two corpora, say) both are named,
and one is then sampled by its id.

A run is also named by its checkpoint's path, by its id, or by the start of
its id when no other run's id starts the same way; an id is read as text,
never as a pattern. With no run named at all, the newest finished teacher,
student and distilled student of the profile are sampled. Each sample is
headed by the run it came from.

## The prompt

Every model continues the same prompt with the same random numbers, at
temperature $\tau$ (default $0.8$: a little sharper than the model's own
distribution, as is usual when reading samples), until its context is full.
Without `--prompt`, the prompt is in the language of the corpus the runs were
trained on: the start of a Python function for the standard library's source,
and for a folder of text its own first bytes of validation text, which no
model trained on.

Before anything is sampled, every model is checked against the prompt: a
model whose training diverged has nothing to say, and a prompt must fit its
context. Any $\tau > 0$ samples; near $0$, the most likely byte each time.
"""

import argparse
import os
import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from labml_nn.distillation.lm.pipeline import LIMITED_BYTES, STUDIES, TEACHER, Variant, run_settings, studies
from labml_nn.distillation.lm.train import PROFILES
from labml_nn.experiments import checks
from labml_nn.experiments.checks import CommandError, command_errors, positive

if TYPE_CHECKING:
    from labml_nn.distillation.lm.trainer import LMRecord
    from labml_nn.distillation.lm.transformer import ByteTransformer

# PyTorch and the models are imported only when the command runs, in the
# functions that need them: importing PyTorch takes seconds, and `--help`,
# or an option with a bad value, should answer at once.

# The prompt for runs on the standard library's source
PYTHON_PROMPT = b'import os\n\n\ndef '
# The most bytes of a folder's validation split a prompt takes
PROMPT_BYTES = 32


class CannotSample(CommandError):
    """
    A model that cannot be sampled: its weights are not numbers, or the prompt does not fit it.
    """


class RunsNotNamed(CommandError):
    """
    Options that name no run, or several where they mean one: an id or a
    variant with no run, a variant the study does not have, a seed or a
    student's variant without a study, or runs named by id and by study at once.
    """


def prompt_bytes(text: str) -> bytes:
    """
    `--prompt` as the bytes given on the command line, those that are not
    UTF-8 included (Python holds them in `argv` as surrogates, which
    `os.fsencode` turns back into the bytes). A model continues text, so
    there must be at least one.
    """
    if not text:
        raise argparse.ArgumentTypeError("an empty prompt; the models continue text, so give at least one byte, "
                                         "such as --prompt 'def '")
    return os.fsencode(text)


def option_name(variant: str) -> str:
    """
    A variant's name as `--variant` takes it, in lower case with hyphens:
    `labels-only` for `labels only`, `jsd-lambda-0.5` for `JSD, λ = 0.5`.
    """
    return re.sub(r'[\s,]+', '-', variant.lower().replace('λ = ', 'lambda-'))


def chosen_variants(study: Optional[str], names: Optional[List[str]], variants: List[Variant]) -> List[Variant]:
    """
    The variants `names` (any spelling `option_name` reads) of the teacher
    and the study's `variants`, or without names all of them.
    """
    offered = [TEACHER] + variants
    by_name = {option_name(variant.name): variant for variant in offered}
    for name in names or []:
        if option_name(name) in by_name:
            continue
        if study is None:
            raise RunsNotNamed(f'--variant {name} names a variant of a study: give the study too, one of '
                               f'--study {", ".join(STUDIES)} (only --variant teacher needs none)')
        raise RunsNotNamed(f'the {study} study has no variant {name}; its variants are {", ".join(by_name)}')
    return [by_name[option_name(name)] for name in names] if names else offered


def comparable(settings: Dict[str, Any]) -> Dict[str, Any]:
    """
    The settings two runs of one variant share: the run's [identity](../../experiments/runs.html#identity),
    without the teacher's checkpoint path, which says where the teacher is and not what it is.
    """
    from labml_nn.experiments.runs import identity
    return {name: value for name, value in identity(settings)['settings'].items() if name != 'teacher'}


def study_run(variant: Variant, seed: int, args: argparse.Namespace, variants: List[Variant]) -> 'LMRecord':
    """
    ## A study's run

    The one finished run of `variant` with `seed` (the teacher's is 0): the
    settings the study's command gives it, the profile's with the variant's
    changes, and for a warm start the run of the study's `variants` it starts from.
    """
    from labml_nn.distillation.lm.trainer import LMRecord, experiment_name
    from labml_nn.experiments.runs import find_runs
    seed = 0 if variant is TEACHER else seed
    warm = (study_run(next(v for v in variants if v.name == variant.warm_start), seed, args, variants)
            if variant.warm_start else None)
    # The study's settings without a teacher, which is not compared; nor is the corpus, so its folder is any
    study = argparse.Namespace(profile=args.profile, data_dir='', logs_dir=args.logs_dir)
    settings = run_settings(study, variant.model_name, variant.settings, seed, teacher=None, warm=warm)
    wanted = comparable(settings)
    name = experiment_name(settings)
    runs = [run for run in find_runs(args.logs_dir, name, LMRecord)
            if run.finished and comparable(run.settings) == wanted]
    what = ('the teacher' if variant is TEACHER else
            f'the {variant.name} variant of the {args.study} study with seed {seed}') + f' (profile {args.profile})'
    if not runs:
        # The options that change which run this is
        options = (['--profile'] + ['--limited-bytes'] * ('train_bytes' in variant.settings) +
                   ['--warm-steps'] * (args.study == 'on-policy-warm'))
        raise RunsNotNamed(f'no finished run of {what} in {args.logs_dir}. Train it (adding the --data-dir it '
                           f'trains on, if any): {training_command(variant, seed, args)}; or, if it was trained, '
                           f'give the options it was trained with ({", ".join(options)})')
    if len(runs) > 1:
        names = ', '.join(f'{run_name(run.path)} (on {corpus_name(run)})' for run in runs)
        raise RunsNotNamed(f'{len(runs)} finished runs are {what}: {names}; sample the one you mean by its id: '
                           f'python -m labml_nn.distillation.lm.sample {runs[0].uuid}')
    return runs[0]


def training_command(variant: Variant, seed: int, args: argparse.Namespace) -> str:
    """
    The command that trains `variant`'s run: the teacher's own, or the study's.
    """
    if variant is TEACHER:
        command = ['labml_nn.distillation.lm.train', 'teacher']
    else:
        command = ['labml_nn.distillation.lm.pipeline', '--study', args.study, '--seeds', str(seed + 1)]
        if args.limited_bytes != LIMITED_BYTES:
            command += ['--limited-bytes', str(args.limited_bytes)]
        if args.warm_steps is not None:
            command += ['--warm-steps', str(args.warm_steps)]
    return shlex.join(['python', '-m', *command, '--profile', args.profile, '--logs-dir', args.logs_dir])


def newest_finished(logs_dir: str, model_name: str, profile: str) -> Optional['LMRecord']:
    """
    The newest finished run of `model_name` in `profile` whose weights are
    finite numbers, or `None`: as with `--teacher latest`, a run that
    diverged is passed over.
    """
    from labml_nn.distillation.lm.trainer import LMRecord, experiment_name
    from labml_nn.experiments.runs import find_runs, has_finite_weights
    runs = find_runs(logs_dir, experiment_name({'model_name': model_name, 'profile': profile}), LMRecord)
    return next((run for run in runs if run.finished and has_finite_weights(run.path)), None)


def run_name(path: Path) -> str:
    """
    A run as its folder of runs and its id, `lm-teacher-cpu/<id>`.
    """
    return f'{path.parents[2].name}/{path.parents[1].name}'


def corpus_name(run: 'LMRecord') -> str:
    """
    The corpus a run was trained on: the folder it was given, or the standard library.
    """
    return run.settings.get('data_dir') or "the standard library's source"


def checkpoint_of(spec: str, logs_dir: str) -> Path:
    """
    A checkpoint, given by its path, by its run's id, or by the start of an
    id no other run's id starts with. The id is compared as text: `*` or a
    row of `?`, which as a glob pattern would match some run, names none.
    """
    if not spec:
        raise RunsNotNamed('an empty run id; name a run by its id, the start of its id, or its checkpoint\'s path')
    if Path(spec).is_file():
        return Path(spec)
    runs = sorted(path for path in Path(logs_dir).glob('lm-*/*/checkpoints/checkpoint.pt')
                  if path.parents[1].name.startswith(spec))
    if not runs:
        raise RunsNotNamed(f'no run {spec} in {logs_dir}, and no file of that name')
    if len(runs) > 1:
        raise RunsNotNamed(f'{spec} is the start of {len(runs)} runs: {", ".join(map(run_name, runs))}; '
                           f'give more of the id')
    return runs[0]


def record_of(path: Path) -> 'LMRecord':
    """
    The record of the language model whose checkpoint is at `path`.
    """
    from labml_nn.distillation.lm.trainer import LMRecord
    from labml_nn.experiments.runs import load_checkpoint
    record = LMRecord.from_checkpoint(load_checkpoint(path, mmap=True), path)
    if record is None:
        raise RunsNotNamed(f'{path} is not a checkpoint of a byte-level language model')
    return record


def runs_to_sample(args: argparse.Namespace) -> List['LMRecord']:
    """
    The runs the command line names: by id, by study, or the newest of each model.
    """
    by_study = args.study or args.variant or args.seed is not None
    if args.runs and by_study:
        raise RunsNotNamed('runs are named by id or by --study, --variant and --seed, not both; give one of them')
    if args.runs:
        return [record_of(checkpoint_of(spec, args.logs_dir)) for spec in args.runs]
    if args.seed is not None and args.study is None:
        raise RunsNotNamed(f'--seed picks the students of a study: give the study too, one of '
                           f'--study {", ".join(STUDIES)}')
    if by_study:
        variants = studies(args.limited_bytes, args.warm_steps)[args.study] if args.study else []
        return [study_run(variant, args.seed or 0, args, variants)
                for variant in chosen_variants(args.study, args.variant, variants)]
    runs = [run for model in ('teacher', 'student', 'distilled')
            if (run := newest_finished(args.logs_dir, model, args.profile)) is not None]
    if not runs:
        raise RunsNotNamed(f'no finished runs of profile {args.profile} in {args.logs_dir}; train one first')
    return runs


def default_prompt(runs: List['LMRecord']) -> bytes:
    """
    ## The default prompt

    A prompt in the language of the corpus the runs were trained on: the
    start of a Python function for the standard library; for a folder, the
    first bytes of its validation split. Either is cut to half the smallest
    context, so that every model writes at least as much as it is given.
    """
    from labml_nn.distillation.lm.data import load_corpus
    if len({run.data_fingerprint for run in runs}) > 1:
        raise CannotSample('the runs were trained on different corpora, so no one default prompt is in the '
                           'language of each; give one with --prompt')
    length = min(PROMPT_BYTES, min(run.settings['context'] for run in runs) // 2)
    folder = runs[0].settings.get('data_dir')
    if not folder:
        return PYTHON_PROMPT[:length]
    if not Path(folder).is_dir():
        raise CannotSample(f'{run_name(runs[0].path)} was trained on the folder {folder}, which is not there; '
                           f'give a --prompt, or run the command where that folder is')
    return bytes(load_corpus(folder).valid[:length].tolist())


def model_to_sample(run: 'LMRecord', prompt: bytes) -> 'ByteTransformer':
    """
    The model of `run`, once it is known to sample with `prompt`.
    """
    from labml_nn.distillation.lm.distill import load_model
    from labml_nn.experiments.runs import has_finite_weights
    if not has_finite_weights(run.path):
        raise CannotSample(f'{run_name(run.path)} has weights that are not finite numbers (its training diverged); '
                           f'nothing can be sampled from it: {run.path}')
    model = load_model(str(run.path), 1)
    if len(prompt) >= model.context:
        raise CannotSample(f'the prompt has {len(prompt)} bytes; the model reads {model.context}, so give it at most '
                           f'{model.context - 1}')
    return model


def describe_run(run: 'LMRecord') -> str:
    """
    One line about a run: which it is, its model, the settings that make it
    what it is, and its test bits per byte.
    """
    settings = run.settings
    what = [run.model_name, f'seed {run.seed}']
    if settings.get('train_bytes'):
        what.append(f"{settings['train_bytes']:,} training bytes")
    if settings.get('warm_start'):
        what.append(f"started from run {settings['warm_start'][:8]}")
    if run.model_name == 'distilled':
        what.append(settings['divergence'])
        if settings.get('on_policy'):
            what.append(f"λ = {settings['on_policy']}")
        if settings.get('targets', 'online') != 'online':
            what.append(f"{settings['targets']} targets" +
                        (f" of {settings['target_size']}" if settings.get('target_size') else ''))
    return (f'{run_name(run.path)}: ' + ', '.join(what) +
            (f'; test {run.test_bpb:.3f} bits per byte' if run.test_bpb is not None else ''))


def argument_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog='python -m labml_nn.distillation.lm.sample',
                                     description='Print text sampled from trained byte-level models, each '
                                                 'continuing the same prompt. Name the runs by a study, its '
                                                 'variants and the seed, or by their ids.')
    parser.add_argument('runs', nargs='*', help='run ids, starts of run ids, or checkpoint paths (default: the runs '
                                                '--study, --variant and --seed name, or else the newest finished '
                                                'teacher, student and distilled student of the profile)')
    parser.add_argument('--study', choices=STUDIES,
                        help='the study whose runs to sample, as given to labml_nn.distillation.lm.pipeline')
    variants = '; '.join(f'{study}: {", ".join(option_name(v.name) for v in study_variants)}'
                         for study, study_variants in studies(LIMITED_BYTES).items())
    parser.add_argument('--variant', action='append',
                        help=f'a variant of the study, and again for more: teacher, or {variants} (default: the '
                             f'teacher and every variant of the study)')
    parser.add_argument('--seed', type=checks.seed,
                        help="the students' seed in the study (default: 0); the teacher's is always 0")
    parser.add_argument('--profile', choices=sorted(PROFILES), default='cpu',
                        help='the profile the runs were trained with (default: cpu)')
    parser.add_argument('--limited-bytes', type=positive(int), default=LIMITED_BYTES,
                        help=f'the training bytes the study was given for its limited-data runs '
                             f'(default: {LIMITED_BYTES:,})')
    parser.add_argument('--warm-steps', type=positive(int),
                        help="on-policy-warm: the warm start's steps the study was given (default: the profile's)")
    parser.add_argument('--logs-dir', default='./logs', help='where runs are (default: ./logs)')
    parser.add_argument('--prompt', type=prompt_bytes,
                        help="the text every model continues (default: in the corpus's language: a Python line for "
                             "the standard library, the first validation bytes of a folder of text)")
    parser.add_argument('--temperature', type=positive(float), default=0.8, help='tau (default: 0.8)')
    parser.add_argument('--sampling-seed', type=checks.seed, default=0,
                        help='seed of the random numbers that draw the bytes (default: 0)')
    return parser


def main(argv: Optional[List[str]] = None):
    args = argument_parser().parse_args(argv)
    import torch
    from labml_nn.distillation.lm.transformer import sample
    with command_errors():
        runs = runs_to_sample(args)
        prompt = args.prompt or default_prompt(runs)
        # Every model is checked before any is sampled from
        models = [model_to_sample(run, prompt) for run in runs]
        tokens = torch.tensor([list(prompt)])
        # Each model writes until its context is full, from the same random numbers
        for run, model in zip(runs, models):
            text = sample(model, tokens, model.context + 1 - tokens.shape[1],
                          torch.Generator().manual_seed(args.sampling_seed), args.temperature)
            print(f'--- {describe_run(run)}\n{bytes(text[0].tolist()).decode(errors="replace")}\n')


if __name__ == '__main__':
    main()
