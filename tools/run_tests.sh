#!/usr/bin/env bash
# The project's test command: set up what is missing, lint, run the tests.
# Extra arguments go to pytest (e.g. `bash tools/run_tests.sh -k sampler`).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bash tools/bootstrap.sh
venv=${MMOHEM_VENV:-$root/.venv}

echo "== lint (flake8, isort, yapf)"
paths=()
for d in mmohem configs tests tools benchmarks; do
    [ -d "$d" ] && paths+=("$d")
done
"$venv/bin/python" -m flake8 "${paths[@]}"
"$venv/bin/python" -m isort --check-only --diff "${paths[@]}"
"$venv/bin/python" -m yapf --diff --recursive "${paths[@]}"

echo "== tests"
# pytest exits 5 when it collected nothing: that is a failure here too.
"$venv/bin/python" -m pytest "$@"
