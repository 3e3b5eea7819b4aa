#!/usr/bin/env bash
# README command 1: install what is missing, build, run the default experiment.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
"$root/tools/setup.sh"
"$root/tools/build.sh"
demo="$root/experiments/demo.yaml"
if [ ! -f "$demo" ]; then
  echo "demo: laminar is built (${LAMINAR_BUILD_DIR:-$root/build}/laminar), but the default experiment"
  echo "demo: experiments/demo.yaml arrives with the GPT-2 backend and the analysis metrics; nothing to run yet."
  exit 0
fi
exec "${LAMINAR_BUILD_DIR:-$root/build}/laminar" run "$demo" "$@"
