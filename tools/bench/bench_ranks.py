#!/usr/bin/env python3
"""Benchmark of `mpirun -n N laminar run` (issue 12) on this machine, each stage timed on its
own (extract, then analyze), the least of --repeats runs:

  * as a user runs it: one process, then 1, 2 and 4 ranks (mpirun --oversubscribe --bind-to
    none), each with every core's threads. Ranks add no cores here: what this shows is their
    overhead, and what they gain where a process's own threads leave cores idle;
  * one thread per process (OMP_NUM_THREADS=1, OPENBLAS_NUM_THREADS=1): one process, then 2 and
    4 ranks. Here 2 ranks have a core each, so this shows how much of each stage the ranks divide
    (extraction by blocks of stimuli; each analysis by its sites, layers and permutation blocks).

It then checks the model of the README ("Past one machine") against those measurements, its
terms measured on their own in the same invocation:

    T(N) = L(N) + S max(1, N / C) + W_1 / min(N s_t, C) + M(N)

L(N): mpirun's start of N ranks (0 for one process); S: the serial part (process start, plugins,
loading the model on every rank, the run file's transaction), measured as the stage on one word
(extract) or beside the analyses' own times (analyze); W_t: the one-process time beyond S with t
threads, W_1 with one; s_t = W_1 / W_t, what a process gains from its t threads; C: cores;
M(N): rank 0's merge of N extraction shards, measured with `laminar merge` on shard files (0 for one process; an
analysis's gathering is part of its time). N ranks of t threads get min(N s_t, C) cores' worth
of work done at a time. On a cluster, a node per rank: T = L + S + W_t / N + M.

    tools/bench/bench_ranks.py [--words 200] [--contexts 6] [--layers 8] [--width 256] [--repeats 2]
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


def timed(cmd, cwd, env=ENV):
    t = time.perf_counter()
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return time.perf_counter() - t


def run(ranks, folder, out, repeats, env=ENV):
    """Seconds of each stage, the least of `repeats` runs (this machine is noisy): one process
    (ranks 0) or mpirun -n ranks."""
    best = None
    for _ in range(repeats):
        seconds = run_once(ranks, folder, out, env)
        best = seconds if best is None else {stage: min(best[stage], seconds[stage]) for stage in best}
    return best


def run_once(ranks, folder, out, env):
    launch = [BIN] if ranks == 0 else ["mpirun", "--oversubscribe", "--bind-to", "none", "-n", str(ranks), BIN]
    for f in os.listdir(folder):
        if f.startswith(out.replace(".h5", "")):
            path = os.path.join(folder, f)
            shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    return {stage: timed(launch + ["run", "exp.yaml", "--out", out, "--stage", stage, "--quiet"], folder, env)
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
    ap.add_argument("--words", type=int, default=200)
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

    one_thread = dict(ENV, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    modes = {cores: {0: run(0, folder, "one.h5", args.repeats)}, 1: {0: run(0, folder, "one-t1.h5", args.repeats, one_thread)}}
    for n in args.ranks:
        modes[cores][n] = run(n, folder, f"ranks{n}.h5", args.repeats)
    for n in [n for n in args.ranks if n > 1]:
        modes[1][n] = run(n, folder, f"ranks{n}-t1.h5", args.repeats, one_thread)
    moved = stage_bytes(os.path.join(folder, "one.h5"))
    for threads, times in modes.items():
        print(f"\n{threads} thread(s) per process" + f"{'':2}" + "".join(f"{('1 process' if n == 0 else f'{n} ranks'):>12}" for n in times))
        for stage in ("extract", "analyze"):
            print(f"{stage:23}" + "".join(f"{times[n][stage]:11.2f}s" for n in times))
            print(f"{'  ratio to 1 process':23}" + "".join(f"{times[0][stage] / times[n][stage]:11.2f}x" for n in times))
    print(f"bytes rank 0 receives: extract {moved['extract'] / 1e6:.1f} MB (activations, in shard files), "
          f"analyze up to {moved['analyze'] / 1e6:.2f} MB (results, replayed) and each permutation block's null (8 bytes a value)")

    # The model's terms, measured on their own.
    with open(os.path.join(folder, "one-word.csv"), "w") as f:
        f.write("word,category,text\nw0,a,\"The next word is w0\"\n")
    with open(os.path.join(folder, "exp.yaml")) as f:
        text = f.read()
    with open(os.path.join(folder, "fixed.yaml"), "w") as f:  # the same model and analyses on one word
        f.write(text.replace("stimuli.csv", "one-word.csv").replace("bootstrap: 200", "bootstrap: 0"))
    alone = timed([BIN, "--version"], folder)
    launch = {0: 0.0, **{n: timed(["mpirun", "--oversubscribe", "--bind-to", "none", "-n", str(n), BIN, "--version"], folder) - alone
                         for n in args.ranks}}
    merge = {n: timed_merge(n, folder) if n > 1 else 0.0 for n in [0] + args.ranks}
    for n in args.ranks:
        print(f"  mpirun's start of {n} rank(s): {launch[n]:.2f} s" + (f"; merge of {n} extraction shards: {merge[n]:.2f} s" if n > 1 else ""))
    serial, work = {}, {}
    for threads, times in modes.items():
        serial[threads], work[threads] = measure_terms(folder, ENV if threads == cores else one_thread, times[0],
                                                       "one.h5" if threads == cores else "one-t1.h5")
        print(f"model terms, {threads} thread(s) per process: extract S = {serial[threads]['extract']:.2f} s, "
              f"W = {work[threads]['extract']:.2f} s; analyze S = {serial[threads]['analyze']:.2f} s, W = {work[threads]['analyze']:.2f} s")
    for threads, times in modes.items():
        print(f"model against measurement, {threads} thread(s) per process:")
        for n in times:
            ranks = max(n, 1)
            predicted = {}
            for stage in serial[threads]:
                speedup = work[1][stage] / work[threads][stage]  # what one process gets from its threads
                predicted[stage] = (launch[n] + serial[threads][stage] * max(1.0, ranks / cores)
                                    + work[1][stage] / min(ranks * speedup, cores) + (merge[n] if stage == "extract" else 0.0))
            label = "1 process" if n == 0 else f"{n} ranks"
            print(f"  {label:>10}: " + ", ".join(f"{stage} measured {times[n][stage]:.2f} s, model {predicted[stage]:.2f} s "
                                                  f"({100 * (predicted[stage] - times[n][stage]) / times[n][stage]:+.0f} %)"
                                                  for stage in ("extract", "analyze")))
    print("the same terms on a cluster, a node per rank (T = L(N) + S + W_t / N + M(N)):")
    for n in [n for n in args.ranks if n > 1]:
        predicted = {stage: launch[n] + serial[cores][stage] + work[cores][stage] / n + (merge[n] if stage == "extract" else 0.0)
                     for stage in serial[cores]}
        print(f"  {n} nodes: " + ", ".join(f"{stage} {predicted[stage]:.2f} s ({modes[cores][0][stage] / predicted[stage]:.2f}x)"
                                           for stage in predicted))


def measure_terms(folder, env, one_process, run_file):
    """S and W of each stage for one process with `env`'s threads: S as the extraction of one
    word, and as the analysis stage's time beyond its analyses' own (from its log); W the rest of
    the one-process time."""
    serial = {"extract": timed([BIN, "run", "fixed.yaml", "--out", "fixed.h5", "--stage", "extract", "--quiet"], folder, env)}
    t = time.perf_counter()
    log = subprocess.run([BIN, "run", "exp.yaml", "--out", run_file, "--stage", "analyze", "--force"], cwd=folder, env=env,
                         capture_output=True, text=True, check=True).stdout
    logged = time.perf_counter() - t
    entries = [float(line.rsplit("(", 1)[1].split(" s)")[0]) for line in log.splitlines() if line.startswith("analyze: ") and "done (" in line]
    serial["analyze"] = logged - sum(entries)
    return serial, {stage: one_process[stage] - serial[stage] for stage in serial}


def timed_merge(n, folder):
    """rank 0's merge of n extraction shards, timed with `laminar merge` on shard files."""
    out = f"merged{n}.h5"
    for k in range(n):
        timed([BIN, "run", "exp.yaml", "--out", out, "--shard", f"{k}/{n}", "--quiet"], folder)
    seconds = timed([BIN, "merge", out], folder)
    os.remove(os.path.join(folder, out))
    return seconds


if __name__ == "__main__":
    main()
