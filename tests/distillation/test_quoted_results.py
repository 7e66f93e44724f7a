"""
The numbers the pages quote in their prose, and in the tables still typed by
hand, against the committed results files they come from: the CIFAR-10
study pages and overview (`labml_nn/distillation/cifar10/results/*.json`) and the
language-model pages (`labml_nn/distillation/lm/results/*.json`). Each
number, rounded as the page rounds it, must be the file's value. The tables
made by `results` blocks need no such list: the renderer makes them from the
files.

Each entry is a page, a piece of its text with each checked number in
braces, the file, and what each of those numbers is. A piece of text the
page no longer has fails too, so that a changed sentence gets its entry
changed with it. Not covered: numbers no results file holds (the teacher's
probabilities per class on the omitted-class page, the benchmarks' times on
the teacher-cache and distributed pages, the paper's figures, the settings of
the profiles).
"""

import json
import re
import statistics
from pathlib import Path

import pytest
import yaml

FOLDER = Path(__file__).parents[2] / 'labml_nn' / 'distillation'
JAPANESE = Path(__file__).parents[2] / 'labml_nn' / 'literate' / 'translations' / 'ja' / 'distillation'


def located(name: str) -> str:
    """
    Where a page or file of the entries below is, from `FOLDER`: the language
    model's are named from its folder (`lm/studies.md`), the CIFAR-10
    experiment's by their names alone (`temperature.md` is `cifar10/temperature.md`).
    """
    return name if name.startswith('lm/') else f'cifar10/{name}'


def results(file: str) -> dict:
    # `temperature.json` is in `cifar10/results/`, `lm/limited.json` in `lm/results/`
    folder, _, name = located(file).rpartition('/')
    return json.loads((FOLDER / folder / 'results' / name).read_text(encoding='utf-8'))


# What a quoted number is, as a function of the file; accuracies and agreements in percent
def mean(variant, field='valid_accuracy', scale=100):
    return lambda r: scale * r['summary'][variant][field]['mean']


def std(variant, field='valid_accuracy', scale=100):
    return lambda r: scale * r['summary'][variant][field]['std']


def seeds(r, variant, field='valid_accuracy'):
    runs = sorted((run for run in r['runs'] if run['variant'] == variant), key=lambda run: run['seed'])
    return [run[field] for run in runs]


def seed(variant, number, field='valid_accuracy', scale=100):
    return lambda r: scale * seeds(r, variant, field)[number]


def differences(r, variant, against):
    # Each seed's accuracy minus that of the same seed of `against`, in points
    return [100 * (a - b) for a, b in zip(seeds(r, variant), seeds(r, against))]


# Accuracy evaluated as labml.ai evaluates, with each batch's statistics
BATCH_STATISTICS = 'batch_statistics_valid_accuracy'


def epoch_gains(r):
    # After each epoch, the distilled students' mean validation accuracy minus the labels-only ones', in points
    def by_epoch(variant):
        return [statistics.fmean(epoch) for epoch in zip(*(run['valid_history'] for run in r['runs']
                                                           if run['variant'] == variant))]
    return [100 * (d - s) for d, s in zip(by_epoch('distilled'), by_epoch('small'))]


def teacher_on_class(r):
    return r['summary']['large']['per_class_valid_accuracy'][r['classes'].index(r['omitted_class'])]


def of_teacher(variant, field):
    # A mean accuracy on the omitted class as a percentage of the teacher's
    return lambda r: 100 * r['summary'][variant][field]['mean'] / teacher_on_class(r)


def seed_of_teacher(variant, field, number):
    return lambda r: 100 * seeds(r, variant, field)[number] / teacher_on_class(r)


def spread(variants, field='valid_accuracy', of='mean', scale=100, pick=max):
    return lambda r: scale * pick(r['summary'][v][field][of] for v in variants)


def gap(a, b, field_a='valid_accuracy', field_b='valid_accuracy'):
    # Mean of `a` minus mean of `b`, in points
    return lambda r: 100 * (r['summary'][a][field_a]['mean'] - r['summary'][b][field_b]['mean'])


TQ = 'teacher-quality-cpu.json'


def teacher(variant):
    # The validation accuracy of the teacher that taught `variant`, in percent
    return mean(variant, 'teacher_valid_accuracy')


def behind(variant):
    # How far the student of `variant` stays below its teacher, in points
    return lambda r: teacher(variant)(r) - mean(variant)(r)


def gains(variant):
    # The least and the greatest gain over labels only, seed by seed, in points
    return [lambda r: min(differences(r, variant, 'labels only')),
            lambda r: max(differences(r, variant, 'labels only'))]


T_FROM_2 = ['T = 2', 'T = 4', 'T = 8', 'T = 16']
T_FROM_4 = ['T = 4', 'T = 8', 'T = 16']
ALPHA_FROM_09 = ['α = 0.9', 'α = 0.99', 'α = 1.0']
NO_CAT, NO_CAR = 'distilled, no cat', 'distilled, no automobile'


def matched_row(variant: str) -> list:
    # A row of the omitted-class page's table of the two biases, each number with what it is
    corrected = [seed_of_teacher(variant, 'corrected_omitted_valid_accuracy', s) for s in range(3)]
    matched = [seed_of_teacher(variant, 'matched_omitted_valid_accuracy', s) for s in range(3)]
    return [mean(variant, 'bias', 1), std(variant, 'bias', 1),
            mean(variant, 'corrected_omitted_valid_accuracy'), std(variant, 'corrected_omitted_valid_accuracy'),
            of_teacher(variant, 'corrected_omitted_valid_accuracy'), *corrected,
            mean(variant, 'corrected_valid_accuracy'), std(variant, 'corrected_valid_accuracy'),
            mean(variant, 'matched_bias', 1), std(variant, 'matched_bias', 1),
            mean(variant, 'matched_omitted_valid_accuracy'), std(variant, 'matched_omitted_valid_accuracy'),
            of_teacher(variant, 'matched_omitted_valid_accuracy'), *matched,
            mean(variant, 'matched_valid_accuracy'), std(variant, 'matched_valid_accuracy')]


def six_cat_students(field: str) -> list:
    # The distilled students without cats of both cat measurements, as fractions of the teacher's accuracy
    return [v / teacher_on_class(r) for r in (results('omitted-class-cat.json'),
                                              results('omitted-class-cat-jobs2.json'))
            for v in seeds(r, NO_CAT, field)]


def both_cat_files(r):
    # Needs both cat files: `r` is one of them
    return statistics.fmean(v for f in ('omitted-class-cat.json', 'omitted-class-cat-jobs2.json')
                            for v in seeds(results(f), NO_CAT, 'corrected_omitted_valid_accuracy'))


def labels_only_matched(files):
    return [100 * v for f in files for v in seeds(results(f), f'small, no {results(f)["omitted_class"]}',
                                                   'matched_omitted_valid_accuracy')]


def matched_gain(file: str) -> float:
    # How many times as many of the omitted class the distilled student gets as the labels-only one, with
    # the bias matched to the teacher's count
    r = results(file)
    summary = r['summary']
    return (summary[f'distilled, no {r["omitted_class"]}']['matched_omitted_valid_accuracy']['mean'] /
            summary[f'small, no {r["omitted_class"]}']['matched_omitted_valid_accuracy']['mean'])


def the_same(*values, decimals: int = 0):
    # One number quoted for several values: rounded as quoted, they must all be that number
    def value(r):
        numbers = [v(r) for v in values]
        assert len({f'{n:.{decimals}f}' for n in numbers}) == 1, f'{numbers} are quoted as one number'
        return numbers[0]
    return value


CAT_FILES = ('omitted-class-cat.json', 'omitted-class-cat-jobs2.json')
OMITTED_FILES = (*CAT_FILES, 'omitted-class-automobile.json')

# The run trained before the others, which the time tables name on their own
EARLIER_RUN = {('labels only', 0), ('α = 0 (labels only)', 0)}


def student_times(files, but=EARLIER_RUN) -> list:
    # The training seconds of every student run of the files but those of `but`, as (variant, seed)
    return [run['train_seconds'] for f in files for run in results(f)['runs']
            if run['variant'] != 'large' and (run['variant'], run['seed']) not in but]


