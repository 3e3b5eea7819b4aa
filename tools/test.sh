#!/usr/bin/env bash
# README command 2: install what is missing, build, run every test, then a short fuzzing run of
# each reader of untrusted files.
#   tools/test.sh              the normal build (build/)
#   tools/test.sh --sanitize   the whole suite built with AddressSanitizer + UBSan (build-asan/)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/setup.sh"
if [ "${1:-}" = "--sanitize" ]; then
  build="${LAMINAR_BUILD_DIR:-$root/build-asan}"
  [ -f "$build/CMakeCache.txt" ] || cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLAMINAR_SANITIZE=ON
  cmake --build "$build" --parallel "$(nproc)"
  cd "$build"
  # Leaks are not hunted: libtorch and HDF5 keep process-lifetime allocations on purpose.
  ASAN_OPTIONS=detect_leaks=0 ctest --output-on-failure --parallel "$(nproc)"
  exit 0
fi
"$root/tools/build.sh"
(cd "${LAMINAR_BUILD_DIR:-$root/build}" && ctest --output-on-failure --parallel "$(nproc)")
"$root/tools/fuzz.sh" 5
