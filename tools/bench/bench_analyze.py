#!/usr/bin/env python3
"""Benchmark of the analyze stage (issue 4): `laminar run --stage analyze` against numpy/scipy
doing the same work (tools/bench/numpy_analyze.py), in this run, on this machine.

The workload is the founding study's analysis for N stimuli x 1024 dims in 3 categories, sites
q and k: cosine matrices with histograms, selectivity with a label-permutation test, and RSA
(Pearson) with a Mantel test and a bootstrap CI. Run files are generated under build/bench/.

    tools/bench/bench_analyze.py [--sizes 34 1000 5000] [--permutations 10000] [--bootstrap 1000]
                                 [--numpy-budget 20000000000]

numpy's permutation loops are O(N^2) each; where its projected time exceeds the budget (in
element visits) it runs a fraction of the permutations and its time is scaled up linearly;
the output says so.
"""
import argparse
import json
import os
import subprocess
import time

import h5py
import numpy as np

import synthetic_run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LAMINAR_BUILD_DIR", os.path.join(ROOT, "build"))


def make_run_file(path, n, d=1024, seed=0):
    """A run file as the extract stage leaves it, with mildly category-structured q and k."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centres = rng.normal(size=(3, d))
    q = (rng.normal(size=(n, d)) + 0.3 * centres[labels]).astype(np.float32)
    k = (0.8 * q + 0.5 * rng.normal(size=(n, d))).astype(np.float32)
    names = ["space", "interior", "fruit"]
    synthetic_run.write(path, [f"w{i}" for i in range(n)], [names[c] for c in labels], names,
                        {f"blocks.5.attn.hook_{site}": (site, 5, data) for site, data in (("q", q), ("k", k))})


EXPERIMENT = """experiment: bench-analyze
models: [{{id: m, backend: gpt2, path: /nonexistent}}]
stimuli: {{template: "{{word}}", categories: {{space: [a, b], interior: [c, d], fruit: [e, f]}}}}
analyze:
  - {{metric: cosine, sites: [q, k], histogram: {{bins: 20}}}}
  - {{metric: selectivity, sites: [q, k], permutations: {p}, seed: 1}}
  - {{metric: rsa, pairs: [[q, k]], method: pearson, permutations: {p}, bootstrap: {b}, seed: 1}}
output: {out}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[34, 1000, 5000])
    ap.add_argument("--permutations", type=int, default=10000)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--numpy-budget", type=float, default=2e10)
    args = ap.parse_args()
    folder = os.path.join(BUILD, "bench")
    os.makedirs(folder, exist_ok=True)
    print(f"analyze stage, N x 1024, 3 categories, q and k; {args.permutations} permutations, "
          f"{args.bootstrap} bootstrap samples; {os.cpu_count()} cores")
    print(f"{'N':>6s} {'laminar s':>10s} {'numpy s':>10s} {'ratio':>7s}  note")
    for n in args.sizes:
        run = os.path.join(folder, f"analyze-{n}.h5")
        make_run_file(run, n)
        yaml = os.path.join(folder, f"analyze-{n}.yaml")
        with open(yaml, "w") as f:
            f.write(EXPERIMENT.format(p=args.permutations, b=args.bootstrap, out=run))
        synthetic_run.stamp_as_extracted(run, yaml)
        t = time.perf_counter()
        subprocess.run([os.path.join(BUILD, "laminar"), "run", yaml, "--stage", "analyze", "--force"],
                       check=True, capture_output=True)
        ours = time.perf_counter() - t
        # numpy: scale the permutation and bootstrap counts down when they would take too long.
        visits = n * n * (args.permutations * 1.5 + args.bootstrap)
        scale = min(1.0, args.numpy_budget / visits)
        p, b = max(1, int(args.permutations * scale)), max(1, int(args.bootstrap * scale))
        out = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "bench", "numpy_analyze.py"), run,
                              str(p), str(b)], check=True, capture_output=True, text=True)
        theirs = json.loads(out.stdout)["seconds"]
        note = ""
        if scale < 1:
            theirs *= args.permutations / p  # the permutation loops dominate: linear in their count
            note = f"numpy ran {p} permutations and {b} bootstrap samples, time scaled x{args.permutations / p:.0f}"
        print(f"{n:6d} {ours:10.2f} {theirs:10.2f} {theirs / ours:6.1f}x  {note}")
    print("ratio > 1: laminar faster (laminar's time includes process start and HDF5 writes).")


if __name__ == "__main__":
    main()