def time_range(*files):
    return [lambda r: min(student_times(files)), lambda r: max(student_times(files))]


def teacher_seconds(r):
    return r['summary']['large']['train_seconds']['mean']


def earlier_run_seconds(r):
    return next(run['train_seconds'] for run in r['runs'] if (run['variant'], run['seed']) in EARLIER_RUN)


# The language-model files: their runs record seeds and numbers as text
LM_FILES = ('lm/limited.json', 'lm/divergence.json', 'lm/on_policy.json')


def lm_seeds(r, variant: str, field: str = 'test_bpb') -> list:
    runs = sorted((run for run in r['runs'] if run['variant'] == variant), key=lambda run: int(run['seed']))
    return [float(run[field]) for run in runs]


def lm_row(variant: str, against: str = None) -> list:
    # A row of a language-model table: test bits per byte (mean ± std, per seed, minus `against`'s of the same
    # seed) and the training seconds per seed
    row = [mean(variant, 'test_bpb', 1), std(variant, 'test_bpb', 1)]
    row += [lambda r, s=s: lm_seeds(r, variant)[s] for s in range(3)]
    if against:
        row += [lambda r, s=s: lm_seeds(r, variant)[s] - lm_seeds(r, against)[s] for s in range(3)]
    return row + [lambda r, s=s: lm_seeds(r, variant, 'train_seconds')[s] for s in range(3)]


def lm_gap(a: str, b: str):
    # Mean test bits per byte of `a` minus those of `b`
    return lambda r: r['summary'][a]['test_bpb']['mean'] - r['summary'][b]['test_bpb']['mean']


def lm_gains(r, variant: str, against: str = 'labels only') -> list:
    # How much lower `variant`'s test bits per byte are than `against`'s, seed by seed
    return [b - a for a, b in zip(lm_seeds(r, variant), lm_seeds(r, against))]


def lm_times(variants, files=LM_FILES) -> list:
    return [float(run['train_seconds']) for f in files for run in results(f)['runs'] if run['variant'] in variants]


def lm_student_minutes(r):
    # Every student run of the three studies once: the on-policy study's λ = 0 runs are the limited study's
    runs = {run['uuid']: float(run['train_seconds']) for f in LM_FILES for run in results(f)['runs']}
    return sum(runs.values()) / 60


DISTILLED_LM = ('distilled', 'forward KL', 'reverse KL', 'JSD')
FORWARD_AND_JSD = ('forward KL', 'JSD')

# The study of on-policy batches after a warm start: its file, what its students continue, and their variants
WARM = 'lm/on_policy_warm.json'
CONTINUED = 'labels only, continued'


def warm(divergence: str, fraction: str) -> str:
    return f'{divergence}, λ = {fraction}'


WARM_FRACTIONS = ('0', '0.5', '1')
WARM_DISTILLED = [warm(d, f) for d in FORWARD_AND_JSD for f in WARM_FRACTIONS]


def on_policy_effects(r, divergence: str) -> list:
    # Each seed's test bits per byte at λ = 0.5 and at λ = 1 minus those of λ = 0, with `divergence`
    return [a - b for f in WARM_FRACTIONS[1:]
            for a, b in zip(lm_seeds(r, warm(divergence, f)), lm_seeds(r, warm(divergence, '0')))]


# The study of stored teacher targets, five seeds, and its top-k variants with $k \le 16$
SPARSE = 'lm/sparse_targets.json'
SMALL_TOP_K = ('top-4', 'top-8', 'top-16')


def lm_variants(r) -> list:
    return [variant['name'] for variant in r['variants']]


def lm_median(variant: str):
    return lambda r: statistics.median(lm_seeds(r, variant))


def stored_bytes(variant: str):
    # The bytes the targets of `variant` take for each position
    return lambda r: next(run['bytes_per_token'] for run in r['runs'] if run['variant'] == variant)


def stored_runs(r, field: str = 'test_bpb') -> list:
    # `field` of every run distilled from stored targets
    return [run[field] for run in r['runs'] if run['bytes_per_token']]


def above_median(r, variant: str, seed: int) -> float:
    # How far the test bits per byte of a run lie above the median of its variant's seeds
    return lm_seeds(r, variant)[seed] - lm_median(variant)(r)


def fallen_away(r) -> list:
    # The runs, as (variant, seed), that ended more than 0.1 bits per byte above their variant's median
    return [(variant, seed) for variant in lm_variants(r) for seed in range(len(lm_seeds(r, variant)))
            if above_median(r, variant, seed) > 0.1]


def validation(r, variant: str, seed: int) -> list:
    # A run's validation bits per byte as [step, value], step by step
    return next(run['valid_history'] for run in r['runs'] if run['variant'] == variant and run['seed'] == seed)


def sparse_row(variant: str, stored: bool = False) -> list:
    # A row of the stored-targets table: the bytes stored for each position, test bits per byte (mean ± std,
    # median) and each seed's
    row = [stored_bytes(variant)] if stored else []
    row += [mean(variant, 'test_bpb', 1), std(variant, 'test_bpb', 1), lm_median(variant)]
    return row + [lambda r, s=s: lm_seeds(r, variant)[s] for s in range(5)]


