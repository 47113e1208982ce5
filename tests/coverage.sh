#!/bin/bash
# Line coverage of src/ by the whole test suite, on demand (not in CI): builds with --coverage in
# build-coverage/, runs every CTest test, prints gcovr's per-file table and the total for src/.
# Usage: bash tests/coverage.sh [ctest arguments, e.g. -R '^t']
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
if ! command -v gcovr >/dev/null; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -q --no-install-recommends gcovr
fi
B=build-coverage
cmake -S . -B $B -DCMAKE_BUILD_TYPE=Coverage -DCMAKE_C_FLAGS_COVERAGE="-O1 -g --coverage" \
      -DCMAKE_EXE_LINKER_FLAGS_COVERAGE="--coverage" >/dev/null
cmake --build $B -j2 >/dev/null
find $B -name '*.gcda' -delete
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir $B -j2 "$@" || echo "(some tests failed: coverage of the run as it went)"
gcovr -r . --filter 'src/' --object-directory $B --print-summary
