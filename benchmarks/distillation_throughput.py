"""
# Distillation training throughput, ours against a reference formulation

Measures images per second of distillation training steps (teacher forward,
student forward, backward and optimizer step) in two formulations, side by
side in one run, and prints the ratio.

* **reference**: the way such a script is usually first written. Each image
  goes through torchvision's per-image transforms (`RandomCrop(32, padding=4)`,
  `RandomHorizontalFlip`, `ToTensor`, `Normalize`) from a PIL image, batched
  by a `DataLoader` (batch 64, no worker processes: this 2-core CPU has none
  to spare); float32; contiguous (NCHW) memory; the teacher's batch
  normalization uses batch statistics (as in training mode), under `no_grad`;
  the loss is `F.kl_div(..., log_target=True, reduction='batchmean') * T**2`
  plus cross-entropy.
* **ours**: the trainer's own distillation step, `DistillationConfigs.step`:
  the images are one `uint8` tensor in memory, augmented a whole batch at a
  time, `channels_last`, bfloat16 autocast where the processor has it, the
  teacher in evaluation mode under `inference_mode` with its batch
  normalization folded into its convolutions and its weights packed once
  into oneDNN's layout (`PackedForCPU`), and the chunked `soft_target_loss`.

Both recompute the teacher at every step and train the same small student
with SGD at batch 64. The two are timed in alternating rounds, so that noise
from other work on the machine falls on both; the medians of the rounds are
compared.

With `--accuracy`, each formulation also trains a fresh student for
`--epochs` epochs over `--train-size` images from a trained teacher
(`--teacher latest`, a run id or a checkpoint path) and
reports validation accuracy, to check that the speed costs no accuracy.

    python benchmarks/distillation_throughput.py --data-dir DIR [--teacher latest --accuracy]
"""

import argparse
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from PIL import Image

from labml_nn.distillation.cifar10.data import MEAN, STD, DataError, load_cifar10, normalize, split_train
from labml_nn.distillation.cifar10.fixed_teacher import fixed_teacher
from labml_nn.distillation.cifar10.large import LargeModel
from labml_nn.distillation.cifar10.small import SmallModel
from labml_nn.distillation.cifar10.teacher import TeacherNotFound, find_teacher, load_teacher
from labml_nn.distillation.cifar10.train import PROFILES, configs_for
from labml_nn.distillation.cifar10.trainer import cpu_has_bf16
from labml_nn.experiments.checks import positive

# The distilled student's settings: batch size, $T$ and the two weights, and
# the images it holds out and trains on in the `cpu` profile
DISTILLED = configs_for('distilled')
BATCH = DISTILLED.batch_size
T, SOFT, LABEL = DISTILLED.temperature, DISTILLED.soft_target_weight, DISTILLED.label_loss_weight