QUOTES = [
    # The temperature sweep
    ('temperature.md', 'with the `cpu` teacher ({78.48}% on validation)', 'temperature.json',
     [mean('large')]),
    ('temperature.md', 'Their means lie within {0.09} points of each other ({73.19} to {73.27}%)', 'temperature.json',
     [lambda r: spread(T_FROM_2)(r) - spread(T_FROM_2, pick=min)(r), spread(T_FROM_2, pick=min), spread(T_FROM_2)]),
    ('temperature.md', 'the spread across seeds ({0.2} to {0.4} points)', 'temperature.json',
     [spread(T_FROM_2, of='std', pick=min), spread(T_FROM_2, of='std')]),
    ('temperature.md', 'is the one that is worse**: {72.74}%, below $T = 4$ in each of the three seeds '
                       '(by {0.32} to {0.74} points). Even so it keeps most of the gain, {5.7} points over labels '
                       'only: this teacher, right on {78.5}% of the images', 'temperature.json',
     [mean('T = 1'), lambda r: -max(differences(r, 'T = 1', 'T = 4')),
      lambda r: -min(differences(r, 'T = 1', 'T = 4')), gap('T = 1', 'labels only'), mean('large')]),
    ('temperature.md', 'goes from {82.8}% at $T = 1$ to {83.9}% at 2 and about {84.6} to {84.7}% from 4 up, and the '
                       'KL divergence falls from {0.196} to about {0.145}', 'temperature.json',
     [mean('T = 1', 'teacher_agreement'), mean('T = 2', 'teacher_agreement'),
      spread(T_FROM_4, 'teacher_agreement', pick=min), spread(T_FROM_4, 'teacher_agreement'),
      mean('T = 1', 'teacher_kl', 1), spread(T_FROM_4, 'teacher_kl', scale=1, pick=min)]),
    ('temperature.md', 'This student has {437,034} parameters against the teacher\'s {14.7} million',
     'temperature.json', [lambda r: r['summary']['T = 4']['parameters'],
                          lambda r: r['summary']['large']['parameters'] / 1e6]),
    ('temperature.md', '$T = 1$ is below $T = 4$ in each seed (by {0.10} to {0.70} points), the temperatures from 2 '
                       'to 16 lie within {0.24} points of each other, about one standard deviation across seeds '
                       '({0.17} to {0.45}), and agreement with the teacher rises from {82.45}% at $T = 1$ to about '
                       '{84.7} to {84.9}% from 4 up', 'temperature-jobs2.json',
     [lambda r: -max(differences(r, 'T = 1', 'T = 4')), lambda r: -min(differences(r, 'T = 1', 'T = 4')),
      lambda r: spread(T_FROM_2)(r) - spread(T_FROM_2, pick=min)(r),
      spread(T_FROM_2, of='std', pick=min), spread(T_FROM_2, of='std'),
      mean('T = 1', 'teacher_agreement'), spread(T_FROM_4, 'teacher_agreement', pick=min),
      spread(T_FROM_4, 'teacher_agreement')]),
    ('temperature.md', '| the teacher, 6 epochs, once for every study | 2 | {6,513} |', 'temperature.json',
     [teacher_seconds]),
    ('temperature.md', '| a student, 50 epochs, one run at a time | 2 | {182} to {257} |', 'temperature.json',
     time_range('temperature.json')),
    ('temperature.md', '| a student, two runs side by side (`--jobs 2`) | 1 | {340} to {389} |',
     'temperature-jobs2.json', time_range('temperature-jobs2.json')),
    ('temperature.md', '(The labels-only run of seed 0, trained before the others, took {1,845} s.)',
     'temperature.json', [earlier_run_seconds]),
    # The weight sweep
    ('weight.md', 'reads a label ($w_{soft} = 1$) gets {73.03}%', 'weight.json', [mean('α = 1.0')]),
    ('weight.md', 'It has the highest mean, {73.81}%, and beats $w_{soft} = 0.9$ in each of the three seeds (by '
                  '{0.08}, {0.36} and {1.24} points, {0.56} on average)', 'weight.json',
     [mean('α = 0.5')] + [lambda r, s=s: differences(r, 'α = 0.5', 'α = 0.9')[s] for s in range(3)]
     + [gap('α = 0.5', 'α = 0.9')]),
    ('weight.md', 'Between 0.9, 0.99 and 1 the differences ({0.1} to {0.2} points)', 'weight.json',
     [lambda r: min(abs(gap(a, b)(r)) for a in ALPHA_FROM_09 for b in ALPHA_FROM_09 if a < b),
      lambda r: max(abs(gap(a, b)(r)) for a in ALPHA_FROM_09 for b in ALPHA_FROM_09 if a < b)]),
    ('weight.md', 'agreement rises from {82.4}% at $w_{soft} = 0.5$ to about {84.7}% from 0.9 up, and the KL '
                  'divergence falls from {0.186} to {0.145}', 'weight.json',
     [mean('α = 0.5', 'teacher_agreement'),
      lambda r: statistics.fmean(mean(v, 'teacher_agreement')(r) for v in ALPHA_FROM_09),
      mean('α = 0.5', 'teacher_kl', 1), mean('α = 1.0', 'teacher_kl', 1)]),
    ('weight.md', 'the teacher is wrong on {21.5}% of the validation images', 'weight.json',
     [lambda r: 100 - mean('large')(r)]),
    ('weight.md', 'take the student from {67.1}% to {73.0}%, with the teacher at {78.5}%', 'weight.json',
     [mean('α = 0 (labels only)'), mean('α = 1.0'), mean('large')]),
    ('weight.md', '$w_{soft} = 0.5$ is again the most accurate, {74.11}%, above 0.9 in each seed by {0.76} to '
                  '{0.80} points, and agreement with the teacher rises with $w_{soft}$ ({82.55}% at 0.5, about '
                  '{84.7}% from 0.9)', 'weight-jobs2.json',
     [mean('α = 0.5'), lambda r: min(differences(r, 'α = 0.5', 'α = 0.9')),
      lambda r: max(differences(r, 'α = 0.5', 'α = 0.9')), mean('α = 0.5', 'teacher_agreement'),
      lambda r: statistics.fmean(mean(v, 'teacher_agreement')(r) for v in ALPHA_FROM_09)]),
    ('weight.md', '| the teacher, 6 epochs, once for every study | 2 | {6,513} |', 'weight.json', [teacher_seconds]),
    ('weight.md', '| a student, 50 epochs, one run at a time | 2 | {178} to {289} |', 'weight.json',
     time_range('weight.json')),
    ('weight.md', '| a student, two runs side by side (`--jobs 2`) | 1 | {292} to {374} |', 'weight-jobs2.json',
     time_range('weight-jobs2.json')),
    ('weight.md', '(The labels-only run of seed 0, trained before the others, took {1,845} s.)', 'weight.json',
     [earlier_run_seconds]),
    # The omitted class: cat
    ('omitted_class.md', 'with the `cpu` teacher ({78.48}% validation accuracy)', 'omitted-class-cat.json',
     [mean('large')]),
    ('omitted_class.md', 'it labels {38}% of the cat images as cats', 'omitted-class-cat.json',
     [mean(NO_CAT, 'omitted_valid_accuracy')]),
    ('omitted_class.md', 'cat images {0.31} probability of being cats on average, where the teacher gives {0.52}. A '
                         'bias of about {0.5} (the paper\'s was 3.5) lifts it to {55.2}% of the cats, **{84}% of the '
                         'teacher\'s {65.5}%** (seeds: {83}%, {75}%, {94}%), and the whole validation set to '
                         '{72.91}%, **{0.35} points** below the student that saw every class. That student gets '
                         '{57.6}% of the cats', 'omitted-class-cat.json',
     [mean(NO_CAT, 'omitted_valid_probability_on_class', 1),
      mean(NO_CAT, 'teacher_omitted_valid_probability_on_class', 1),
      mean(NO_CAT, 'bias', 1), mean(NO_CAT, 'corrected_omitted_valid_accuracy'),
      of_teacher(NO_CAT, 'corrected_omitted_valid_accuracy'), lambda r: 100 * teacher_on_class(r)]
     + [seed_of_teacher(NO_CAT, 'corrected_omitted_valid_accuracy', s) for s in range(3)]
     + [mean(NO_CAT, 'corrected_valid_accuracy'),
        gap('distilled, all classes', NO_CAT, field_b='corrected_valid_accuracy'),
        lambda r: 100 * r['summary']['distilled, all classes']['per_class_valid_accuracy'][3]]),
    ('omitted_class.md', 'even a bias of {7} finds {3}% of the cats', 'omitted-class-cat.json',
     [mean('small, no cat', 'bias', 1), mean('small, no cat', 'corrected_omitted_valid_accuracy')]),
    ('omitted_class.md', 'the teacher itself gets only {65}% of the cats right', 'omitted-class-cat.json',
     [lambda r: 100 * teacher_on_class(r)]),
    # The omitted class: automobile
    ('omitted_class.md', 'the student labels only {28.5}% of the automobile images as automobiles, and it gives them '
                         '{0.28} probability of being one, where the teacher gives {0.85}',
     'omitted-class-automobile.json',
     [mean(NO_CAR, 'omitted_valid_accuracy'), mean(NO_CAR, 'omitted_valid_probability_on_class', 1),
      mean(NO_CAR, 'teacher_omitted_valid_probability_on_class', 1)]),
    ('omitted_class.md', 'with a bias of {2.5} (close to the paper\'s 3.5) the student gets **{76.9}%** of the '
                         'automobiles, **{87}% of the teacher\'s {88.3}%** (seeds: {90}%, {86}%, {85}%), and {71.77}% '
                         'of everything, **{1.49} points** below', 'omitted-class-automobile.json',
     [mean(NO_CAR, 'bias', 1), mean(NO_CAR, 'corrected_omitted_valid_accuracy'),
      of_teacher(NO_CAR, 'corrected_omitted_valid_accuracy'), lambda r: 100 * teacher_on_class(r)]
     + [seed_of_teacher(NO_CAR, 'corrected_omitted_valid_accuracy', s) for s in range(3)]
     + [mean(NO_CAR, 'corrected_valid_accuracy'),
        gap('distilled, all classes', NO_CAR, field_b='corrected_valid_accuracy')]),
    ('omitted_class.md', 'nothing to correct: {1.7}% of the automobiles with a bias of {7.5}',
     'omitted-class-automobile.json',
     [mean('small, no automobile', 'corrected_omitted_valid_accuracy'), mean('small, no automobile', 'bias', 1)]),
    ('omitted_class.md', 'the student that never saw the class gets {84}% (cat) and {87}% (automobile) of the '
                         'teacher\'s accuracy on it, one cat seed of three only {75}%, and its overall accuracy is '
                         'within {0.35} and {1.49} points of the student that saw every class',
     'omitted-class-cat.json',
     [of_teacher(NO_CAT, 'corrected_omitted_valid_accuracy'),
      lambda r: of_teacher(NO_CAR, 'corrected_omitted_valid_accuracy')(results('omitted-class-automobile.json')),
      lambda r: min(seed_of_teacher(NO_CAT, 'corrected_omitted_valid_accuracy', s)(r) for s in range(3)),
      gap('distilled, all classes', NO_CAT, field_b='corrected_valid_accuracy'),
      lambda r: gap('distilled, all classes', NO_CAR, field_b='corrected_valid_accuracy')(
          results('omitted-class-automobile.json'))]),
    # The cat study, two runs side by side
    ('omitted_class.md', 'they are as before: {38.21} ± {2.04}% of the cats, {72.78} ± {0.38}% of everything. After '
                         'it (biases {0.30}, {0.25}, {0.11}) they get **{47.03} ± {2.99}%** of the cats, **{72}% of '
                         'the teacher** (seeds {76}%, {72}%, {67}%), with {73.09} ± {0.28}% of everything, {0.24} '
                         'points below their all-class students ({73.33} ± {0.18}%)',
     'omitted-class-cat-jobs2.json',
     [mean(NO_CAT, 'omitted_valid_accuracy'), std(NO_CAT, 'omitted_valid_accuracy'), mean(NO_CAT), std(NO_CAT)]
     + [seed(NO_CAT, s, 'bias', 1) for s in range(3)]
     + [mean(NO_CAT, 'corrected_omitted_valid_accuracy'), std(NO_CAT, 'corrected_omitted_valid_accuracy'),
        of_teacher(NO_CAT, 'corrected_omitted_valid_accuracy')]
     + [seed_of_teacher(NO_CAT, 'corrected_omitted_valid_accuracy', s) for s in range(3)]
     + [mean(NO_CAT, 'corrected_valid_accuracy'), std(NO_CAT, 'corrected_valid_accuracy'),
        gap('distilled, all classes', NO_CAT, field_b='corrected_valid_accuracy'),
        mean('distilled, all classes'), std('distilled, all classes')]),
    ('omitted_class.md', 'the corrected accuracy on cats is {51.1}%, {78}% of the teacher\'s',
     'omitted-class-cat.json',
     [lambda r: 100 * both_cat_files(r), lambda r: 100 * both_cat_files(r) / teacher_on_class(r)]),
    # A bias chosen without labels
    ('omitted_class.md', 'the corrected cat accuracy spreads from {67}% to {94}% of the teacher\'s over the six '
                         'students', 'omitted-class-cat.json',
     [lambda r: 100 * min(six_cat_students('corrected_omitted_valid_accuracy')),
      lambda r: 100 * max(six_cat_students('corrected_omitted_valid_accuracy'))]),
    ('omitted_class.md', '| cat | {0.51} ± {0.21} | {55.16} ± {6.05} ({84}%; {83}, {75}, {94}) | '
                         '{72.91} ± {0.31} | {0.43} ± {0.08} | **{51.62} ± {0.86}** (**{79}%**; {79}, {78}, '
                         '{80}) | {72.80} ± {0.28} |', 'omitted-class-cat.json', matched_row(NO_CAT)),
    ('omitted_class.md', '| cat, two runs side by side | {0.22} ± {0.10} | {47.03} ± {2.99} ({72}%; {76}, {72}, '
                         '{67}) | {73.09} ± {0.28} | {0.39} ± {0.03} | **{51.84} ± {0.80}** (**{79}%**; {78}, '
                         '{79}, {81}) | {72.94} ± {0.31} |', 'omitted-class-cat-jobs2.json', matched_row(NO_CAT)),
    ('omitted_class.md', '| automobile | {2.52} ± {0.09} | {76.90} ± {2.44} ({87}%; {90}, {86}, '
                         '{85}) | {71.77} ± {0.23} | {2.38} ± {0.05} | **{73.53} ± {0.70}** (**{83}%**; {84}, '
                         '{83}, {83}) | {71.58} ± {0.17} |', 'omitted-class-automobile.json',
     matched_row(NO_CAR)),
    ('omitted_class.md', 'the cat accuracy after them stays between {78}% and {81}% of the teacher\'s',
     'omitted-class-cat.json', [lambda r: 100 * min(six_cat_students('matched_omitted_valid_accuracy')),
                                lambda r: 100 * max(six_cat_students('matched_omitted_valid_accuracy'))]),
    ('omitted_class.md', 'It costs little: {0.1} to {0.2} points of overall accuracy', 'omitted-class-cat.json',
     [lambda r: min(gap(v, v, 'corrected_valid_accuracy', 'matched_valid_accuracy')(results(f)) for f, v in
                    zip(OMITTED_FILES, (NO_CAT, NO_CAT, NO_CAR))),
      lambda r: max(gap(v, v, 'corrected_valid_accuracy', 'matched_valid_accuracy')(results(f)) for f, v in
                    zip(OMITTED_FILES, (NO_CAT, NO_CAT, NO_CAR)))]),
    ('omitted_class.md', 'they get {20}–{25}% of the cats and {11}–{14}% of the automobiles right',
     'omitted-class-cat.json',
     [lambda r: min(labels_only_matched(CAT_FILES)), lambda r: max(labels_only_matched(CAT_FILES)),
      lambda r: min(labels_only_matched(['omitted-class-automobile.json'])),
      lambda r: max(labels_only_matched(['omitted-class-automobile.json']))]),
    ('omitted_class.md', 'The distilled students get {2.3} to {5.8} times as many.', 'omitted-class-cat.json',
     [lambda r: min(map(matched_gain, OMITTED_FILES)), lambda r: max(map(matched_gain, OMITTED_FILES))]),
    ('omitted_class.md', 'with the teacher\'s count the student that never saw the class gets {79}% of the teacher\'s '
                         'accuracy on cats, in both measurements, and {83}% on automobiles; with the bias chosen for '
                         'accuracy, cat lands anywhere from {67}% to {94}%', 'omitted-class-automobile.json',
     [the_same(*(lambda r, f=f: of_teacher(NO_CAT, 'matched_omitted_valid_accuracy')(results(f))
                 for f in CAT_FILES)),
      of_teacher(NO_CAR, 'matched_omitted_valid_accuracy'),
      lambda r: 100 * min(six_cat_students('corrected_omitted_valid_accuracy')),
      lambda r: 100 * max(six_cat_students('corrected_omitted_valid_accuracy'))]),
    ('omitted_class.md', '| the teacher, 6 epochs, once for every study | 2 | {6,513} |', 'omitted-class-cat.json',
     [teacher_seconds]),
    ('omitted_class.md', '| a student, 50 epochs, one run at a time | 2 | {188} to {290} |',
     'omitted-class-cat.json', time_range('omitted-class-cat.json', 'omitted-class-automobile.json')),
    ('omitted_class.md', '| a student, two runs side by side (`--jobs 2`) | 1 | {330} to {390} |',
     'omitted-class-cat-jobs2.json', time_range('omitted-class-cat-jobs2.json')),
    # The overview: the float32 machine's three seeds, and the one GPU measurement
    ('readme.md', 'VGG-style CIFAR-10 models with {14.7} million and {437} thousand parameters', 'temperature.json',
     [lambda r: r['summary']['large']['parameters'] / 1e6, lambda r: r['summary']['T = 4']['parameters'] / 1e3]),
    ('readme.md', 'Distillation added {6.2} points, and it helped in every seed (by {5.3} to {6.7} points). The '
                  'distilled student gives the teacher\'s top answer on {84.6}% of the validation images, and the '
                  'mean KL divergence from the teacher\'s probabilities to its own is {0.148}: it imitates the '
                  'teacher closely, yet stays {5.2} points less accurate', 'temperature.json',
     [gap('T = 4', 'labels only'), lambda r: min(differences(r, 'T = 4', 'labels only')),
      lambda r: max(differences(r, 'T = 4', 'labels only')), mean('T = 4', 'teacher_agreement'),
      mean('T = 4', 'teacher_kl', 1), gap('large', 'T = 4')]),
    ('readme.md', 'gave the teacher {82.76}%, the small model on labels {80.20}% and the distilled one {79.16}% '
                  '([results](../../results.html#distillation-cifar10-compare-full-h200)). Students that stop '
                  'after 10 epochs are still improving, and a teacher {2.6} points ahead', 'compare-full-h200.json',
     [mean('large'), mean('small'), mean('distilled'), gap('large', 'small')]),
    # The language-model track
    ('lm/__init__.py', 'a teacher of {1.9} million parameters and a student of {0.26} million, {7} times smaller',
     'lm/limited.json', [lambda r: r['teacher']['parameters'] / 1e6,
                         lambda r: r['summary']['distilled']['parameters'] / 1e6,
                         lambda r: r['teacher']['parameters'] / r['summary']['distilled']['parameters']]),
    # The demo profile, one seed
    ('readme.md', 'the teacher reached {61.12}%, the small model on labels {46.64}% and the distilled one {56.42}%',
     'compare-demo-cpu.json', [mean('large'), mean('small'), mean('distilled')]),
    # labml's settings on all the labels, on a CPU
    ('readme.md', 'gave the teacher {83.92}%, the small model on labels {79.51}% and the distilled one {80.43}%',
     'compare-labml-cpu.json', [mean('large'), mean('small'), mean('distilled')]),
    ('readme.md', 'the same models score {84.42}%, {79.08}% and {80.36}%: a gain of {1.28} points that way, against '
                  '{0.93} with running statistics. The gain is largest early, {2.70} points after the students\' '
                  'first epoch and {0.73} to {1.90} after each of the last four', 'compare-labml-cpu.json',
     [mean('large', BATCH_STATISTICS), mean('small', BATCH_STATISTICS), mean('distilled', BATCH_STATISTICS),
      lambda r: mean('distilled', BATCH_STATISTICS)(r) - mean('small', BATCH_STATISTICS)(r),
      lambda r: 100 * r['summary']['distillation_gain_valid'], lambda r: epoch_gains(r)[0],
      lambda r: min(epoch_gains(r)[-4:]), lambda r: max(epoch_gains(r)[-4:])]),
    # Which teacher teaches best
    ('teacher_quality.md', 'From the teacher of epoch 1 ({46.34}%) to the finished one ({77.52}%)', TQ,
     [teacher('teacher of epoch 1'), teacher('teacher of epoch 6')]),
    ('teacher_quality.md', 'finished teacher is the best: {73.19}%, against {66.93}% on labels only', TQ,
     [mean('teacher of epoch 6'), mean('labels only')]),
    ('teacher_quality.md', 'epochs 1 to 3 (at most {66.06}%) are below labels only in every seed, the teacher of '
                           'epoch 3 by {1.22} to {2.18} points', TQ,
     [teacher('teacher of epoch 3'), lambda r: -max(differences(r, 'teacher of epoch 3', 'labels only')),
      lambda r: -min(differences(r, 'teacher of epoch 3', 'labels only'))]),
    ('teacher_quality.md', 'It even passes the teacher of epoch 1 ({50.67}% against {46.34}%); it is {0.74} points '
                           'below the teacher of epoch 3, and {4.33} below the finished one, with which it agrees on '
                           '{84.43}% of the images', TQ,
     [mean('teacher of epoch 1'), teacher('teacher of epoch 1'), behind('teacher of epoch 3'),
      behind('teacher of epoch 6'), mean('teacher of epoch 6', 'teacher_agreement')]),
    ('teacher_quality.md', 'The student of the teacher of epoch 10 ({79.50}%, as good as the student on labels) '
                           'reaches {79.80}%, against {80.06}% on labels only, and that of the finished one ({83.92}%) '
                           '{80.60}%', 'teacher-quality-labml-cpu.json',
     [teacher('teacher of epoch 10'), mean('teacher of epoch 10'), mean('labels only'), teacher('teacher of epoch 20'),
      mean('teacher of epoch 20')]),
    ('teacher_quality.md', 'with {437,034} parameters against the teacher\'s {14.7} million', TQ,
     [lambda r: r['summary']['labels only']['parameters'], lambda r: r['summary']['large']['parameters'] / 1e6]),
    ('teacher_quality.md', 'the teacher of epoch 4 ({71.96}%) gives {3.40} to {4.22} points in each seed, that of '
                           'epoch 5 ({75.66}%) {4.62} to {5.46}, the finished one {5.94} to {6.70}', TQ,
     [teacher('teacher of epoch 4'), *gains('teacher of epoch 4'), teacher('teacher of epoch 5'),
      *gains('teacher of epoch 5'), *gains('teacher of epoch 6')]),
    ('lm/studies.md', 'the standard library of Python 3.11.7: {734} files, {589} of them ({9,893,091} bytes) for '
                      'training, {66} for validation and {79} for test', 'lm/limited.json',
     [lambda r: sum(r['data']['files'].values()), lambda r: r['data']['files']['train'],
      lambda r: r['data']['bytes']['train'], lambda r: r['data']['files']['valid'],
      lambda r: r['data']['files']['test']]),
    ('lm/studies.md', '4 blocks of width 192 ({1,853,568} parameters), trained for {700} steps', 'lm/limited.json',
     [lambda r: r['teacher']['parameters'], lambda r: r['teacher']['steps']]),
    ('lm/studies.md', '{802} seconds of training ({13.4} minutes), reaching {2.504} bits per byte on validation and '
                      '**{2.580} on test**', 'lm/limited.json',
     [lambda r: r['teacher']['train_seconds'], lambda r: r['teacher']['train_seconds'] / 60,
      lambda r: r['teacher']['valid_bpb'], lambda r: r['teacher']['test_bpb']]),
    ('lm/studies.md', 'Every student has 2 blocks of width 96 ({260,736} parameters, {7.1} times fewer) and trains '
                      'for {300} steps', 'lm/limited.json',
     [lambda r: r['summary']['distilled']['parameters'],
      lambda r: r['teacher']['parameters'] / r['summary']['distilled']['parameters'],
      lambda r: int(r['runs'][0]['steps'])]),
    ('lm/studies.md', '| labels only | {3.357} ± {0.009} | {3.357}, {3.349}, {3.366} | | {39}, {66}, {55} |',
     'lm/limited.json', lm_row('labels only')),
    ('lm/studies.md', '| distilled (forward KL) | **{3.182} ± {0.027}** | {3.173}, {3.213}, {3.161} | {−0.184}, '
                      '{−0.136}, {−0.204} | {191}, {132}, {149} |', 'lm/limited.json',
     lm_row('distilled', 'labels only')),
    ('lm/studies.md', 'in every seed, by {0.136} to {0.204} bits per byte ({0.175} on average), {6.4} times the '
                      'larger of the two standard deviations ({0.027}): it closes {22}% of the gap', 'lm/limited.json',
     [lambda r: min(lm_gains(r, 'distilled')), lambda r: max(lm_gains(r, 'distilled')),
      lm_gap('labels only', 'distilled'),
      lambda r: lm_gap('labels only', 'distilled')(r) /
      max(r['summary'][v]['test_bpb']['std'] for v in ('labels only', 'distilled')),
      lambda r: max(r['summary'][v]['test_bpb']['std'] for v in ('labels only', 'distilled')),
      lambda r: 100 * lm_gap('labels only', 'distilled')(r) /
      (r['summary']['labels only']['test_bpb']['mean'] - r['teacher']['test_bpb'])]),
    ('lm/studies.md', 'so a distilled run took {2.0} to {5.0} times as long as a labels-only one of the same seed',
     'lm/limited.json',
     [lambda r: min(a / b for a, b in zip(lm_seeds(r, 'distilled', 'train_seconds'),
                                          lm_seeds(r, 'labels only', 'train_seconds'))),
      lambda r: max(a / b for a, b in zip(lm_seeds(r, 'distilled', 'train_seconds'),
                                          lm_seeds(r, 'labels only', 'train_seconds')))]),
    ('lm/studies.md', '| labels only | {3.357} ± {0.102} | {3.306}, {3.474}, {3.290} | | {31}, {69}, {22} |',
     'lm/divergence.json', lm_row('labels only')),
    ('lm/studies.md', '| forward KL | **{3.254} ± {0.179}** | {3.168}, {3.460}, {3.135} | {−0.139}, {−0.014}, '
                      '{−0.155} | {126}, {183}, {63} |', 'lm/divergence.json', lm_row('forward KL', 'labels only')),
    ('lm/studies.md', '| reverse KL | {4.055} ± {0.063} | {4.120}, {3.995}, {4.050} | {+0.814}, {+0.521}, {+0.760} | '
                      '{113}, {130}, {67} |', 'lm/divergence.json', lm_row('reverse KL', 'labels only')),
    ('lm/studies.md', '| JSD ($\\beta = 0.5$) | **{3.255} ± {0.077}** | {3.207}, {3.344}, {3.215} | {−0.099}, '
                      '{−0.130}, {−0.075} | {214}, {155}, {65} |', 'lm/divergence.json',
     lm_row('JSD', 'labels only')),
    ('lm/studies.md', 'below the labels-only student in every seed, by {0.014} to {0.155} bits per byte ({0.10} on '
                      'average for both). The seeds spread far more than in the limited regime ({0.10} for the '
                      'labels-only student against {0.009})', 'lm/divergence.json',
     [lambda r: min(g for v in FORWARD_AND_JSD for g in lm_gains(r, v)),
      lambda r: max(g for v in FORWARD_AND_JSD for g in lm_gains(r, v)),
      the_same(*(lm_gap('labels only', v) for v in FORWARD_AND_JSD), decimals=2),
      std('labels only', 'test_bpb', 1),
      lambda r: std('labels only', 'test_bpb', 1)(results('lm/limited.json'))]),
    ('lm/studies.md', 'forward KL beat JSD in seeds 0 and 2 (by {0.039} and {0.080}) and lost in seed 1 (by {0.116})',
     'lm/divergence.json',
     [lambda r, s=s: (lm_seeds(r, 'JSD')[s] - lm_seeds(r, 'forward KL')[s]) * (1 if s != 1 else -1)
      for s in (0, 2, 1)]),
    ('lm/studies.md', 'forward KL and JSD tie on average ({3.254} against {3.255} bits per byte), JSD\'s gain being '
                      'the steadier ({0.075} to {0.130} against {0.014} to {0.155}); **reverse KL is clearly the '
                      'worst**, {0.52} to {0.81} bits per byte above', 'lm/divergence.json',
     [mean('forward KL', 'test_bpb', 1), mean('JSD', 'test_bpb', 1),
      lambda r: min(lm_gains(r, 'JSD')), lambda r: max(lm_gains(r, 'JSD')),
      lambda r: min(lm_gains(r, 'forward KL')), lambda r: max(lm_gains(r, 'forward KL')),
      lambda r: -max(lm_gains(r, 'reverse KL')), lambda r: -min(lm_gains(r, 'reverse KL'))]),
    ('lm/studies.md', '| $\\lambda = 0$ | **{3.182} ± {0.027}** | {3.173}, {3.213}, {3.161} | | {191}, {132}, '
                      '{149} |', 'lm/on_policy.json', lm_row('λ = 0')),
    ('lm/studies.md', '| $\\lambda = 0.5$ | {3.292} ± {0.221} | {3.174}, {3.546}, {3.155} | {+0.001}, {+0.333}, '
                      '{−0.007} | {170}, {71}, {79} |', 'lm/on_policy.json', lm_row('λ = 0.5', 'λ = 0')),
    ('lm/studies.md', 'two seeds end within {0.007} bits per byte of ordinary distillation, and seed 1 ends {0.33} '
                      'worse', 'lm/on_policy.json',
     [lambda r: max(abs(g) for s, g in enumerate(lm_gains(r, 'λ = 0', 'λ = 0.5')) if s != 1),
      lambda r: -lm_gains(r, 'λ = 0.5', 'λ = 0')[1]]),
    ('lm/studies.md', '--- teacher, seed 0; test {2.580} bits per byte', 'lm/limited.json',
     [lambda r: r['teacher']['test_bpb']]),
    ('lm/studies.md', '--- student, seed 0, 100,000 training bytes; test {3.357} bits per byte', 'lm/limited.json',
     [lambda r: lm_seeds(r, 'labels only')[0]]),
    ('lm/studies.md', '--- distilled, seed 0, 100,000 training bytes, forward_kl; test {3.173} bits per byte',
     'lm/limited.json', [lambda r: lm_seeds(r, 'distilled')[0]]),
    ('lm/studies.md', '| teacher | {1,853,568} | {700} | {802} s ({13.4} min) |', 'lm/limited.json',
     [lambda r: r['teacher']['parameters'], lambda r: r['teacher']['steps'],
      lambda r: r['teacher']['train_seconds'], lambda r: r['teacher']['train_seconds'] / 60]),
    ('lm/studies.md', '| student, labels only | {260,736} | {300} | {22} to {69} s |', 'lm/limited.json',
     [lambda r: r['summary']['labels only']['parameters'], lambda r: int(r['runs'][0]['steps']),
      lambda r: min(lm_times({'labels only'})), lambda r: max(lm_times({'labels only'}))]),
    ('lm/studies.md', '| student, distilled | {260,736} | {300} | {63} to {214} s (at most {3.6} min) |',
     'lm/limited.json',
     [lambda r: r['summary']['distilled']['parameters'], lambda r: int(r['runs'][1]['steps']),
      lambda r: min(lm_times(DISTILLED_LM)), lambda r: max(lm_times(DISTILLED_LM)),
      lambda r: max(lm_times(DISTILLED_LM)) / 60]),
    ('lm/studies.md', '| student, on-policy $\\lambda = 0.5$ | {260,736} | {300} | {71} to {170} s |',
     'lm/on_policy.json',
     [lambda r: r['summary']['λ = 0.5']['parameters'], lambda r: int(r['runs'][1]['steps']),
      lambda r: min(lm_times({'λ = 0.5'})), lambda r: max(lm_times({'λ = 0.5'}))]),
    ('lm/studies.md', 'the teacher and the 21 student runs of the first three studies trained for {50} minutes: '
                      '{13.4} for the teacher, {36.5} for the students', 'lm/limited.json',
     [lambda r: r['teacher']['train_seconds'] / 60 + lm_student_minutes(r),
      lambda r: r['teacher']['train_seconds'] / 60, lm_student_minutes]),
    # On-policy batches after training on labels
    ('lm/studies.md', 'it is the limited study\'s labels-only student ({3.357} bits per byte)', WARM,
     [mean('labels only', 'test_bpb', 1)]),
    ('lm/studies.md', '| the start: labels only | {3.357} ± {0.009} | {3.357}, {3.349}, {3.366} | | {15}, {25}, '
                      '{16} |', WARM, lm_row('labels only')),
    ('lm/studies.md', '| labels only, continued | {3.083} ± {0.022} | {3.108}, {3.075}, {3.065} | | {16}, {15}, '
                      '{17} |', WARM, lm_row(CONTINUED)),
    ('lm/studies.md', '| forward KL, $\\lambda = 0$ | **{2.773} ± {0.020}** | {2.796}, {2.762}, {2.761} | '
                      '{−0.312}, {−0.313}, {−0.304} | {52}, {46}, {45} |', WARM,
     lm_row(warm('forward KL', '0'), CONTINUED)),
    ('lm/studies.md', '| forward KL, $\\lambda = 0.5$ | **{2.778} ± {0.021}** | {2.802}, {2.771}, {2.761} | '
                      '{−0.306}, {−0.304}, {−0.304} | {82}, {53}, {51} |', WARM,
     lm_row(warm('forward KL', '0.5'), CONTINUED)),
    ('lm/studies.md', '| forward KL, $\\lambda = 1$ | **{2.770} ± {0.016}** | {2.787}, {2.770}, {2.754} | '
                      '{−0.321}, {−0.305}, {−0.311} | {99}, {60}, {57} |', WARM,
     lm_row(warm('forward KL', '1'), CONTINUED)),
    ('lm/studies.md', '| JSD, $\\lambda = 0$ | {2.812} ± {0.027} | {2.843}, {2.802}, {2.791} | {−0.265}, '
                      '{−0.273}, {−0.274} | {48}, {49}, {47} |', WARM, lm_row(warm('JSD', '0'), CONTINUED)),
    ('lm/studies.md', '| JSD, $\\lambda = 0.5$ | {2.816} ± {0.023} | {2.842}, {2.807}, {2.798} | {−0.266}, '
                      '{−0.268}, {−0.267} | {58}, {57}, {53} |', WARM, lm_row(warm('JSD', '0.5'), CONTINUED)),
    ('lm/studies.md', '| JSD, $\\lambda = 1$ | {2.811} ± {0.021} | {2.835}, {2.803}, {2.795} | {−0.273}, '
                      '{−0.272}, {−0.270} | {67}, {65}, {61} |', WARM, lm_row(warm('JSD', '1'), CONTINUED)),
    ('lm/studies.md', 'its 300 steps end {0.304} to {0.313} bits per byte below 300 more steps on the next bytes '
                      'alone, in every seed, closing {62}% of the gap between that student and the teacher; from '
                      'random weights, 300 distilled steps gained {0.136} to {0.204} over labels only', WARM,
     [lambda r: min(lm_gains(r, warm('forward KL', '0'), CONTINUED)),
      lambda r: max(lm_gains(r, warm('forward KL', '0'), CONTINUED)),
      lambda r: 100 * lm_gap(CONTINUED, warm('forward KL', '0'))(r) /
      (r['summary'][CONTINUED]['test_bpb']['mean'] - r['teacher']['test_bpb']),
      lambda r: min(lm_gains(results('lm/limited.json'), 'distilled')),
      lambda r: max(lm_gains(results('lm/limited.json'), 'distilled'))]),
    ('lm/studies.md', 'end within {0.010} bits per byte of $\\lambda = 0$ in every seed, and with JSD within {0.008}, '
                      'on both sides of it: less than the spread between seeds (standard deviations of {0.016} to '
                      '{0.027}). From random weights one seed of $\\lambda = 0.5$ ended {0.33} worse', WARM,
     [lambda r: max(abs(d) for d in on_policy_effects(r, 'forward KL')),
      lambda r: max(abs(d) for d in on_policy_effects(r, 'JSD')),
      spread(WARM_DISTILLED, 'test_bpb', 'std', 1, min), spread(WARM_DISTILLED, 'test_bpb', 'std', 1, max),
      lambda r: -lm_gains(results('lm/on_policy.json'), 'λ = 0.5', 'λ = 0')[1]]),
    ('lm/studies.md', 'the runs at $\\lambda = 1$ took {57} to {99} s against {45} to {52} s at $\\lambda = 0$',
     WARM, [lambda r: min(lm_seeds(r, warm('forward KL', '1'), 'train_seconds')),
            lambda r: max(lm_seeds(r, warm('forward KL', '1'), 'train_seconds')),
            lambda r: min(lm_seeds(r, warm('forward KL', '0'), 'train_seconds')),
            lambda r: max(lm_seeds(r, warm('forward KL', '0'), 'train_seconds'))]),
    ('lm/studies.md', '**Forward KL beats JSD** by {0.04} bits per byte at every $\\lambda$, in every seed (by '
                      '{0.029} to {0.049})', WARM,
     [the_same(*(lm_gap(warm('JSD', f), warm('forward KL', f)) for f in WARM_FRACTIONS), decimals=2),
      lambda r: min(d for f in WARM_FRACTIONS for d in lm_gains(r, warm('forward KL', f), warm('JSD', f))),
      lambda r: max(d for f in WARM_FRACTIONS for d in lm_gains(r, warm('forward KL', f), warm('JSD', f)))]),
    # Stored teacher targets
    ('lm/studies.md', 'With 256 bytes the whole distribution fits too, {512} bytes a position', SPARSE,
     [stored_bytes('dense')]),
    ('lm/studies.md', 'which take $3k$ or $3m$ bytes a position, {12} to {96}', SPARSE,
     [stored_bytes('top-4'), stored_bytes('32 sampled')]),
    ('lm/studies.md', '| labels only | | {3.359} ± {0.008} | {3.358} | {3.357}, {3.349}, {3.366}, {3.367}, '
                      '{3.358} |', SPARSE, sparse_row('labels only')),
    ('lm/studies.md', '| online | | **{3.176} ± {0.023}** | **{3.173}** | {3.173}, {3.213}, {3.161}, {3.153}, '
                      '{3.180} |', SPARSE, sparse_row('online')),
    *[('lm/studies.md', f'| {variant} | {row}', SPARSE, sparse_row(variant, stored=True)) for variant, row in [
        ('dense', '{512} | {3.207} ± {0.079} | {3.182} | {3.172}, {3.346}, {3.154}, {3.182}, {3.183} |'),
        ('top-4', '{12} | {3.341} ± {0.006} | {3.341} | {3.334}, {3.335}, {3.344}, {3.341}, {3.350} |'),
        ('4 sampled', '{12} | {3.259} ± {0.074} | {3.239} | {3.218}, {3.388}, {3.244}, {3.208}, {3.239} |'),
        ('top-8', '{24} | {3.289} ± {0.021} | {3.299} | {3.299}, {3.255}, {3.303}, {3.305}, {3.283} |'),
        ('8 sampled', '{24} | {3.230} ± {0.026} | {3.224} | {3.215}, {3.272}, {3.224}, {3.235}, {3.205} |'),
        ('top-16', '{48} | {3.225} ± {0.007} | {3.225} | {3.222}, {3.234}, {3.225}, {3.230}, {3.216} |'),
        ('16 sampled', '{48} | {3.257} ± {0.082} | {3.209} | {3.197}, {3.377}, {3.209}, {3.310}, {3.192} |'),
        ('top-32', '{96} | {3.220} ± {0.063} | {3.196} | {3.181}, {3.331}, {3.196}, {3.180}, {3.214} |'),
        ('32 sampled', '{96} | {3.215} ± {0.062} | {3.187} | {3.184}, {3.325}, {3.187}, {3.176}, {3.204} |')]],
    ('lm/studies.md', 'Six of the {45} stored-target runs ended {0.10} to {0.17} bits per byte above their variant\'s '
                      'median, while every other run of the study is within {0.05} of its own', SPARSE,
     [lambda r: len(stored_runs(r)), lambda r: min(above_median(r, *run) for run in fallen_away(r)),
      lambda r: max(above_median(r, *run) for run in fallen_away(r)),
      lambda r: max(above_median(r, variant, seed) for variant in lm_variants(r) for seed in range(5)
                    if (variant, seed) not in fallen_away(r))]),
    ('lm/studies.md', 'At 12 bytes a position, 4 sampled bytes reach a median of {3.239} bits per byte and the top 4 '
                      'only {3.341}, {0.017} below labels only', SPARSE,
     [lm_median('4 sampled'), lm_median('top-4'),
      lambda r: lm_median('labels only')(r) - lm_median('top-4')(r)]),
    ('lm/studies.md', 'At 24 bytes, {3.224} against {3.299}.', SPARSE, [lm_median('8 sampled'), lm_median('top-8')]),
    ('lm/studies.md', 'medians of {3.209} sampled against {3.225} top-k at 48 bytes, {3.187} against {3.196} at 96',
     SPARSE, [lm_median('16 sampled'), lm_median('top-16'), lm_median('32 sampled'), lm_median('top-32')]),
    ('lm/studies.md', 'are the steadiest of the stored ones (standard deviations of {0.006} to {0.021})', SPARSE,
     [spread(SMALL_TOP_K, 'test_bpb', 'std', 1, min), spread(SMALL_TOP_K, 'test_bpb', 'std', 1, max)]),
    ('lm/studies.md', 'by median {0.057}, {0.043}, {0.028} and {0.005} bits per byte behind them at $m$ = 4, 8, 16 '
                      'and 32', SPARSE,
     [lambda r, m=m: lm_median(f'{m} sampled')(r) - lm_median('dense')(r) for m in (4, 8, 16, 32)]),
    ('lm/studies.md', 'The dense targets in turn are within {0.009} of the teacher run online, by median.', SPARSE,
     [lambda r: lm_median('dense')(r) - lm_median('online')(r)]),
    ('lm/studies.md', 'A student reading them trained in {17} to {49} s, against {50} to {100} s online and {14} to '
                      '{31} s on labels only', SPARSE,
     [lambda r: min(stored_runs(r, 'train_seconds')), lambda r: max(stored_runs(r, 'train_seconds')),
      lambda r: min(lm_seeds(r, 'online', 'train_seconds')), lambda r: max(lm_seeds(r, 'online', 'train_seconds')),
      lambda r: min(lm_seeds(r, 'labels only', 'train_seconds')),
      lambda r: max(lm_seeds(r, 'labels only', 'train_seconds'))]),
    ('lm/studies.md', '{4.52} bits per byte on validation at step {50} against {4.29}, and it never catches up, '
                      '{3.41} against {3.28} at step {300}', SPARSE,
     [lambda r: validation(r, 'dense', 1)[0][1], lambda r: validation(r, 'dense', 1)[0][0],
      lambda r: validation(r, 'online', 1)[0][1], lambda r: validation(r, 'dense', 1)[-1][1],
      lambda r: validation(r, 'online', 1)[-1][1], lambda r: validation(r, 'dense', 1)[-1][0]]),
]

