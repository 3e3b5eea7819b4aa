#!/usr/bin/env bash
# README command 2: install what is missing, build, run every test.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/setup.sh"
"$root/tools/build.sh"
cd "${LAMINAR_BUILD_DIR:-$root/build}"
ctest --output-on-failure --parallel "$(nproc)"
