#!/usr/bin/env bash
# The whole `full` study from nothing on one GPU: extract the data, train the
# teacher, then for each of 3 seeds a student on labels and a distilled one,
# and write results.json, results.md and the plots to OUT, with the study's
# wall time in OUT/study_time.txt. Made to fit a 15-minute GPU slot.
#
#   benchmarks/gpu_full_study.sh [--labml] [--data ARCHIVE_OR_FOLDER] [--out OUT] [--jobs N] [--throughput]
#
#   --labml       labml.ai's reference settings instead (the `labml` profile, one seed)
#   --data        the CIFAR-10 .tar.gz or an extracted folder
#                 (default: ../shared/datasets/cifar10-train-jpeg.tar.gz)
#   --out         where the results go (default: ./out/gpu-full, or ./out/gpu-labml)
#   --jobs N      student runs side by side on the GPU (default: 1)
#   --throughput  first time the training steps (benchmarks/training_throughput.py)
#   --smoke       the `smoke` profile on the CPU, seconds on tiny data: what `make test` runs
#
# PYTHON names the interpreter (default: python3). Runs are written to a new
# temporary folder, so nothing is reused: the time is the time from nothing.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '7,15p' "$0" | sed 's/^# \{0,1\}//'; }
fail() { echo "error: $*" >&2; exit 2; }

PYTHON=${PYTHON:-python3}
profile=full seeds=3 device=cuda jobs=1 throughput=0 out=''
data=../shared/datasets/cifar10-train-jpeg.tar.gz
while [ $# -gt 0 ]; do
    case $1 in
        --labml) profile=labml seeds=1 ;;
        --smoke) profile=smoke seeds=1 device=cpu ;;
        --throughput) throughput=1 ;;
        --data|--out|--jobs)
            [ $# -ge 2 ] || fail "$1 needs a value"
            case $1 in --data) data=$2 ;; --out) out=$2 ;; --jobs) jobs=$2 ;; esac
            shift ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; fail "unknown option $1" ;;
    esac
    shift
done
out=${out:-./out/gpu-$profile}

# Everything is checked before any work: the data, the GPU, the output folder
[ -e "$data" ] || fail "no data at $data: give the CIFAR-10 archive or folder with --data"
"$PYTHON" -c 'import torch, labml, labml_nn' 2>/dev/null ||
    fail "$PYTHON cannot import torch, labml and labml_nn: set PYTHON to the interpreter that has them (make install makes .venv/bin/python)"
if [ "$device" = cuda ]; then
    "$PYTHON" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' ||
        fail "no CUDA GPU here; this script is for one GPU (--smoke runs it on the CPU)"
fi
mkdir -p "$out" && [ -w "$out" ] || fail "cannot write to --out $out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

started=$SECONDS
# The data: an archive is extracted into the temporary folder
if [ -f "$data" ]; then
    mkdir "$work/data" && tar xzf "$data" -C "$work/data"
    data=$work/data
fi
echo "data ready in $((SECONDS - started)) s"

if [ "$throughput" = 1 ]; then
    if [ "$device" = cuda ]; then
        "$PYTHON" benchmarks/training_throughput.py --device cuda --steps 10 --rounds 2 | tee "$out/throughput.txt"
    else
        "$PYTHON" benchmarks/training_throughput.py --device cpu --batch-size 4 --steps 1 --rounds 1 --compile false \
            | tee "$out/throughput.txt"
    fi
fi

study=$SECONDS
"$PYTHON" -m labml_nn.distillation.cifar10.pipeline --profile "$profile" --seeds "$seeds" --device "$device" \
    --jobs "$jobs" --data-dir "$data" --logs-dir "$work/logs" --out "$out"
finished=$SECONDS
summary="profile $profile, $seeds seed(s), --jobs $jobs, on $device: the study took $((finished - study)) s, \
the data $((study - started)) s before it; $(date -u +%Y-%m-%dT%H:%MZ)"
echo "$summary" | tee "$out/study_time.txt"
