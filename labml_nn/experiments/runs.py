"""
---
title: Runs on disk
summary: >
  A run's typed record, how runs are found again by their settings and data,
  and the lock that lets one process at a time train a run.
---

# Runs on disk

Each run lives in labml's run folder, `LOGS/<name>/<uuid>/`. Beside labml's
own files the trainer keeps two there:

* `checkpoints/checkpoint.pt`, rewritten after every epoch: the
  [run record](#run-record) below, whose fields are stored as plain values,
  and the weights, the optimizer, the schedule and the random number
  generators' states;
* `run.lock`, a file the training process holds an operating-system lock on
  (`fcntl.flock`) for as long as it trains the run.

The trainer also holds a lock on each run's [identity](#identity), in
`LOGS/.locks/`, from before the run is looked up until it ends.

A run is found again by its *key*, a hash of every setting that changes the
result (its [identity](#identity)), and by the *fingerprint* of the data it
was trained on: running the same command on the same data, wherever the data
lies, resumes an interrupted run or returns a finished one, and changed data
starts a new run.
"""

import dataclasses
import fcntl
import hashlib
import json
import os
import tempfile
import uuid as uuids
from contextlib import ExitStack, contextmanager
from dataclasses import KW_ONLY, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple, Type, TypeVar, Union

import torch

from labml_nn.experiments.checks import CommandError

# The checkpoint's entries that are not record fields: the training state
WEIGHTS = ('model', 'optimizer', 'scheduler', 'rng')

# A trainer's record class, for the functions that read any of them
R = TypeVar('R', bound='Record')


@dataclass
class Record:
    """
    <a id="run-record"></a>

    ## The run record

    What a trainer writes about a run after every evaluation, and what finds
    the run again: the fields every trainer's record has. Each trainer's
    record ([this one](#cifar-record), the
    [language models'](../distillation/lm/trainer.html)) adds its own.
    """
    # The run's id, and the experiment it belongs to (`small-cpu`, for example)
    uuid: str
    name: str
    # A hash of the settings, and the data's fingerprint: together, the run's identity
    key: str
    data_fingerprint: str
    # The settings the run was started with
    settings: Dict[str, Any]
    model_name: str
    seed: int
    # After each record's own fields, named when given: whether the run is
    # finished, and when the checkpoint was written, `time.time()`
    _: KW_ONLY
    finished: bool = False
    updated: float = 0.0
    # The checkpoint this record was read from; not stored in it
    path: Optional[Path] = field(default=None, compare=False)

    def fields(self) -> Dict[str, Any]:
        """
        The stored fields, as plain values.
        """
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != 'path'}

    @classmethod
    def from_checkpoint(cls: Type[R], state: Any, path: Path) -> Optional[R]:
        """
        The record in a loaded checkpoint, or `None` when it is not a
        checkpoint of this trainer (a stray `checkpoint.pt` from elsewhere).
        Checkpoints written before a field existed get its default; one
        written before runs had a data fingerprint gets `''`, which matches
        no data, so such a run is never resumed on data it cannot vouch for.
        """
        if not isinstance(state, dict):
            return None
        names = {f.name for f in dataclasses.fields(cls)} - {'path'}
        known = {k: v for k, v in state.items() if k in names}
        known.setdefault('data_fingerprint', '')
        known.setdefault('name', path.parent.parent.parent.name)
        try:
            return cls(**known, path=path)
        except TypeError:
            # A required field is missing
            return None


@dataclass
class RunRecord(Record):
    """
    <a id="cifar-record"></a>

    ### The CIFAR-10 trainer's record

    What the pipeline's results table and the teacher lookup read, besides
    the run's identity.
    """
    # Epochs to train, and epochs done
    epochs: int
    epoch: int = 0
    # The model's trainable parameters, and the data's class names in label order
    parameters: int = 0
    classes: List[str] = field(default_factory=list)
    # Validation accuracy after each epoch (`None` for an epoch not measured);
    # the last one measured; the test accuracy when finished, `None` when the
    # data has no test split
    history: List[Optional[float]] = field(default_factory=list)
    valid_accuracy: Optional[float] = None
    test_accuracy: Optional[float] = None
    # Seconds spent training, and images trained on, for throughput
    train_seconds: float = 0.0
    images: int = 0


