#!/usr/bin/env bash
# README command 1: install what is missing, build, train the demo model (once: about five
# minutes), run the default experiment and write its report page (runs/demo/index.html).
# Extra arguments go to `laminar run` (e.g. --force).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${LAMINAR_BUILD_DIR:-$root/build}"
"$root/tools/setup.sh"
"$root/tools/build.sh"
model="$build/models/demo-gpt2-wordnet"
train=("$root/tools/train_demo_model.py")
# The cached model is used while it is the one the script would make now (same script, corpus
# and settings: the recipe hash in its config.json); otherwise it is trained again.
recipe="$(/usr/bin/python3 "${train[@]}" --recipe)"
cached="$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["laminar_training"]["recipe"])' \
          "$model/config.json" 2>/dev/null || true)"
if [ "$cached" != "$recipe" ]; then
  echo "demo: training the demo model (a tiny GPT-2 reading WordNet's definitions; about five minutes, once) into $model"
  /usr/bin/python3 "${train[@]}" "$model" --laminar "$build/laminar"
fi
exec "$build/laminar" run "$root/experiments/demo.yaml" --model "demo-gpt2=$model" "$@"
