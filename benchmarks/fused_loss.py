"""
# Memory and time of the fused linear distillation loss

This script compares two ways of computing the distillation loss of a
language model from the last hidden states of a student and a teacher and
their output layers (`[vocab, hidden]` weights):

* **plain**: the logits of both models (`hidden @ weight.T`, the teacher's
  without a gradient), then `labml_nn.distillation.loss.plain_soft_target_loss`,
  the plain formula, all differentiated by autograd;
* **fused**: `labml_nn.distillation.fused_loss.fused_linear_distillation_loss`, which
  walks over the tokens in chunks and never holds the full `[tokens, vocab]`
  logits of either model.

For each vocabulary size (default 32,000 and 50,257, with 4,096 tokens and a
hidden size of 1,024, float32) it measures:

* **the extra peak memory of one forward and backward pass**, everything
  allocated beyond the inputs at its highest point, **including** the
  gradients of the student's hidden states and weight that both variants
  return (their size is printed on its own line). It is measured as in
  `benchmarks/loss_memory.py`: in a fresh Python subprocess per variant, the
  kernel's peak resident set size (`VmHWM`, reset through
  `/proc/self/clear_refs`) minus the resident size before the pass, or
  `torch.cuda.max_memory_allocated()` on CUDA;
* **the time of one forward and backward pass**, in this process, the two
  variants taking turns after one warm-up pass each; the median of `--repeats`;
* **the same value and gradients**: the relative difference of the losses and
  of the gradients (`|fused - plain| / |plain|`, Frobenius norms).

## Run it

```bash
nice python benchmarks/fused_loss.py
nice python benchmarks/fused_loss.py --vocab 32000 --tokens 1024 --repeats 3
```

The plain variant at 50,257 words holds several 823 MB copies of the logits:
about 6 GB at its peak. The targets are at most 0.15 times the plain
variant's extra peak memory and no more time.
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

# Run from a checkout without installing: make `labml_nn` and `benchmarks` importable
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch
import torch.nn.functional as F

from benchmarks.loss_memory import check_device, extra_peak_bytes, median_seconds, positive_int
from labml_nn.distillation.fused_loss import fused_linear_distillation_loss
from labml_nn.distillation.loss import DIVERGENCES, plain_soft_target_loss

# The temperature; any $T \ne 1$ makes both variants do the scaling work
TEMPERATURE = 2.0
VARIANTS = ('plain', 'fused')
# The tensors that get a gradient
LEAVES = ('student_hidden', 'student_weight')


def make_inputs(tokens: int, hidden: int, vocab: int, device: str, seed: int = 0) -> dict:
    """
    Hidden states and output weights of a student and a teacher, scaled so that
    the logits have a standard deviation of about 3; the student's need a gradient.
    """
    generator = torch.Generator(device='cpu').manual_seed(seed)
    inputs = {name: torch.randn(*shape, generator=generator).to(device)
              for name, shape in (('student_hidden', (tokens, hidden)), ('student_weight', (vocab, hidden)),
                                  ('teacher_hidden', (tokens, hidden)), ('teacher_weight', (vocab, hidden)))}
    for name in ('student_weight', 'teacher_weight'):
        inputs[name].mul_(3 / hidden ** 0.5)
    for name in LEAVES:
        inputs[name].requires_grad_()
    return inputs


def plain_loss(student_hidden, student_weight, teacher_hidden, teacher_weight, divergence):
    """
    Both models' logits, then the plain formula.
    """
    logits = F.linear(student_hidden, student_weight)
    with torch.no_grad():
        teacher_logits = F.linear(teacher_hidden, teacher_weight)
    return plain_soft_target_loss(logits, teacher_logits, TEMPERATURE, divergence=divergence)


def fused_loss(student_hidden, student_weight, teacher_hidden, teacher_weight, divergence):
    return fused_linear_distillation_loss(student_hidden, student_weight, teacher_hidden, teacher_weight,
                                          temperature=TEMPERATURE, divergence=divergence)


LOSSES = {'plain': plain_loss, 'fused': fused_loss}


def forward_backward(variant: str, inputs: dict, divergence: str, keep_gradients: bool = False):
    """
    One forward and backward pass: the loss, and the gradients if asked for
    (otherwise they are dropped).
    """
    loss = LOSSES[variant](**inputs, divergence=divergence)
    loss.backward()
    grads = [inputs[name].grad for name in LEAVES]
    for name in LEAVES:
        inputs[name].grad = None
    return loss.item(), grads if keep_gradients else None


def _synchronize(device: str):
    if device.startswith('cuda'):
        torch.cuda.synchronize()


# ## Memory, in a child process

def measure_memory_child(variant: str, tokens: int, hidden: int, vocab: int, device: str,
                         divergence: str) -> dict:
    """
    Runs in a fresh subprocess: the extra peak bytes of one forward and backward pass.
    """
    inputs = make_inputs(tokens, hidden, vocab, device)
    # One-time set-up on a tiny input, so that it is not counted
    forward_backward(variant, make_inputs(4, 8, 16, device, seed=1), divergence)
    _synchronize(device)
    return extra_peak_bytes(lambda: forward_backward(variant, inputs, divergence), device)


def measure_memory(variant: str, tokens: int, hidden: int, vocab: int, device: str,
                   divergence: str) -> dict:
    """
    Starts the child process and reads its answer, the last line it prints.
    """
    command = [sys.executable, __file__, '--child', variant, '--tokens', str(tokens),
               '--hidden', str(hidden), '--vocab', str(vocab), '--device', device,
               '--divergence', divergence, '--threads', str(torch.get_num_threads())]
    result = subprocess.run(command, capture_output=True, text=True, check=False,
                            env={**os.environ, 'PYTHONPATH': str(ROOT)})
    if result.returncode != 0:
        raise RuntimeError(f'the memory measurement of {variant} failed:\n{result.stderr}')
    return json.loads(result.stdout.strip().splitlines()[-1])


# ## Time, value and gradients, in this process

def _relative(value, reference) -> float:
    return float((value - reference).norm() / reference.norm())


def measure_time(tokens: int, hidden: int, vocab: int, device: str, repeats: int,
                 divergence: str) -> dict:
    """
    Median seconds of a forward and backward pass, the variants taking turns
    after a warm-up pass each, which also gives the values and gradients to compare.
    """
    inputs = make_inputs(tokens, hidden, vocab, device)
    results = {variant: forward_backward(variant, inputs, divergence, keep_gradients=True)
               for variant in VARIANTS}
    (plain_value, plain_grads), (fused_value, fused_grads) = results['plain'], results['fused']
    differences = {'loss': abs(fused_value - plain_value) / abs(plain_value)}
    differences.update({name: _relative(fused, plain)
                        for name, fused, plain in zip(LEAVES, fused_grads, plain_grads)})
    del results, plain_grads, fused_grads
    median = median_seconds({variant: lambda v=variant: forward_backward(v, inputs, divergence)
                             for variant in VARIANTS}, repeats, device)
    return {'median': median, 'values': {'plain': plain_value, 'fused': fused_value}, 'differences': differences}


def report(tokens: int, hidden: int, vocab: int, memory: dict, timing: dict):
    """
    One vocabulary size: the table and the ratios.
    """
    mib = 1 << 20
    grad_bytes = (tokens + vocab) * hidden * 4
    print(f'tokens {tokens}, hidden {hidden}, vocab {vocab}: one copy of the logits '
          f'{tokens * vocab * 4 / mib:.0f} MiB; the gradients both variants return '
          f'{grad_bytes / mib:.0f} MiB (counted below)')
    print(f'{"variant":<10}{"loss":>12}{"extra peak MiB":>16}{"fwd+bwd s":>12}')
    for variant in VARIANTS:
        print(f'{variant:<10}{timing["values"][variant]:>12.6f}'
              f'{memory[variant]["extra_bytes"] / mib:>16.1f}{timing["median"][variant]:>12.3f}')
    if memory['plain']['extra_bytes'] > 0:
        memory_ratio = memory['fused']['extra_bytes'] / memory['plain']['extra_bytes']
        print(f'memory ratio (fused / plain): {memory_ratio:.3f}  (target <= 0.15)')
    else:
        # Tiny inputs fit in memory the process already had: there is nothing to compare
        print('memory ratio (fused / plain): n/a, the plain variant needed no new memory pages')
    print(f'time ratio   (fused / plain): {timing["median"]["fused"] / timing["median"]["plain"]:.3f}'
          f'  (target <= 1.0)')
    print('relative difference (fused vs plain): ' +
          ', '.join(f'{name} {difference:.1e}' for name, difference in timing['differences'].items()))
    print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0].lstrip('# '))
    parser.add_argument('--tokens', type=positive_int, default=4096, help='tokens in the batch')
    parser.add_argument('--hidden', type=positive_int, default=1024, help='hidden size of both models')
    parser.add_argument('--vocab', type=positive_int, nargs='+', default=[32000, 50257],
                        help='vocabulary sizes, one measurement each')
    parser.add_argument('--divergence', choices=DIVERGENCES, default='forward_kl')
    parser.add_argument('--repeats', type=positive_int, default=3, help='timed passes of each variant')
    parser.add_argument('--device', default='cpu', help="'cpu' or 'cuda'")
    parser.add_argument('--threads', type=positive_int, default=None,
                        help="CPU threads for PyTorch (default: PyTorch's own choice)")
    parser.add_argument('--child', choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    check_device(parser, args.device)
    if args.device == 'cpu' and not os.access('/proc/self/clear_refs', os.W_OK):
        parser.error('--device cpu: the peak memory is read from /proc/self/clear_refs, '
                     'which this system does not let the script write')
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    if args.child:
        print(json.dumps(measure_memory_child(args.child, args.tokens, args.hidden, args.vocab[0],
                                              args.device, args.divergence)))
        return

    print(f'fused linear distillation loss against the plain formula, float32 on {args.device}, '
          f'{args.divergence}, T = {TEMPERATURE}, torch {torch.__version__}, '
          f'{torch.get_num_threads()} threads')
    print(f'memory: one fresh process per variant; time: median of {args.repeats} alternating '
          f'passes after a warm-up')
    print()
    for vocab in args.vocab:
        memory = {variant: measure_memory(variant, args.tokens, args.hidden, vocab, args.device,
                                          args.divergence)
                  for variant in VARIANTS}
        timing = measure_time(args.tokens, args.hidden, vocab, args.device, args.repeats, args.divergence)
        report(args.tokens, args.hidden, vocab, memory, timing)


if __name__ == '__main__':
    main()
