"""
Tests of the language-model track on tiny text made here: the corpus's split
and fingerprint, the transformer's causality, the three training commands in
the `smoke` profile, resuming, the lock, on-policy steps, and the messages
bad input ends with.
"""

from pathlib import Path

import pytest
import torch

from labml_nn.distillation.lm import trainer
from labml_nn.distillation.lm.data import DataError, corpus_files, load_corpus, split_of
from labml_nn.distillation.lm.distill import DistillationConfigs
from labml_nn.distillation.lm.train import main, profile_settings
from labml_nn.experiments import training
from labml_nn.distillation.lm.transformer import ByteTransformer, sample
from labml_nn.experiments.runs import RunBusy, find_earlier_run, find_runs, run_key, run_lock

pytestmark = pytest.mark.usefixtures('outside_the_repository')


def write_text(folder: Path, files: int = 40, seed: int = 0) -> Path:
    """
    `files` small files of Python-like lines, with a hidden file that must be left out.
    """
    generator = torch.Generator().manual_seed(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(files):
        numbers = torch.randint(0, 100, (20,), generator=generator).tolist()
        (folder / f'module_{i:02d}.py').write_text(''.join(f'x_{n} = {n} * {i}\n' for n in numbers))
    (folder / '.hidden').write_text('never read')
    return folder


def _args(text: Path, logs: Path, model: str, *more: str):
    return [model, '--data-dir', str(text), '--logs-dir', str(logs), '--profile', 'smoke', '--device', 'cpu', *more]


def _checkpoints(logs: Path, model: str):
    return sorted(logs.glob(f'lm-{model}-smoke/*/checkpoints/checkpoint.pt'))


def test_split_is_by_path_and_fingerprint_follows_contents(tmp_path, text):
    corpus = load_corpus(str(text))
    assert sum(corpus.files.values()) == 40
    assert corpus.files['valid'] > 0 and corpus.files['test'] > 0
    assert len(corpus.train) + len(corpus.valid) + len(corpus.test) == sum(
        len(p.read_bytes()) for p in text.glob('*.py'))
    assert split_of('module_00.py') == split_of('module_00.py')
    changed = write_text(tmp_path / 'changed')
    (changed / 'module_03.py').write_text('y = 1\n')
    other = load_corpus(str(changed))
    assert other.files_hash == corpus.files_hash
    assert other.fingerprint != corpus.fingerprint


def test_stdlib_corpus_leaves_tests_out():
    files = corpus_files('')
    assert files and all(p.suffix == '.py' for p in files)
    assert not any('site-packages' in p.parts or 'test' in p.parts[:-1] for p in files)


def test_transformer_is_causal():
    model = ByteTransformer(context=12, d_model=16, layers=2, heads=2).eval()
    tokens = torch.randint(0, 256, (2, 12))
    changed = tokens.clone()
    changed[:, 8:] = (changed[:, 8:] + 1) % 256
    assert torch.allclose(model(tokens)[:, :8], model(changed)[:, :8], atol=1e-6)
    assert not torch.allclose(model(tokens)[:, 8:], model(changed)[:, 8:])
    continued = sample(model, tokens[:, :10], 3, torch.Generator().manual_seed(0))
    assert continued.shape == (2, 13) and torch.equal(continued[:, :10], tokens[:, :10])


def test_commands_train_resume_and_reuse(tmp_path, text, capsys, monkeypatch):
    logs = tmp_path / 'logs'
    main(_args(text, logs, 'teacher'))
    assert 'teacher: validation' in capsys.readouterr().out
    # The student, interrupted after its first checkpoint, resumes to the
    # weights of an uninterrupted run
    real_write = training.write_atomic
    writes = []

    def interrupt_after_first(path, write):
        real_write(path, write)
        writes.append(path)
        if len(writes) == 1:
            raise KeyboardInterrupt

    monkeypatch.setattr(training, 'write_atomic', interrupt_after_first)
    with pytest.raises(SystemExit) as exit_:
        main(_args(text, logs, 'distilled', '--on-policy', '1', '--sampled-bytes', '4'))
    assert exit_.value.code == 130 and 'after step 2' in capsys.readouterr().err
    main(_args(text, logs, 'distilled', '--on-policy', '1', '--sampled-bytes', '4'))
    assert 'Resuming' in capsys.readouterr().out
    monkeypatch.setattr(training, 'write_atomic', real_write)
    main(_args(text, logs, 'distilled', '--on-policy', '1', '--sampled-bytes', '4', '--fresh'))
    resumed, uninterrupted = [torch.load(p, weights_only=False) for p in _checkpoints(logs, 'distilled')]
    assert resumed['finished'] and uninterrupted['finished']
    for name, weight in resumed['model'].items():
        assert torch.equal(weight, uninterrupted['model'][name]), name
    # The same command again reuses a finished run
    main(_args(text, logs, 'distilled', '--on-policy', '1', '--sampled-bytes', '4'))
    assert 'reusing the finished run' in capsys.readouterr().out
    assert len(_checkpoints(logs, 'distilled')) == 2


def test_changed_data_starts_a_new_run(tmp_path, capsys):
    data, logs = write_text(tmp_path / 'data'), tmp_path / 'logs'
    main(_args(data, logs, 'student'))
    (data / 'module_05.py').write_text('z = 2\n' * 30)
    main(_args(data, logs, 'student'))
    assert 'reusing' not in capsys.readouterr().out
    assert len(_checkpoints(logs, 'student')) == 2


def test_a_locked_run_is_refused(tmp_path, text):
    settings = profile_settings('smoke', 'student') | {'data_dir': str(text), 'logs_dir': str(tmp_path)}
    record = trainer.train(trainer.LMConfigs(), settings)
    record_path = tmp_path / record.name / record.uuid
    # A finished run is reused without its lock; a fresh one would take it
    with run_lock(record_path, 'the run'):
        assert trainer.train(trainer.LMConfigs(), settings).uuid == record.uuid
    with run_lock(record_path, 'the run'):
        with pytest.raises(RunBusy):
            with run_lock(record_path, 'the run'):
                pass


def test_on_policy_step_leaves_sampled_bytes_out_of_the_label_term(monkeypatch):
    c = DistillationConfigs()
    model = ByteTransformer(context=10, d_model=16, layers=1, heads=2)
    teacher = ByteTransformer(context=10, d_model=16, layers=1, heads=2).eval()
    c.model, c.replica, c.teacher_model = model, model, teacher
    c.on_policy, c.sampled_bytes, c.soft_target_weight, c.label_loss_weight = 1.0, 4, 0.0, 1.0
    data = torch.randint(0, 256, (50,), dtype=torch.uint8)
    c.prepare(data)
    starts = torch.tensor([0, 20, 39])
    windows = data[starts[:, None] + torch.arange(11)].long()
    loss = c.step(windows, starts, torch.Generator().manual_seed(0))
    # With only the label term, the loss is the cross-entropy of the first
    # 6 next bytes, which are data; the last 4 are the student's
    logits = model(windows[:, :-1])
    expected = torch.nn.functional.cross_entropy(logits[:, :6].flatten(0, 1), windows[:, 1:7].flatten())
    assert torch.allclose(loss, expected, atol=1e-5)


@pytest.mark.parametrize('more, message', [
    (['--heads', '3'], 'does not divide'),
    (['--context', '100000'], 'fewer than'),
    (['--train-bytes', '100000000'], 'more than'),
])
def test_bad_settings_end_with_one_message(tmp_path, text, capsys, more, message):
    with pytest.raises(SystemExit) as exit_:
        main(_args(text, tmp_path / 'logs', 'student', *more))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err and 'Traceback' not in err
    assert not _checkpoints(tmp_path / 'logs', 'student')


@pytest.mark.parametrize('model, more, message', [
    ('distilled', ['--divergence', 'kl'], 'is not one of'),
    ('distilled', ['--on-policy', '2'], 'fraction'),
    ('distilled', ['--teacher', 'nope'], 'no checkpoint'),
    ('student', ['--divergence', 'jsd'], 'distilled student only'),
])
def test_bad_distillation_settings(tmp_path, text, capsys, model, more, message):
    with pytest.raises(SystemExit) as exit_:
        main(_args(text, tmp_path / 'logs', model, *more))
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and message in err


def test_missing_folder_and_missing_teacher(tmp_path, text, capsys):
    with pytest.raises(SystemExit):
        main(_args(tmp_path / 'nowhere', tmp_path / 'logs', 'student'))
    assert 'is not a folder' in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(_args(text, tmp_path / 'logs', 'distilled'))
    assert 'no finished teacher' in capsys.readouterr().err
    with pytest.raises(DataError):
        load_corpus(str(write_text(tmp_path / 'two', files=2)), 2)


def test_cached_sampling_matches_full_forward_passes():
    model = ByteTransformer(context=12, d_model=16, layers=2, heads=2).eval()
    prompt = torch.randint(0, 256, (3, 5))
    tokens = sample(model, prompt, 8, torch.Generator().manual_seed(1))
    # Each byte drawn with the caches is the byte drawn from a full pass over the window
    generator = torch.Generator().manual_seed(1)
    expected = prompt
    for _ in range(8):
        probabilities = torch.softmax(model(expected)[:, -1], dim=-1)
        expected = torch.cat([expected, torch.multinomial(probabilities, 1, generator=generator)], dim=1)
    assert torch.equal(tokens, expected)
    with pytest.raises(ValueError, match='do not fit'):
        sample(model, prompt, 9, torch.Generator())


def test_sample_command_prints_each_model(tmp_path, text, capsys):
    from labml_nn.distillation.lm.sample import main as sample_main
    logs = tmp_path / 'logs'
    main(_args(text, logs, 'teacher'))
    main(_args(text, logs, 'student'))
    capsys.readouterr()
    sample_main(['--logs-dir', str(logs), '--profile', 'smoke', '--prompt', 'x_'])
    out = capsys.readouterr().out
    assert out.count('--- ') == 2 and 'teacher, seed 0' in out and 'student, seed 0' in out
    with pytest.raises(SystemExit):
        sample_main(['--logs-dir', str(logs), '--profile', 'smoke', '--prompt', 'x' * 40])
    assert 'the prompt has 40 bytes' in capsys.readouterr().err


def test_each_record_class_reads_only_its_trainers_checkpoints(tmp_path):
    # A language-model checkpoint and a CIFAR-10 one in the same folder of runs
    identity = {'key': 'k', 'data_fingerprint': 'f', 'settings': {}, 'seed': 0, 'finished': True,
                'model': {'w': torch.ones(2)}}
    for uuid, own in (('lm', {'model_name': 'teacher', 'steps': 4, 'step': 4, 'test_bpb': 2.5}),
                      ('cifar', {'model_name': 'large', 'epochs': 1, 'epoch': 1})):
        path = tmp_path / 'runs' / uuid / 'checkpoints' / 'checkpoint.pt'
        path.parent.mkdir(parents=True)
        torch.save(identity | own | {'uuid': uuid}, path)
    [lm] = find_runs(str(tmp_path), 'runs', trainer.LMRecord)
    assert (lm.uuid, lm.name, lm.steps, lm.test_bpb, lm.finished) == ('lm', 'runs', 4, 2.5, True)
    assert [r.uuid for r in find_runs(str(tmp_path), 'runs')] == ['cifar']
    assert find_earlier_run(str(tmp_path), 'runs', run_key({}), 'f', trainer.LMRecord).uuid == 'lm'
