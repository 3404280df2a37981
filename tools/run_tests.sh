#!/usr/bin/env bash
# The project's test command: set up what is missing, lint, run the tests on
# both tested stacks.
#   main: the whole suite on mmdet 3.3 (./.venv);
#   downstream: what concerns that stack on mmdet 3.1 with mmrotate and mmocr
#   (./.venv-downstream): the version guard, the sampler, the configs, the
#   tools, the hooks and the downstream detectors.
# Extra arguments go to pytest on both (e.g. `bash tools/run_tests.sh -k
# convert`); MMOHEM_STACKS="main" (or "downstream") runs one stack only.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
stacks=${MMOHEM_STACKS:-main downstream}
for stack in $stacks; do
    bash tools/bootstrap.sh "$stack"
done
venv=${MMOHEM_VENV:-$root/.venv}
downstream_venv=${MMOHEM_DOWNSTREAM_VENV:-$root/.venv-downstream}

DOWNSTREAM_TESTS=(
    tests/test_registry.py tests/test_import.py tests/test_ohem_selection.py
    tests/test_ohem_sampler.py tests/test_head_fidelity.py
    tests/test_head_support.py tests/test_lookup.py tests/test_bad_input.py
    tests/test_configs.py tests/test_convert.py tests/test_sweep.py
    tests/test_mining_stats_hook.py tests/test_ohem_options.py
    tests/test_rotated_nms.py tests/test_rotated_heads.py
    tests/test_downstream_mmocr.py tests/test_oriented_shapes.py
    tests/test_version_check.py tests/test_benchmarks.py
)

lint_venv=$venv
[[ " $stacks " == *" main "* ]] || lint_venv=$downstream_venv
echo "== lint (flake8, isort, yapf)"
paths=()
for d in mmohem mmohem_benchmark configs tests tools benchmarks; do
    [ -d "$d" ] && paths+=("$d")
done
"$lint_venv/bin/python" -m flake8 "${paths[@]}"
"$lint_venv/bin/python" -m isort --check-only --diff "${paths[@]}"
"$lint_venv/bin/python" -m yapf --diff --recursive --parallel "${paths[@]}"

# Two workers, each running whole test files (module fixtures run once), one
# torch thread each: two workers with torch's default thread count would
# oversubscribe 2 cores and take longer than one process.
# MMOHEM_TEST_WORKERS=0 runs everything in this process.
# pytest exits 5 when it collected nothing: that is a failure here too.
# --durations lists the slowest tests, where the suite's time goes.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
pytest_args=(-n "${MMOHEM_TEST_WORKERS:-2}" --dist loadfile --durations=15)

# Runs the rest of the line, then prints how long the stack's tests took,
# failed or not (the suite's budget: both stacks within 12 minutes on 2
# cores).
timed() {
    local stack=$1 start=$SECONDS status=0
    shift
    "$@" || status=$?
    echo "== tests, $stack stack: $((SECONDS - start)) s"
    return $status
}

for stack in $stacks; do
    if [ "$stack" = main ]; then
        echo "== tests, main stack (mmdet 3.3)"
        timed main "$venv/bin/python" -m pytest "${pytest_args[@]}" "$@"
    else
        echo "== tests, downstream stack (mmdet 3.1, mmrotate, mmocr)"
        timed downstream "$downstream_venv/bin/python" -m pytest \
            "${pytest_args[@]}" "${DOWNSTREAM_TESTS[@]}" "$@"
    fi
done
