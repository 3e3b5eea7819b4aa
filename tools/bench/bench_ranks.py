#!/usr/bin/env python3
"""Benchmark of `mpirun -n N laminar run` (issue 12) on this machine: one process, then 1, 2 and 4
ranks (mpirun --oversubscribe --bind-to none), each stage timed on its own (extract, then
analyze), with the bytes each stage moves through shard files. The ranks share this machine's
cores, so what it shows is the overhead of splitting (and, up to the core count, the speed-up),
not a cluster's speed-up. It then checks the model of the README ("Past one machine") against
those measurements, its terms measured on their own in the same invocation:

    this machine:  T(N) = L(N) + S max(1, N / C) + W + M(N)
    a cluster:     T(N) = L(N) + S + W / N + M(N)      (analyze: the busiest rank's analyses for W / N)

L(N): mpirun's start of N ranks (0 for one process);
S: the serial part (process start, plugins, loading the model on every rank, the run file's
transaction), measured as the stage on one word (extract) or beside the analyses' own times
(analyze); W: the one-process time beyond S; C: cores (one process already keeps them busy, so N
ranks on one machine divide no work); M(N): rank 0's merge of N shards, measured with `laminar
merge` on shard files (0 for one process).

    tools/bench/bench_ranks.py [--words 300] [--contexts 6] [--layers 8] [--width 256] [--repeats 2]
"""
import argparse
import os
import shutil
import subprocess
import sys
import time

import h5py

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LAMINAR_BUILD_DIR", os.path.join(ROOT, "build"))
BIN = os.path.join(BUILD, "laminar")
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")

EXPERIMENT = """experiment: bench-ranks
models:
  - {{id: m, backend: gpt2, path: model}}
stimuli:
  file: stimuli.csv
  contexts: keep
extract:
  - {{extractor: attention, sites: [q, k], layers: all}}
  - {{extractor: residual, layers: all}}
analyze:
  - {{metric: rsa, pairs: [[q, k]], permutations: {permutations}, bootstrap: 200, seed: 1}}
  - {{metric: cka, pairs: [[resid_post, q]], permutations: 200, bootstrap: 0, seed: 2}}
  - {{metric: effective_dimensionality, sites: [resid_post], shuffles: 20}}
  - {{metric: selectivity}}
output: run.h5
"""
CONTEXTS = ["The next word is {word}", "I thought about the {word}", "She wrote {word} on the board",
            "Nobody mentioned the {word} again", "A {word} was all they found", "We talked about {word} for hours"]


def timed(cmd, cwd):
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return time.perf_counter() - t


def run(ranks, folder, out, repeats):
    """Seconds of each stage, the least of `repeats` runs (this machine is noisy): one process
    (ranks 0) or mpirun -n ranks."""
    best = None
    for _ in range(repeats):
        seconds = run_once(ranks, folder, out)
        best = seconds if best is None else {stage: min(best[stage], seconds[stage]) for stage in best}
    return best


def run_once(ranks, folder, out):
    launch = [BIN] if ranks == 0 else ["mpirun", "--oversubscribe", "--bind-to", "none", "-n", str(ranks), BIN]
    for f in os.listdir(folder):
        if f.startswith(out.replace(".h5", "")):
            path = os.path.join(folder, f)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    return {stage: timed(launch + ["run", "exp.yaml", "--out", out, "--stage", stage, "--quiet"], folder)
            for stage in ("extract", "analyze")}


