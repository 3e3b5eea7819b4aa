#!/usr/bin/env python3
"""Benchmark of the second wave's model families (issue 25): the seed's study as a whole process,
laminar against a PyTorch-eager process (torch_eager_families.py) in the same run, per family, at
a real model's shape with random weights that it generates once under build/bench/ (never committed).

    tools/bench/bench_families.py [--families gpt_neo,opt] [--repeats 3] [--small]

Per family: `laminar run seed.yaml --stage extract --force` (34 prompts "The next word is {word}",
attention q and k of block 5 at the last token) against `torch_eager_families.py seed` (load the
file widened to float32, run every layer over the prompts in equal-length batches, np.save q and
k of block 5). Both read the file from the page cache. Reports the ratio (PyTorch seconds /
laminar seconds, median of --repeats; target >= 5x), each process's peak RSS beside the file's
size, and whether laminar's q, k agree with PyTorch's within 1e-3 of their largest value (a
benchmark of a wrong forward pass is worthless). Both processes load libtorch (laminar's model
plugins link it; PyTorch is it), so no process that loads it can be faster than loading it: the
run also measures that load alone (dlopen of the libtorch_cpu laminar links, median of --repeats)
and prints each row's ceiling, PyTorch's seconds over that load: the ratio of a laminar that did
nothing else. For the small encoders it is below 5x. A family whose make_model module
(tools/families/<name>.py) or laminar plugin (`laminar plugins`) is missing is reported as skipped.

Shapes (from each model's Hub config.json). Files are kept under ~6 GB (a 24 GB machine:
make_model holds the float32 weights while it writes; PyTorch holds them widened to float32):
  gpt_neo    EleutherAI/gpt-neo-1.3B: 24 layers, width 2048, 16 heads, MLP 8192, window 256; F32 (5.3 GB)
  gptj       EleutherAI/gpt-j-6B: width 4096, 16 heads, rotary_dim 64, MLP 16384, vocabulary 50400;
             REDUCED to 12 of its 28 layers, BF16 (28 layers would be 12 GB in BF16, 24 GB in F32)
  opt        facebook/opt-1.3b: 24 layers, width 2048, 32 heads, ffn 8192; F32 (5.3 GB)
  phi        microsoft/phi-2: 32 layers, width 2560, 32 heads, MLP 10240, partial rotary 0.4; BF16 (5.6 GB)
  phi3       microsoft/Phi-3-mini-4k-instruct: width 3072, 32 heads, MLP 8192, vocabulary 32064;
             REDUCED to 24 of its 32 layers, BF16 (32 layers would be 7.6 GB)
  gemma      google/gemma-2b: 18 layers, width 2048, 8 heads, 1 key/value head, head_dim 256, MLP 16384; BF16
  gemma2     google/gemma-2-2b: 26 layers, width 2304, 8 heads, 4 key/value heads, head_dim 256, MLP 9216,
             query_pre_attn_scalar 256, soft-cap 50, sliding window 4096; BF16
  olmo2      allenai/OLMo-2-0425-1B: 16 layers, width 2048, 16 heads, MLP 8192, rope_theta 500000; BF16
  stablelm   stabilityai/stablelm-2-1_6b: 24 layers, width 2048, 32 heads, MLP 5632, partial rotary 0.25,
             q/k/v biases; BF16
  roberta    roberta-base: 12 layers, width 768, 12 heads, MLP 3072, 514 positions (make_model's --positions
             512: it adds padding_idx + 1); F32
  distilbert distilbert-base-uncased: 6 layers, width 768, 12 heads, MLP 3072, 512 positions; F32
The vocabulary (and so the embedding's size) is whatever the family's make_model module writes
with its tokenizer; the table prints each file's real size. --small shrinks every family to
8 layers, width 256, 4 heads, MLP 1024 for a smoke run.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile

from measure import timed_cpu

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LAMINAR_BUILD_DIR", os.path.join(ROOT, "build"))
PYTHON = "/usr/bin/python3"
LAMINAR = os.path.join(BUILD, "laminar")
WORDS = {"space": "galaxy asteroid comet cosmos space sun planet moon star orbit",
         "interior": "ceiling sofa couch carpet door window lamp chair table rug bed floor wall",
         "fruit": "pear grape banana cherry peach apple seed jelly orange lime fruit"}
TOLERANCE = 1e-3

# family (config.json model_type): make_model options of the real model's shape (see above)
FAMILIES = {
    "gpt_neo": "--layers 24 --heads 16 --width 2048 --positions 2048",
    "gptj": "--layers 12 --heads 16 --width 4096 --positions 2048 --dtype bf16 --set rotary_dim=64",
    "opt": "--layers 24 --heads 32 --width 2048 --mlp 8192 --positions 2048",
    "phi": "--layers 32 --heads 32 --width 2560 --mlp 10240 --positions 2048 --dtype bf16",
    "phi3": "--layers 24 --heads 32 --kv-heads 32 --width 3072 --mlp 8192 --positions 4096 --dtype bf16",
    "gemma": "--layers 18 --heads 8 --kv-heads 1 --width 2048 --mlp 16384 --positions 8192 --dtype bf16 --set head_dim=256",
    "gemma2": "--layers 26 --heads 8 --kv-heads 4 --width 2304 --mlp 9216 --positions 8192 --dtype bf16 "
              "--set head_dim=256 --set query_pre_attn_scalar=256",
    "olmo2": "--layers 16 --heads 16 --kv-heads 16 --width 2048 --mlp 8192 --positions 4096 --rope-theta 500000 --dtype bf16",
    "stablelm": "--layers 24 --heads 32 --kv-heads 32 --width 2048 --mlp 5632 --positions 4096 --dtype bf16",
    "roberta": "--layers 12 --heads 12 --width 768 --mlp 3072 --positions 512",  # config: 512 + 2 = 514
    "distilbert": "--layers 6 --heads 12 --width 768 --mlp 3072 --positions 512",
}
SMALL = {"--layers": "8", "--width": "256", "--heads": "4", "--mlp": "1024"}


def options(family, small):
    """make_model's options of the family, --small's shrunk (key/value heads at most the heads)."""
    opts = FAMILIES[family].split()
    if small:
        for i in range(0, len(opts) - 1):
            if opts[i] in SMALL:
                opts[i + 1] = SMALL[opts[i]]
            elif opts[i] == "--kv-heads":
                opts[i + 1] = str(min(int(opts[i + 1]), int(SMALL["--heads"])))
    return opts


def folder(family, opts):
    value = lambda key, default: opts[opts.index(key) + 1] if key in opts else default
    return os.path.join(BUILD, "bench", f"{family}-{value('--layers', '')}x{value('--width', '')}-"
                                        f"{value('--dtype', 'f32')}-random")


def plugins():
    """The model_types laminar's model plugins read (`laminar plugins`)."""
    out = subprocess.run([LAMINAR, "plugins"], check=True, capture_output=True, text=True).stdout
    return {t for m in re.finditer(r"\(config\.json model_type:([^)]*)\)", out) for t in m.group(1).split()}


