"""
# Distilling from the teacher cache, against training on labels

Times training steps of the small student at batch 64, three ways, side by
side in one run:

* **labels**: the baseline's step (`SmallConfigs.step`), cross-entropy with the labels;
* **cached**: the distillation step with the teacher cache
  (`DistillationConfigs.step` with `teacher_cache`): the teacher's logits of
  each image's view looked up by the image's content, then the soft-target
  and label terms;
* **online**: the same distillation step running the fixed teacher at every
  step, for reference.

The issue's target is cached / labels at most 1.3x. Each round times each
way on a fresh student, over the same seeded batches of the real transfer
set; the ways alternate round after round, so that noise from other work on
the machine falls on all of them, and the medians of the rounds are
compared.

The cache's values do not change its speed, so it is not built from a
trained teacher (minutes of work): it holds random logits for every view of
every image of the transfer set, with the real keys and images, so the
lookup searches and checks the real 2,000 images as in training. The
teacher of the online way is untrained, as fast as a trained one.

First, building is timed: the teacher on all 162 views of `--build-images`
images of the transfer set, and the time that makes for the whole of it.

    python benchmarks/teacher_cache.py --data-dir DIR [--steps 20 --rounds 3 --build-images 100]
"""

import argparse
import statistics
import sys
import time

import torch

from labml_nn.distillation.cifar10.data import VIEWS, DataError, Split, load_cifar10, split_train
from labml_nn.distillation.cifar10.fixed_teacher import fixed_teacher
from labml_nn.distillation.cifar10.large import LargeModel
from labml_nn.distillation.cifar10.teacher_cache import TeacherCache, distinct_images, every_view_logits, key_weights
from labml_nn.distillation.cifar10.train import PROFILES, configs_for
from labml_nn.distillation.cifar10.trainer import Configs, cpu_has_bf16
from labml_nn.experiments.checks import positive

WAYS = ('labels', 'cached', 'online')


def random_cache(images: torch.Tensor, classes: int, dtype: torch.dtype) -> TeacherCache:
    """
    A cache of `images` as the teacher cache stores it, with random logits in its place.
    """
    weights = key_weights()
    keys, distinct = distinct_images(images, weights)
    logits = torch.randn(len(keys), VIEWS, classes, generator=torch.Generator().manual_seed(0)).to(dtype)
    return TeacherCache(keys, distinct, logits, weights)


def configurations(way: str, split: Split, classes: int, bf16: bool, cache: TeacherCache,
                   teacher: torch.nn.Module) -> Configs:
    """
    Fresh configurations of one way, on the CPU, with a fresh student.
    """
    c = configs_for('small' if way == 'labels' else 'distilled')
    c.device, c.bf16, c.classes = 'cpu', bf16, classes
    if way != 'labels':
        c.teacher_cache = way == 'cached'
        c.train_images = split.images
        if way == 'cached':
            c.teacher_outputs = cache
        else:
            c.teacher_model = teacher
    return c


def seconds_per_step(c: Configs, split: Split, steps: int, seed: int) -> float:
    """
    Seconds per training step (the step's loss, backward, the optimizer's
    step) over `steps` steps after two warm-up steps, on batches drawn as the
    trainer draws them.
    """
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(split.labels), generator=generator)
    model, optimizer = c.model, c.optimizer
    model.train()
    started = None
    for i in range(steps + 2):
        if i == 2:
            started = time.perf_counter()
        index = order[i * c.batch_size:(i + 1) * c.batch_size]
        loss = c.step(split.images[index], split.labels[index], generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - started) / steps


def time_building(teacher: torch.nn.Module, split: Split, images: int, bf16: bool) -> float:
    """
    Seconds the teacher takes on every view of the first `images` images,
    and, returned, that rate over the whole transfer set.
    """
    c = configs_for('distilled')
    c.device, c.bf16 = 'cpu', bf16
    started = time.perf_counter()
    every_view_logits(c, teacher, split.images[:images])
    seconds = time.perf_counter() - started
    print(f'building: the teacher on the {VIEWS} views of {images} images took {seconds:.1f} s, '
          f'{1000 * seconds / (images * VIEWS):.2f} ms a view')
    return seconds * len(split.labels) / images


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[1])
    parser.add_argument('--data-dir', required=True)
    parser.add_argument('--steps', type=positive(int), default=20, help='timed steps per round (default: 20)')
    parser.add_argument('--rounds', type=positive(int), default=3, help='rounds (default: 3)')
    train_size = PROFILES['cpu']['small']['train_size']
    parser.add_argument('--train-size', type=positive(int), default=train_size,
                        help=f'transfer-set images (default: {train_size}, as in the cpu profile)')
    valid_size = configs_for('small').valid_size
    parser.add_argument('--valid-size', type=positive(int), default=valid_size,
                        help=f'images held out for validation, as in training (default: {valid_size})')
    parser.add_argument('--build-images', type=positive(int), default=100,
                        help='images whose 162 views the teacher runs on to time building (default: 100)')
    args = parser.parse_args()

    batch = configs_for('distilled').batch_size
    try:
        data = load_cifar10(args.data_dir)
        split, _ = split_train(data.train, args.valid_size, args.train_size)
    except DataError as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(2)
    if args.build_images > len(split.labels):
        print(f'error: --build-images {args.build_images} is more than the {len(split.labels)} training images',
              file=sys.stderr)
        sys.exit(2)
    if len(split.labels) < batch * (args.steps + 2):
        print(f'error: {len(split.labels)} training images make fewer than the {args.steps + 2} batches of '
              f'{batch} a round needs; use more --train-size or fewer --steps', file=sys.stderr)
        sys.exit(2)
    bf16 = cpu_has_bf16()
    classes = len(data.classes)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, bf16 autocast: {bf16}, '
          f'batch {batch}, {len(split.labels)} transfer-set images, {args.steps} steps x {args.rounds} rounds')
    cache = random_cache(split.images, classes, torch.bfloat16 if bf16 else torch.float32)
    teacher = fixed_teacher(LargeModel(classes).to(memory_format=torch.channels_last), bf16)
    print(f'building: {time_building(teacher, split, args.build_images, bf16):.0f} s for the whole transfer set',
          flush=True)

    # The ways alternate, round after round
    seconds = {way: [] for way in WAYS}
    for r in range(args.rounds):
        for way in WAYS:
            c = configurations(way, split, classes, bf16, cache, teacher)
            seconds[way].append(seconds_per_step(c, split, args.steps, seed=r))
            print(f'round {r + 1}: {way:6s} {1000 * seconds[way][-1]:7.1f} ms/step', flush=True)
    median = {way: statistics.median(seconds[way]) for way in WAYS}
    print(f'\nmedian ms/step: ' + ', '.join(f'{way} {1000 * median[way]:.1f}' for way in WAYS))
    print(f'ratio cached / labels = {median["cached"] / median["labels"]:.2f}x (target <= 1.3x); '
          f'online / labels = {median["online"] / median["labels"]:.2f}x')


if __name__ == '__main__':
    main()
