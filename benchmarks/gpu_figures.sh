#!/usr/bin/env bash
# The GPU figures of issue 12 (section 3), in one run on a machine with one CUDA GPU (~10 minutes):
# index builds of 4,096 JPEGs 1024x768 with SigLIP B/16 (real size, random weights), on the local
# engine and on the Ray engine with one GPU, in img/s end to end (JPEG files on disk -> written index),
# with the GPU's utilisation and each variant's ratio to the seed loop on the same GPU.
# Targets: >= 5,000 img/s on one H100/H200-class GPU; the Ray engine within 10% of the local one.
# Needs requirements-dev.txt installed (it includes requirements-ray.txt); writes to $OUT (default .).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${OUT:-.}"
python - <<'PY'
import torch, ray.data  # noqa: F401 - fail now, not after the photos are made
assert torch.cuda.is_available(), "no CUDA GPU here"
PY
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
python -m benchmarks.build_speed --images 4096 --seed-images 256 --batch-size 256 --rounds 2 --ray \
    2>&1 | tee "$out/build_speed_gpu.txt"
