#!/usr/bin/env python3
"""Benchmark of the study-design analyses (issue 10): crossnobis RDMs and noise ceilings with
words in many contexts, `laminar run --stage analyze` against numpy doing the same work
(tools/bench/numpy_designs.py), in this run, on this machine.

The workload: W words x C contexts x 1024 dims, sites q and k; the rsa metric with
`rdm: crossnobis`, `method: corr`, `noise_ceiling: true`, no permutations (their cost is
bench_analyze.py's). The two results are compared too: r and both ceilings must agree.

    tools/bench/bench_designs.py [--words 1000] [--contexts 20] [--dims 1024]
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


def make_run_file(path, words, contexts, d, seed=0):
    """A run file as `contexts: keep` extraction leaves it: a pattern per word and category, and
    context noise around it."""
    rng = np.random.default_rng(seed)
    labels = np.arange(words) % 3
    centres = rng.normal(size=(3, d))
    word = rng.normal(size=(words, d)) + 0.5 * centres[labels]
    q = (word[:, None] + rng.normal(size=(words, contexts, d))).reshape(words * contexts, d).astype(np.float32)
    k = (0.8 * q + 0.5 * rng.normal(size=q.shape)).astype(np.float32)
    names = ["space", "interior", "fruit"]
    rows = np.arange(words * contexts)
    synthetic_run.write(path, [f"w{i // contexts}" for i in rows], [names[labels[i // contexts]] for i in rows], names,
                        {f"blocks.5.attn.hook_{site}": (site, 5, data) for site, data in (("q", q), ("k", k))},
                        contexts=rows % contexts)


EXPERIMENT = """experiment: bench-designs
models: [{{id: m, backend: gpt2, path: /nonexistent}}]
stimuli: {{template: "{{word}}", categories: {{space: [a, b], interior: [c, d], fruit: [e, f]}}}}
analyze:
  - {{metric: rsa, pairs: [[q, k]], rdm: crossnobis, method: corr, noise_ceiling: true, permutations: 0, bootstrap: 0}}
output: {out}
"""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--words", type=int, default=1000)
    ap.add_argument("--contexts", type=int, default=20)
    ap.add_argument("--dims", type=int, default=1024)
    args = ap.parse_args()
    folder = os.path.join(BUILD, "bench")
    os.makedirs(folder, exist_ok=True)
    run = os.path.join(folder, f"designs-{args.words}x{args.contexts}.h5")
    make_run_file(run, args.words, args.contexts, args.dims)
    yaml = os.path.join(folder, "designs.yaml")
    with open(yaml, "w") as f:
        f.write(EXPERIMENT.format(out=run))
    synthetic_run.stamp_as_extracted(run, yaml)
    t = time.perf_counter()
    subprocess.run([os.path.join(BUILD, "laminar"), "run", yaml, "--stage", "analyze", "--force", "--quiet"],
                   check=True, capture_output=True)
    ours = time.perf_counter() - t
    out = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "bench", "numpy_designs.py"), run,
                          str(args.words), str(args.contexts)], check=True, capture_output=True, text=True)
    numpy = json.loads(out.stdout)
    with h5py.File(run, "r") as f:
        r = f["results/rsa/m/blocks.5.attn.hook_q~blocks.5.attn.hook_k"].attrs["r"]
        ceilings = {s: (f[f"results/rsa/m/blocks.5.attn.hook_{s}"].attrs["noise_ceiling_low"],
                        f[f"results/rsa/m/blocks.5.attn.hook_{s}"].attrs["noise_ceiling_high"]) for s in ("q", "k")}
    agree = abs(r - numpy["r"]) < 1e-9 and all(abs(a - b) < 1e-9 for s in ("q", "k")
                                               for a, b in zip(ceilings[s], numpy[s]["noise_ceiling"]))
    print(f"crossnobis RDMs (q, k), their RSA and both noise ceilings: {args.words} words x {args.contexts} "
          f"contexts x {args.dims} dims; {os.cpu_count()} cores")
    print(f"laminar {ours:.2f} s   numpy {numpy['seconds']:.2f} s   ratio {numpy['seconds'] / ours:.2f}x "
          f"(> 1: laminar faster; its time includes process start and reading 2 x {args.words * args.contexts} rows)")
    print(f"same numbers: {'yes' if agree else 'NO'} (r {r:.12f} vs {numpy['r']:.12f}; "
          f"q ceiling {ceilings['q'][0]:.6f}-{ceilings['q'][1]:.6f})")
    if not agree:
        raise SystemExit("laminar and numpy disagree")


if __name__ == "__main__":
    main()