def stage_bytes(path):
    """Bytes of what each stage's shards carry to rank 0: the activations, the results."""
    sizes = {"extract": 0, "analyze": 0}
    with h5py.File(path, "r") as f:
        def add(name, obj):
            if isinstance(obj, h5py.Dataset):
                stage = "extract" if name.startswith(("activations", "stimuli")) else "analyze" if name.startswith("results") else None
                if stage:
                    sizes[stage] += obj.id.get_storage_size()
        f.visititems(add)
    return sizes


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--words", type=int, default=300)
    ap.add_argument("--contexts", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--width", type=int, default=256)
    ap.add_argument("--permutations", type=int, default=2000)
    ap.add_argument("--ranks", type=int, nargs="+", default=[1, 2, 4])
    args = ap.parse_args()
    if not shutil.which("mpirun") or "with MPI" not in subprocess.run([BIN, "--version"], capture_output=True, text=True).stdout:
        raise SystemExit("bench_ranks: needs mpirun and a laminar built with MPI")
    folder = os.path.join(BUILD, "bench", "ranks")
    os.makedirs(folder, exist_ok=True)
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_model.py"), os.path.join(folder, "model"), "--layers",
                    str(args.layers), "--heads", "4", "--width", str(args.width), "--seed", "1"], check=True, capture_output=True)
    with open(os.path.join(folder, "stimuli.csv"), "w") as f:
        f.write("word,category,text\n")
        for i in range(args.words):
            for c in CONTEXTS[:args.contexts]:
                f.write(f"w{i},{'abc'[i % 3]},\"{c}\"\n".replace("{word}", f"w{i}"))
    with open(os.path.join(folder, "exp.yaml"), "w") as f:
        f.write(EXPERIMENT.format(permutations=args.permutations))
    cores = os.cpu_count()
    print(f"{args.words} words x {args.contexts} contexts, gpt2 {args.layers} layers x {args.width}; {cores} cores")

    times = {0: run(0, folder, "one.h5", args.repeats)}
    for n in args.ranks:
        times[n] = run(n, folder, f"ranks{n}.h5", args.repeats)
    moved = stage_bytes(os.path.join(folder, "one.h5"))

    print(f"\n{'':12}" + "".join(f"{('1 process' if n == 0 else f'{n} ranks'):>12}" for n in times))
    for stage in ("extract", "analyze"):
        print(f"{stage:12}" + "".join(f"{times[n][stage]:11.2f}s" for n in times))
        print(f"{'  ratio':12}" + "".join(f"{times[0][stage] / times[n][stage]:11.2f}x" for n in times))
    print(f"bytes merged by rank 0: extract {moved['extract'] / 1e6:.1f} MB, analyze {moved['analyze'] / 1e6:.2f} MB")

    # The model's terms, measured on their own.
    with open(os.path.join(folder, "one-word.csv"), "w") as f:
        f.write("word,category,text\nw0,a,\"The next word is w0\"\n")
    with open(os.path.join(folder, "exp.yaml")) as f:
        text = f.read()
    with open(os.path.join(folder, "fixed.yaml"), "w") as f:  # the same model and analyses on one word
        f.write(text.replace("stimuli.csv", "one-word.csv").replace("bootstrap: 200", "bootstrap: 0"))
    serial = {"extract": timed([BIN, "run", "fixed.yaml", "--out", "fixed.h5", "--stage", "extract", "--quiet"], folder)}
    # The analyses' own times and the stage's, from one run: the rest is the stage's serial part.
    t = time.perf_counter()
    log = subprocess.run([BIN, "run", "exp.yaml", "--out", "one.h5", "--stage", "analyze", "--force"], cwd=folder, env=ENV,
                         capture_output=True, text=True, check=True).stdout
    logged = time.perf_counter() - t
    entries = [float(line.rsplit("(", 1)[1].split(" s)")[0]) for line in log.splitlines() if line.startswith("analyze: ") and "done (" in line]
    serial["analyze"] = logged - sum(entries)
    merge = {0: {"extract": 0.0, "analyze": 0.0}, 1: {"extract": 0.0, "analyze": 0.0}}
    for n in [n for n in args.ranks if n > 1]:
        merge[n] = {}
        for stage in ("extract", "analyze"):
            out = f"merged{n}.h5"
            if stage == "analyze":  # the analyses' shards need the extraction merged first
                shutil.copy(os.path.join(folder, "one.h5"), os.path.join(folder, out))
            for k in range(n):
                timed([BIN, "run", "exp.yaml", "--out", out, "--shard", f"{k}/{n}", "--quiet"], folder)
            merge[n][stage] = timed([BIN, "merge", out], folder)
            if stage == "extract":
                os.remove(os.path.join(folder, out))
    work = {stage: times[0][stage] - serial[stage] for stage in serial}
    # Starting N ranks: mpirun's own cost beyond starting laminar once.
    alone = timed([BIN, "--version"], folder)
    launch = {0: 0.0, **{n: timed(["mpirun", "--oversubscribe", "--bind-to", "none", "-n", str(n), BIN, "--version"], folder) - alone
                         for n in args.ranks}}
    print(f"\nmodel terms: extract S = {serial['extract']:.2f} s, W = {work['extract']:.2f} s; "
          f"analyze S = {serial['analyze']:.2f} s, analyses " + ", ".join(f"{e:.2f}" for e in entries) + " s")
    for n in args.ranks:
        print(f"  mpirun's start of {n} rank(s): {launch[n]:.2f} s")
    for n in [n for n in args.ranks if n > 1]:
        print(f"  merge of {n} shards: extract {merge[n]['extract']:.2f} s, analyze {merge[n]['analyze']:.2f} s")
    # On this machine one process already keeps every core busy (libtorch's and the metrics'
    # threads): N ranks add no cores, only their serial parts, which share the cores too. On a
    # cluster each rank has a node: the work divides, by blocks of stimuli or whole analyses.
    print("model against measurement (this machine: T = L(N) + S max(1, N/C) + W + M(N)):")
    for n in times:
        ranks = max(n, 1)
        shared = max(1.0, ranks / cores)
        predicted = {stage: launch[n] + serial[stage] * shared + work[stage] + merge[n][stage] for stage in serial}
        label = "1 process" if n == 0 else f"{n} ranks"
        print(f"  {label:>10}: " + ", ".join(f"{stage} measured {times[n][stage]:.2f} s, model {predicted[stage]:.2f} s "
                                              f"({100 * (predicted[stage] - times[n][stage]) / times[n][stage]:+.0f} %)"
                                              for stage in ("extract", "analyze")))
    print("the same terms on a cluster, a node per rank (T = L(N) + S + W / N or the busiest rank's analyses + M(N)):")
    for n in [n for n in args.ranks if n > 1]:
        extract = launch[n] + serial["extract"] + work["extract"] / n + merge[n]["extract"]
        analyze = launch[n] + serial["analyze"] + max(sum(entries[i::n]) for i in range(n)) + merge[n]["analyze"]
        print(f"  {n} nodes: extract {extract:.2f} s ({times[0]['extract'] / extract:.2f}x), "
              f"analyze {analyze:.2f} s ({times[0]['analyze'] / analyze:.2f}x)")


if __name__ == "__main__":
    main()
