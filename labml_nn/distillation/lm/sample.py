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
of the student and of the distilled student of the profile; a run is named
by its id or its checkpoint's path. Every model continues the same prompt
with the same random numbers, at temperature $\tau$ (default $0.8$: a
little sharper than the model's own distribution, as is usual when reading
samples), until its context is full.
"""

import argparse
from pathlib import Path
from typing import List, Optional

import torch

from labml_nn.distillation.lm.distill import RunNotFound, load_model
from labml_nn.distillation.lm.transformer import sample
from labml_nn.experiments.checks import command_errors, positive
from labml_nn.experiments.runs import load_checkpoint


def newest_finished(logs_dir: str, model_name: str, profile: str) -> Optional[Path]:
    """
    The checkpoint of the newest finished run of `model_name` in `profile`, or `None`.
    """
    finished = [(state['updated'], path) for path in Path(logs_dir).glob(f'lm-{model_name}-{profile}/*/checkpoints/'
                                                                             f'checkpoint.pt')
                if (state := load_checkpoint(path, mmap=True)) and state.get('finished')]
    return max(finished)[1] if finished else None


def checkpoint_of(spec: str, logs_dir: str) -> Path:
    """
    A checkpoint path, given as one or as a run id.
    """
    if Path(spec).is_file():
        return Path(spec)
    found = list(Path(logs_dir).glob(f'lm-*/{spec}/checkpoints/checkpoint.pt'))
    if not found:
        raise RunNotFound(f'no run {spec} in {logs_dir}, and no file of that name')
    return found[0]


def describe_run(path: Path) -> str:
    """
    One line about a run: its model, the settings that make it what it is, and its test bits per byte.
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
    return ', '.join(what) + (f'; test {test:.3f} bits per byte' if test is not None else '') + f' ({state["uuid"]})'


def main(argv: Optional[List[str]] = None):
    parser = argparse.ArgumentParser(prog='python -m labml_nn.distillation.lm.sample',
                                     description='Print text sampled from trained byte-level models.')
    parser.add_argument('runs', nargs='*', help='run ids or checkpoint paths (default: the newest finished '
                                                'teacher, student and distilled student of the profile)')
    parser.add_argument('--logs-dir', default='./logs', help='where runs are (default: ./logs)')
    parser.add_argument('--profile', default='cpu', help='the profile of the default runs (default: cpu)')
    parser.add_argument('--prompt', default='import os\n\n\ndef ', help='the text every model continues')
    parser.add_argument('--temperature', type=positive(float), default=0.8, help='tau (default: 0.8)')
    parser.add_argument('--seed', type=int, default=0, help='seed of the random numbers (default: 0)')
    args = parser.parse_args(argv)
    with command_errors():
        paths = ([checkpoint_of(spec, args.logs_dir) for spec in args.runs] or
                 [p for m in ('teacher', 'student', 'distilled')
                  if (p := newest_finished(args.logs_dir, m, args.profile)) is not None])
        if not paths:
            raise RunNotFound(f'no finished runs of profile {args.profile} in {args.logs_dir}; train one first')
        prompt = torch.tensor([list(args.prompt.encode())])
        for path in paths:
            model = load_model(str(path), 1)
            if prompt.shape[1] >= model.context:
                raise RunNotFound(f'the prompt has {prompt.shape[1]} bytes; the model reads {model.context}')
            text = sample(model, prompt, model.context + 1 - prompt.shape[1],
                          torch.Generator().manual_seed(args.seed), args.temperature)
            print(f'--- {describe_run(path)}\n{bytes(text[0].tolist()).decode(errors="replace")}\n')


if __name__ == '__main__':
    main()
