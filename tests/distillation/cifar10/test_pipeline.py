"""
Tests of the one-command study: with the `smoke` profile on a tiny image
folder it trains (or reuses) every run, writes `results.json`, `results.md`
and `accuracy.png`, leaves no temporary files, and a second run reuses every
finished run and writes the same numbers.

To save time the study runs in its session's teacher logs folder with the
teacher's exact settings, so its teacher stage finds the session teacher
already trained and reuses it; the students are trained by the study.
"""

import dataclasses
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from labml_nn.distillation.cifar10 import pipeline, report, studies, study, trainer
from labml_nn.experiments import reporting
from labml_nn.experiments.reporting import Progress, cpu_name
from labml_nn.experiments.runs import load_checkpoint

PNG_MAGIC = b'\x89PNG\r\n\x1a\n'


# labml skips recording the git state outside a repository (see conftest.py)
pytestmark = pytest.mark.usefixtures('outside_the_repository')


@pytest.mark.parametrize('argv', [['--help'], ['--seeds', '0']])
def test_help_and_a_refused_option_do_not_import_pytorch(argv):
    """
    `--help`, and a command line the parser refuses, answer without importing
    PyTorch, which takes seconds: the study imports it only once it runs.
    """
    command = 'labml_nn.distillation.cifar10.pipeline'
    script = (f'import runpy, sys\nsys.argv = [{command!r}, *{argv!r}]\n'
              f'try:\n    runpy.run_module({command!r}, run_name="__main__", alter_sys=True)\n'
              f'except SystemExit as e:\n    print("exit", e.code)\n'
              f'print("torch imported" if "torch" in sys.modules else "torch not imported")')
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().endswith(f"exit {0 if argv == ['--help'] else 2}\ntorch not imported"), \
        result.stdout[-300:] + result.stderr


def _check_schema(results, variants=('small', 'distilled')):
    assert isinstance(results['profile'], str) and results['profile'] == 'smoke'
    assert [v['name'] for v in results['variants']] == list(variants)
    assert isinstance(results['summary'], dict)
    for run in results['runs']:
        assert run['model'] in ('large', 'small', 'distilled') and run['variant'] in ['large', *variants]
        for key in ('seed', 'parameters', 'epochs'):
            assert isinstance(run[key], int) and not isinstance(run[key], bool), key
        assert isinstance(run['valid_accuracy'], float) and 0 <= run['valid_accuracy'] <= 1
        assert run['test_accuracy'] is None or (isinstance(run['test_accuracy'], float)
                                                and 0 <= run['test_accuracy'] <= 1)
        assert isinstance(run['train_seconds'], float) and run['train_seconds'] > 0
        assert isinstance(run['train_images_per_second'], float) and run['train_images_per_second'] > 0
        assert isinstance(run['valid_history'], list) and len(run['valid_history']) == run['epochs']
        assert run['valid_history'][-1] == run['valid_accuracy']
        assert isinstance(run['run'], str)
        assert run['variant'] in results['summary']
        assert len(run['per_class_valid_accuracy']) == len(results['classes'])
        # Fidelity, for every distilled student and no other model
        fidelity = {'teacher_agreement', 'teacher_kl'} & set(run)
        assert fidelity == (set() if run['model'] != 'distilled' else {'teacher_agreement', 'teacher_kl'})
        if fidelity:
            assert 0 <= run['teacher_agreement'] <= 1 and run['teacher_kl'] >= 0


