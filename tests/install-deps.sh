#!/bin/bash
# Install the Debian packages BBD-Field needs, if any is missing (Debian 12).
set -euo pipefail
PKGS="cmake make gcc pkg-config petsc-dev libhdf5-openmpi-dev openmpi-bin zlib1g-dev libblas-dev
      python3-numpy python3-h5py python3-matplotlib dataset-fashion-mnist valgrind"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi
