#!/usr/bin/env bash
# Configures (once) and builds laminar in build/: everything, or the targets given
# (tools/build.sh laminar laminar_model_gpt2). Incremental: a second run with no change in the
# sources does nothing but check timestamps. LAMINAR_BUILD_JOBS: parallel jobs (default: cores).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${LAMINAR_BUILD_DIR:-$root/build}"
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
fi
targets=()
[ $# -gt 0 ] && targets=(--target "$@")
cmake --build "$build" --parallel "${LAMINAR_BUILD_JOBS:-$(nproc)}" "${targets[@]}"
