#!/bin/bash
# The README's first command: install what is missing, build, and run the main job on its
# built-in default (a field-family network trained by gradient flow, with its bulk-boundary
# decomposition printed at every saved time and written to demo.h5).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tests/install-deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build build -j2 > /dev/null
./build/bin/bbd-net -bbd_output demo.h5 "$@"
echo "Open the result with: /usr/bin/python3 -c \"import h5py; f = h5py.File('demo.h5'); print(list(f['trajectory']))\""
