"""
---
title: labml_nn, annotated knowledge distillation
summary: >
  An annotated PyTorch implementation of "Distilling the Knowledge in a Neural
  Network", with a CIFAR-10 study you can run on a laptop.
---

# Annotated knowledge distillation

This package is a tutorial you can read, import and run.

* [Knowledge distillation](distillation/index.html): the idea, and the
  [soft-target loss](distillation/loss.html) to import into your own training code.
* [The CIFAR-10 experiments](experiments/index.html): the model base, the data
  pipeline and the trainer.
* [The literate renderer](literate/index.html) that turns these source files
  into the pages you are reading.
"""