# ## Identity
#
# A run is what it trains: its settings, less those that say where it is
# read from and written to, how often it is measured, how fast it runs, and
# which of its epochs are kept. Copying the data elsewhere, or moving the
# logs, finds the same runs (the data's contents are the fingerprint's part).
NOT_IDENTITY = ('data_dir', 'logs_dir', 'valid_every', 'compile', 'keep_epochs')
# The settings that are not a trainer's configurations: the data's folder,
# read before the trainer is configured, and the profile, which with the
# model names the experiment the run belongs to
NOT_CONFIGURATIONS = ('data_dir', 'profile')
# The layout of the identity record: raise it when the record changes meaning,
# with a rule below that reads the older layouts
IDENTITY_VERSION = 2
# Settings renamed since runs were first written, old name to new name, so
# that a run started under the old name is found under the new one
RENAMED: Dict[str, str] = {}
# Settings added since runs were first written (under their current names),
# each with the value that every run written before it had: the language
# model's warm start and stored targets. A setting at that value is left out
# of the identity, so the earlier runs, which do not have it, are found.
ADDED: Dict[str, Any] = {'warm_start': '', 'targets': 'online', 'target_size': 0}


def identity(settings: Dict[str, Any]) -> Dict[str, Any]:
    """
    The record that names a run: the settings that change what is trained,
    under their current names, with whole floats written as integers (a
    temperature of `5` and of `5.0` are one run), and the layout's version;
    an added setting at the value runs had before it is left out.
    It is computed from a run's stored settings whenever the run is looked up,
    so runs written by earlier versions of the code, whose stored key hashed
    other fields, are found as long as this function reads their settings.
    """
    def plain(value):
        return int(value) if isinstance(value, float) and value.is_integer() else value

    settings = {RENAMED.get(name, name): value for name, value in settings.items()}
    return {'version': IDENTITY_VERSION,
            'settings': {name: plain(value) for name, value in settings.items()
                         if name not in NOT_IDENTITY and not (name in ADDED and value == ADDED[name])}}


def run_key(settings: Dict[str, Any]) -> str:
    """
    A short hash of a run's [identity](#identity).
    """
    return hashlib.sha256(json.dumps(identity(settings), sort_keys=True).encode()).hexdigest()[:16]


def find_earlier_run(logs_dir: str, name: str, key: str, data_fingerprint: str,
                     record: Type[R] = RunRecord) -> Optional[R]:
    """
    The newest run of experiment `name` with the settings `key` on the data
    `data_fingerprint`, to resume or reuse, as a `record`. When the settings match only runs
    on other data, the data changed: say so. A run whose weights are not all
    finite numbers is never picked.
    """
    # The key is computed again from each run's stored settings, not read from
    # its checkpoint: runs written under an older identity layout are found too
    same_settings = [r for r in find_runs(logs_dir, name, record) if run_key(r.settings) == key]
    same_data = [r for r in same_settings if r.data_fingerprint == data_fingerprint]
    if same_settings and not same_data:
        print(f'{name}: the data changed since run {same_settings[0].uuid} with these settings '
              f'(files added, removed or modified); starting a new run')
    for record in same_data:
        if has_finite_weights(record.path):
            return record
        print(f'{name}: run {record.uuid} has weights that are not finite numbers; not using it')
    return None