def _file_mode():
    """
    The mode an ordinary new file gets under the current umask.
    """
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def test_study_end_to_end_and_rerun(tmp_path, image_folder, teacher_run, monkeypatch, capsys):
    out = tmp_path / 'out'
    argv = ['--data-dir', str(image_folder), '--profile', 'smoke', '--seeds', '2', '--out', str(out),
            '--logs-dir', str(teacher_run['logs_dir']), '--device', 'cpu']
    pipeline.main(argv)
    printed = capsys.readouterr().out
    assert f'reusing the finished run {teacher_run["uuid"]}' in printed

    results = json.loads((out / 'results.json').read_text())
    _check_schema(results)
    runs = results['runs']
    assert [(r['model'], r['seed']) for r in runs] == [('large', 0), ('small', 0), ('distilled', 0),
                                                       ('small', 1), ('distilled', 1)]
    assert runs[0]['run'] == teacher_run['uuid']
    assert len({r['run'] for r in runs}) == 5
    assert all(r['test_accuracy'] is not None for r in runs)
    # The models have one output per class of the data: 4 here, 10 on CIFAR-10
    # (14,728,266 and 437,034 parameters), 6 x (512 + 1) and 6 x (128 + 1) fewer here
    n_large, n_small = 14_728_266 - 6 * 513, 437_034 - 6 * 129
    assert runs[0]['parameters'] == n_large and runs[1]['parameters'] == runs[2]['parameters'] == n_small
    assert runs[0]['epochs'] == 2 and runs[1]['epochs'] == 2

    summary = results['summary']
    assert summary['large']['valid_accuracy']['n'] == 1 and summary['small']['valid_accuracy']['n'] == 2
    small = [r['valid_accuracy'] for r in runs if r['model'] == 'small']
    assert summary['small']['valid_accuracy']['mean'] == pytest.approx(sum(small) / 2)
    assert summary['distillation_gain_valid'] == pytest.approx(
        summary['distilled']['valid_accuracy']['mean'] - summary['small']['valid_accuracy']['mean'])

    table = (out / 'results.md').read_text()
    # The runs trained on the CPU: the report names it, with the PyTorch that ran them
    threads = torch.get_num_threads()
    assert results['machine'] == f'{cpu_name()}, {threads} thread{"s" if threads > 1 else ""}, torch {torch.__version__}'
    assert table.startswith(f"Study `compare`, profile `smoke`, on {results['machine']}.")
    rows = [line for line in table.splitlines() if line.startswith('| ') and not line.startswith('| model')]
    assert [row.split('|')[1].strip() for row in rows] == ['large', 'small', 'distilled']
    assert f'| large | {n_large:,} | 2 | 1 |' in table and f'| small | {n_small:,} | 2 | 2 |' in table
    assert 'Distillation gain on validation accuracy' in table
    assert table in printed
    # Where the results came from: the command, the commit (in a git checkout) and the date
    assert results['command'] == shlex.join(['python', '-m', 'labml_nn.distillation.cifar10.pipeline', *argv])
    assert results['commit'] is None or re.fullmatch(r'[0-9a-f]{7,40}(\+changes)?', results['commit'])
    assert re.fullmatch(r'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ', results['date'])
    assert table.rstrip().endswith(f"Made by `{results['command']}` at commit {results['commit'] or 'unknown'}, "
                                   f"{results['date']}.")

    png = (out / 'accuracy.png').read_bytes()
    assert png.startswith(PNG_MAGIC) and len(png) > 1000
    # The Japanese plot is there when a font with Japanese characters is
    japanese = ['accuracy.ja.png'] if reporting.japanese_font() else []
    assert sorted(p.name for p in out.iterdir()) == sorted(['accuracy.png', 'results.json', 'results.md'] + japanese)
    for name in japanese:
        assert (out / name).read_bytes().startswith(PNG_MAGIC) and (out / name).read_bytes() != png
    # Results are ordinary files, readable like any other the user writes
    assert all((out / name).stat().st_mode & 0o777 == _file_mode() for name in os.listdir(out))
    assert not list(Path(teacher_run['logs_dir']).rglob('*.tmp'))

    # The same command again trains nothing and writes the same results
    def no_training(*args, **kwargs):
        raise AssertionError('a finished run was trained again')

    monkeypatch.setattr(trainer, '_train_epoch', no_training)
    pipeline.main(argv)
    assert capsys.readouterr().out.count('reusing the finished run') == 5
    # The same results, but for the date they were written
    again = json.loads((out / 'results.json').read_text())
    assert again | {'date': results['date']} == results
    assert (out / 'results.md').read_text() == table.replace(results['date'], again['date'])
    assert (out / 'accuracy.png').read_bytes().startswith(PNG_MAGIC)
    assert not list(out.rglob('*.tmp'))


