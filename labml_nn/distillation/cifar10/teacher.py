"""
---
title: Finding and loading the teacher
summary: >
  The teacher named by --teacher (latest, a run id or a checkpoint path),
  checked before any training: a finished large model with finite weights
  and the data's classes.
---

# Finding and loading the teacher

`--teacher` takes `latest` (the newest finished teacher of the same profile),
a run id, or the path of a checkpoint. The teacher is never written into the
code. Every way a named teacher can be wrong is found here, before any
training, and said in one message: no such run, a file that is not a
checkpoint, a student's checkpoint, weights that diverged, weights that do
not fit the large model, or other classes than the data's, by name or by order.
"""

from pathlib import Path
from typing import List

from labml_nn.distillation.cifar10.large import LargeModel
from labml_nn.experiments.checks import CommandError
from labml_nn.experiments.runs import RunRecord, find_runs, has_finite_weights, load_checkpoint


class TeacherNotFound(CommandError):
    """
    No teacher matches `--teacher`; the message says how to train one.
    """


def find_teacher(spec: str, logs_dir: str, profile: str) -> Path:
    """
    ## Finding the teacher

    `spec` is `latest`, a run id, or a checkpoint path. Only finished runs
    with finite weights are teachers.
    """
    if spec != 'latest' and Path(spec).is_file():
        return _check_teacher_file(Path(spec))
    if spec == 'latest':
        finished = [r for r in find_runs(logs_dir, f'large-{profile}') if r.finished]
    else:
        # A run id, of a teacher of any profile; a student's run is no teacher
        finished = [r for r in find_runs(logs_dir, 'large-*') if r.uuid == spec and r.finished]
    finished = [r for r in finished if has_finite_weights(r.path)]
    if not finished:
        which = (f'no finished teacher of the {profile} profile' if spec == 'latest'
                 else f'neither a checkpoint file nor a finished teacher run {spec!r}')
        raise TeacherNotFound(f'Found {which} in {logs_dir}. Train one with\n'
                              f'  python -m labml_nn.distillation.cifar10.train large --profile {profile} '
                              f'--logs-dir {logs_dir} --data-dir DIR')
    return finished[0].path


def _check_teacher_file(path: Path) -> Path:
    """
    A checkpoint named by its path must be a large model's, written by the
    trainer, with finite weights; a student's checkpoint, or any other file, is refused here
    with a message rather than by `load_state_dict` in the middle of the first
    training step. Memory-mapping reads the settings without reading the weights.
    """
    state = load_checkpoint(path, mmap=True)
    if RunRecord.from_checkpoint(state, path) is None or not isinstance(state.get('model'), dict):
        raise TeacherNotFound(f'{path} is not a checkpoint of this trainer (a file it writes after each epoch); '
                              f'--teacher needs a large model trained with\n'
                              f'  python -m labml_nn.distillation.cifar10.train large')
    if state.get('model_name', 'large') != 'large':
        raise TeacherNotFound(f"{path} is a {state['model_name']} model's checkpoint; --teacher needs a large "
                              f"model trained with\n  python -m labml_nn.distillation.cifar10.train large")
    if not has_finite_weights(path):
        raise TeacherNotFound(f'{path} has weights that are not finite numbers (its training diverged); '
                              f'it cannot be a teacher')
    if not state.get('finished'):
        raise TeacherNotFound(f"{path} is a teacher stopped after epoch {state.get('epoch', 0)} of "
                              f"{state.get('epochs', '?')}, not finished: run its command again to finish it, or "
                              f"name a kept epoch, checkpoints/epoch-N.pt, to teach from an early-stopped teacher")
    return path


def load_teacher(path, classes: int) -> LargeModel:
    """
    ## Loading the teacher

    The large model of the checkpoint at `path`, for data with `classes`
    classes. A teacher with another number of classes, or weights that do
    not fit the large model, stop the command with a message saying which.
    """
    # Memory-mapped: the weights are read as they are copied into the model
    weights = load_checkpoint(path, mmap=True)['model']
    teacher = LargeModel(classes)
    expected = teacher.state_dict()
    if 'fc.weight' in weights and weights['fc.weight'].shape[0] != classes:
        raise TeacherNotFound(f'the teacher {path} has {weights["fc.weight"].shape[0]} classes and the data '
                              f'has {classes}: a teacher must be trained on data with the same classes')
    missing = [k for k in expected if k not in weights]
    unexpected = [k for k in weights if k not in expected]
    wrong = [f'{k} {tuple(weights[k].shape)} (expected {tuple(v.shape)})'
             for k, v in expected.items() if k in weights and weights[k].shape != v.shape]
    if missing or unexpected or wrong:
        problems = [f'{what}: {", ".join(keys[:5])}{" ..." if len(keys) > 5 else ""}'
                    for what, keys in (('missing', missing), ('unexpected', unexpected),
                                       ('wrong shapes', wrong)) if keys]
        raise TeacherNotFound(f'the weights in {path} do not fit the large model; ' + '; '.join(problems))
    teacher.load_state_dict(weights)
    return teacher


def load_teacher_for(path, classes: List[str]) -> LargeModel:
    """
    The teacher at `path`, for data whose class names are `classes`, in label
    order. The checkpoint stores the names of the classes it was trained on:
    a teacher trained with other names, or the same in another order, would
    give soft targets for the wrong labels, so it is refused with both lists.
    Another number of classes, or a checkpoint written before the names were
    stored, is checked by `load_teacher`.
    """
    trained_on = load_checkpoint(path, mmap=True).get('classes') or []
    if len(trained_on) == len(classes) and list(trained_on) != list(classes):
        raise TeacherNotFound(f'the teacher {path} was trained on the classes {", ".join(trained_on)} and the '
                              f'data has {", ".join(classes)} (in label order): a teacher must be trained on '
                              f'data with the same classes')
    return load_teacher(path, len(classes))
