#!/usr/bin/env python3
"""Benchmark of the analyze stage (issues 4, 29): `laminar run --stage analyze --profile` against
numpy/scipy computing every number it writes (tools/bench/numpy_analyze.py), in this run, on this
machine; the two are checked to agree, and each statistic's time is set beside numpy's.

The workload is the founding study's analysis for N stimuli x 1024 dims in 3 categories, sites
q and k (with --pairs P, P layers of them): cosine matrices with histograms, selectivity with its
label-permutation null, and RSA (Pearson) with a Mantel test and a bootstrap interval, overall and
within each category, Holm-corrected. Run files are generated under build/bench/.

    tools/bench/bench_analyze.py [--sizes 1000] [--pairs 1] [--permutations 10000] [--bootstrap 1000]
                                 [--numpy-budget 600]

numpy's loops are run in full where its projected time is within the budget (seconds); beyond it
numpy runs a fraction of the permutations and bootstrap samples, and each statistic's time is
scaled up by its own fraction (the output says so; the agreement is then checked at that count).
The Mantel null is also set against the machine's limit for its reads (tools/bench/bench_gather.cpp).
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
NAMES = ["space", "interior", "fruit"]


def make_run_file(path, n, pairs, d=1024, seed=0):
    """A run file as the extract stage leaves it: q and k at `pairs` layers, category-structured,
    sharing a direction as transformer activations do (a mean cosine well above 0)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    centres, common = rng.normal(size=(3, d)), rng.normal(size=d)
    sets = {}
    for layer in range(pairs):
        q = rng.normal(size=(n, d)) + 0.4 * centres[labels] + 0.5 * common
        k = 0.8 * q + 0.5 * rng.normal(size=(n, d))
        for site, data in (("q", q), ("k", k)):
            sets[f"blocks.{layer}.attn.hook_{site}"] = (site, layer, data.astype(np.float32))
    synthetic_run.write(path, [f"w{i}" for i in range(n)], [NAMES[c] for c in labels], NAMES, sets)


EXPERIMENT = """experiment: bench-analyze
models: [{{id: m, backend: gpt2, path: /nonexistent}}]
stimuli: {{template: "{{word}}", categories: {{space: [a, b], interior: [c, d], fruit: [e, f]}}}}
analyze:
  - {{metric: cosine, sites: [q, k], histogram: {{bins: 20}}}}
  - {{metric: selectivity, sites: [q, k], permutations: {p}, seed: 1}}
  - {{metric: rsa, pairs: [[q, k]], method: pearson, permutations: {p}, bootstrap: {b}, seed: 1}}
output: {out}
"""

OTHERS = """experiment: bench-analyze-others
models: [{{id: m, backend: gpt2, path: /nonexistent}}]
stimuli: {{template: "{{word}}", categories: {{space: [a, b], interior: [c, d], fruit: [e, f]}}}}
analyze:
  - {{metric: cka, pairs: [[q, k]], permutations: {p}, seed: 1}}
  - {{metric: mutual_information, pairs: [[q, k]], estimators: [binned], permutations: {p}, seed: 1}}
output: {out}
"""

PER_PERMUTATION = {"selectivity null", "mantel null", "mantel null (within categories)", "cka null", "mi null",
                   "fastest numpy: mantel null", "fastest numpy: mantel null (within categories)"}
TENTH = {"fastest numpy: mantel null", "fastest numpy: mantel null (within categories)"}  # timed on a tenth
PER_SAMPLE = {"bootstrap", "bootstrap (within categories)"}


def check(name, ours, theirs, tolerance, failures):
    if not np.all(np.abs(np.asarray(ours, float) - np.asarray(theirs, float)) <= tolerance):
        failures.append(f"{name}: laminar {ours} numpy {theirs} (tolerance {tolerance})")


