"""Benchmark of the encoding and decoding metrics against scikit-learn doing the same work in the
same run (issue 26): generated activations (layers x words x dims, a planted linear read-out
onto the targets, three categories) analysed by `laminar run --stage analyze`, and the same
numbers computed with RidgeCV(alphas, alpha_per_target=True) and StandardScaler +
LogisticRegression(lbfgs) per fold, per layer and per shuffle of the null.

scikit-learn's side is timed on `--sklearn-layers` layers and `--sklearn-shuffles` of the
shuffles (each (layer, shuffle) is the same work: a fit per fold of the same shape), its mean
time per (layer, shuffle) then counted for all of them; it says so. Its numbers on those layers
are checked against laminar's (the alphas equal, r within 1e-6; the accuracy within one word).

    python3 tools/bench/bench_encoding.py                      # the issue's sizes, 20 shuffles
    python3 tools/bench/bench_encoding.py --permutations 1000  # the issue's 1,000 (hours)
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import synthetic_run  # noqa: E402

ALPHAS = [0.01, 0.1, 1, 10, 100, 1000, 10000]
NAMES = ["space", "fruit", "interior"]


def laminar_time(folder, name, words, categories, sets, step, laminar):
    """Seconds of `laminar run --stage analyze` on a run file of `sets`, and the file."""
    run = os.path.join(folder, name + ".h5")
    synthetic_run.write(run, words, categories, NAMES, sets)
    yaml = os.path.join(folder, name + ".yaml")
    with open(yaml, "w") as f:
        f.write(synthetic_run.ANALYSIS_ONLY.format(name=name, analyses=step, out=run))
    synthetic_run.stamp_as_extracted(run, yaml)
    start = time.perf_counter()
    subprocess.run([laminar, "run", yaml, "--stage", "analyze", "--quiet"], check=True)
    return time.perf_counter() - start, h5py.File(run, "r")


def sklearn_encoding(X, Y, fold):
    """scikit-learn's fits of one (layer, target matrix): alphas [folds x targets], r."""
    from sklearn.linear_model import RidgeCV
    predicted, alphas = np.zeros_like(Y), []
    for f in range(fold.max() + 1):
        train, test = fold != f, fold == f
        model = RidgeCV(alphas=ALPHAS, alpha_per_target=True).fit(X[train], Y[train])
        alphas.append(model.alpha_)
        predicted[test] = model.predict(X[test])
    pc, yc = predicted - predicted.mean(0), Y - Y.mean(0)
    return np.array(alphas), (pc * yc).sum(0) / np.sqrt((pc ** 2).sum(0) * (yc ** 2).sum(0))


def sklearn_decoding(X, y, fold):
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    predicted = np.zeros_like(y)
    for f in range(fold.max() + 1):
        train, test = fold != f, fold == f
        scaler = StandardScaler().fit(X[train])
        model = LogisticRegression(C=1.0, solver="lbfgs", max_iter=1000).fit(scaler.transform(X[train]), y[train])
        predicted[test] = model.predict(scaler.transform(X[test]))
    return predicted


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--layers", type=int, default=24)
    p.add_argument("--words", type=int, default=1000)
    p.add_argument("--dims", type=int, default=1024)
    p.add_argument("--targets", type=int, default=1000)
    p.add_argument("--permutations", type=int, default=20, help="encoding's shuffles (the issue's: 1000)")
    p.add_argument("--decoding-permutations", type=int, default=100)
    p.add_argument("--sklearn-layers", type=int, default=2)
    p.add_argument("--sklearn-shuffles", type=int, default=2)
    p.add_argument("--laminar", default=os.path.join(synthetic_run.BUILD, "laminar"))
    a = p.parse_args()
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(a.words)]
    labels = np.arange(a.words) % 3
    categories = [NAMES[c] for c in labels]
    readout = rng.standard_normal((a.dims, a.targets)) / np.sqrt(a.dims)
    layers = [(rng.standard_normal((a.words, a.dims)) + 0.2 * rng.standard_normal((3, a.dims))[labels]).astype(np.float32)
              for _ in range(a.layers)]
    Y = layers[0].astype(np.float64) @ readout + rng.standard_normal((a.words, a.targets))
    sets = {f"blocks.{i}.hook_resid_post": ("resid_post", i, x) for i, x in enumerate(layers)}
    print(f"{a.layers} layers x {a.words} words x {a.dims} dims; encoding onto {a.targets} targets with "
          f"{a.permutations} shuffles, decoding (3 labels) with {a.decoding_permutations}; {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory(prefix="laminar-bench-encoding-") as folder:
        targets = os.path.join(folder, "targets.npy")
        np.save(targets, Y)
        with open(os.path.join(folder, "targets.txt"), "w") as f:
            f.write("\n".join(words) + "\n")
        for metric, step, shuffles in (
                ("encoding", f"  - {{metric: encoding, targets: {targets}, permutations: {a.permutations}}}", a.permutations),
                ("decoding", f"  - {{metric: decoding, permutations: {a.decoding_permutations}}}", a.decoding_permutations)):
            seconds, f = laminar_time(folder, metric, words, categories, sets, step, a.laminar)
            units, timed = 0, 0.0
            for layer in range(a.sklearn_layers):
                g = f[f"results/{metric}/m/blocks.{layer}.hook_resid_post"]
                fold = g["fold"][()].astype(int)
                X = layers[layer].astype(np.float64)
                for s in range(1 + a.sklearn_shuffles):  # the observed, then shuffles of scikit-learn's own
                    order = np.arange(a.words) if s == 0 else rng.permutation(a.words)
                    start = time.perf_counter()
                    if metric == "encoding":
                        alphas, r = sklearn_encoding(X, Y[order], fold)
                    else:
                        predicted = sklearn_decoding(X, labels[order], fold)
                    timed += time.perf_counter() - start
                    units += 1
                    if s == 0 and metric == "encoding":
                        assert np.array_equal(alphas, g["alpha"][()]) and np.max(np.abs(r - g["r"][()])) < 1e-6, layer
                    if s == 0 and metric == "decoding":
                        assert abs(np.sum(predicted == labels) - round(g.attrs["accuracy"] * a.words)) <= 1, layer
            sklearn = timed / units * a.layers * (1 + shuffles)
            print(f"{metric}: laminar {seconds:.1f} s; scikit-learn {sklearn:.1f} s ({timed / units:.2f} s per layer and "
                  f"shuffle, timed on {units} of {a.layers * (1 + shuffles)}); ratio {sklearn / seconds:.1f}x; "
                  "numbers agree on the layers timed")


if __name__ == "__main__":
    main()