# A number in braces: what the test checks; a difference has its sign, and a minus sign is written −
NUMBER = re.compile(r'\{([−+]?[\d,.]+)\}')


def one_line(text: str) -> str:
    return ' '.join(text.split())


@pytest.mark.parametrize('page, quote, file, values', QUOTES, ids=[f'{q[0]}: {q[1][:40]}' for q in QUOTES])
def test_a_quoted_number_is_the_files_value_as_rounded_on_the_page(page, quote, file, values):
    text = one_line((FOLDER / located(page)).read_text(encoding='utf-8'))
    assert one_line(NUMBER.sub(r'\1', quote)) in text, f'{page} no longer says this; update its entry'
    numbers = NUMBER.findall(quote)
    assert len(numbers) == len(values)
    data = results(file)
    for quoted, value in zip(numbers, values):
        digits = quoted.replace(',', '').replace('−', '-')
        decimals = len(digits.split('.')[1]) if '.' in digits else 0
        sign = '+' if digits[0] in '+-' else ''
        assert f'{value(data):{sign}.{decimals}f}' == digits, f'{page}: {quoted} in "{quote[:60]}..." is not {file}'


# A number the Japanese pages write in their own units: 14.7 million is 1,470 万
JAPANESE_FORM = {'14.7': '1,470 万', '437': '43.7 万', '1.9': '190 万', '0.26': '26 万'}


