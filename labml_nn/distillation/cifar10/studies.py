"""
---
title: The studies and their variants
summary: >
  What each study of the CIFAR-10 pipeline trains: the variants of the
  student, the settings each changes and its name on the Japanese pages.
---

# The studies and their variants

A study compares variants of the student, each trained once per seed beside
the teacher they share. This page says what each study's variants are, as
data that the [command](pipeline.html) reads to check its options and that
[the study](study.html) trains; the reporting names them on
[the tables and plots](report.html).

Nothing here imports PyTorch, so the command checks its options at once.
"""

import argparse
import dataclasses
from dataclasses import field
from typing import Any, Callable, Dict, List, Optional

from labml_nn.distillation.cifar10.train import profile_settings

# The settings the study's command line can change for all its runs at once
SHARED = ['valid_size', 'device', 'compile', 'bf16']
# and for all its distilled students, where the study does not vary them:
# the omitted-class study at another temperature, say
DISTILLED = ['temperature', 'soft_target_weight', 'label_loss_weight']


@dataclasses.dataclass
class Variant:
    """
    <a id="variant"></a>

    ## A variant of the student

    One row of a study's table: a model (`small` or `distilled`) and the
    settings it changes, trained once per seed. `x` is its place on a sweep's
    axis, `ja` its name on the Japanese pages.
    """
    name: str
    model: str
    settings: Dict[str, Any] = field(default_factory=dict)
    ja: str = ''
    x: Optional[float] = None


# The studies' students learn from the [teacher's cached outputs](teacher_cache.html):
# the same soft targets as computing them online, at a fraction of the time
# when the transfer set is small and many students share it. The cache holds
# all 162 views of each image, as much teacher work as 162 epochs online; on
# all 45,000 images of the `labml` profile that is 7.3 million teacher passes,
# against 450,000 for each 10-epoch student, so there they run it online.
ONLINE_TEACHER_PROFILES = ('labml',)


def cached(profile: str) -> Dict[str, Any]:
    """
    The setting that makes a study's distilled students of `profile` look the teacher up.
    """
    return {'teacher_cache': profile not in ONLINE_TEACHER_PROFILES}


# CIFAR-10's classes in Japanese, in the variants' names and on the plots
CLASSES_JA = {'airplane': '飛行機', 'automobile': '自動車', 'bird': '鳥', 'cat': '猫', 'deer': '鹿',
              'dog': '犬', 'frog': 'カエル', 'horse': '馬', 'ship': '船', 'truck': 'トラック'}


def compare_study(omit: str, profile: str) -> List[Variant]:
    """
    ## The studies

    `compare`, the default: the small model on labels against the distilled
    student, both learning online from the teacher as in the plain commands.
    """
    return [Variant('small', 'small', ja='小さなモデル（ラベルのみ）'),
            Variant('distilled', 'distilled', ja='蒸留した生徒')]


def omitted_class_study(omit: str, profile: str) -> List[Variant]:
    """
    `omitted-class`: [the transfer set without one class](omitted_class.html),
    on labels and distilled, and a distilled student that saw every class.
    """
    ja = CLASSES_JA.get(omit, omit)
    return [Variant(f'small, no {omit}', 'small', {'omit_class': omit}, f'ラベルのみ（{ja}なし）'),
            Variant(f'distilled, no {omit}', 'distilled', {'omit_class': omit} | cached(profile),
                    f'蒸留（{ja}なし）'),
            Variant('distilled, all classes', 'distilled', cached(profile), '蒸留（全クラス）')]


def temperature_study(omit: str, profile: str) -> List[Variant]:
    """
    `temperature`: [$T$ from 1 to 16](temperature.html) at the profile's weights.
    """
    return [Variant('labels only', 'small', ja='ラベルのみ')] + [
        Variant(f'T = {t}', 'distilled', {'temperature': float(t)} | cached(profile), f'T = {t}', t)
        for t in (1, 2, 4, 8, 16)]


def weight_study(omit: str, profile: str) -> List[Variant]:
    r"""
    `weight`: [the soft-target weight $w_{soft}$](weight.html) from $0$ (labels
    only) to $1$ (soft targets only), with $w_{label} = 1 - w_{soft}$ on the labels.
    The variants are named α = $w_{soft}$, as on the plot.
    """
    return [Variant('α = 0 (labels only)', 'small', ja='α = 0（ラベルのみ）', x=0.0)] + [
        Variant(f'α = {a}', 'distilled',
                {'soft_target_weight': a, 'label_loss_weight': round(1 - a, 6)} | cached(profile), f'α = {a}', a)
        for a in (0.5, 0.9, 0.99, 1.0)]


def teacher_quality_study(omit: str, profile: str) -> List[Variant]:
    """
    `teacher-quality`: which teacher teaches best:
    students distilled from the teacher stopped after each of the epochs
    the profile keeps (`keep_epochs`) and from the finished teacher, against
    labels only. A variant's `teacher_epoch` picks its teacher; its place on
    the axis, that teacher's validation accuracy, is known once the teacher is.
    """
    large = profile_settings(profile, 'large')
    epochs = [*large.get('keep_epochs', ()), large['epochs']]
    return [Variant('labels only', 'small', ja='ラベルのみ')] + [
        Variant(f'teacher of epoch {e}', 'distilled', {'teacher_epoch': e} | cached(profile),
                f'エポック {e} の教師')
        for e in epochs]


STUDIES: Dict[str, Callable[[str, str], List[Variant]]] = {
    'compare': compare_study, 'omitted-class': omitted_class_study,
    'temperature': temperature_study, 'weight': weight_study, 'teacher-quality': teacher_quality_study,
}
# The class the omitted-class study leaves out unless `--omit` names one
DEFAULT_OMITTED = 'cat'
# How often the students of the studies other than `compare` measure
# validation accuracy, in epochs: their results are the final accuracy, and
# measuring after every epoch took about 40% of a `cpu` student's time
STUDY_VALID_EVERY = 10


def distilled_settings(args: argparse.Namespace) -> Dict[str, Any]:
    """
    The settings of the distilled students given on the command line.
    """
    return {name: getattr(args, name) for name in DISTILLED if getattr(args, name) is not None}

