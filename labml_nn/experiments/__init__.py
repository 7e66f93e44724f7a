"""
---
title: The shared layer
summary: >
  What both experiments stand on, whatever they train: runs on disk and their
  lock, the commands' checks, the training loop's shared parts, reporting,
  readable output, and training on several processes.
---

# The shared layer

Each experiment, [CIFAR-10](../distillation/cifar10/index.html) and
[the language model](../distillation/lm/index.html), has its own models,
distillation step, trainer, commands and studies. What they have in common
is here, written once; it imports no module of either experiment, nor the
loss.

* [Runs on disk](runs.html): the run record, finding runs again by their
  settings and data, and the lock that lets one process at a time train a run
* [Checking a command before any work](checks.html): each option's check,
  and a mistake as one line without a traceback
* [What every training loop shares](training.html): the device, the
  learning-rate schedule, divergence, interruption and checkpoints
* [Reporting a study](reporting.html): progress, mean and spread over seeds,
  where the numbers came from, and the figures
* [What a command prints](console.html): plain lines when the output is a file
* [Caches of a fixed teacher's outputs](caches.html): one hash of tensors
  that names and checks a cache, and the lock that lets one process build it
* [Training on several processes](distributed.html) under torchrun, with
  results that do not depend on their number
"""
