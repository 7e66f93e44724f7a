"""
The numbers the study pages quote in their prose, and in the tables still
typed by hand, against the committed `results/*.json` files they come from:
each, rounded as the page rounds it, must be the file's value. The tables
made by `results` blocks need no such list: the renderer makes them from the
files.

Each entry is a page, a piece of its text with each checked number in
braces, the file, and what each of those numbers is. A piece of text the
page no longer has fails too, so that a changed sentence gets its entry
changed with it. Not covered: numbers no file holds (times in minutes, the
teacher's probabilities per class, the bfloat16 machine's column of the
overview, the paper's figures).
"""

import json
import re
import statistics
from pathlib import Path

import pytest
import yaml

FOLDER = Path(__file__).parents[2] / 'labml_nn' / 'distillation'
JAPANESE = Path(__file__).parents[2] / 'labml_nn' / 'literate' / 'translations' / 'ja' / 'distillation'


def results(file: str) -> dict:
    return json.loads((FOLDER / 'results' / file).read_text(encoding='utf-8'))


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
    ('temperature.md', 'labels only {67.11} ± {0.48}%; $T$ = 1: {72.89} ± {0.34}, below $T = 4$ in each seed (by '
                       '{0.10} to {0.70} points); 2: {73.42} ± {0.45}; 4: {73.33} ± {0.18}; 8: {73.47} ± {0.17}; '
                       '16: {73.23} ± {0.21}', 'temperature-jobs2.json',
     [mean('labels only'), std('labels only'), mean('T = 1'), std('T = 1'),
      lambda r: -max(differences(r, 'T = 1', 'T = 4')), lambda r: -min(differences(r, 'T = 1', 'T = 4')),
      mean('T = 2'), std('T = 2'), mean('T = 4'), std('T = 4'), mean('T = 8'), std('T = 8'),
      mean('T = 16'), std('T = 16')]),
    ('temperature.md', 'Agreement with the teacher rises from {82.45}% at $T = 1$ to about {84.7} to {84.9}% from 4 up',
     'temperature-jobs2.json', [mean('T = 1', 'teacher_agreement'), spread(T_FROM_4, 'teacher_agreement', pick=min),
                                spread(T_FROM_4, 'teacher_agreement')]),
    # The weight sweep
    ('weight.md', 'reads a label ($\\alpha = 1$) gets {73.03}%', 'weight.json', [mean('α = 1.0')]),
    ('weight.md', 'It has the highest mean, {73.81}%, and beats $\\alpha = 0.9$ in each of the three seeds (by {0.08}, '
                  '{0.36} and {1.24} points, {0.56} on average)', 'weight.json',
     [mean('α = 0.5')] + [lambda r, s=s: differences(r, 'α = 0.5', 'α = 0.9')[s] for s in range(3)]
     + [gap('α = 0.5', 'α = 0.9')]),
    ('weight.md', 'Between 0.9, 0.99 and 1 the differences ({0.1} to {0.2} points)', 'weight.json',
     [lambda r: min(abs(gap(a, b)(r)) for a in ALPHA_FROM_09 for b in ALPHA_FROM_09 if a < b),
      lambda r: max(abs(gap(a, b)(r)) for a in ALPHA_FROM_09 for b in ALPHA_FROM_09 if a < b)]),
    ('weight.md', 'agreement rises from {82.4}% at $\\alpha = 0.5$ to about {84.7}% from 0.9 up, and the KL '
                  'divergence falls from {0.186} to {0.145}', 'weight.json',
     [mean('α = 0.5', 'teacher_agreement'),
      lambda r: statistics.fmean(mean(v, 'teacher_agreement')(r) for v in ALPHA_FROM_09),
      mean('α = 0.5', 'teacher_kl', 1), mean('α = 1.0', 'teacher_kl', 1)]),
    ('weight.md', 'the teacher is wrong on {21.5}% of the validation images', 'weight.json',
     [lambda r: 100 - mean('large')(r)]),
    ('weight.md', 'take the student from {67.1}% to {73.0}%, with the teacher at {78.5}%', 'weight.json',
     [mean('α = 0 (labels only)'), mean('α = 1.0'), mean('large')]),
    ('weight.md', 'Labels only: {67.11} ± {0.48}%; $\\alpha$ = 0.5: **{74.11} ± {0.19}**; 0.9: {73.33} ± {0.18}; '
                  '0.99: {73.17} ± {0.31}; 1: {73.00} ± {0.16}. Again $\\alpha = 0.5$ beats 0.9 in each seed, by '
                  '{0.76} to {0.80} points, and agreement with the teacher rises with $\\alpha$ ({82.55}% at 0.5, '
                  'about {84.7}% from 0.9)', 'weight-jobs2.json',
     [mean('α = 0 (labels only)'), std('α = 0 (labels only)'), mean('α = 0.5'), std('α = 0.5'),
      mean('α = 0.9'), std('α = 0.9'), mean('α = 0.99'), std('α = 0.99'), mean('α = 1.0'), std('α = 1.0'),
      lambda r: min(differences(r, 'α = 0.5', 'α = 0.9')), lambda r: max(differences(r, 'α = 0.5', 'α = 0.9')),
      mean('α = 0.5', 'teacher_agreement'),
      lambda r: statistics.fmean(mean(v, 'teacher_agreement')(r) for v in ALPHA_FROM_09)]),
    ('weight.md', 'A run on one thread took about {340} to {357} s of training', 'weight-jobs2.json',
     [lambda r: min(s['train_seconds']['mean'] for v, s in r['summary'].items() if v != 'large'),
      lambda r: max(s['train_seconds']['mean'] for v, s in r['summary'].items() if v != 'large')]),
    # The omitted class: cat
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
    ('omitted_class.md', 'class (cat {84}%, automobile {87}%; one cat seed of three was below, at {75}%;',
     'omitted-class-cat.json',
     [of_teacher(NO_CAT, 'corrected_omitted_valid_accuracy'),
      lambda r: of_teacher(NO_CAR, 'corrected_omitted_valid_accuracy')(results('omitted-class-automobile.json')),
      lambda r: min(seed_of_teacher(NO_CAT, 'corrected_omitted_valid_accuracy', s)(r) for s in range(3))]),
    ('omitted_class.md', 'accuracy within 2 points of the student that saw every class ({0.35} and {1.49} points)',
     'omitted-class-cat.json',
     [gap('distilled, all classes', NO_CAT, field_b='corrected_valid_accuracy'),
      lambda r: gap('distilled, all classes', NO_CAR, field_b='corrected_valid_accuracy')(
          results('omitted-class-automobile.json'))]),
    # The cat study again, two runs at a time
    ('omitted_class.md', 'they are as before: {38.21} ± {2.04}% of the cats, {72.78} ± {0.38}% of everything. After '
                         'it (biases {0.30}, {0.25}, {0.11}) they get **{47.03} ± {2.99}%** of the cats, **{72}% of '
                         'the teacher** (seeds {76}%, {72}%, {67}%), below the 80% target, with {73.09} ± {0.28}% of '
                         'everything, {0.24} points below their all-class students ({73.33} ± {0.18}%)',
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
    ('omitted_class.md', '| cat, at `fe70e65` | {0.51} ± {0.21} | {55.16} ± {6.05} ({84}%; {83}, {75}, {94}) | '
                         '{72.91} ± {0.31} | {0.43} ± {0.08} | **{51.62} ± {0.86}** (**{79}%**; {79}, {78}, {80}) | '
                         '{72.80} ± {0.28} |', 'omitted-class-cat.json', matched_row(NO_CAT)),
    ('omitted_class.md', '| cat, at `79eb837`, `--jobs 2` | {0.22} ± {0.10} | {47.03} ± {2.99} ({72}%; {76}, {72}, '
                         '{67}) | {73.09} ± {0.28} | {0.39} ± {0.03} | **{51.84} ± {0.80}** (**{79}%**; {78}, {79}, '
                         '{81}) | {72.94} ± {0.31} |', 'omitted-class-cat-jobs2.json', matched_row(NO_CAT)),
    ('omitted_class.md', '| automobile, at `fe70e65` | {2.52} ± {0.09} | {76.90} ± {2.44} ({87}%; {90}, {86}, '
                         '{85}) | {71.77} ± {0.23} | {2.38} ± {0.05} | **{73.53} ± {0.70}** (**{83}%**; {84}, '
                         '{83}, {83}) | {71.58} ± {0.17} |', 'omitted-class-automobile.json',
     matched_row(NO_CAR)),
    ('omitted_class.md', 'the cat accuracy after them stays between {78}% and {81}% of the teacher\'s',
     'omitted-class-cat.json', [lambda r: 100 * min(six_cat_students('matched_omitted_valid_accuracy')),
                                lambda r: 100 * max(six_cat_students('matched_omitted_valid_accuracy'))]),
    ('omitted_class.md', 'It costs little: {0.1} to {0.2} points of overall accuracy', 'omitted-class-cat.json',
     [lambda r: min(gap(v, v, 'corrected_valid_accuracy', 'matched_valid_accuracy')(results(f)) for f, v in
                    (('omitted-class-cat.json', NO_CAT), ('omitted-class-cat-jobs2.json', NO_CAT),
                     ('omitted-class-automobile.json', NO_CAR))),
      lambda r: max(gap(v, v, 'corrected_valid_accuracy', 'matched_valid_accuracy')(results(f)) for f, v in
                    (('omitted-class-cat.json', NO_CAT), ('omitted-class-cat-jobs2.json', NO_CAT),
                     ('omitted-class-automobile.json', NO_CAR)))]),
    ('omitted_class.md', 'they get {20}–{25}% of the cats and {11}–{14}% of the automobiles right',
     'omitted-class-cat.json',
     [lambda r: min(labels_only_matched(['omitted-class-cat.json', 'omitted-class-cat-jobs2.json'])),
      lambda r: max(labels_only_matched(['omitted-class-cat.json', 'omitted-class-cat-jobs2.json'])),
      lambda r: min(labels_only_matched(['omitted-class-automobile.json'])),
      lambda r: max(labels_only_matched(['omitted-class-automobile.json']))]),
    # The overview: the float32 machine's seed 0, and the one GPU measurement
    ('readme.md', '| large teacher | {14,728,266} | 76.90% | {78.48}% |', 'temperature.json',
     [lambda r: r['summary']['large']['parameters'], seed('large', 0)]),
    ('readme.md', '| small, labels only | {437,034} | 66.90 ± 0.36% | {66.94}% |', 'temperature.json',
     [lambda r: r['summary']['labels only']['parameters'], seed('labels only', 0)]),
    ('readme.md', '| small, distilled | {437,034} | 72.40 ± 0.22% | {73.48}% |', 'temperature.json',
     [lambda r: r['summary']['T = 4']['parameters'], seed('T = 4', 0)]),
    ('readme.md', 'and {6.5} on the second. On the second machine the distilled student gives the teacher\'s top '
                  'answer on {84.9}% of the validation images, and the mean KL divergence from the teacher\'s '
                  'probabilities to its own is {0.145}: it imitates the teacher closely, yet stays {5} points less '
                  'accurate', 'temperature.json',
     [lambda r: seed('T = 4', 0)(r) - seed('labels only', 0)(r), seed('T = 4', 0, 'teacher_agreement'),
      seed('T = 4', 0, 'teacher_kl', 1), lambda r: seed('large', 0)(r) - seed('T = 4', 0)(r)]),
    ('readme.md', 'teacher {82.76}%, small on labels {80.20}%, distilled {79.16}%. Students that stop after 10 '
                  'epochs are still improving, and a teacher {2.6} points ahead', 'compare-full-h200.json',
     [mean('large'), mean('small'), mean('distilled'), gap('large', 'small')]),
]

