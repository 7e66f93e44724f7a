"""
---
title: Distilling an image classifier on CIFAR-10
summary: >
  The first experiment of the tutorial: a large VGG-style teacher and a small
  student on CIFAR-10's ten classes, the distillation step between them, the
  commands that train them and the studies of what the soft targets carry.
---

# Distilling an image classifier on CIFAR-10

The paper's first experiments distil classifiers: the teacher's softened
class probabilities teach a smaller network. This experiment does the same
with CIFAR-10's 32×32 colour images of ten classes, with the
[soft-target loss](../loss.html) that any model can import.

The models and the step:

* [A VGG-style network](vgg.html), the shape both models share, in two
  sizes: [the large teacher](large.html) and [the small student](small.html).
* [The distillation step](distill.html): the teacher's and the student's
  logits on the same batch, and the two terms of the loss.

Training and studying them:

* [The data](data.html): CIFAR-10 loaded once, held in memory and augmented
  by the batch; and [the trainer](trainer.html), which resumes interrupted runs.
* [The training commands](train.html) and their profiles;
  [finding and loading the teacher](teacher.html),
  [a fixed teacher made fast](fixed_teacher.html) and
  [the teacher's logits computed once](teacher_cache.html).
* [The studies in one command](pipeline.html): [what each
  trains](studies.html), [how it runs](study.html) and [what it
  writes](report.html); [what they measured](readme.html), [the measures](dark_knowledge.html) of what the
  student took from the teacher, and the studies of dark knowledge:
  [a class the student never saw](omitted_class.html),
  [which temperature](temperature.html) and
  [soft targets against labels](weight.html).
* [Distributed distillation](distributed.html) with torchrun.

```bash
python -m labml_nn.distillation.cifar10.pipeline --data-dir DIR --profile cpu --seeds 3 --out OUT
```

The module imports nothing.
"""
