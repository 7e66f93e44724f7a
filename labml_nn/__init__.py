"""
---
title: labml_nn, annotated knowledge distillation
summary: >
  An annotated PyTorch implementation of "Distilling the Knowledge in a Neural
  Network", with studies on CIFAR-10 and on a small language model that run
  on a CPU.
---

# Annotated knowledge distillation

This package is a tutorial you can read, import and run: an annotated PyTorch
implementation of [Distilling the Knowledge in a Neural
Network](https://arxiv.org/abs/1503.02531) (Hinton, Vinyals and Dean, 2015),
and studies that repeat the paper's experiments on CIFAR-10 images and on a
small language model. Each page is a source file: the notes on the left, the
code they explain on the right.

## The reading path

Read these in order; each page ends with a link to the next.

1. [Why distil](distillation/index.html): a model is trained large, or as an
   ensemble, and deployed small, and the large model's probabilities teach
   the small one what the labels cannot say, such as that this 2 looks a
   little like a 3 and that one a little like a 7.
2. [The soft-target loss](distillation/loss.html): both models' probabilities
   softened by a temperature $T$, the loss between them and why it is
   multiplied by $T^2$, with a worked example and how to call it from your
   own training loop.
3. [The CIFAR-10 experiment](distillation/cifar10/index.html) and its two
   models, [the large teacher](distillation/cifar10/large.html) and [the small
   student](distillation/cifar10/small.html): what each is made of and what it
   costs to train.
4. [The distillation step](distillation/cifar10/distill.html): the teacher's and the
   student's outputs on the same batch, and the two terms of the loss, soft
   targets and labels.
5. Running the experiment: [the study in one command](distillation/cifar10/pipeline.html),
   which trains the teacher, the student from labels alone and the distilled
   student over several seeds, and [what it measured](distillation/cifar10/readme.html).
6. What the studies found:
   * [a class the student never saw](distillation/cifar10/omitted_class.html): a
     student trained without a single image of a class still recognises it,
     from the teacher's soft targets alone;
   * [which temperature](distillation/cifar10/temperature.html): how $T$ changes
     what reaches the student;
   * [soft targets against labels](distillation/cifar10/weight.html): how much
     weight to give each term of the loss;
   * [how good the teacher must be](distillation/cifar10/teacher_quality.html): what
     a weaker or a stronger teacher gives the same student.
7. [Distilling a language model](distillation/lm/index.html): the same soft
   targets at every position of a text, for a small byte-level transformer;
   [its distillation step](distillation/lm/distill.html), with the choice of
   divergence and batches the student writes itself, and [what its studies
   found](distillation/lm/studies.html).

Below the path is the appendix, for those who want to see how it all runs,
grouped by folder: each experiment's trainer, data and commands, the layer
both experiments share (runs on disk, training on several processes), the
teacher's logits kept on disk, the renderer of these pages and every measured
number with the command that made it.
"""
