#!/usr/bin/env bash
# Set up (or check) a virtual environment of one of the two tested stacks.
#
# Usage: bash tools/bootstrap.sh [main|downstream]
#   main (default): ./.venv (or $MMOHEM_VENV) with Python 3 (3.11 tested),
#     torch 2.13 (CPU), mmcv 2.1.0 with compiled ops, mmengine 0.10.7,
#     mmdet 3.3.0, pycocotools, openmim, tensorboard and mmohem (editable).
#   downstream: ./.venv-downstream (or $MMOHEM_DOWNSTREAM_VENV) with Python
#     3.9 ($PYTHON39, python3.9 on the PATH, or pyenv's), torch 2.0.1,
#     mmcv 2.0.1 with compiled ops, mmdet 3.1.0, mmrotate 1.0.0rc1,
#     mmocr 1.0.1, openmim, tensorboard and mmohem (editable): the stack
#     those repos pin.
#
# A second run on a machine that has the environment only compares a stamp
# and returns in seconds; nothing is rebuilt. pip's cache keeps the mmcv
# wheel built from source, so a fresh clone on the same machine is quick too.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stack=${1:-main}

find_python39() {
    local candidate
    for candidate in "${PYTHON39:-}" \
        "$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")"/versions/3.9*/bin/python3.9 \
        "$(command -v python3.9 || true)"; do
        # a pyenv shim exists even where it cannot run
        if [ -n "$candidate" ] && [ -x "$candidate" ] && "$candidate" -c \
            'import sys; assert sys.version_info[:2] == (3, 9)' 2>/dev/null; then
            echo "$candidate"
            return
        fi
    done
    echo "bootstrap: the downstream stack needs Python 3.9 (mmrotate" \
        "1.0.0rc1 does not import on 3.10+); set PYTHON39=/path/to/python3.9" >&2
    exit 1
}

case $stack in
main)
    venv=${MMOHEM_VENV:-$root/.venv}
    python=${PYTHON:-python3}
    constraints=$root/requirements/constraints.txt
    torch_pkgs=(torch)
    extras='tests,mim,tensorboard'
    downstream_pkgs=()
    ;;
downstream)
    venv=${MMOHEM_DOWNSTREAM_VENV:-$root/.venv-downstream}
    python=$(find_python39)
    constraints=$root/requirements/constraints-downstream.txt
    # mmocr imports torchvision; it must match torch, or pip fetches another
    torch_pkgs=(torch torchvision)
    extras='tests,mim,tensorboard'
    downstream_pkgs=(mmrotate mmocr e2cnn)
    ;;
*)
    echo "usage: bash tools/bootstrap.sh [main|downstream]" >&2
    exit 2
    ;;
esac
py=$venv/bin/python
stamp=$venv/.mmohem-bootstrap
checks='import mmcv.ops, mmdet, mmohem'
[ ${#downstream_pkgs[@]} -eq 0 ] || checks="$checks, mmrotate, mmocr"

log() { printf '[bootstrap %s %s] %s\n' "$stack" "$(date +%H:%M:%S)" "$*"; }

# Everything that decides what gets installed goes into the stamp.
want=$(cat "$root/tools/bootstrap.sh" "$root/pyproject.toml" "$constraints" \
    | sha256sum | cut -d' ' -f1)
if [ -x "$py" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] \
    && "$py" -c "$checks" 2>/dev/null; then
    log "environment $venv is up to date"
    exit 0
fi

start=$(date +%s)
if [ ! -x "$py" ]; then
    log "creating virtual environment $venv ($("$python" --version))"
    "$python" -m venv "$venv"
fi
pip=("$py" -m pip install --disable-pip-version-check -c "$constraints")

# torch first and pinned: left to the resolver, a bare `torch` requirement
# pulls whatever build is newest.
log "installing torch and build tools"
"${pip[@]}" -qq "${torch_pkgs[@]}" setuptools wheel ninja numpy

# mmcv ships no wheel on PyPI for these torch releases; build it with the
# compiled ops against the torch just installed (no build isolation, or pip
# would fetch another torch into the isolated build environment). Without
# debug information (-g0 after the interpreter's own -g): the same machine
# code, each file compiled in under half the time.
if ! "$py" -c 'import mmcv.ops' 2>/dev/null; then
    log "installing mmcv with compiled ops (a source build takes 5-20 min" \
        "on 2 cores the first time; pip caches the wheel)"
    MMCV_WITH_OPS=1 MAX_JOBS=${MAX_JOBS:-$(nproc)} \
        CFLAGS="${CFLAGS:-} -g0" CXXFLAGS="${CXXFLAGS:-} -g0" \
        "${pip[@]}" -qq --no-build-isolation mmcv
fi

log "installing mmdet, mmengine, pycocotools and mmohem (editable)" \
    "${downstream_pkgs[*]:+with ${downstream_pkgs[*]}}"
"${pip[@]}" -qq -e "$root[$extras]" "${downstream_pkgs[@]}"
# openmim drags in openxlab, which pins an old setuptools; mmcv and torch
# need the newer one back.
"${pip[@]}" -qq setuptools

"$py" -m pip check
"$py" -c "$checks; print('mmohem', mmohem.__version__,
'| mmdet', mmdet.__version__, '| mmcv', mmcv.__version__)"
echo "$want" > "$stamp"
log "done in $(( $(date +%s) - start )) s"