def libtorch_load(repeats):
    """Seconds to load the libtorch_cpu that laminar's model plugins link (dlopen, static
    initialisers included), less a bare Python start: median of `repeats`; and its path. None
    when no model plugin is built or none links it."""
    here = os.path.join(BUILD, "plugins")
    for plugin in sorted(f for f in os.listdir(here) if f.startswith("laminar_model_")) if os.path.isdir(here) else []:
        ldd = subprocess.run(["ldd", os.path.join(here, plugin)], capture_output=True, text=True).stdout
        lib = next((line.split("=>")[1].split()[0] for line in ldd.splitlines() if "libtorch_cpu" in line and "=>" in line), None)
        if lib:
            load = f"import ctypes; ctypes.CDLL({lib!r}, mode=ctypes.RTLD_GLOBAL)"
            bare = statistics.median(timed_cpu([PYTHON, "-c", "pass"])[0] for _ in range(repeats))
            return max(1e-3, statistics.median(timed_cpu([PYTHON, "-c", load])[0] for _ in range(repeats)) - bare), lib
    return None, None


def made_families():
    """The families tools/make_model.py --family knows: the FAMILY of each tools/families/<name>.py
    (read, not imported, so that one module being written cannot hide the others)."""
    here, found = os.path.join(ROOT, "tools", "families"), set()
    for name in os.listdir(here):
        if name.endswith(".py"):
            with open(os.path.join(here, name)) as f:
                found.update(re.findall(r"^FAMILY\s*=\s*[\"']([^\"']+)[\"']", f.read(), re.M))
    return found


