"""
---
title: Distilling the Knowledge in a Neural Network
summary: >
  Why distil: a model trained large, or as an ensemble, and deployed small,
  and what the large model's probabilities teach the small one that labels
  cannot. An annotated PyTorch implementation of Hinton, Vinyals and Dean
  (2015).
---

# Distilling the Knowledge in a Neural Network

This is a [PyTorch](https://pytorch.org) implementation of
[Distilling the Knowledge in a Neural Network](https://arxiv.org/abs/1503.02531)
by Geoffrey Hinton, Oriol Vinyals and Jeff Dean (2015).

## Why distil

Training and deployment ask different things of a model. To learn as much
as possible from the data, training can afford a cumbersome model: a very
large network, strongly regularized, or an ensemble of many networks,
whatever the cost in computation. Deployed to many users, a model must
answer quickly and cheaply, and should be small. The paper likens this to
insects, whose larvae are built to feed and whose adult form is built to
travel and reproduce: one animal, in a form for each job.

*Distillation* moves what the cumbersome model has learned into the small
one, by training the small *student* to imitate the large *teacher*. What it
imitates is more than the teacher's answers. A trained classifier gives every
class a probability, and the small probabilities of the wrong classes say how
the teacher sees the image. One image of a 2 may be given a probability of
$10^{-6}$ of being a 3 and $10^{-9}$ of being a 7, and another 2 the other
way round: the first looks a little like a 3, the second a little like a 7.
The label of both is just "2". This knowledge, in the relative sizes of the
small probabilities, is often called *dark knowledge*, and a student that
learns it generalizes the way the teacher does, from fewer examples.

Those probabilities are too close to zero to count in a loss as they are.
So both models' outputs are softened by a temperature $T$: the logits are
divided by $T$ before the softmax, and a higher $T$ gives a flatter
distribution, in which the small probabilities are large enough to learn
from. The student is trained to match these *soft targets*, and, with a
smaller weight, the true labels.

## The pages

The tutorial, in the order of [the reading path](../index.html):

1. [The soft-target loss](loss.html), the part to import into your own code.
2. [The CIFAR-10 experiment](cifar10/index.html): [the large
   teacher](cifar10/large.html) and [the small student](cifar10/small.html),
   VGG-style models for CIFAR-10.
3. [The distillation step](cifar10/distill.html): the teacher's and the student's
   logits on the same batch, and the two terms of the loss.
4. [The whole study in one command](cifar10/pipeline.html), with results over seeds,
   and [what it measured](cifar10/readme.html).
5. Dark knowledge, measured: [a class the student never saw](cifar10/omitted_class.html),
   [which temperature](cifar10/temperature.html) and [soft targets against
   labels](cifar10/weight.html), with [the measures](cifar10/dark_knowledge.html) they report.
6. [Distilling a language model](lm/index.html): the same soft targets for a
   small byte-level transformer, with studies of divergences, scarce data and
   on-policy batches.

How it runs:

* [The soft-target loss, engineered](loss_engine.html): little memory,
  precision at high temperatures, exact derivatives; and [the fused loss for
  language models](fused_loss.html), which never holds their full logits.
* [Sparse teacher targets](sparse_targets.html): distilling from a teacher
  stored as its top-k or sampled tokens; and [Hugging Face language
  models](huggingface.html) distilled with the fused loss.
* [Finding and loading the teacher](cifar10/teacher.html), and
  [making a fixed teacher fast](cifar10/fixed_teacher.html), with
  [the teacher's logits computed once](cifar10/teacher_cache.html).
* [The training commands](cifar10/train.html): profiles and the command line.
* [Distributed distillation with torchrun](cifar10/distributed.html): the commands
  on several GPUs or machines, with the results of one process.
* [The shared layer](../experiments/index.html): runs on disk, the commands'
  checks, the training loop's shared parts and reporting, which both
  experiments stand on.

## Where the code is

This folder holds the paper's idea, for any model: the loss, in `loss.py`
and the modules beside it, which import PyTorch alone. Each experiment is a
folder of its own, with its models, its distillation step, its commands and
its studies: [`cifar10/`](cifar10/index.html) and [`lm/`](lm/index.html).
Both stand on the loss and on [`experiments/`](../experiments/index.html),
the machinery they share, and neither imports the other.

This module imports nothing, so `import labml_nn.distillation.loss` stays cheap.
"""