# A number in braces: what the test checks
NUMBER = re.compile(r'\{([\d,.]+)\}')


def one_line(text: str) -> str:
    return ' '.join(text.split())


@pytest.mark.parametrize('page, quote, file, values', QUOTES, ids=[f'{q[0]}: {q[1][:40]}' for q in QUOTES])
def test_a_quoted_number_is_the_files_value_as_rounded_on_the_page(page, quote, file, values):
    text = one_line((FOLDER / page).read_text(encoding='utf-8'))
    assert one_line(NUMBER.sub(r'\1', quote)) in text, f'{page} no longer says this; update its entry'
    numbers = NUMBER.findall(quote)
    assert len(numbers) == len(values)
    data = results(file)
    for quoted, value in zip(numbers, values):
        digits = quoted.replace(',', '')
        decimals = len(digits.split('.')[1]) if '.' in digits else 0
        assert f'{value(data):.{decimals}f}' == digits, f'{page}: {quoted} in "{quote[:60]}..." is not {file}'


# A number the Japanese pages write in their own units: 14.7 million is 1,470 万
JAPANESE_FORM = {'14.7': '1,470 万'}


def test_the_japanese_pages_quote_the_same_numbers():
    # Each checked number is in the Japanese translation of the block that holds it
    missing = []
    for page, quote, _, _ in QUOTES:
        english = one_line(NUMBER.sub(r'\1', quote))
        entries = yaml.safe_load((JAPANESE / f'{page}.yaml').read_text(encoding='utf-8'))
        entry, = [e for e in entries if english in one_line(e['en'])]
        missing += [f'{page} {entry["key"]}: {number}' for number in NUMBER.findall(quote)
                    if JAPANESE_FORM.get(number, number) not in entry['ja']]
    assert missing == []
