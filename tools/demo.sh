#!/usr/bin/env bash
# README command 1: install what is missing, build, make the demo model (once), run the
# default experiment. Extra arguments go to `laminar run` (e.g. --force).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${LAMINAR_BUILD_DIR:-$root/build}"
"$root/tools/setup.sh"
"$root/tools/build.sh"
model="$build/models/demo-gpt2"
if [ ! -f "$model/config.json" ]; then
  echo "demo: making the demo model (random weights, real GPT-2 vocabulary) in $model"
  /usr/bin/python3 "$root/tools/make_model.py" "$model" --layers 6 --heads 8 --width 256 --positions 128 --seed 5
fi
exec "$build/laminar" run "$root/experiments/demo.yaml" --model "demo-gpt2=$model" "$@"
