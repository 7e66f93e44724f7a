"""
---
title: Experiments
summary: The CIFAR-10 model base, data pipeline and trainer shared by the distillation study.
---

# Experiments

* [CIFAR-10 VGG base model](cifar10.html)
"""
