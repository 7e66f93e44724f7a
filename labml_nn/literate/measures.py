"""
---
title: What the results files measure, in words
summary: >
  The words the results page names everything with, in English and Japanese:
  each study's title and the sentence that opens its section, each measure
  with its unit, the variants, and the notes under a table.
---

# What the results files measure, in words

A results file names what it measured with the keys its program wrote:
`valid_bpb`, `below_baseline`, `omitted_valid_probability_on_class`. A reader
should not need that program to read the [results page](results.html), so the
page names each of them in words, here, in each language it is written in.

For each study (the file's `study` field) there is a title, saying what it
measured, and one sentence that opens its section: what was measured, in
what unit, and which way is better. For each measure there is a label with
its unit, and each quantity has one unit on every page: an accuracy or an
agreement in percent, a probability as a fraction, a time in seconds, a KL
divergence in nats, a bias in the units of a logit. A label may name the
class a study left out, `{omitted}`, or the variant a count compares with,
`{first}`.

A study, a measure or a variant that is not here keeps the name its file
gives it: a new study's page is readable before its words are written.
"""

# The words of the results page in each language it is written in
WORDS = {
    'en': {
        'title': 'Results',
        'summary': 'The measurements behind the study pages, one section per committed results file: what was '
                   'measured, its table, and the machine, command, commit and date that made it.',
        'intro': 'The measurements behind the study pages, one section per `results/*.json` file committed '
                 'with the code, generated from the files when the site is built. Each section says what was '
                 'measured, in what unit and which way is better; then the machine, the command that wrote '
                 'the file, the commit and the date, where the file records them; then its table, with a '
                 'column for each model trained.\n\n'
                 'A measure over several runs is the mean ± the standard deviation over their seeds. '
                 'Accuracies and agreements are in percent, probabilities are fractions, times are in seconds.',
        'file': 'file', 'profile': 'profile', 'machine': 'machine', 'command': 'command', 'commit': 'commit',
        'date': 'date', 'corpus': 'corpus', 'missing': 'not recorded', 'is': ': ',
        'corpus text': "the standard library of Python {python}: {train} bytes for training, {valid} for "
                       "validation, {test} for test",
        'folder text': "the text files of the folder {folder}: {train} bytes for training, {valid} for "
                       "validation, {test} for test",
        'measure': 'measure', 'seeds': 'seeds', 'teacher': 'the teacher',
        'qualified': '{title}, on {machine}',
        'spread': '† The runs took times so different that their spread is larger than their mean: this '
                  'time says little about what the method costs.',
        'studies': {
            'compare': ('CIFAR-10: the teacher, and the student with and without distillation',
                        'Validation accuracy, in percent (higher is better), of the teacher, the small student '
                        'trained on labels alone, and the same student distilled from the teacher.'),
            'omitted-class': ('CIFAR-10: a class the student never saw ({omitted})',
                              'Validation accuracy, in percent (higher is better), overall and on the '
                              '{omitted} images, of students whose training images held no {omitted}, before '
                              'and after the bias correction; and the probability, a fraction, that each model '
                              'gives to {omitted}.'),
            'temperature': ('CIFAR-10: which temperature',
                            'Validation accuracy, in percent (higher is better), of the student distilled at '
                            'each temperature T, against the student trained on labels alone.'),
            'weight': ('CIFAR-10: soft targets against labels',
                       'Validation accuracy, in percent (higher is better), of the student distilled with each '
                       'weight α of the soft-target term, the labels having the rest, 1 − α.'),
            'teacher-quality': ('CIFAR-10: which teacher teaches best',
                                'Validation accuracy, in percent (higher is better), of students distilled from '
                                'the teacher stopped after each of several epochs, against the student trained '
                                'on labels alone.'),
            'divergence': ('Language model: which divergence',
                           'Bits per byte of held-out Python source (lower is better) of the byte-level student '
                           'trained on labels alone and distilled with each divergence.'),
            'limited': ('Language model: little data',
                        'Bits per byte of held-out Python source (lower is better) of the byte-level student '
                        'trained on {train_bytes} bytes, on the labels alone and distilled from the teacher.'),
            'on-policy': ('Language model: on-policy batches',
                          'Bits per byte of held-out Python source (lower is better) of the distilled student '
                          'when a share λ of its batches is text it wrote itself.'),
            'sparse-targets': ('Language model: sparse teacher targets',
                               'Bits per byte of held-out Python source (lower is better) of the byte-level student '
                               'trained on {train_bytes} bytes and distilled from the teacher\'s stored targets: all '
                               'of them, its top k bytes, or k bytes drawn from it, against the teacher run online '
                               'and the labels alone.'),
            'on-policy-warm': ('Language model: on-policy batches after training on labels',
                               'Bits per byte of held-out Python source (lower is better) of the student first '
                               'trained on labels, then distilled with a share λ of its batches written by itself, '
                               'with forward KL or JSD.'),
        },
        'variants': {'large': 'the teacher', 'small': 'labels only'},
        'measures': {
            'parameters': 'parameters',
            'epochs': 'epochs',
            'steps': 'training steps',
            'valid_accuracy': 'validation accuracy (%)',
            'batch_statistics_valid_accuracy': 'validation accuracy with batch statistics, as labml.ai evaluates (%)',
            'teacher_valid_accuracy': "the teacher's validation accuracy (%)",
            'test_accuracy': 'test accuracy (%)',
            'teacher_agreement': 'top-1 agreement with the teacher (%)',
            'teacher_kl': 'KL divergence from the teacher (nats)',
            'omitted_valid_accuracy': 'validation accuracy on {omitted} (%)',
            'bias': 'bias added to the {omitted} logit, chosen for accuracy',
            'corrected_omitted_valid_accuracy': 'validation accuracy on {omitted}, with the bias for accuracy (%)',
            'corrected_valid_accuracy': 'validation accuracy, with the bias for accuracy (%)',
            'matched_bias': 'bias with which it predicts {omitted} as often as the teacher',
            'matched_omitted_valid_accuracy': "validation accuracy on {omitted}, with the teacher's count (%)",
            'matched_valid_accuracy': "validation accuracy, with the teacher's count (%)",
            'omitted_valid_probability_on_class': 'mean probability of {omitted} on the {omitted} images',
            'teacher_omitted_valid_probability_on_class': "the teacher's mean probability of {omitted} on them",
            'omitted_valid_probability': 'mean probability of {omitted} on all images',
            'teacher_omitted_valid_probability': "the teacher's mean probability of {omitted} on all images",
            'omitted_test_accuracy': 'test accuracy on {omitted} (%)',
            'corrected_omitted_test_accuracy': 'test accuracy on {omitted}, with the bias for accuracy (%)',
            'corrected_test_accuracy': 'test accuracy, with the bias for accuracy (%)',
            'matched_omitted_test_accuracy': "test accuracy on {omitted}, with the teacher's count (%)",
            'matched_test_accuracy': "test accuracy, with the teacher's count (%)",
            'valid_bpb': 'validation bits per byte',
            'test_bpb': 'test bits per byte',
            'bytes_per_token': "bytes of the teacher's targets stored per position",
            'below_baseline': 'seeds with lower test bits per byte than {first}',
            'train_seconds': 'training time (s)',
            'train_images_per_second': 'training images per second',
            'distillation_gain_valid': 'gain in validation accuracy from distillation (points)',
        },
    },
    'ja': {
        'title': '結果',
        'summary': '実験のページの裏づけとなる測定。コミットした結果ファイルごとに一つのセクションで、何を測ったか、'
                   'その表、そしてそれを出したマシン、コマンド、コミット、日付。',
        'intro': '実験のページの裏づけとなる測定です。コードとともにコミットした `results/*.json` のファイルごとに'
                 '一つのセクションがあり、サイトを作るときにファイルから生成されます。各セクションは、何を、'
                 'どの単位で測り、どちらがよいのかを述べ、次に、ファイルに記録があれば、マシン、ファイルを'
                 '書いたコマンド、コミット、日付を示し、最後に、訓練した各モデルを列とする表を示します。\n\n'
                 '複数の実行にわたる値は、シードにわたる平均 ± 標準偏差です。正解率と一致率はパーセント、'
                 '確率は小数、時間は秒で示します。',
        'file': 'ファイル', 'profile': 'プロファイル', 'machine': 'マシン', 'command': 'コマンド',
        'commit': 'コミット', 'date': '日付', 'corpus': 'コーパス', 'missing': '記録なし', 'is': '：',
        'corpus text': 'Python {python} の標準ライブラリ。訓練に {train} バイト、検証に {valid} バイト、'
                       'テストに {test} バイト',
        'folder text': 'フォルダ {folder} のテキストファイル。訓練に {train} バイト、検証に {valid} バイト、'
                       'テストに {test} バイト',
        'measure': '測定', 'seeds': 'シード数', 'teacher': '教師',
        'qualified': '{title}（{machine}）',
        'spread': '† 実行ごとの時間の差が大きく、標準偏差が平均より大きい値です。この時間は、手法の費用を'
                  'ほとんど表しません。',
        'studies': {
            'compare': ('CIFAR-10：教師と、蒸留の有無による生徒',
                        '教師、ラベルだけで訓練した小さな生徒、そして同じ生徒を教師から蒸留したものの、検証データの'
                        '正解率（パーセント、高いほどよい）です。'),
            'omitted-class': ('CIFAR-10：生徒が一度も見なかったクラス（{omitted}）',
                              '訓練画像に{omitted}が一枚もなかった生徒の、全体と{omitted}の画像での検証データの'
                              '正解率（パーセント、高いほどよい）を、バイアス補正の前後で示します。各モデルが'
                              '{omitted}に与える確率（小数）も示します。'),
            'temperature': ('CIFAR-10：どの温度か',
                            '各温度 T で蒸留した生徒の検証データの正解率（パーセント、高いほどよい）を、ラベルだけで'
                            '訓練した生徒と比べます。'),
            'weight': ('CIFAR-10：ソフトターゲットとラベル',
                       'ソフトターゲットの項の重み α ごとに蒸留した生徒の検証データの正解率（パーセント、高いほど'
                       'よい）です。ラベルの項の重みは残りの 1 − α です。'),
            'teacher-quality': ('CIFAR-10：どの教師が一番よく教えるか',
                                'いくつかのエポックで止めた教師それぞれから蒸留した生徒の検証データの正解率'
                                '（パーセント、高いほどよい）を、ラベルだけで訓練した生徒と比べます。'),
            'divergence': ('言語モデル：どのダイバージェンスか',
                           'ラベルだけで訓練したバイト単位の生徒と、各ダイバージェンスで蒸留した生徒の、取り分けて'
                           'おいた Python のソースでのビット／バイト（低いほどよい）です。'),
            'limited': ('言語モデル：少ないデータ',
                        '{train_bytes} バイトで訓練したバイト単位の生徒の、ラベルだけの場合と教師から蒸留した場合の、'
                        '取り分けておいた Python のソースでのビット／バイト（低いほどよい）です。'),
            'on-policy': ('言語モデル：オンポリシーのバッチ',
                          'バッチのうち割合 λ を自分で書いたテキストにしたときの、蒸留した生徒の、取り分けて'
                          'おいた Python のソースでのビット／バイト（低いほどよい）です。'),
            'sparse-targets': ('言語モデル：疎な教師のターゲット',
                               '{train_bytes} バイトで訓練し、保存した教師のターゲット（すべて、上位 k バイト、'
                               'または教師から引いた k バイト）から蒸留したバイト単位の生徒の、取り分けておいた '
                               'Python のソースでのビット／バイト（低いほどよい）を、教師をその場で動かす蒸留と'
                               'ラベルだけの場合と比べます。'),
            'on-policy-warm': ('言語モデル：ラベルで訓練した後のオンポリシーのバッチ',
                               'まずラベルで訓練し、それからバッチのうち割合 λ を自分で書いたテキストにして、'
                               '順方向 KL または JSD で蒸留した生徒の、取り分けておいた Python のソースでの'
                               'ビット／バイト（低いほどよい）です。'),
        },
        'variants': {'large': '教師'},
        'measures': {
            'parameters': 'パラメーター数',
            'epochs': 'エポック数',
            'steps': '訓練のステップ数',
            'valid_accuracy': '検証データの正解率（%）',
            'batch_statistics_valid_accuracy': 'labml.ai と同じくバッチの統計量で評価した検証データの正解率（%）',
            'teacher_valid_accuracy': '教師の検証データの正解率（%）',
            'test_accuracy': 'テストデータの正解率（%）',
            'teacher_agreement': '教師との top-1 一致率（%）',
            'teacher_kl': '教師からの KL 情報量（ナット）',
            'omitted_valid_accuracy': '{omitted}の検証データの正解率（%）',
            'bias': '{omitted}のロジットに足すバイアス（正解率で選んだもの）',
            'corrected_omitted_valid_accuracy': '正解率で選んだバイアスでの{omitted}の検証データの正解率（%）',
            'corrected_valid_accuracy': '正解率で選んだバイアスでの検証データの正解率（%）',
            'matched_bias': '{omitted}と予測する回数を教師と同じにするバイアス',
            'matched_omitted_valid_accuracy': '教師の回数に合わせたバイアスでの{omitted}の検証データの正解率（%）',
            'matched_valid_accuracy': '教師の回数に合わせたバイアスでの検証データの正解率（%）',
            'omitted_valid_probability_on_class': '{omitted}の画像での{omitted}の平均確率',
            'teacher_omitted_valid_probability_on_class': '{omitted}の画像での、教師の{omitted}の平均確率',
            'omitted_valid_probability': 'すべての画像での{omitted}の平均確率',
            'teacher_omitted_valid_probability': 'すべての画像での、教師の{omitted}の平均確率',
            'omitted_test_accuracy': '{omitted}のテストデータの正解率（%）',
            'corrected_omitted_test_accuracy': '正解率で選んだバイアスでの{omitted}のテストデータの正解率（%）',
            'corrected_test_accuracy': '正解率で選んだバイアスでのテストデータの正解率（%）',
            'matched_omitted_test_accuracy': '教師の回数に合わせたバイアスでの{omitted}のテストデータの正解率（%）',
            'matched_test_accuracy': '教師の回数に合わせたバイアスでのテストデータの正解率（%）',
            'valid_bpb': '検証データのビット／バイト',
            'test_bpb': 'テストのビット／バイト',
            'bytes_per_token': '位置ごとに保存する教師のターゲットのバイト数',
            'below_baseline': 'テストのビット／バイトが{first}より低いシードの数',
            'train_seconds': '訓練時間（秒）',
            'train_images_per_second': '1 秒あたりの訓練画像数',
            'distillation_gain_valid': '蒸留による検証データの正解率の向上（ポイント）',
        },
        # The classes of CIFAR-10
        'classes': {'airplane': '飛行機', 'automobile': '自動車', 'bird': '鳥', 'cat': '猫', 'deer': '鹿',
                    'dog': '犬', 'frog': 'カエル', 'horse': '馬', 'ship': '船', 'truck': 'トラック'},
    },
}

# The order of the measures in a table, as in `WORDS`; a measure over seeds not named there comes after them
MEASURES = list(WORDS['en']['measures'])


def study_words(study: str, code: str) -> tuple:
    """
    A study's title and the sentence that opens its section, in the language
    `code`; `None` for a study that has no words here.
    """
    return WORDS[code]['studies'].get(study)


def measure_label(field: str, code: str, omitted: str = '', first: str = '') -> str:
    """
    The label of a measure in the language `code`, naming the class left
    out and the variant compared with; the field itself where it has none.
    """
    label = WORDS[code]['measures'].get(field, field)
    return label.format(omitted=class_name(omitted, code), first=first)


def class_name(name: str, code: str) -> str:
    """
    A class of the data in the language `code`, as the file names it where
    the language has no word for it.
    """
    return WORDS[code].get('classes', {}).get(name, name)
