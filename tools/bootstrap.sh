#!/usr/bin/env bash
# Set up (or check) the project's virtual environment: torch, mmcv with
# compiled ops, mmengine, mmdet, pycocotools, openmim, tensorboard and mmohem
# (editable).
#
# Usage: bash tools/bootstrap.sh          # creates ./.venv if needed
#        MMOHEM_VENV=/path bash tools/bootstrap.sh
#
# A second run on a machine that has the environment only compares a stamp
# and returns in seconds; nothing is rebuilt. pip's cache keeps the mmcv
# wheel built from source, so a fresh clone on the same machine is quick too.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=${MMOHEM_VENV:-$root/.venv}
python=${PYTHON:-python3}
constraints=$root/requirements/constraints.txt
py=$venv/bin/python
stamp=$venv/.mmohem-bootstrap

log() { printf '[bootstrap %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

# Everything that decides what gets installed goes into the stamp.
want=$(cat "$root/tools/bootstrap.sh" "$root/pyproject.toml" "$constraints" \
    | sha256sum | cut -d' ' -f1)
if [ -x "$py" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
    && "$py" -c 'import mmcv.ops, mmdet, mmohem' 2>/dev/null; then
    log "environment $venv is up to date"
    exit 0
fi

start=$(date +%s)
if [ ! -x "$py" ]; then
    log "creating virtual environment $venv"
    "$python" -m venv "$venv"
fi
pip=("$py" -m pip install --disable-pip-version-check -c "$constraints")

# torch first and pinned: left to the resolver, a bare `torch` requirement
# pulls a multi-GB CUDA build.
log "installing torch and build tools"
"${pip[@]}" -qq torch setuptools wheel ninja numpy

# mmcv 2.1.0 ships no wheel for this torch; build it with the compiled ops
# against the torch just installed (no build isolation, or pip would fetch
# another torch into the isolated build environment).
if ! "$py" -c 'import mmcv.ops' 2>/dev/null; then
    log "installing mmcv with compiled ops (a source build takes 10-25 min" \
        "on 2 cores the first time; pip caches the wheel)"
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
        "${pip[@]}" -qq --no-build-isolation mmcv
fi

log "installing mmdet, mmengine, pycocotools, openmim, tensorboard and" \
    "mmohem (editable)"
"${pip[@]}" -qq -e "$root[tests,mim,tensorboard]"
# openmim drags in openxlab, which pins an old setuptools; mmcv and torch
# need the newer one back.
"${pip[@]}" -qq setuptools

"$py" -m pip check
"$py" -c 'import mmcv.ops, mmdet, mmohem; print("mmohem", mmohem.__version__,
"| mmdet", mmdet.__version__, "| mmcv", mmcv.__version__)'
echo "$want" > "$stamp"
log "done in $(( $(date +%s) - start )) s"