def experiment(model, tmp):
    categories = "\n".join(f"    {c}: [{', '.join(w.split())}]" for c, w in WORDS.items())
    yaml = os.path.join(tmp, "seed.yaml")
    with open(yaml, "w") as f:
        f.write(f"experiment: seed-families\nmodels:\n  - id: m\n    path: {model}\nstimuli:\n"
                f"  template: \"The next word is {{word}}\"\n  position: last\n  categories:\n{categories}\n"
                f"extract:\n  - extractor: attention\n    sites: [q, k]\n    layers: [5]\noutput: seed.h5\n")
    return yaml


AGREEMENT = """
import json, sys
import h5py, numpy as np
theirs = np.load(sys.argv[2]).astype(np.float64)
with h5py.File(sys.argv[1], "r") as f:
    q, k = (f[f"activations/m/blocks.5.attn.hook_{s}"][:].reshape(len(theirs), -1).astype(np.float64) for s in "qk")
if q.shape[1] + k.shape[1] != theirs.shape[1]:
    print(json.dumps([float("inf"), f"widths differ: laminar q {q.shape[1]} + k {k.shape[1]}, PyTorch {theirs.shape[1]}"]))
else:
    a, b = theirs[:, :q.shape[1]], theirs[:, q.shape[1]:]
    print(json.dumps([max(np.abs(q - a).max() / np.abs(a).max(), np.abs(k - b).max() / np.abs(b).max()), ""]))
"""