def find_runs(logs_dir: str, name: str, record: Type[R] = RunRecord) -> List[R]:
    """
    ## Finding runs

    The records of every run of experiment `name` (a glob pattern), newest
    first, as the trainer's `record` class. Files that are not checkpoints
    of that trainer are skipped.
    """
    found = []
    for path in Path(logs_dir).glob(f'{name}/*/checkpoints/checkpoint.pt'):
        # `mmap` reads the record without reading every weight
        state = load_checkpoint(path, mmap=True)
        if state is None:
            print(f'{path.parent.parent.parent.name}: the checkpoint of run {path.parent.parent.name} cannot be read '
                  f'(damaged or cut short), so that run is left as it is and not used: {path}')
        run = record.from_checkpoint(state, path)
        if run is not None:
            found.append(run)
    return sorted(found, key=lambda r: (r.updated, str(r.path)), reverse=True)


def has_finite_weights(path: Path) -> bool:
    """
    Whether every weight in the checkpoint at `path` is a finite number. A
    run that diverged must not be reused or taught from; the trainer never
    saves one, and this check catches those written before it did.
    """
    state = load_checkpoint(path, mmap=True)
    weights = state.get('model') if isinstance(state, dict) else None
    if not isinstance(weights, dict):
        return False
    return all(bool(torch.isfinite(w).all()) for w in weights.values()
               if isinstance(w, torch.Tensor) and w.is_floating_point())


class RunBusy(CommandError):
    """
    Another live process is training the run.
    """


@contextmanager
def run_lock(run_folder: Path, what: str) -> Iterator[None]:
    """
    ## One process per run

    An exclusive `flock` on `run_folder/run.lock`, held until the block
    ends. The operating system releases it when the process ends, however it
    ends, so a lock left by a process that died is simply taken over. The
    file holds the process id, to name the holder in the message of a
    second process, which gets `RunBusy` at once rather than waiting.
    """
    run_folder.mkdir(parents=True, exist_ok=True)
    with open(run_folder / 'run.lock', 'a+') as file:
        try:
            fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            file.seek(0)
            holder = file.read().strip() or 'another process'
            raise RunBusy(f'{what} is being trained right now by {holder}. Wait for it to end; '
                          f'running the same command again then resumes or reuses it.') from None
        file.truncate(0)
        file.write(f'process {os.getpid()}')
        file.flush()
        # labml writes `run.pid` when a run starts, never removes it, and
        # refuses to start a run that has one. Under the lock no live process
        # trains this run, so a `run.pid` is an interrupted process's, and so
        # is a temporary checkpoint (`write_atomic`'s) left by a killed one
        (run_folder / 'run.pid').unlink(missing_ok=True)
        for stray in (run_folder / 'checkpoints').glob('tmp*.pt.tmp'):
            stray.unlink()
        yield


class RunIdentity:
    """
    The lock of a run's identity, held (see `identity_lock`); its file
    names the process that holds it and the run it trains.
    """

    def __init__(self, file):
        self.file = file

    def last_run(self) -> Optional[str]:
        """
        The run the last holder started, as its file says.
        """
        self.file.seek(0)
        try:
            return json.loads(self.file.read()).get('run')
        except (ValueError, AttributeError):
            return None

    def claim(self, uuid: str):
        """
        Say in the file that this process trains run `uuid`.
        """
        self.file.seek(0)
        self.file.truncate(0)
        self.file.write(json.dumps({'process': os.getpid(), 'run': uuid}))
        self.file.flush()


@contextmanager
def identity_lock(logs_dir: str, name: str, key: str, data_fingerprint: str) -> Iterator[RunIdentity]:
    """
    <a id="identity"></a>

    ## One process per identity

    The run lock above is taken once a run has a folder, and a run is found
    by its first checkpoint: two commands started together would each start
    a run of their own. So an exclusive `flock` on
    `LOGS/.locks/<name>-<key>-<fingerprint>.lock` is taken before a run is
    looked up, and held while it trains: a second command with the same
    settings on the same data waits here, saying for whom, and then finds
    the run finished (and reuses it) or interrupted (and resumes it).

    The file names the run its holder started. A process killed before its
    first checkpoint leaves that run's folder without one; the next holder
    reads the run from the file and trains it in the same folder, rather
    than leaving it behind.
    """
    folder = Path(logs_dir) / '.locks'
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f'{name}-{key}-{data_fingerprint}.lock', 'a+') as file:
        lock_or_wait(file, lambda holder: f'{name}: a run with these settings on this data is being trained '
                                          f'right now ({holder}); waiting for it to end')
        yield RunIdentity(file)


