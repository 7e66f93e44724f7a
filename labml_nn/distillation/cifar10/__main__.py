"""
---
title: Distill
summary: The command that trains the small student from a trained teacher.
---

# Distill

```bash
python -m labml_nn.distillation.cifar10 --data-dir DIR --teacher latest
```

trains the [small student](small.html) from the teacher that
[`--teacher`](teacher.html) names, with the [distillation step](distill.html).
"""

from labml_nn.distillation.cifar10.train import main

main('distilled')
