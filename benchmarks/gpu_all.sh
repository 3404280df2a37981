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
# DEVICE=cpu runs the steps that can run without a GPU (not --amp, not the
# GPU tests); SMOKE=1 gives each step the smallest budget it accepts: the
# test command runs both (tests/test_benchmarks.py), so no step breaks
# unseen. Their figures are not measurements.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
out=${1:-benchmarks/results}
name=${2:-gpu}
py=${PYTHON:-python}
device=${DEVICE:-cuda}
overhead=() check=() nms=() sample=()
if [ "${SMOKE:-0}" = 1 ]; then
    overhead=(--size 256 256 --steps 1 --warmup 0 --sampler-reps 1)
    check=(--size 256 256)
    nms=(--num 100 --reps 1)
    sample=(--reps 1 --case shapes)
else
    nms=(--reps 7)
    sample=(--reps 7)
fi
mkdir -p "$out"
status=0
run() { echo "== $*"; "$@" || status=1; }
run "$py" benchmarks/sampler_overhead.py --device "$device" "${overhead[@]}" \
    --out "$out/sampler_overhead_$name.json"
if [ "$device" = cuda ]; then
    run "$py" benchmarks/sampler_overhead.py --device cuda --amp \
        --out "$out/sampler_overhead_${name}_amp.json"
fi
run "$py" benchmarks/gpu_check.py --device "$device" "${check[@]}" \
    --out "$out/gpu_check_$name.json"
run "$py" benchmarks/rotated_nms.py --device "$device" "${nms[@]}" \
    --out "$out/rotated_nms_$name.json"
if "$py" -c 'import mmrotate' 2>/dev/null; then
    run "$py" benchmarks/rotated_sample.py --device "$device" "${sample[@]}" \
        --out "$out/rotated_sample_$name.json"
else
    echo "== rotated_sample.py skipped: mmrotate is not installed"
fi
if [ "$device" = cuda ]; then
    run "$py" -m pytest -q -p no:cacheprovider tests/test_gpu.py
fi
exit $status