def test_study_without_a_test_split(tmp_path, make_image_folder, teacher_run, capsys):
    """
    An image folder with no `test/`: the students' test accuracy is `null`,
    and the table says `n/a`. The teacher is named with `--teacher`.
    """
    data = make_image_folder(tmp_path / 'data', train=4, test=None, seed=1)
    out = tmp_path / 'out'
    pipeline.main(['--data-dir', str(data), '--profile', 'smoke', '--seeds', '1', '--out', str(out),
                   '--logs-dir', str(tmp_path / 'logs'), '--device', 'cpu', '--teacher', str(teacher_run['path'])])
    text = (out / 'results.json').read_text()
    results = json.loads(text)
    _check_schema(results)
    students = [r for r in results['runs'] if r['model'] != 'large']
    assert [r['model'] for r in students] == ['small', 'distilled']
    assert all(r['test_accuracy'] is None for r in students)
    assert '"test_accuracy": null' in text
    assert results['summary']['small']['test_accuracy'] is None
    assert results['summary']['distilled']['test_accuracy'] is None
    table = (out / 'results.md').read_text()
    assert '| small |' in table and 'n/a' in table
    # The named teacher is reported, not trained
    assert results['runs'][0]['run'] == teacher_run['uuid']
    assert not (tmp_path / 'logs' / 'large-smoke').exists()


def test_missing_teacher_is_a_message(tmp_path, image_folder, capsys):
    with pytest.raises(SystemExit) as exit_:
        pipeline.main(['--data-dir', str(image_folder), '--profile', 'smoke', '--out', str(tmp_path / 'out'),
                       '--logs-dir', str(tmp_path / 'logs'), '--teacher', 'latest'])
    assert exit_.value.code == 2
    assert 'python -m labml_nn.distillation.cifar10.train large' in capsys.readouterr().err
    # Refused before any work: the output folder it was about to write was not even made
    assert not (tmp_path / 'out').exists()


def test_missing_data_is_a_message(tmp_path, monkeypatch, capsys):
    import torchvision.datasets

    class Offline:
        def __init__(self, *args, **kwargs):
            raise OSError('network is unreachable')

    monkeypatch.setattr(torchvision.datasets, 'CIFAR10', Offline)
    with pytest.raises(SystemExit) as exit_:
        pipeline.main(['--data-dir', str(tmp_path / 'none'), '--profile', 'smoke', '--out', str(tmp_path / 'out'),
                       '--logs-dir', str(tmp_path / 'logs')])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith('error: No CIFAR-10 data in') and 'network is unreachable' in err


def test_output_folder_that_cannot_be_made(tmp_path, image_folder, capsys):
    blocker = tmp_path / 'file'
    blocker.write_text('not a folder')
    with pytest.raises(SystemExit) as exit_:
        pipeline.main(['--data-dir', str(image_folder), '--profile', 'smoke', '--out', str(blocker / 'out'),
                       '--logs-dir', str(tmp_path / 'logs')])
    assert exit_.value.code == 2
    assert 'cannot write to --out' in capsys.readouterr().err
    assert not (tmp_path / 'logs').exists()


@pytest.mark.parametrize('argv, message', [
    (['--seeds', '0'], 'must be positive and finite, got 0'),
    (['--profile', 'gpu'], "invalid choice: 'gpu'"),
    (['--valid-size', '-1'], 'must be positive'),
    (['--study', 'omitted'], "invalid choice: 'omitted'"),
    (['--omit', 'cat'], '--omit is for --study omitted-class, not --study compare'),
    (['--study', 'temperature', '--temperature', '8'], '--temperature is what --study temperature varies'),
    (['--study', 'weight', '--label-loss-weight', '0'], '--label-loss-weight is what --study weight varies'),
    (['--temperature', '0'], 'must be from 1e-18 to 1e+19, got 0'),
    (['--temperature', '1e200'], 'must be from 1e-18 to 1e+19, got 1e200'),
    (['--soft-target-weight', '0', '--label-loss-weight', '0'], 'the loss would be 0'),
    (['--study', 'temperature', '--soft-target-weight', '0', '--label-loss-weight', '0'], 'the loss would be 0'),
])
def test_bad_arguments(tmp_path, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        pipeline.main(['--out', str(tmp_path / 'out'), '--logs-dir', str(tmp_path / 'logs'), *argv])
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / 'out').exists() and not (tmp_path / 'logs').exists()


def _made_up_results() -> dict:
    """
    Results of a comparison that never ran: two epochs of each model, for the writers alone.
    """
    runs = [{'model': model, 'variant': model, 'seed': 0, 'parameters': 10, 'epochs': 2,
             'valid_accuracy': accuracy, 'test_accuracy': None, 'train_seconds': 1.0,
             'train_images_per_second': 8.0, 'valid_history': [accuracy / 2, accuracy], 'run': model}
            for model, accuracy in (('large', 0.8), ('small', 0.6), ('distilled', 0.7))]
    variants = studies.compare_study('', 'smoke')
    return {'study': 'compare', 'profile': 'smoke', 'machine': 'x86_64 CPU, 2 threads, torch 2.14.1',
            'classes': ['a', 'b'], 'omitted_class': None,
            'variants': [dataclasses.asdict(v) for v in variants], 'runs': runs, 'summary': report.summarize(runs, variants)}


