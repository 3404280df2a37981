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
for d in mmohem mmohem_benchmark configs tests tools benchmarks; do
    [ -d "$d" ] && paths+=("$d")
done
"$venv/bin/python" -m flake8 "${paths[@]}"
"$venv/bin/python" -m isort --check-only --diff "${paths[@]}"
"$venv/bin/python" -m yapf --diff --recursive "${paths[@]}"

echo "== tests"
# Two workers, each running whole test files (module fixtures run once), one
# torch thread each: two workers with torch's default thread count would
# oversubscribe 2 cores and take longer than one process.
# MMOHEM_TEST_WORKERS=0 runs everything in this process.
# pytest exits 5 when it collected nothing: that is a failure here too.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
"$venv/bin/python" -m pytest -n "${MMOHEM_TEST_WORKERS:-2}" --dist loadfile "$@"
