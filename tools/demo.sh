#!/usr/bin/env bash
# README command 1: install what is missing, build what the demo needs, train the demo model
# (once: about 6 minutes on one core) while laminar builds, run the default experiment and write
# its report page (runs/demo/index.html). Extra arguments go to `laminar run` (e.g. --force).
# The tests and the other plugins are built by tools/test.sh (or tools/build.sh), not here.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
build="${LAMINAR_BUILD_DIR:-$root/build}"
started=$SECONDS
"$root/tools/setup.sh" --demo
# What experiments/demo.yaml needs: laminar and the plugins the file names (laminar_<kind>_<name>).
mapfile -t targets < <(/usr/bin/python3 - "$root/experiments/demo.yaml" <<'PY'
import sys, yaml
exp = yaml.safe_load(open(sys.argv[1]))
names = ["laminar"] + [f"laminar_model_{m['backend']}" for m in exp["models"]]
names += [f"laminar_extractor_{s['extractor']}" for s in exp.get("extract", [])]
names += [f"laminar_metric_{s['metric']}" for s in exp.get("analyze", [])]
print("\n".join(dict.fromkeys(names)))
PY
)
model="$build/models/demo-gpt2-wordnet"
train=("$root/tools/train_demo_model.py")
# The cached model is used while it is the one the script would make now (same script, corpus
# and settings: the recipe hash in its config.json); otherwise it is trained again.
recipe="$(/usr/bin/python3 "${train[@]}" --recipe)"
cached="$(/usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["laminar_training"]["recipe"])' \
          "$model/config.json" 2>/dev/null || true)"
if [ "$cached" != "$recipe" ]; then
  echo "demo: training the demo model (a tiny GPT-2 reading WordNet's definitions; about 6 minutes on one core, once)"
  echo "demo: into $model, while laminar and the plugins the demo needs build beside it"
  # Independent: the training needs PyTorch and GPT-2's encoder (node), not laminar. It runs on
  # one thread (its numbers are the same on every machine), the build on every core.
  mkdir -p "$build/models"
  /usr/bin/python3 "${train[@]}" "$model" &
  training=$!
  trap 'kill $training 2>/dev/null || true' EXIT
  "$root/tools/build.sh" "${targets[@]}"
  wait "$training"
  trap - EXIT
else
  "$root/tools/build.sh" "${targets[@]}"
fi
echo "demo: ready after $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s; running experiments/demo.yaml"
exec "$build/laminar" run "$root/experiments/demo.yaml" --model "demo-gpt2=$model" "$@"
