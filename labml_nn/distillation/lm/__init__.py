"""
---
title: Distilling a language model on one CPU thread
summary: >
  The second track of the tutorial: Hinton's soft targets applied to
  next-byte prediction, with a byte-level transformer teacher and student
  trained on the Python standard library's source, and three studies.
---

# Distilling a language model on one CPU thread

Most models distilled today are language models. A language model predicts
the next token at every position of a text: it is a classifier applied at
every position, so [Hinton's soft targets](../index.html) carry over
position by position, and the [soft-target loss](../loss.html) of the
CIFAR-10 track is the one used here.

This track needs no download and no GPU. The text is the
[source code of the Python standard library](data.html) of the interpreter
that runs it, read as bytes (a vocabulary of 256, no tokenizer). The models
are [a small decoder-only transformer](transformer.html) in two sizes: a
teacher of 1.9 million parameters and a student of 0.26 million, 7 times smaller.

The pages:

* [The corpus](data.html): which files, how they are split, and the
  fingerprint every result records.
* [The transformer](transformer.html): causal self-attention with PyTorch's
  `scaled_dot_product_attention`, and sampling.
* [The trainer](trainer.html): steps on random windows, validation bits per
  byte, checkpoints that resume.
* [The distillation step](distill.html): the teacher's and the student's
  logits at every position, forward KL, reverse KL or JSD, and on-policy
  batches the student writes itself.
* [The teacher's targets, stored](target_cache.html) once rather than
  computed at every step: densely, as the top-k log-probabilities, or as
  sampled bytes, and the bytes each takes for each position.
* [The training commands](train.html) and their profiles.
* [The studies in one command](pipeline.html), [what they write](report.html),
  and [their results](studies.html): which divergence, how much soft targets
  help with little data, whether on-policy batches help, from random weights
  and after training on labels, and how stored top-k and sampled targets
  compare at equal bytes.
* [Text sampled from each model](sample.html).

```bash
python -m labml_nn.distillation.lm.train teacher --profile cpu
python -m labml_nn.distillation.lm.train student --profile cpu
python -m labml_nn.distillation.lm.train distilled --profile cpu --teacher latest
python -m labml_nn.distillation.lm.pipeline --study all --profile cpu --seeds 3
python -m labml_nn.distillation.lm.sample --profile cpu
```

The module imports nothing.
"""
