"""
# How rendering time grows with the length of a source file

The renderer should take time in proportion to the length of a file: twice the
lines, about twice the time. This script generates two Python files, one of
`--lines` lines and one twice as long, made of the same block repeated (a
comment, a function with a docstring with math in it, and a few lines of
code), renders each into a fresh site in a temporary folder, English only, and
prints the time of each and their ratio. A ratio near 2 is linear; near 4 is
quadratic.

```sh
python benchmarks/render_speed.py              # 10,000 and 20,000 lines
python benchmarks/render_speed.py --lines 2000 --repeats 3
```

Each time is the best of `--repeats` runs, in this one process, the two sizes
taking turns, so that a busy spell on a shared machine slows both alike. The
first run of all also renders a tiny file to load the libraries and
warm the math cache, so neither size pays for start-up.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

from labml_nn.literate.__main__ import main

# One block of the generated file: 12 lines, each function named by its number
BLOCK = '''\
# Step {i}: add $x_{{{i}}}$ to the total, as $s \\gets s + x_i$
def step_{i}(total: float, x: float) -> float:
    """
    The {i}-th step. It returns $s + x$, with `total` as $s$ and `x` as $x$.
    """
    # Keep the old total for the check below
    old = total
    total = total + x
    assert total - old == x or x != x
    return total


'''


def generated_source(lines: int) -> str:
    """
    A module of about `lines` lines: a docstring, then the block repeated.
    """
    blocks = max(1, lines // BLOCK.count('\n'))
    return '"""\n# A generated module\n"""\n\n\n' + ''.join(BLOCK.format(i=i) for i in range(blocks))


def render_seconds(lines: int) -> float:
    """
    The time of one render of a generated file into a new folder.
    """
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / 'source'
        source.mkdir()
        (source / 'generated.py').write_text(generated_source(lines), encoding='utf-8')
        start = time.perf_counter()
        status = main([str(source), '--lang', 'en', '--out', str(Path(folder) / 'site')])
        seconds = time.perf_counter() - start
        if status != 0:
            raise SystemExit(f'the renderer failed with status {status}')
    return seconds


def positive(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f'must be a positive whole number, got {text}')
    return value


def run(argv: list) -> None:
    parser = argparse.ArgumentParser(description='Render time of a generated file and of one twice as long.')
    parser.add_argument('--lines', type=positive, default=10_000, help='lines of the shorter file (default 10000)')
    parser.add_argument('--repeats', type=positive, default=1, help='runs of each size; the best counts (default 1)')
    arguments = parser.parse_args(argv)
    render_seconds(20)
    short, long = float('inf'), float('inf')
    for _ in range(arguments.repeats):
        short = min(short, render_seconds(arguments.lines))
        long = min(long, render_seconds(2 * arguments.lines))
    print(f'{arguments.lines:>7,} lines: {short:7.2f} s')
    print(f'{2 * arguments.lines:>7,} lines: {long:7.2f} s')
    print(f'ratio: {long / short:.2f}x (2x is linear, 4x quadratic)')


if __name__ == '__main__':
    run(sys.argv[1:])
