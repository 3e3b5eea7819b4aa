#!/usr/bin/env python3
"""Benchmark of the sibling analyses (issue 11), `laminar run --stage analyze` against the
independent implementations the tests use, in this run, on this machine:

* CKA: a grid of L x L layers (default 24 x 24), N stimuli x 1,024 dims (default 1,000),
  linear biased CKA, against numpy (Kornblith et al.'s gram-based functions, a Gram matrix per
  layer computed once, as a careful user would);
* KSG mutual information between two spaces' similarities (N stimuli: N (N - 1) / 2 values),
  against scikit-learn's mutual_info_regression.

    tools/bench/bench_siblings.py [--stimuli 1000] [--layers 24] [--dims 1024]
"""
import argparse
import os
import subprocess
import sys
import time

import h5py
import numpy as np

import synthetic_run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LAMINAR_BUILD_DIR", os.path.join(ROOT, "build"))
sys.path.insert(0, os.path.join(ROOT, "tests", "metrics"))
import kornblith_cka as ref  # noqa: E402

EXPERIMENT = """experiment: bench-siblings
models: [{{id: m, backend: gpt2, path: /nonexistent}}]
stimuli: {{template: "{{word}}", categories: {{space: [a, b], interior: [c, d], fruit: [e, f]}}}}
analyze:
  - {{metric: {metric}}}
output: {out}
"""


def timed_analysis(run, metric, stamp=False):
    """Seconds of `laminar run --stage analyze` for one metric entry. The run file is stamped
    before laminar first writes it: a later change by another tool breaks its seal."""
    yaml = run.replace(".h5", f"-{metric.split(',')[0]}.yaml")
    with open(yaml, "w") as f:
        f.write(EXPERIMENT.format(metric=metric, out=run))
    if stamp:
        synthetic_run.stamp_as_extracted(run, yaml)
    t = time.perf_counter()
    subprocess.run([os.path.join(BUILD, "laminar"), "run", yaml, "--stage", "analyze", "--force", "--quiet"],
                   check=True, capture_output=True)
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stimuli", type=int, default=1000)
    ap.add_argument("--layers", type=int, default=24)
    ap.add_argument("--dims", type=int, default=1024)
    args = ap.parse_args()
    n, layers, d = args.stimuli, args.layers, args.dims
    rng = np.random.default_rng(0)
    labels = np.arange(n) % 3
    names = ["space", "interior", "fruit"]
    # A residual stream drifting over layers: each layer the previous plus new directions.
    x = rng.normal(size=(n, d)) + 0.5 * rng.normal(size=(3, d))[labels]
    sets = {}
    for layer in range(layers):
        x = x + 0.4 * rng.normal(size=(n, d))
        sets[f"blocks.{layer}.hook_resid_post"] = ("resid_post", layer, x.astype(np.float32))
    run = os.path.join(BUILD, "bench", f"siblings-{n}.h5")
    os.makedirs(os.path.dirname(run), exist_ok=True)
    synthetic_run.write(run, [f"w{i}" for i in range(n)], [names[c] for c in labels], names, sets)
    print(f"{n} stimuli x {d} dims, {layers} layers; {os.cpu_count()} cores")

    # The fixed cost of a laminar run on this file: process start, plugins, the run file's
    # transaction and seal; measured with an analysis of one small set.
    fixed = timed_analysis(run, "effective_dimensionality, sites: [blocks.0.hook_resid_post], shuffles: 0", stamp=True)
    print(f"fixed cost of a run (one-set analysis): {fixed:.2f} s")
    ours = timed_analysis(run, "cka, pairs: [[resid_post, resid_post]], grid: true, permutations: 0, bootstrap: 0")
    with h5py.File(run, "r") as f:
        grid = f["results/cka/m/resid_post/grid"][()]
        t = time.perf_counter()
        grams = [ref.center_gram(ref.gram_linear(f[f"activations/m/blocks.{l}.hook_resid_post"][()].astype(np.float64)))
                 for l in range(layers)]
        theirs = np.array([[a.ravel().dot(b.ravel()) / (np.linalg.norm(a) * np.linalg.norm(b)) for b in grams] for a in grams])
        numpy_s = time.perf_counter() - t
    print(f"CKA grid {layers} x {layers}: laminar {ours:.2f} s ({ours - fixed:.2f} s beyond the fixed cost), numpy "
          f"{numpy_s:.2f} s; ratio {numpy_s / ours:.2f}x ({numpy_s / (ours - fixed):.2f}x beyond the fixed cost); "
          f"largest difference {np.max(np.abs(grid - theirs)):.1e}")

    ours = timed_analysis(run, "mutual_information, pairs: [[blocks.0.hook_resid_post, blocks.1.hook_resid_post]], "
                               "estimators: [ksg], permutations: 0")
    from sklearn.feature_selection import mutual_info_regression
    with h5py.File(run, "r") as f:
        mi = f["results/mutual_information/m/blocks.0.hook_resid_post~blocks.1.hook_resid_post"].attrs["mi_ksg"]
        t = time.perf_counter()
        values = []
        for layer in (0, 1):
            a = f[f"activations/m/blocks.{layer}.hook_resid_post"][()].astype(np.float64)
            u = a / np.linalg.norm(a, axis=1, keepdims=True)
            values.append((u @ u.T)[np.triu_indices(n, 1)])
        sk = mutual_info_regression(values[0][:, None], values[1], n_neighbors=3, random_state=0)[0] / np.log(2)
        sklearn_s = time.perf_counter() - t
    print(f"KSG MI of {len(values[0])} similarity pairs: laminar {ours:.2f} s, scikit-learn {sklearn_s:.2f} s; "
          f"ratio {sklearn_s / ours:.2f}x ({sklearn_s / (ours - fixed):.2f}x beyond the fixed cost); {mi:.6f} vs {sk:.6f} bits")
    print("ratio > 1: laminar faster (its time includes process start, reading the run file and writing results).")


if __name__ == "__main__":
    main()