def test_the_japanese_pages_quote_the_same_numbers():
    # Each checked number is in the Japanese translation of the block that holds it
    missing = []
    for page, quote, _, _ in QUOTES:
        english = one_line(NUMBER.sub(r'\1', quote))
        entries = yaml.safe_load((JAPANESE / f'{located(page)}.yaml').read_text(encoding='utf-8'))
        entry, = [e for e in entries if english in one_line(e['en'])]
        missing += [f'{page} {entry["key"]}: {number}' for number in NUMBER.findall(quote)
                    if JAPANESE_FORM.get(number, number) not in entry['ja']]
    assert missing == []


def test_the_teacher_quality_page_claims_hold_in_every_seed():
    # "each more accurate teacher gives a more accurate student in every seed", and the students of the teachers
    # of epochs 1 to 3 "are below labels only in every seed"
    r = results(TQ)
    epochs = [f'teacher of epoch {e}' for e in range(1, 7)]
    assert [teacher(v)(r) for v in epochs] == sorted(teacher(v)(r) for v in epochs)
    by_seed = list(zip(*(seeds(r, v) for v in epochs)))
    assert len(by_seed) == 3 and all(list(row) == sorted(row) for row in by_seed)
    assert all(d < 0 for v in epochs[:3] for d in differences(r, v, 'labels only'))


