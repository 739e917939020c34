#!/usr/bin/env bash
# One command for the GPU machine (JAX there, no TensorFlow, no network): chapter 08's equal-budget MNIST comparison.
#   Bring Keras as wheels in .whl/ (keras, namex, optree for the machine's Python) and MNIST in .gpu/mnist
#   (the offline copy: train-10k.npz and the test idx files), then run from the repository root:
#     bash benchmarks/gpu_distance_gans.sh [OUTDIR] [BUDGET_S]
set -uo pipefail
OUTDIR=${1:-${OUT:-/tmp/bench}}
BUDGET=${2:-20}
mkdir -p "$OUTDIR"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1 KGAN_CACHE_DIR=/tmp/kgan-cache KERAS_BACKEND=jax
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 benchmarks/bench_distance_gans.py --data "${KGAN_MNIST_PATH:-.gpu/mnist}" --budget "$BUDGET" --seeds 0 1 \
    --samples 10000 --kid-subsets 10 --steps-per-execution 16 --precision float32 --json "$OUTDIR/distance_gans.json"
} 2>&1 | grep -v -E "^(WARNING|I0000|W0000|E0000)" | tee "$OUTDIR/distance_gans.txt"
