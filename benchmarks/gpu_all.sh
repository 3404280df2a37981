#!/usr/bin/env bash
# Every GPU figure of docs/benchmarks.md in one call, for a session that
# has a GPU for a few minutes: the sampler calls and training steps against
# mmdet's OHEMSampler and RandomSampler (float32, then autocast fp16 as
# AmpOptimWrapper runs them), the GPU-vs-CPU agreement with the host syncs
# per image, the rotated NMS (mmcv's ops on their own, and one sample() call
# on Oriented R-CNN's head where mmrotate is installed), and the GPU tests.
# Each step writes its JSON as it finishes.
#
# Usage: bash benchmarks/gpu_all.sh [OUT_DIR] [NAME]
#   (a CUDA build of torch, mmcv with CUDA ops, mmdet and mmohem installed;
#    NAME tags the files, e.g. h200)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-benchmarks/results}
name=${2:-gpu}
py=${PYTHON:-python}
mkdir -p "$out"
status=0
run() { echo "== $*"; "$@" || status=1; }
run "$py" benchmarks/sampler_overhead.py --device cuda \
    --out "$out/sampler_overhead_$name.json"
run "$py" benchmarks/sampler_overhead.py --device cuda --amp \
    --out "$out/sampler_overhead_${name}_amp.json"
run "$py" benchmarks/gpu_check.py --out "$out/gpu_check_$name.json"
run "$py" benchmarks/rotated_nms.py --device cuda --reps 7 \
    --out "$out/rotated_nms_$name.json"
if "$py" -c 'import mmrotate' 2>/dev/null; then
    run "$py" benchmarks/rotated_sample.py --device cuda --reps 7 \
        --out "$out/rotated_sample_$name.json"
else
    echo "== rotated_sample.py skipped: mmrotate is not installed"
fi
run "$py" -m pytest -q -p no:cacheprovider tests/test_gpu.py
exit $status