def test_the_language_model_studies_of_both_machines_share_one_scale():
    # The studies page: the teacher trained again on the second machine, and the limited study's students that
    # both machines trained, reach the same test bits per byte to the third decimal
    first = results('lm/limited.json')
    same_students = {'lm/on_policy_warm.json': {'labels only': 'labels only'},
                     'lm/sparse_targets.json': {'labels only': 'labels only', 'online': 'distilled'}}
    for file, students in same_students.items():
        second = results(file)
        assert second['teacher']['uuid'] != first['teacher']['uuid']
        assert f'{second["teacher"]["test_bpb"]:.3f}' == f'{first["teacher"]["test_bpb"]:.3f}'
        for variant, as_first in students.items():
            assert [f'{v:.3f}' for v in lm_seeds(second, variant)[:3]] == \
                   [f'{v:.3f}' for v in lm_seeds(first, as_first)]


def test_the_stored_target_runs_that_fell_away_are_those_the_studies_page_names():
    # "seed 1 of dense, top-32, 4, 16 and 32 sampled, and seed 3 of 16 sampled"; none of the top-k targets with
    # k <= 16 fell away, and they are steadier than every other stored variant
    r = results(SPARSE)
    assert sorted(fallen_away(r)) == sorted([('dense', 1), ('top-32', 1), ('4 sampled', 1), ('16 sampled', 1),
                                             ('16 sampled', 3), ('32 sampled', 1)])
    steadiness = {v: r['summary'][v]['test_bpb']['std'] for v in lm_variants(r) if stored_bytes(v)(r)}
    assert max(steadiness[v] for v in SMALL_TOP_K) < min(s for v, s in steadiness.items() if v not in SMALL_TOP_K)