def lock_or_wait(file, waiting: Callable[[str], str]):
    """
    An exclusive `flock` on the open `file`. When another process holds it,
    first say `waiting(holder)`, the holder as the file names it, then wait.
    """
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.seek(0)
        print(waiting(file.read().strip() or 'another process'), flush=True)
        fcntl.flock(file, fcntl.LOCK_EX)


def claim_run(logs_dir: str, name: str, key: str, fingerprint: str, fresh: bool, lock: ExitStack,
              record: Type[R]) -> Union[R, Tuple[str, Optional[Dict[str, Any]]]]:
    """
    <a id="claim"></a>

    ## The run to train, or the finished one

    What both trainers do before training: take the identity's lock, find
    the run with this `key` on the data `fingerprint`, and return its
    `record` when it is finished; else the id of the run to train, with its
    checkpoint to resume from (`None` for a new run), its run lock entered in
    `lock`. A run whose folder has no checkpoint yet, left by a command
    killed before its first one, is taken over. With `fresh`, a new run,
    whatever there is.
    """
    if fresh:
        earlier, uuid = None, uuids.uuid4().hex
    else:
        # Another command with these settings on this data waits here until this one ends
        identity = lock.enter_context(identity_lock(logs_dir, name, key, fingerprint))
        earlier = find_earlier_run(logs_dir, name, key, fingerprint, record)
        if earlier is not None and earlier.finished:
            print(f'{name} seed {earlier.seed}: reusing the finished run {earlier.uuid}')
            return earlier
        uuid = earlier.uuid if earlier else (_unsaved_run(logs_dir, name, identity.last_run()) or uuids.uuid4().hex)
        identity.claim(uuid)
    lock.enter_context(run_lock(Path(logs_dir) / name / uuid, f'Run {uuid} of {name}'))
    # Read the checkpoint again under the lock: the process that held it
    # may have trained more, or finished, since it was looked up
    resume = load_checkpoint(earlier.path) if earlier else None
    if resume is not None and resume['finished']:
        print(f'{name} seed {resume["seed"]}: reusing the finished run {uuid}')
        return record.from_checkpoint(resume, earlier.path)
    return uuid, resume


def _unsaved_run(logs_dir: str, name: str, uuid: Optional[str]) -> Optional[str]:
    """
    `uuid`, the run the last command with these settings started, when its
    folder is there without a checkpoint: that command was killed (or
    diverged) before its first one, and the new run takes the folder over.
    """
    if uuid is None or not (Path(logs_dir) / name / uuid).is_dir() or checkpoint_path(logs_dir, name, uuid).exists():
        return None
    print(f'{name}: run {uuid} ended before its first checkpoint; starting again in its folder')
    return uuid


def write_atomic(path: Path, write: Callable[[str], None]):
    """
    ## Writing without half-written files

    `write` fills a new temporary file in `path`'s folder, which is then
    renamed over `path`: an interrupted or failed write leaves the old file as
    it was and no temporary file behind. `mkstemp` makes the file readable by
    its owner alone, and the rename would keep that, so it gets the
    permissions of any new file. Checkpoints, caches and results are all
    written this way.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=path.suffix + '.tmp')
    os.close(fd)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        write(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def checkpoint_path(logs_dir: str, name: str, uuid: str) -> Path:
    return Path(logs_dir) / name / uuid / 'checkpoints' / 'checkpoint.pt'


def load_checkpoint(path: Path, mmap: bool = False) -> Optional[Dict[str, Any]]:
    """
    A checkpoint as saved, or `None` when the file cannot be read as one.
    With `mmap`, the weights are read from the file only when touched.
    """
    try:
        return torch.load(path, map_location='cpu', weights_only=False, mmap=mmap)
    except Exception:
        return None
