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
python -m labml_nn.distillation.lm.sample --profile cpu
python -m labml_nn.distillation.lm.sample --profile cpu --prompt 'class ' RUN_ID RUN_ID
```

Without runs named, it samples from the newest finished run of the teacher,
of the student and of the distilled student of the profile. A run is named
by its checkpoint's path, by its id, or by the start of its id when no other
run's id starts the same way; an id is read as text, never as a pattern, and
each sample is headed by the run it came from. Every model continues the
same prompt with the same random numbers, at temperature $\tau$ (default
$0.8$: a little sharper than the model's own distribution, as is usual when
reading samples), until its context is full.

Before anything is sampled, every model is checked against the prompt: a
model whose training diverged has nothing to say, and a prompt must fit its
context. Any $\tau > 0$ samples; near $0$, the most likely byte each time.
"""

import argparse
import os
from pathlib import Path
from typing import List, Optional

import torch

from labml_nn.distillation.lm.distill import RunNotFound, load_model
from labml_nn.distillation.lm.train import PROFILES
from labml_nn.distillation.lm.trainer import LMRecord, experiment_name
from labml_nn.distillation.lm.transformer import ByteTransformer, sample
from labml_nn.experiments.checks import CommandError, command_errors, positive
from labml_nn.experiments.runs import find_runs, has_finite_weights, load_checkpoint


class CannotSample(CommandError):
    """
    A model that cannot be sampled: its weights are not numbers, or the prompt does not fit it.
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


def newest_finished(logs_dir: str, model_name: str, profile: str) -> Optional[Path]:
    """
    The checkpoint of the newest finished run of `model_name` in `profile`
    whose weights are finite numbers, or `None`: as with `--teacher latest`,
    a run that diverged is passed over.
    """
    runs = find_runs(logs_dir, experiment_name({'model_name': model_name, 'profile': profile}), LMRecord)
    return next((run.path for run in runs if run.finished and has_finite_weights(run.path)), None)


def run_name(path: Path) -> str:
    """
    A run as its folder of runs and its id, `lm-teacher-cpu/<id>`.
    """
    return f'{path.parents[2].name}/{path.parents[1].name}'


def checkpoint_of(spec: str, logs_dir: str) -> Path:
    """
    A checkpoint, given by its path, by its run's id, or by the start of an
    id no other run's id starts with. The id is compared as text: `*` or a
    row of `?`, which as a glob pattern would match some run, names none.
    """
    if not spec:
        raise RunNotFound('an empty run id; name a run by its id, the start of its id, or its checkpoint\'s path')
    if Path(spec).is_file():
        return Path(spec)
    runs = sorted(path for path in Path(logs_dir).glob('lm-*/*/checkpoints/checkpoint.pt')
                  if path.parents[1].name.startswith(spec))
    if not runs:
        raise RunNotFound(f'no run {spec} in {logs_dir}, and no file of that name')
    if len(runs) > 1:
        raise RunNotFound(f'{spec} is the start of {len(runs)} runs: {", ".join(map(run_name, runs))}; '
                          f'give more of the id')
    return runs[0]


def model_to_sample(path: Path, prompt: bytes) -> ByteTransformer:
    """
    The model of the checkpoint at `path`, once it is known to sample with `prompt`.
    """
    if not has_finite_weights(path):
        raise CannotSample(f'{run_name(path)} has weights that are not finite numbers (its training diverged); '
                           f'nothing can be sampled from it: {path}')
    model = load_model(str(path), 1)
    if len(prompt) >= model.context:
        raise CannotSample(f'the prompt has {len(prompt)} bytes; the model reads {model.context}, so give it at most '
                           f'{model.context - 1}')
    return model


def describe_run(path: Path) -> str:
    """
    One line about a run: which it is, its model, the settings that make it
    what it is, and its test bits per byte.
    """
    state = load_checkpoint(path, mmap=True)
    settings = state['settings']
    what = [state['model_name'], f"seed {state['seed']}"]
    if settings.get('train_bytes'):
        what.append(f"{settings['train_bytes']:,} training bytes")
    if state['model_name'] == 'distilled':
        what.append(settings['divergence'])
        if settings.get('on_policy'):
            what.append(f"λ = {settings['on_policy']}")
    test = state.get('test_bpb')
    return (f'{experiment_name(settings)}/{state["uuid"]}: ' + ', '.join(what) +
            (f'; test {test:.3f} bits per byte' if test is not None else ''))


def main(argv: Optional[List[str]] = None):
    parser = argparse.ArgumentParser(prog='python -m labml_nn.distillation.lm.sample',
                                     description='Print text sampled from trained byte-level models.')
    parser.add_argument('runs', nargs='*', help='run ids, starts of run ids, or checkpoint paths (default: the '
                                                'newest finished teacher, student and distilled student of the '
                                                'profile)')
    parser.add_argument('--logs-dir', default='./logs', help='where runs are (default: ./logs)')
    parser.add_argument('--profile', choices=sorted(PROFILES), default='cpu',
                        help='the profile of the default runs (default: cpu)')
    parser.add_argument('--prompt', type=prompt_bytes, default='import os\n\n\ndef ',
                        help='the text every model continues')
    parser.add_argument('--temperature', type=positive(float), default=0.8, help='tau (default: 0.8)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the random numbers (default: 0)')
    args = parser.parse_args(argv)
    with command_errors():
        paths = ([checkpoint_of(spec, args.logs_dir) for spec in args.runs] or
                 [p for m in ('teacher', 'student', 'distilled')
                  if (p := newest_finished(args.logs_dir, m, args.profile)) is not None])
        if not paths:
            raise RunNotFound(f'no finished runs of profile {args.profile} in {args.logs_dir}; train one first')
        # Every model is checked before any is sampled from
        models = [model_to_sample(path, args.prompt) for path in paths]
        prompt = torch.tensor([list(args.prompt)])
        for path, model in zip(paths, models):
            text = sample(model, prompt, model.context + 1 - prompt.shape[1],
                          torch.Generator().manual_seed(args.seed), args.temperature)
            print(f'--- {describe_run(path)}\n{bytes(text[0].tolist()).decode(errors="replace")}\n')


if __name__ == '__main__':
    main()
