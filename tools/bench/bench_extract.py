#!/usr/bin/env python3
"""Benchmark of the extract stage (issue 3): laminar's gpt2 plugin against a PyTorch-eager
baseline, both measured in this run on this machine, on a gpt2-medium-shaped model with
random weights (24 layers, 16 heads, width 1024, ~1.4 GB F32) that it generates once under
build/bench/ (never committed).

    tools/bench/bench_extract.py [--repeats 5] [--layers 24 --heads 16 --width 1024]

Reports ratios (laminar speed / baseline speed); absolute seconds are for context only.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LAMINAR_BUILD_DIR", os.path.join(ROOT, "build"))
PYTHON = "/usr/bin/python3"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--width", type=int, default=1024)
    args = ap.parse_args()

    model = os.path.join(BUILD, "bench", f"gpt2-{args.layers}x{args.width}-random")
    if not os.path.exists(os.path.join(model, "model.safetensors")):
        print(f"making {model} ...", file=sys.stderr)
        subprocess.run([PYTHON, os.path.join(ROOT, "tools", "make_model.py"), model, "--layers", str(args.layers),
                        "--heads", str(args.heads), "--width", str(args.width), "--positions", "1024",
                        "--layout", "prefixed"], check=True)
    for name in os.listdir(model):  # measure loads from the page cache, as the target says
        with open(os.path.join(model, name), "rb") as f:
            while f.read(1 << 24):
                pass

    def run(cmd):
        return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)

    laminar = run([os.path.join(BUILD, "tools", "laminar_bench_model"), model, str(args.repeats)])
    torch = run([PYTHON, os.path.join(ROOT, "tools", "bench", "torch_eager_gpt2.py"), model, str(args.repeats)])

    print(f"model: {args.layers} layers, {args.heads} heads, width {args.width}, "
          f"{sum(os.path.getsize(os.path.join(model, n)) for n in os.listdir(model)) / 1e9:.2f} GB; "
          f"{os.cpu_count()} cores; median of {args.repeats}")
    print(f"{'measure':52s} {'laminar':>10s} {'pytorch':>10s} {'ratio':>7s}")
    rows = [("load (page cache), s", laminar["load_s"], torch["load_s"]),
            ("seed extraction, s (baseline: full forward + hook)", laminar["seed_extract_s"], torch["seed_extract_s"]),
            ("seed extraction, s (baseline: also stops at block 5)", laminar["seed_extract_s"],
             torch["seed_extract_early_exit_s"])]
    for name, a, b in rows:
        print(f"{name:52s} {a:10.3f} {b:10.3f} {b / a:6.2f}x")
    for ours, base, base_logits in zip(laminar["full_forward"], torch["full_forward"], torch["full_forward_with_logits"]):
        shape = f"{ours['batch']}x{ours['length']}"
        print(f"{'full forward tokens/s, ' + shape + ' (both without logits)':52s} {ours['tokens_per_s']:10.0f} "
              f"{base['tokens_per_s']:10.0f} {ours['tokens_per_s'] / base['tokens_per_s']:6.2f}x")
        print(f"{'full forward tokens/s, ' + shape + ' (baseline with logits)':52s} {ours['tokens_per_s']:10.0f} "
              f"{base_logits['tokens_per_s']:10.0f} {ours['tokens_per_s'] / base_logits['tokens_per_s']:6.2f}x")
    print("ratio > 1: laminar faster. Targets: load <= 2 s, seed extraction <= 0.3 s, full forward >= 1.5x.")


if __name__ == "__main__":
    main()