def test_without_a_japanese_font_the_plot_is_english_only(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(report, 'japanese_font', lambda: None)
    report.write_results(_made_up_results(), tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['accuracy.png', 'results.json', 'results.md']
    assert 'no Japanese plots: install one' in capsys.readouterr().out


def test_the_japanese_plot_has_its_own_labels(tmp_path):
    if reporting.japanese_font() is None:
        pytest.skip('matplotlib knows no font with Japanese characters here')
    report.write_results(_made_up_results(), tmp_path)
    english, japanese = (tmp_path / 'accuracy.png').read_bytes(), (tmp_path / 'accuracy.ja.png').read_bytes()
    assert japanese.startswith(PNG_MAGIC) and japanese != english


def test_omitted_class_study(tmp_path, image_folder, teacher_run, capsys):
    """
    `--omit 1`, an index, names the second class in alphabetical order,
    `cat`. The students without it never train on a cat; every run of the
    study reports the omitted class's fields, and the plots are written.
    `--temperature 2` is the distilled students' temperature, and the
    results say so.
    """
    out, logs = tmp_path / 'out', tmp_path / 'logs'
    pipeline.main(['--study', 'omitted-class', '--omit', '1', '--data-dir', str(image_folder), '--profile', 'smoke',
                   '--out', str(out), '--logs-dir', str(logs), '--device', 'cpu', '--teacher', str(teacher_run['path']),
                   '--temperature', '2'])
    results = json.loads((out / 'results.json').read_text())
    assert results['study'] == 'omitted-class' and results['omitted_class'] == 'cat'
    _check_schema(results, variants=['small, no cat', 'distilled, no cat', 'distilled, all classes'])
    runs = {r['variant']: r for r in results['runs']}
    assert [r['model'] for r in results['runs']] == ['large', 'small', 'distilled', 'distilled']
    fields = ('omitted_class', 'bias', 'omitted_valid_accuracy', 'omitted_test_accuracy', 'corrected_valid_accuracy',
              'corrected_test_accuracy', 'corrected_omitted_valid_accuracy', 'corrected_omitted_test_accuracy',
              'matched_bias', 'matched_valid_accuracy', 'matched_omitted_valid_accuracy', 'matched_test_accuracy',
              'matched_omitted_test_accuracy', 'omitted_valid_probability', 'teacher_omitted_valid_probability')
    for name in ('small, no cat', 'distilled, no cat'):
        assert all(key in runs[name] for key in fields) and runs[name]['omitted_class'] == 'cat'
        assert isinstance(runs[name]['bias'], float) and isinstance(runs[name]['matched_bias'], float)
        # The bias was chosen on validation: no bias does better there
        assert runs[name]['corrected_valid_accuracy'] >= runs[name]['valid_accuracy']
    assert 'bias' not in runs['distilled, all classes']
    # The students without cats were trained on the transfer set less its cats
    for name in ('small, no cat', 'distilled, no cat'):
        record = next(logs.glob(f"*/{runs[name]['run']}/checkpoints/checkpoint.pt"))
        assert load_checkpoint(record)['settings']['omit_class'] == 'cat'
    # The distilled students, and they alone, learned at T = 2
    for name, temperature in (('small, no cat', None), ('distilled, no cat', 2.0), ('distilled, all classes', 2.0)):
        record = next(logs.glob(f"*/{runs[name]['run']}/checkpoints/checkpoint.pt"))
        assert load_checkpoint(record)['settings'].get('temperature') == temperature
    assert results['distilled_settings'] == {'temperature': 2.0}
    assert 'profile `smoke`, temperature 2.0, on' in (out / 'results.md').read_text()
    # One teacher cache, shared by the two cached students
    assert len(list((logs / 'teacher-cache').glob('*.pt'))) == 1
    written = {p.name for p in out.iterdir()}
    assert {'per_class.png', 'accuracy.png', 'results.md'} <= written
    table = (out / 'results.md').read_text()
    assert '| distilled, no cat |' in table and 'cat right, corrected' in table and 'cat right, count matched' in table


def test_temperature_study(tmp_path, image_folder, teacher_run):
    out = tmp_path / 'out'
    pipeline.main(['--study', 'temperature', '--data-dir', str(image_folder), '--profile', 'smoke',
                   '--out', str(out), '--logs-dir', str(teacher_run['logs_dir']), '--device', 'cpu'])
    results = json.loads((out / 'results.json').read_text())
    _check_schema(results, variants=['labels only'] + [f'T = {t}' for t in (1, 2, 4, 8, 16)])
    assert [v['x'] for v in results['variants']] == [None, 1, 2, 4, 8, 16]
    assert (out / 'sweep.png').read_bytes().startswith(PNG_MAGIC)
    # Five distilled runs, one per temperature
    assert len({r['run'] for r in results['runs'] if r['model'] == 'distilled'}) == 5
    # A sweep measures validation every 10 epochs and after the last: here,
    # after the last of 2 (its labels-only run is the comparison's, reused)
    assert all(r['valid_history'][0] is None for r in results['runs'] if r['model'] == 'distilled')


def test_runs_side_by_side(tmp_path, image_folder, teacher_run, monkeypatch, capsys):
    """
    `--jobs 2` trains the weight sweep's runs in two worker processes, on a
    share of the threads each, and reports them in the study's order; their
    output goes to the log. The same command with one job finds every run
    finished and writes the same numbers.
    """
    out, logs = tmp_path / 'out', tmp_path / 'logs'
    argv = ['--study', 'weight', '--data-dir', str(image_folder), '--profile', 'smoke', '--out', str(out),
            '--logs-dir', str(logs), '--device', 'cpu', '--teacher', str(teacher_run['path'])]
    pipeline.main(argv + ['--jobs', '2'])
    printed = capsys.readouterr().out
    assert '5 student runs, 2 side by side' in printed and printed.count('validation accuracy') >= 5
    side_by_side = json.loads((out / 'results.json').read_text())
    assert side_by_side['machine'].endswith(f'2 runs side by side, torch {torch.__version__}')
    assert [r['variant'] for r in side_by_side['runs']] == ['large'] + [v.name for v in studies.weight_study('', 'smoke')]
    assert 'Teacher cache written' in (logs / 'pipeline-jobs.log').read_text()

    monkeypatch.setattr(trainer, '_train_epoch', lambda *args, **kwargs: pytest.fail('trained again'))
    pipeline.main(argv)
    assert capsys.readouterr().out.count('reusing the finished run') == 5
    one_by_one = json.loads((out / 'results.json').read_text())
    # The same numbers; the machine line, the command and the date differ
    differ = ('machine', 'command', 'date')
    assert {k: v for k, v in one_by_one.items() if k not in differ} == \
           {k: v for k, v in side_by_side.items() if k not in differ}


def test_the_studies_share_runs_with_the_same_settings():
    """
    A run is its settings: the omitted-class study's student that saw every
    class, the temperature sweep's T = 4 and the weight sweep's α = 0.9 are
    one run. The weights are written exactly (1 - 0.9 is not 0.1 in floating point).
    """
    def settings(variant):
        return studies.profile_settings('cpu', variant.model) | variant.settings

    all_classes = studies.omitted_class_study('cat', 'smoke')[2]
    t4 = next(v for v in studies.temperature_study('', 'smoke') if v.name == 'T = 4')
    alpha = {v.x: v for v in studies.weight_study('', 'smoke')}
    assert settings(all_classes) == settings(t4) == settings(alpha[0.9])
    assert alpha[0.99].settings['label_loss_weight'] == 0.01 and alpha[1.0].settings['label_loss_weight'] == 0
    assert alpha[0.0].model == 'small'


def test_the_labml_profile_runs_its_teachers_online():
    """
    On all the training images a cache of every view costs many times a
    student's online teacher passes: the `labml` profile's studies run the
    teacher online, so the finished teacher's students of the teacher-quality
    study are the comparison's distilled runs; the `cpu` profile's look it up.
    """
    def settings(variant, profile):
        return studies.profile_settings(profile, variant.model) | variant.settings

    labml = studies.teacher_quality_study('', 'labml')
    assert [v.settings.get('teacher_epoch') for v in labml] == [None, 2, 5, 10, 20]
    assert all(v.settings['teacher_cache'] is False for v in labml[1:])
    finished = {k: v for k, v in settings(labml[-1], 'labml').items() if k != 'teacher_epoch'}
    assert finished == settings(studies.compare_study('', 'labml')[1], 'labml')
    assert all(v.settings['teacher_cache'] is True for v in studies.teacher_quality_study('', 'cpu')[1:])


def test_unknown_omitted_class_is_a_message(tmp_path, image_folder, teacher_run, capsys):
    with pytest.raises(SystemExit) as exit_:
        pipeline.main(['--study', 'omitted-class', '--omit', 'giraffe', '--data-dir', str(image_folder),
                       '--profile', 'smoke', '--out', str(tmp_path / 'out'),
                       '--logs-dir', str(tmp_path / 'logs'), '--teacher', str(teacher_run['path'])])
    assert exit_.value.code == 2
    assert "--omit 'giraffe' is not a class of the data" in capsys.readouterr().err
    assert not (tmp_path / 'logs' / 'small-smoke').exists()


def test_settings_that_do_not_fit_the_data_stop_the_study_before_the_teacher(tmp_path, image_folder, capsys):
    """
    Holding out 12 of the 16 images leaves 4, fewer than the smoke profile's
    batch of 8: refused before the teacher trains.
    """
    with pytest.raises(SystemExit) as exit_:
        pipeline.main(['--data-dir', str(image_folder), '--profile', 'smoke', '--device', 'cpu',
                       '--valid-size', '12', '--out', str(tmp_path / 'out'), '--logs-dir', str(tmp_path / 'logs')])
    assert exit_.value.code == 2
    assert '--batch-size 8 is more than the 4 images there are to train on' in capsys.readouterr().err
    assert not (tmp_path / 'logs' / 'large-smoke').exists()


def test_never_more_workers_than_runs(tmp_path, image_folder, teacher_run, monkeypatch, capsys):
    """
    `--jobs 8` on a machine with 8 cores (as far as the study knows) and 2
    runs starts 2 workers; with less memory than 2 workers need, it says so
    with the numbers.
    """
    monkeypatch.setattr(pipeline, 'cpu_cores', lambda: 8)
    monkeypatch.setattr(study, 'available_memory', lambda: 1e9)
    out, logs = tmp_path / 'out', tmp_path / 'logs'
    pipeline.main(['--data-dir', str(image_folder), '--profile', 'smoke', '--out', str(out), '--logs-dir', str(logs),
                   '--device', 'cpu', '--teacher', str(teacher_run['path']), '--jobs', '8'])
    printed = capsys.readouterr().out
    assert '2 student runs, 2 side by side' in printed
    assert 'warning: 2 runs side by side need about 2.2 GB of memory, and 1.0 GB is available' in printed
    assert json.loads((out / 'results.json').read_text())['machine'].endswith(
        f'2 runs side by side, torch {torch.__version__}')


def test_more_jobs_than_cores_is_refused(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(pipeline, 'cpu_cores', lambda: 2)
    with pytest.raises(SystemExit) as exit_:
        pipeline.main(['--out', str(tmp_path / 'out'), '--logs-dir', str(tmp_path / 'logs'), '--jobs', '100'])
    assert exit_.value.code == 2
    assert '--jobs 100 is more than the 2 CPU cores this process may use' in capsys.readouterr().err
    assert not (tmp_path / 'out').exists() and not (tmp_path / 'logs').exists()


def test_workers_are_started_with_ctrl_c_ignored(tmp_path, cifar_data, monkeypatch):
    """
    A process started while Ctrl-C is ignored ignores it from its first
    instruction on, before Python is even up: so the workers are started
    with it ignored, and this process handles it again right after.
    """
    import signal

    class Started(Exception):
        pass

    seen = []

    class Context:
        def Pool(self, *args, **kwargs):
            seen.append(signal.getsignal(signal.SIGINT))
            raise Started

    monkeypatch.setattr(study.multiprocessing, 'get_context', lambda method: Context())
    tasks = [('a', 'small', {}), ('b', 'small', {})]
    with pytest.raises(Started):
        study.train_students(tasks, cifar_data, 2, tmp_path, Progress(2))
    assert seen == [signal.SIG_IGN] and signal.getsignal(signal.SIGINT) is signal.default_int_handler


@pytest.mark.parametrize('omit', ['²', '٣', '1²'])
def test_only_ascii_digits_are_a_class_index(tmp_path, image_folder, omit, capsys):
    """
    `str.isdigit` is true for superscripts (`²`) and `int` reads other
    scripts' digits (`٣`, Arabic-Indic three): neither is an index, so either
    is an unknown class, refused before any work like a misspelt name.
    """
    with pytest.raises(SystemExit) as exit_:
        pipeline.main(['--study', 'omitted-class', '--omit', omit, '--data-dir', str(image_folder),
                       '--profile', 'smoke', '--out', str(tmp_path / 'out'), '--logs-dir', str(tmp_path / 'logs')])
    assert exit_.value.code == 2
    assert f"--omit {omit!r} is not a class of the data: use a name or an index 0-3" in capsys.readouterr().err
    assert not (tmp_path / 'logs').exists()


def test_replot_draws_a_study_s_plots_again_from_its_results(tmp_path, capsys):
    """
    `--replot RESULTS.json --out DIR` trains nothing and draws the plots the
    study drew, the same images, from its results file.
    """
    report.write_results(_made_up_results(), tmp_path / 'study')
    pipeline.main(['--replot', str(tmp_path / 'study' / 'results.json'), '--out', str(tmp_path / 'again')])
    plots = sorted(p.name for p in (tmp_path / 'study').glob('*.png'))
    assert plots and sorted(p.name for p in (tmp_path / 'again').iterdir()) == plots
    for name in plots:
        assert (tmp_path / 'again' / name).read_bytes() == (tmp_path / 'study' / name).read_bytes()
    assert f"Wrote {tmp_path / 'again' / 'accuracy.png'}" in capsys.readouterr().out


@pytest.mark.parametrize('argv, message', [
    (['--study', 'weight'], "--replot draws a results file's plots and trains nothing; leave out --study"),
    (['--seeds', '3'], 'leave out --seeds'),
])
def test_replot_takes_no_training_option(tmp_path, capsys, argv, message):
    (tmp_path / 'results.json').write_text(json.dumps(_made_up_results()))
    with pytest.raises(SystemExit) as exit_:
        pipeline.main(['--replot', str(tmp_path / 'results.json'), '--out', str(tmp_path / 'out'), *argv])
    assert exit_.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / 'out').exists()


@pytest.mark.parametrize('content, message', [
    (None, 'cannot read'),
    ('{"runs": [', 'cannot read'),
    ('{"study": "divergence", "runs": []}', "is not the results.json of a study of this pipeline: its 'study'"),
])
def test_replot_refuses_what_is_not_a_study_s_results(tmp_path, capsys, content, message):
    path = tmp_path / 'results.json'
    if content is not None:
        path.write_text(content)
    with pytest.raises(SystemExit) as exit_:
        pipeline.main(['--replot', str(path), '--out', str(tmp_path / 'out')])
    assert exit_.value.code == 2 and message in capsys.readouterr().err



def test_accuracy_with_batch_statistics():
    """
    labml.ai's way of evaluating: each batch normalized by its own mean and
    variance. A model whose running statistics are far from its data's gets
    every image right only that way; the model measured keeps its statistics.
    """
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * 32 * 32, 2), torch.nn.BatchNorm1d(2))
    # Logit 0 is a constant 50, logit 1 the first pixel's value: with the
    # running statistics of a fresh layer (mean 0, variance 1) class 0 always
    # wins; with a batch's, logit 0 becomes 0 and logit 1 is positive for the
    # images brighter than the batch's mean there, the class-1 images below
    with torch.no_grad():
        model[1].weight.zero_()
        model[1].weight[1, 0] = 1.0
        model[1].bias.copy_(torch.tensor([50.0, 0.0]))
    images = torch.zeros((8, 3, 32, 32), dtype=torch.uint8)
    images[:, 0, 0, 0] = torch.tensor([10, 20, 200, 250, 30, 240, 5, 220], dtype=torch.uint8)
    labels = torch.tensor([0, 0, 1, 1, 0, 1, 0, 1])
    split = study.Split(images, labels)
    before = {name: value.clone() for name, value in model.state_dict().items()}
    assert study.batch_statistics_accuracy(model, split, torch.device('cpu'), batch_size=4) == 1.0
    assert study.logits(model, split, torch.device('cpu')).argmax(-1).eq(0).all()
    assert all(torch.equal(before[name], value) for name, value in model.state_dict().items())
