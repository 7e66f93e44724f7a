"""
---
title: Distilling the Knowledge in a Neural Network
summary: >
  An annotated PyTorch implementation of knowledge distillation (Hinton, Vinyals
  and Dean, 2015), with a CIFAR-10 study of a large teacher and a small student.
---

# Distilling the Knowledge in a Neural Network

This is a [PyTorch](https://pytorch.org) implementation of
[Distilling the Knowledge in a Neural Network](https://arxiv.org/abs/1503.02531)
by Geoffrey Hinton, Oriol Vinyals and Jeff Dean.

A large model, or an ensemble, is often the most accurate, and too slow to
serve. Distillation trains a small model to imitate the large one: instead of
the one-hot labels alone, the small *student* learns from the large
*teacher*'s full probability distribution over the classes, softened by a
temperature $T$. Those *soft targets* carry how the teacher generalizes:
which wrong classes it finds plausible, and how much.

The pages:

* [Overview and results](readme.html) of the CIFAR-10 study.
* [The soft-target loss](loss.html), the part to import into your own code.
* [The large teacher](large.html) and [the small student](small.html).
* [The distillation step](distill.html): the teacher's and the student's
  logits on the same batch, and the two terms of the loss.
* [Finding and loading the teacher](teacher.html), and
  [making a fixed teacher fast](fixed_teacher.html).
* [The training commands](train.html): profiles and the command line.
* [The whole study in one command](pipeline.html), with results over seeds.
* Dark knowledge, measured: [a class the student never saw](omitted_class.html),
  [which temperature](temperature.html) and [soft targets against
  labels](weight.html), with [the measures](dark_knowledge.html) they report
  and [the teacher's logits computed once](teacher_cache.html) that make them fast.
* [Distributed distillation with torchrun](distributed.html): the commands
  on several GPUs or machines, with the results of one process.
* [Distilling a language model](lm/index.html): the same soft targets for a
  small byte-level transformer, with studies of divergences, scarce data and
  on-policy batches.

This module imports nothing, so `import labml_nn.distillation.loss` stays cheap.
"""
