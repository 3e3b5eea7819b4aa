"""numpy baseline for bench_designs.py: rsatoolbox's crossnobis RDM (leave one context out) and
boot_noise_ceiling with the contexts as subjects, vectorised as a careful numpy user would
(condition means by reshaping, kernels as matrix products, one per fold). Prints the seconds
it took and the numbers it got, as JSON.

    numpy_designs.py RUN.h5 WORDS CONTEXTS
"""
import json
import sys
import time

import h5py
import numpy as np


def triu(m):
    return m[np.triu_indices(len(m), 1)]


def crossnobis(x):
    """x: [words, contexts, dims] -> the crossnobis RDM's upper triangle."""
    words, contexts, dims = x.shape
    total = x.sum(axis=1)
    d = np.zeros((words, words))
    for f in range(contexts):
        train, test = (total - x[:, f]) / (contexts - 1), x[:, f]
        k = train @ test.T
        diag = np.diag(k)
        d += (diag[:, None] + diag[None, :] - k - k.T) / dims
    return triu(d / contexts)


def euclidean(m):
    sq = np.sum(m ** 2, axis=1, keepdims=True)
    return triu(sq + sq.T - 2 * m @ m.T) / m.shape[1]


def pool_corr(v):
    v = v - v.mean(axis=1, keepdims=True)
    v = (v / v.std(axis=1, keepdims=True)).mean(axis=0)
    return v - v.min()


def corr(a, b):
    a, b = a - a.mean(), b - b.mean()
    return a @ b / np.sqrt(a @ a * (b @ b))


def noise_ceiling(x):
    subjects = np.array([euclidean(x[:, f]) for f in range(x.shape[1])])
    everyone = pool_corr(subjects)
    lower = [corr(pool_corr(np.delete(subjects, s, axis=0)), subjects[s]) for s in range(len(subjects))]
    upper = [corr(everyone, s) for s in subjects]
    return float(np.mean(lower)), float(np.mean(upper))


def main():
    path, words, contexts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    t = time.perf_counter()
    out = {}
    with h5py.File(path, "r") as f:
        for site in ("q", "k"):
            x = f[f"activations/m/blocks.5.attn.hook_{site}"][:].astype(np.float64).reshape(words, contexts, -1)
            rdm = crossnobis(x)
            out[site] = {"rdm_sum": float(rdm.sum()), "noise_ceiling": noise_ceiling(x)}
            out[site + "_rdm"] = rdm
    out["r"] = float(corr(out.pop("q_rdm"), out.pop("k_rdm")))
    out["seconds"] = time.perf_counter() - t
    print(json.dumps(out))


if __name__ == "__main__":
    main()