def agreement(run, numpy_results, permutations, numpy_permutations, samples, numpy_samples):
    """Deterministic numbers to 1e-9; p-values, null moments and intervals within 5 Monte Carlo SDs."""
    failures = []
    with h5py.File(run, "r") as f:
        for site, ref in numpy_results["cosine"].items():
            g = f[f"results/cosine/m/blocks.0.attn.hook_{site}"]
            for key in ("mean_all", "mean_within", "mean_between"):
                check(f"cosine {site} {key}", g.attrs[key], ref[key], 1e-9, failures)
            total = np.sum(ref["histogram_all"])
            for part in ("all", "within", "between"):  # a value on a bin edge may fall either side
                check(f"cosine {site} histogram {part}", g[f"histogram/{part}"][()], ref[f"histogram_{part}"], 1e-5 * total + 1, failures)
        for site, ref in numpy_results["selectivity"].items():
            g = f[f"results/selectivity/m/blocks.0.attn.hook_{site}"]
            for key in ("index", "mean_within", "mean_between", "ill_conditioned"):
                check(f"selectivity {site} {key}", g.attrs[key], ref[key], 1e-9 * max(1, abs(ref[key])), failures)
            check(f"selectivity {site} block_means", g["block_means"][()], ref["block_means"], 1e-9, failures)
            check(f"selectivity {site} per_category", g["per_category"][()], ref["per_category"], 1e-9 * np.abs(ref["per_category"]).max(), failures)
            sd = ref["null_sd"]
            check(f"selectivity {site} null_mean", g.attrs["null_mean"], ref["null_mean"], 5 * sd * np.sqrt(1 / permutations + 1 / numpy_permutations), failures)
            check(f"selectivity {site} null_sd", g.attrs["null_sd"], sd, 5 * sd * np.sqrt(0.5 / numpy_permutations + 0.5 / permutations) + 1e-12, failures)
            p_tolerance = lambda p: 5 * np.sqrt(p * (1 - p) * (1 / permutations + 1 / numpy_permutations)) + 1 / numpy_permutations + 1 / permutations
            check(f"selectivity {site} p_value", g.attrs["p_value"], ref["p_value"], p_tolerance(ref["p_value"]), failures)
            for c, p in enumerate(ref["per_category_p"]):
                check(f"selectivity {site} per_category_p[{c}]", g["per_category_p"][c], p, p_tolerance(p), failures)
        for pair, ref in numpy_results["rsa"].items():
            g = f[f"results/rsa/m/blocks.0.attn.hook_q~blocks.0.attn.hook_k"]
            for where, r, h in [("", ref, g)] + [(f" {c}", ref["categories"][c], g[f"categories/{c}"]) for c in NAMES]:
                check(f"rsa{where} r", h.attrs["r"], r["r"], 1e-9, failures)
                check(f"rsa{where} n_pairs", h.attrs["n_pairs"], r["n_pairs"], 0, failures)
                sd = r["null_sd"]
                check(f"rsa{where} null_mean", h.attrs["null_mean"], r["null_mean"], 5 * sd * np.sqrt(1 / permutations + 1 / numpy_permutations), failures)
                check(f"rsa{where} null_sd", h.attrs["null_sd"], sd, 5 * sd * np.sqrt(0.5 / numpy_permutations + 0.5 / permutations), failures)
                check(f"rsa{where} p_value", h.attrs["p_value"], r["p_value"], 1 / numpy_permutations + 1 / permutations, failures)
                width = r["ci_high"] - r["ci_low"]  # a 2.5 % quantile of B samples: SD about 0.085 / sqrt(B / 1000) of the bootstrap SD
                for key in ("ci_low", "ci_high"):
                    check(f"rsa{where} {key}", h.attrs[key], r[key], 5 * 0.085 * width / 3.92 * np.sqrt(1000 / samples + 1000 / numpy_samples), failures)
    return failures


def agreement_others(run, ref, permutations, numpy_permutations, failures):
    """CKA and MI: values to 1e-9 (MI 1e-6: a similarity on a bin edge may fall either side), tests within 5 SDs."""
    with h5py.File(run, "r") as f:
        for metric, values in (("cka", ("cka", "cka_unbiased", "ci_se")), ("mutual_information", ("mi_binned",))):
            g, r = f[f"results/{metric}/m/blocks.0.attn.hook_q~blocks.0.attn.hook_k"], ref[metric]
            for key in values:
                check(f"{metric} {key}", g.attrs[key], r[key], (1e-6 if metric == "mutual_information" else 1e-9) * max(1, abs(r[key])), failures)
            sd = r["null_sd"]
            check(f"{metric} null_mean", g.attrs["null_mean"], r["null_mean"], 5 * sd * np.sqrt(1 / permutations + 1 / numpy_permutations), failures)
            check(f"{metric} null_sd", g.attrs["null_sd"], sd, 5 * sd * np.sqrt(0.5 / numpy_permutations + 0.5 / permutations), failures)
            check(f"{metric} p_value", g.attrs["p_value"], r["p_value"], 1 / numpy_permutations + 1 / permutations, failures)