def agreement(run_file, npy):
    """max |laminar - PyTorch| / max |PyTorch| over q, and over k, of block 5, every stimulus (rows of
    the run file in stimulus order); h5py and numpy are the lab Python's (PYTHON)."""
    out = subprocess.run([PYTHON, "-c", AGREEMENT, run_file, npy], check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def bench(family, opts, repeats):
    model = folder(family, opts)
    if not os.path.exists(os.path.join(model, "config.json")):
        print(f"making {model} ...", file=sys.stderr)
        subprocess.run([PYTHON, os.path.join(ROOT, "tools", "make_model.py"), model, "--family", family, *opts], check=True)
    for name in os.listdir(model):  # both read the weights from the page cache
        with open(os.path.join(model, name), "rb") as f:
            while f.read(1 << 24):
                pass
    size = sum(os.path.getsize(os.path.join(model, n)) for n in os.listdir(model) if ".safetensors" in n) / 1e9
    tmp = tempfile.mkdtemp(prefix=f"laminar-bench-{family}-")
    yaml = experiment(model, tmp)
    texts = os.path.join(tmp, "texts.jsonl")
    with open(texts, "w") as f:
        f.write("".join(json.dumps(f"The next word is {w}") + "\n" for ws in WORDS.values() for w in ws.split()))
    ids = os.path.join(tmp, "ids.json")
    out = subprocess.run([LAMINAR, "tokenize", "--model", model, "--json", "--jsonl", texts], check=True,
                         capture_output=True, text=True).stdout
    with open(ids, "w") as f:
        json.dump([json.loads(l) for l in out.splitlines()], f)
    npy = os.path.join(tmp, "qk.npy")
    ours = [timed_cpu([LAMINAR, "run", yaml, "--stage", "extract", "--force"]) for _ in range(repeats)]
    theirs = [timed_cpu([PYTHON, os.path.join(ROOT, "tools", "bench", "torch_eager_families.py"), "seed", model, ids, npy])
              for _ in range(repeats)]
    worst, why = agreement(os.path.join(tmp, "seed.h5"), npy)
    median = lambda runs, i: statistics.median(r[i] for r in runs)
    return {"size": size, "ours": median(ours, 0), "theirs": median(theirs, 0), "our_cpu": median(ours, 3),
            "their_cpu": median(theirs, 3), "our_rss": max(r[1] for r in ours), "their_rss": max(r[1] for r in theirs),
            "worst": worst, "why": why, "shape": " ".join(opts)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--families", default=",".join(FAMILIES), help="comma-separated (default: all)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--small", action="store_true", help="every family at 8 layers, width 256 (a smoke run)")
    args = ap.parse_args()
    chosen = [f for f in args.families.split(",") if f]
    unknown = [f for f in chosen if f not in FAMILIES]
    if unknown:
        ap.error(f"--families: no row for {', '.join(unknown)} (known: {', '.join(FAMILIES)})")

    readable, makeable = plugins(), made_families()
    floor, lib = libtorch_load(args.repeats)
    rows = {}
    for family in chosen:
        if family not in makeable:
            rows[family] = f"skipped: tools/make_model.py has no --family {family} (tools/families/{family}.py)"
        elif family not in readable:
            rows[family] = f"skipped: no laminar model plugin reads model_type {family} (laminar plugins)"
        else:
            rows[family] = bench(family, options(family, args.small), args.repeats)

    print(f"seed study (34 prompts, q and k of block 5), whole process, s; {os.cpu_count()} cores; "
          f"median of {args.repeats}{'; --small shapes' if args.small else ''}")
    print(f"{'family':11s} {'file GB':>8s} {'laminar s':>10s} {'pytorch s':>10s} {'ratio':>7s} {'cpu ratio':>10s} "
          f"{'ceiling':>8s} {'RSS GB lam':>11s} {'RSS GB pt':>10s}  agreement (max |diff| / max |value|)")
    failed = False
    for family, r in rows.items():
        if isinstance(r, str):
            print(f"{family:11s} {r}")
            continue
        ok = r["worst"] <= TOLERANCE
        failed |= not ok
        check = f"{r['worst']:.1e} {'ok' if ok else 'DISAGREE'}" + (f" ({r['why']})" if r["why"] else "")
        ceiling = f"{r['theirs'] / floor:.1f}x" if floor else "?"
        print(f"{family:11s} {r['size']:8.2f} {r['ours']:10.2f} {r['theirs']:10.2f} {r['theirs'] / r['ours']:6.2f}x "
              f"{r['their_cpu'] / r['our_cpu']:9.2f}x {ceiling:>8s} {r['our_rss']:11.2f} {r['their_rss']:10.2f}  {check}")
    print(f"ratio: PyTorch seconds / laminar seconds, wall clock (target >= 5x); cpu ratio: the same of CPU seconds "
          f"(user + system; less disturbed by other processes on the cores); ceiling: PyTorch seconds / "
          f"{f'{floor:.2f} s, the time to load {lib} alone' if floor else 'the time to load libtorch alone (no model plugin links it)'}, "
          f"which both processes pay (the best ratio a process that loads libtorch can reach); "
          f"agreement within {TOLERANCE:g} of the largest value.")
    for family, r in rows.items():
        if not isinstance(r, str):
            print(f"  {family}: make_model {r['shape']}")
    if failed:
        raise SystemExit("bench_families.py: laminar and PyTorch disagree (see agreement): these timings measure a wrong pass")


if __name__ == "__main__":
    main()
