#!/usr/bin/env bash
# Configures (once) and builds laminar in build/. Incremental: a second run with no change
# in the sources does nothing but check timestamps.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${LAMINAR_BUILD_DIR:-$root/build}"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
cmake --build "$build" --parallel "$(nproc)"
