"""Run files of generated activations, as laminar's extract stage would leave them, for the
analysis benchmarks (no model could make 20,000 prompts' worth in seconds)."""
import os
import subprocess

import h5py
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("LAMINAR_BUILD_DIR", os.path.join(ROOT, "build"))
TEXT = h5py.string_dtype()  # variable-length UTF-8, as laminar writes strings


def write(path, words, categories, names, sets, contexts=None):
    """`words`, `categories`: one per row; `names`: category order; `sets`: {hook: (site, layer,
    [rows x dims] float32)}; `contexts`: each row's context (kept), or None."""
    n = len(words)
    with h5py.File(path, "w") as f:
        f.attrs["laminar_version"] = "bench"
        s = f.create_group("stimuli")
        s.attrs["contexts"] = "keep" if contexts is not None else "mean"
        s.create_dataset("text", data=[f"{w} ({i})" for i, w in enumerate(words)], dtype=TEXT)
        s.create_dataset("word", data=list(words), dtype=TEXT)
        s.create_dataset("category", data=list(categories), dtype=TEXT)
        s.create_dataset("category_names", data=list(names), dtype=TEXT)
        s["context"] = np.zeros(n, np.int32) if contexts is None else np.asarray(contexts, np.int32)
        ids = np.empty(n, dtype=object)
        ids[:] = [np.array([i], np.int32) for i in range(n)]
        s.create_dataset("token_ids", data=ids, dtype=h5py.vlen_dtype(np.int32))
        for key in ("position", "word_begin", "word_end"):
            s[key] = np.zeros(n, np.int32)
        for hook, (site, layer, data) in sets.items():
            ds = f.create_dataset(f"activations/m/{hook}", data=data)
            ds.attrs["layer"], ds.attrs["site"] = layer, site
        e = f.create_group("stages/extract")
        e.attrs["inputs_hash"], e.attrs["completed"] = "bench", "bench"


def stamp_as_extracted(run, yaml):
    """Marks the activations as the extraction of experiment `yaml` (what `--stage analyze`
    checks), with the hash laminar computes for it."""
    spec = subprocess.run([os.path.join(BUILD, "tools", "laminar_bench_spec_hash"), yaml], check=True,
                          capture_output=True, text=True).stdout.strip()
    with h5py.File(run, "a") as f:
        f["stages/extract"].attrs["spec_hash"] = spec


ANALYSIS_ONLY = """experiment: {name}
models: [{{id: m, backend: gpt2, path: /nonexistent}}]
stimuli: {{template: "{{word}}", categories: {{space: [a, b], fruit: [c, d], interior: [e, f]}}}}
analyze:
{analyses}
output: {out}
"""


def analyze(folder, name, words, categories, sets, contexts, analyses, laminar=None):
    """A run file of the given activations (write()), analysed by `laminar run --stage analyze`
    as if its extract stage had written them, with `analyses` (YAML list items) as the analyze
    section; returns it open for reading. The experiment's model and stimuli are placeholders:
    the analyze stage reads the stimuli from the run file."""
    run = os.path.join(folder, name + ".h5")
    write(run, words, categories, list(dict.fromkeys(categories)), sets, contexts)
    yaml = os.path.join(folder, name + ".yaml")
    with open(yaml, "w") as f:
        f.write(ANALYSIS_ONLY.format(name=name, analyses=analyses, out=run))
    stamp_as_extracted(run, yaml)
    r = subprocess.run([laminar or os.environ["LAMINAR_BIN"], "run", yaml, "--stage", "analyze", "--quiet"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return h5py.File(run, "r")