def test_sampled_targets_beat_the_top_ones_in_all_seeds_but_seed_1_at_12_and_24_bytes():
    r = results(SPARSE)
    for size in (4, 8):
        better = [s for s, (top, sampled) in enumerate(zip(lm_seeds(r, f'top-{size}'), lm_seeds(r, f'{size} sampled')))
                  if sampled < top]
        assert better == [0, 2, 3, 4]


def test_the_readme_row_of_the_language_model_quotes_its_files():
    # The README's results table: its language-model row, from the limited and the warm-started studies' files
    readme = (Path(__file__).parents[2] / 'README.md').read_text(encoding='utf-8')
    row = next(line for line in readme.splitlines() if line.startswith('| [language model]'))
    limited, warm_started = results('lm/limited.json'), results(WARM)
    distilled, labels = limited['summary']['distilled']['test_bpb'], limited['summary']['labels only']['test_bpb']
    assert (f'distilled {distilled["mean"]:.3f} ± {distilled["std"]:.3f} test bits per byte against '
            f'{labels["mean"]:.3f} ± {labels["std"]:.3f} on labels') in row
    assert f'(where distilling gains {lm_gap(CONTINUED, warm("forward KL", "0"))(warm_started):.2f})' in row


def test_the_readme_quotes_the_demo_and_the_labml_profile_from_their_files():
    # The demo's paragraph, in bfloat16 and in float32, and the `labml` profile's row of the results table
    readme = one_line((Path(__file__).parents[2] / 'README.md').read_text(encoding='utf-8'))
    accuracies = [[f'{100 * results(file)["summary"][v]["valid_accuracy"]["mean"]:.1f}%'
                   for v in ('large', 'small', 'distilled')]
                  for file in ('compare-demo-cpu.json', 'compare-demo-cpu-float32.json')]
    assert 'teacher {}, labels only {}, distilled {}); in float32'.format(*accuracies[0]) in readme
    assert 'CPU, 12.7 minutes ({}, {}, {}).'.format(*accuracies[1]) in readme
    labml = results('compare-labml-cpu.json')['summary']
    gain = 100 * (labml['distilled']['batch_statistics_valid_accuracy']['mean'] -
                  labml['small']['batch_statistics_valid_accuracy']['mean'])
    assert f'evaluated as labml.ai does, with batch statistics, {gain:+.2f} |' in readme


def test_with_every_labelled_image_each_better_teacher_gives_a_better_student():
    # The teacher-quality page, the `labml` profile: "each better teacher gives a better student", only the
    # finished one above labels only
    r = results('teacher-quality-labml-cpu.json')
    epochs = [f'teacher of epoch {e}' for e in (2, 5, 10, 20)]
    assert [mean(v)(r) for v in epochs] == sorted(mean(v)(r) for v in epochs)
    assert [mean(v)(r) > mean('labels only')(r) for v in epochs] == [False, False, False, True]
