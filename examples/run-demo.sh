#!/bin/bash
# The README's first command: install what is missing, build, and run the main job on its
# built-in default: bbd-compare trains field-family networks of widths 8..64 with the exact
# reference module, integrates the continuum field equations on a fine grid, and prints how
# fast the networks approach the field theory (compare.h5, figures compare-*.png).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j2 > /dev/null
mkdir -p demo
cd demo
../build/bin/bbd-compare "$@"
echo "results in $(pwd): compare.h5 (h5py: /usr/bin/python3 -c \"import h5py; print(h5py.File('compare.h5')['convergence/error_z'][()])\"), the runs in compare.h5.d/, figures compare-*.png"