def run_laminar(folder, name, text, run):
    """`laminar run --stage analyze --force --profile` of experiment `text` on `run`: seconds, profile."""
    yaml = os.path.join(folder, name + ".yaml")
    with open(yaml, "w") as f:
        f.write(text)
    synthetic_run.stamp_as_extracted(run, yaml)
    profile_file = os.path.join(folder, name + "-profile.json")
    t = time.perf_counter()
    subprocess.run([os.path.join(BUILD, "laminar"), "run", yaml, "--stage", "analyze", "--force", "--quiet",
                    "--profile", profile_file], check=True, capture_output=True)
    seconds = time.perf_counter() - t
    with open(profile_file) as f:
        return seconds, json.load(f)["analyses"]


def run_numpy(run, p, b, scale_p, scale_b, others=False):
    """numpy_analyze.py: its results, and each statistic's seconds scaled to the full counts."""
    out = subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "bench", "numpy_analyze.py"), run, str(p), str(b)]
                         + (["--others"] if others else []), check=True, capture_output=True, text=True)
    theirs = json.loads(out.stdout)
    seconds = dict(theirs["statistics"])
    for name in seconds:
        seconds[name] *= scale_p if name in PER_PERMUTATION and name != "mi null" else scale_b if name in PER_SAMPLE or name == "mi null" else 1
        if name in TENTH:
            seconds[name] *= p / max(1, p // 10)
    unmeasured = theirs["seconds"] - sum(theirs["statistics"].values())  # reading, drawing
    fastest = dict(seconds)  # numpy with its fastest Mantel null
    for name in TENTH:
        if name in fastest:
            fastest[name[len("fastest numpy: "):]] = fastest.pop(name)
            seconds.pop(name)
    return theirs["results"], seconds, sum(seconds.values()) + unmeasured, sum(fastest.values()) + unmeasured


def print_profile(profile, numpy_seconds):
    print(f"  {'analysis':12s} {'statistic':32s} {'laminar s':>10s} {'numpy s':>9s} {'ratio':>7s}  busy s per thread")
    for a in profile:
        for s in a["statistics"]:
            theirs_s = numpy_seconds.get(s["name"], float("nan"))
            if s["name"] == "similarity" and a["name"] == "selectivity":
                theirs_s = float("nan")  # numpy computes the matrices once, under cosine
            busy = " ".join(f"{x:.2f}" for x in s["busy_s"]) if any(s["busy_s"]) else "(no parallel loop: one thread, or BLAS's)"
            print(f"  {a['name']:12s} {s['name']:32s} {s['wall_s']:10.3f} {theirs_s:9.2f} {theirs_s / s['wall_s']:6.1f}x  {busy}")
        rest = a["wall_s"] - sum(s["wall_s"] for s in a["statistics"])
        print(f"  {a['name']:12s} {'(the rest)':32s} {rest:10.3f}")


def gather_limit(n, stored_bytes):
    """The machine's limit for the Mantel null's reads (bench_gather.cpp): per pair, a value of a
    triangle of `stored_bytes` streamed and one gathered."""
    out = subprocess.run([os.path.join(BUILD, "tools", "laminar_bench_gather"), str(n), str(stored_bytes)], check=True,
                         capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000])
    ap.add_argument("--pairs", type=int, default=1, help="layers of q and k (the RSA pairs)")
    ap.add_argument("--permutations", type=int, default=10000)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--numpy-budget", type=float, default=600, help="seconds numpy may take per size")
    ap.add_argument("--others", action="store_true", help="also cka and mutual_information, a tenth of the permutations")
    args = ap.parse_args()
    folder = os.path.join(BUILD, "bench")
    os.makedirs(folder, exist_ok=True)
    print(f"analyze stage, N x 1024, 3 categories, q and k at {args.pairs} layer(s); {args.permutations} permutations, "
          f"{args.bootstrap} bootstrap samples; {os.cpu_count()} cores")
    for n in args.sizes:
        run = os.path.join(folder, f"analyze-{n}.h5")
        make_run_file(run, n, args.pairs)
        ours, profile = run_laminar(folder, f"analyze-{n}", EXPERIMENT.format(p=args.permutations, b=args.bootstrap, out=run), run)
        # numpy: a fraction of the loops where the whole would exceed the budget (measured at 1,000
        # words: 8 ms a relabelling, a third more within categories, 20 ms a bootstrap sample; N^2).
        unit = 1e-3 * (n / 1000) ** 2
        projected = unit * (args.permutations * 11 + args.bootstrap * 23)
        scale = min(1.0, args.numpy_budget / projected)
        p, b = max(20, int(args.permutations * scale)), max(10, int(args.bootstrap * scale))
        results, numpy_seconds, numpy_total, fastest_total = run_numpy(run, p, b, args.permutations / p, args.bootstrap / b)
        if args.pairs > 1:  # numpy computes the first layer's; the others cost the same
            numpy_seconds = {name: t * args.pairs for name, t in numpy_seconds.items()}
            numpy_total *= args.pairs
            fastest_total *= args.pairs
        failures = agreement(run, results, args.permutations, p, args.bootstrap, b)
        print(f"\nN = {n}: laminar {ours:.2f} s (whole process), numpy {numpy_total:.1f} s: {numpy_total / ours:.1f}x"
              + (f"  (numpy ran {p} permutations and {b} bootstrap samples, each statistic's time scaled up)" if scale < 1 else ""))
        print(f"  numpy with the fastest Mantel null we found (take + vdot): {fastest_total:.1f} s: {fastest_total / ours:.1f}x")
        print("  agreement: " + ("every number within its tolerance" if not failures else f"{len(failures)} FAILED:\n    " + "\n    ".join(failures)))
        print_profile(profile, numpy_seconds)
        mantel = next(s for a in profile if a["name"] == "rsa" for s in a["statistics"] if s["name"] == "mantel null")
        m = n * (n - 1) // 2
        limit = gather_limit(n, 4 * m)  # rsa's triangle as floats (as stored where they suffice, permuted_sums.hpp)
        floor = m * args.permutations / limit["stream_gather_per_s"]
        print(f"  Mantel null against the machine's limit (bench_gather, {limit['threads']} threads): {m * args.permutations:.3g} "
              f"pairs; memory stream {limit['stream_GBps']:.1f} GB/s, gathers alone {limit['gather_per_s'] / 1e9:.2f} G/s, "
              f"a gather beside a value streamed from the {4 * m / 2**20:.0f} MiB triangle {limit['stream_gather_per_s'] / 1e9:.2f} "
              f"G/s = {floor:.2f} s; laminar {mantel['wall_s']:.2f} s, {mantel['wall_s'] / floor:.2f}x the limit")
        if args.others:  # CKA's and MI's permutation nulls (and CKA's jackknife), each against numpy's
            op = args.permutations // 10
            run = os.path.join(folder, f"analyze-others-{n}.h5")  # the same activations, unsealed
            make_run_file(run, n, args.pairs)
            ours, profile = run_laminar(folder, f"analyze-others-{n}", OTHERS.format(p=op, out=run), run)
            p = max(20, int(op * scale))
            results, numpy_seconds, numpy_total, _ = run_numpy(run, p, p, op / p, op / p, others=True)
            failures = []
            agreement_others(run, results, op, p, failures)
            print(f"\nN = {n}, cka and mutual_information (binned) of q~k, {op} permutations each: laminar {ours:.2f} s, "
                  f"numpy {numpy_total:.1f} s: {numpy_total / ours:.1f}x")
            print("  agreement: " + ("every number within its tolerance" if not failures else f"{len(failures)} FAILED:\n    " + "\n    ".join(failures)))
            print_profile(profile, numpy_seconds)
    print("\nratio > 1: laminar faster (laminar's total includes process start and HDF5 writes).")


if __name__ == "__main__":
    main()
