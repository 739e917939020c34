#!/usr/bin/env bash
# One command for the GPU machine (JAX and PyTorch there, no TensorFlow, no network): the default DCGAN's epoch
# time over 60,000 images per backend with mixed precision, and FID after a fixed number of epochs.
#   Bring Keras along as wheels in .whl/ (keras, namex, optree for the machine's Python) and MNIST in .gpu/mnist
#   (Keras's mnist.npz or the idx files / the offline copy), then run from the repository root:
#     bash benchmarks/gpu_backends.sh [OUTDIR]
set -uo pipefail
OUTDIR=${1:-${OUT:-/tmp/bench}}
mkdir -p "$OUTDIR"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 3
  export PYTHONPATH=/tmp/site:$PWD
fi
export PYTHONUNBUFFERED=1 KGAN_CACHE_DIR=/tmp/kgan-cache TF_CPP_MIN_LOG_LEVEL=3
DATA=${KGAN_MNIST_PATH:-.gpu/mnist}
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  KERAS_BACKEND=jax python3 -c "import jax, torch, keras; print('jax', jax.__version__, 'torch', torch.__version__, 'keras', keras.__version__)"
  echo "== recommended: batch 256, mixed_bfloat16 (precision auto), 60k images per epoch, FID after 10 epochs"
  python3 benchmarks/bench_backends.py --backends jax torch --data "$DATA" --epoch-images 60000 --epochs 4 \
    --batch-size 256 --precision auto --fid-epochs 10 --samples 10000 --json "$OUTDIR/gpu_b256.json"
  echo "== batch size sweep on JAX (timing only)"
  for b in 64 1024; do
    python3 benchmarks/bench_backends.py --backends jax --data "$DATA" --epoch-images 60000 --epochs 3 \
      --batch-size $b --precision auto --json "$OUTDIR/gpu_jax_b$b.json"
  done
  echo "== float32 on JAX, batch 256 (what mixed precision buys)"
  python3 benchmarks/bench_backends.py --backends jax --data "$DATA" --epoch-images 60000 --epochs 3 \
    --batch-size 256 --precision float32 --json "$OUTDIR/gpu_jax_f32.json"
} 2>&1 | grep -v -E "^(WARNING|I0000|W0000)" | tee "$OUTDIR/gpu_backends.txt"
