#!/usr/bin/env python3
"""Benchmark of the llama backend (issue 7) against a PyTorch-eager Llama (torch_eager_llama.py),
both measured in this run, on a TinyLlama-1.1B-shaped model with random weights (22 layers,
width 2048, 32 heads, 4 key/value heads, MLP 5632, vocabulary 32000, a 2.2 GB BF16 file) that
it generates once under build/bench/ (never committed).

    tools/bench/bench_llama.py [--repeats 3]

1. The seed's study as a whole process: start, load the file, run the 34 prompts, write q and k
   of block 5 (laminar: `laminar run --stage extract`, HDF5; PyTorch: load, forward, np.save).
2. A full forward of 8 x 128 tokens, tokens per second (median of --repeats, after a warm-up).
Reports ratios and each process's peak resident memory; both read the file from the page cache.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from measure import timed

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LAMINAR_BUILD_DIR", os.path.join(ROOT, "build"))
PYTHON = "/usr/bin/python3"
LAMINAR = os.path.join(BUILD, "laminar")
WORDS = {"space": "galaxy asteroid comet cosmos space sun planet moon star orbit",
         "interior": "ceiling sofa couch carpet door window lamp chair table rug bed floor wall",
         "fruit": "pear grape banana cherry peach apple seed jelly orange lime fruit"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    model = os.path.join(BUILD, "bench", "tinyllama-22x2048-bf16-random")
    if not os.path.exists(os.path.join(model, "config.json")):
        print(f"making {model} ...", file=sys.stderr)
        subprocess.run([PYTHON, os.path.join(ROOT, "tools", "make_model.py"), model, "--family", "llama", "--layers", "22",
                        "--heads", "32", "--kv-heads", "4", "--width", "2048", "--mlp", "5632", "--positions", "2048",
                        "--dtype", "bf16"], check=True)
    for name in os.listdir(model):  # both read the weights from the page cache
        with open(os.path.join(model, name), "rb") as f:
            while f.read(1 << 24):
                pass
    tmp = tempfile.mkdtemp(prefix="laminar-bench-llama-")

    # 1. The seed's study, whole process.
    categories = "\n".join(f"    {c}: [{', '.join(w.split())}]" for c, w in WORDS.items())
    yaml = os.path.join(tmp, "seed.yaml")
    with open(yaml, "w") as f:
        f.write(f"experiment: seed-tinyllama\nmodels:\n  - id: m\n    path: {model}\nstimuli:\n"
                f"  template: \"The next word is {{word}}\"\n  position: last\n  categories:\n{categories}\n"
                f"extract:\n  - extractor: attention\n    sites: [q, k]\n    layers: [5]\noutput: seed.h5\n")
    texts = os.path.join(tmp, "texts.jsonl")
    with open(texts, "w") as f:
        f.write("".join(json.dumps(f"The next word is {w}") + "\n" for ws in WORDS.values() for w in ws.split()))
    ids = os.path.join(tmp, "ids.json")
    out = subprocess.run([LAMINAR, "tokenize", "--model", model, "--json", "--jsonl", texts], check=True,
                         capture_output=True, text=True).stdout
    with open(ids, "w") as f:
        json.dump([json.loads(l) for l in out.splitlines()], f)
    ours = [timed([LAMINAR, "run", yaml, "--stage", "extract", "--force"]) for _ in range(args.repeats)]
    theirs = [timed([PYTHON, os.path.join(ROOT, "tools", "bench", "torch_eager_llama.py"), "seed", model, ids,
                     os.path.join(tmp, "qk.npy")]) for _ in range(args.repeats)]

    # 2. Full forward, 8 x 128.
    _, our_rss, text = timed([os.path.join(BUILD, "tools", "laminar_bench_model"), model, str(args.repeats)])
    our_forward = next(r for r in json.loads(text)["full_forward"] if r["length"] == 128)
    _, their_rss, text = timed([PYTHON, os.path.join(ROOT, "tools", "bench", "torch_eager_llama.py"), "forward", model,
                                str(args.repeats)])
    their_forward = json.loads(text)

    size = sum(os.path.getsize(os.path.join(model, n)) for n in os.listdir(model)) / 1e9
    print(f"model: TinyLlama-1.1B shape, {size:.2f} GB BF16 file; {os.cpu_count()} cores; median of {args.repeats}")
    print(f"{'measure':48s} {'laminar':>10s} {'pytorch':>10s} {'ratio':>7s}")
    a, b = statistics.median(s for s, _, _ in ours), statistics.median(s for s, _, _ in theirs)
    print(f"{'seed study, whole process, s':48s} {a:10.2f} {b:10.2f} {b / a:6.2f}x")
    print(f"{'  peak RSS, GB':48s} {max(m for _, m, _ in ours):10.2f} {max(m for _, m, _ in theirs):10.2f}")
    a, b = our_forward["tokens_per_s"], their_forward["tokens_per_s"]
    print(f"{'full forward 8x128, tokens/s':48s} {a:10.0f} {b:10.0f} {a / b:6.2f}x")
    print(f"{'  peak RSS, GB':48s} {our_rss:10.2f} {their_rss:10.2f}")
    print("ratio > 1: laminar faster. Targets: seed study >= 5x, full forward >= 1x.")


if __name__ == "__main__":
    main()