class PILDataset(torch.utils.data.Dataset):
    """
    The reference's data: one PIL image per item, through per-image transforms.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor):
        from torchvision import transforms
        self.images = images.permute(0, 2, 3, 1).numpy()
        self.labels = labels.numpy()
        self.transform = transforms.Compose([
            transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
            transforms.ToTensor(), transforms.Normalize([m / 255 for m in MEAN], [s / 255 for s in STD])])

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i])), int(self.labels[i])


def reference_batches(split, seed: int):
    loader = torch.utils.data.DataLoader(PILDataset(split.images, split.labels), batch_size=BATCH,
                                         shuffle=True, drop_last=True,
                                         generator=torch.Generator().manual_seed(seed))
    yield from loader


def reference_step(teacher, student, optimizer, images, labels):
    # The teacher's batch normalization uses the batch's statistics
    with torch.no_grad():
        teacher_logits = teacher(images)
    logits = student(images)
    soft = F.kl_div(F.log_softmax(logits / T, -1), F.log_softmax(teacher_logits / T, -1),
                    log_target=True, reduction='batchmean') * T ** 2
    loss = SOFT * soft + LABEL * F.cross_entropy(logits, labels)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def our_formulation(teacher: torch.nn.Module, student: torch.nn.Module, optimizer, bf16: bool):
    """
    The trainer's own distillation step (`DistillationConfigs.step`) on
    batches drawn as the trainer draws them: a seeded order, `uint8` images
    augmented inside the step with the same generator.
    """
    c = configs_for('distilled')
    c.device, c.bf16, c.model, c.teacher_model = 'cpu', bf16, student, teacher
    generator = torch.Generator()

    def batches(split, seed: int):
        generator.manual_seed(seed)
        order = torch.randperm(len(split.labels), generator=generator)
        for i in range(len(order) // BATCH):
            index = order[i * BATCH:(i + 1) * BATCH]
            yield split.images[index], split.labels[index]

    def step(images, labels):
        loss = c.step(images, labels, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return batches, step


def make_models(ours: bool, teacher_state, bf16: bool):
    """
    A teacher (trained, when a checkpoint was given) and a fresh student, in
    each formulation's memory layout and mode.
    """
    # A trained teacher has the data's classes, and the student has as many
    classes = teacher_state['fc.weight'].shape[0] if teacher_state is not None else 10
    teacher, student = LargeModel(classes), SmallModel(classes)
    if teacher_state is not None:
        teacher.load_state_dict(teacher_state)
    if ours:
        teacher = fixed_teacher(teacher.to(memory_format=torch.channels_last), bf16)
        student = student.to(memory_format=torch.channels_last)
    else:
        teacher.eval().requires_grad_(False)
        # Batch statistics in the teacher's batch normalization, as in training mode
        for module in teacher.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.train()
    student.train()
    return teacher, student, torch.optim.SGD(student.parameters(), lr=0.01, momentum=0.9)


def formulation(ours: bool, teacher_state, bf16: bool):
    """
    Fresh models, and the two things that differ between the formulations:
    how an epoch's batches are made, and one training step on a batch.
    """
    teacher, student, optimizer = make_models(ours, teacher_state, bf16)
    if ours:
        return (student, *our_formulation(teacher, student, optimizer, bf16))
    return student, reference_batches, lambda images, labels: reference_step(
        teacher, student, optimizer, images, labels)


def run(ours: bool, split, steps: int, teacher_state, bf16: bool, seed: int = 0) -> float:
    """
    Images per second over `steps` training steps, after two warm-up steps;
    the batches' preparation is inside the timing, as it is in training.
    """
    _, batches, step = formulation(ours, teacher_state, bf16)
    started = None
    for i, (images, labels) in enumerate(batches(split, seed)):
        if i == 2:
            started = time.perf_counter()
        if i == steps + 2:
            break
        step(images, labels)
    return steps * BATCH / (time.perf_counter() - started)


def train_and_validate(ours: bool, train_split, valid_split, teacher_state, bf16: bool,
                       epochs: int) -> float:
    """
    `epochs` of distillation over `train_split`, then validation accuracy
    with the student in evaluation mode.
    """
    student, batches, step = formulation(ours, teacher_state, bf16)
    for epoch in range(epochs):
        for images, labels in batches(train_split, epoch):
            step(images, labels)
    student.eval()
    with torch.inference_mode():
        predictions = student(normalize(valid_split.images)).argmax(-1)
    return (predictions == valid_split.labels).float().mean().item()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[1])
    parser.add_argument('--data-dir', required=True)
    parser.add_argument('--steps', type=positive(int), default=20, help='timed steps per round')
    parser.add_argument('--rounds', type=positive(int), default=3)
    parser.add_argument('--teacher', help='a trained teacher: latest (in --logs-dir), a run id or a '
                                          'checkpoint path (needed for --accuracy)')
    parser.add_argument('--logs-dir', default='logs', help='where --teacher looks for runs')
    parser.add_argument('--accuracy', action='store_true')
    train_size = PROFILES['cpu']['small']['train_size']
    parser.add_argument('--train-size', type=positive(int), default=train_size,
                        help=f'training images (default: {train_size}, as in the cpu profile)')
    parser.add_argument('--valid-size', type=positive(int), default=DISTILLED.valid_size,
                        help=f'images held out for validation, as in training (default: {DISTILLED.valid_size})')
    parser.add_argument('--epochs', type=positive(int), default=10, help='epochs of the --accuracy check')
    args = parser.parse_args()
    if args.accuracy and not args.teacher:
        parser.error('--accuracy needs a trained teacher: add --teacher latest, a run id or a checkpoint path')

    bf16 = cpu_has_bf16()
    try:
        data = load_cifar10(args.data_dir)
        train_split, valid_split = split_train(data.train, args.valid_size, args.train_size)
        teacher = find_teacher(args.teacher, args.logs_dir, 'cpu') if args.teacher else None
        teacher_state = load_teacher(teacher, len(data.classes)).state_dict() if teacher else None
    except (DataError, TeacherNotFound) as e:
        print(f'error: {e}', file=sys.stderr)
        sys.exit(2)
    if len(train_split.labels) < BATCH * (args.steps + 2):
        print(f'error: {len(train_split.labels)} training images make fewer than the {args.steps + 2} batches of '
              f'{BATCH} a round needs; use more --train-size or fewer --steps', file=sys.stderr)
        sys.exit(2)
    print(f'torch {torch.__version__}, {torch.get_num_threads()} threads, bf16 autocast: {bf16}, '
          f'batch {BATCH}, {args.steps} steps x {args.rounds} rounds')

    # Alternate the two formulations, round after round
    rates = {'reference': [], 'ours': []}
    for r in range(args.rounds):
        for name in ('reference', 'ours'):
            rates[name].append(run(name == 'ours', train_split, args.steps, teacher_state, bf16, seed=r))
            print(f'round {r + 1}: {name:9s} {rates[name][-1]:7.1f} images/s', flush=True)
    reference, ours = statistics.median(rates['reference']), statistics.median(rates['ours'])
    print(f'\nmedian images/s: reference {reference:.1f}, ours {ours:.1f}; '
          f'ratio ours / reference = {ours / reference:.2f}x')

    if args.accuracy:
        for name in ('reference', 'ours'):
            acc = train_and_validate(name == 'ours', train_split, valid_split, teacher_state, bf16,
                                     args.epochs)
            print(f'{args.epochs} epochs on {args.train_size} images, {name:9s}: '
                  f'validation accuracy {acc:.2%}', flush=True)


if __name__ == '__main__':
    main()
