"""
---
title: Experiments
summary: The CIFAR-10 model base, data pipeline and trainer shared by the distillation study.
---

# Experiments

* [CIFAR-10 VGG base model](../distillation/cifar10/vgg.html)
* [CIFAR-10 in memory](../distillation/cifar10/data.html): loading, caching and augmenting the data
* [The trainer](../distillation/cifar10/trainer.html), which resumes interrupted runs
* [Runs on disk](runs.html): the run record, finding runs again, and the lock
* [Training on several processes](distributed.html) under torchrun, with
  results that do not depend on their number
"""
