"""numpy/scipy baseline for bench_analyze.py: the analyze stage of the founding study on the
activations of a run file, written as a careful numpy user would (similarities as one matrix
product, permutation nulls vectorised). Prints the seconds it took as JSON.

    numpy_analyze.py RUN.h5 PERMUTATIONS BOOTSTRAP
"""
import json
import sys
import time

import h5py
import numpy as np

rng = np.random.default_rng(1)


def cosine(x):
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    return u @ u.T


def selectivity_from_blocks(sums, counts):
    means = sums / counts
    k = means.shape[-1]
    iu = np.triu_indices(k, 1)
    return np.diagonal(means, axis1=-2, axis2=-1).mean(-1) / means[..., iu[0], iu[1]].mean(-1)


def blocks(s, onehot):
    """Block sums and counts for a batch of one-hot label matrices [p, n, k]."""
    sl = np.einsum("ij,pjk->pik", s, onehot, optimize=True)
    sums = np.einsum("pic,pid->pcd", onehot, sl, optimize=True)
    diag = np.einsum("i,pic->pc", np.diag(s), onehot)
    sizes = onehot.sum(1)
    counts = sizes[:, :, None] * sizes[:, None, :]
    k = onehot.shape[2]
    for c in range(k):
        sums[:, c, c] = (sums[:, c, c] - diag[:, c]) / 2
        counts[:, c, c] = sizes[:, c] * (sizes[:, c] - 1) / 2
    return sums, counts


def main():
    path, permutations, bootstrap = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    t = time.perf_counter()
    with h5py.File(path, "r") as f:
        q = f["activations/m/blocks.5.attn.hook_q"][:].astype(np.float64)
        k = f["activations/m/blocks.5.attn.hook_k"][:].astype(np.float64)
        labels = np.unique([c.decode() for c in f["stimuli/category"][:]], return_inverse=True)[1]
    n, ncat = len(labels), labels.max() + 1
    mats = {"q": cosine(q), "k": cosine(k)}
    iu = np.triu_indices(n, 1)
    for s in mats.values():  # histograms: all, within, between
        u, same = s[iu], labels[iu[0]] == labels[iu[1]]
        edges = np.histogram_bin_edges(u, bins=20)
        for part in (u, u[same], u[~same]):
            np.histogram(part, bins=edges)
    for s in mats.values():  # selectivity with a label-permutation null
        onehot = np.eye(ncat)[labels][None]
        selectivity_from_blocks(*blocks(s, onehot))
        for start in range(0, permutations, 256):
            batch = [rng.permutation(labels) for _ in range(min(256, permutations - start))]
            selectivity_from_blocks(*blocks(s, np.eye(ncat)[np.array(batch)]))
    a, b = mats["q"][iu], mats["k"][iu]  # RSA: Pearson, Mantel null, bootstrap
    np.corrcoef(a, b)
    za, zb = (a - a.mean()) / np.linalg.norm(a - a.mean()), (b - b.mean()) / np.linalg.norm(b - b.mean())
    ZB = np.zeros((n, n))
    ZB[iu] = zb
    ZB += ZB.T
    for _ in range(permutations):
        p = rng.permutation(n)
        np.dot(za, ZB[np.ix_(p, p)][iu])
    for _ in range(bootstrap):
        idx = rng.integers(0, n, n)
        keep = idx[iu[0]] != idx[iu[1]]
        np.corrcoef(mats["q"][idx[iu[0]], idx[iu[1]]][keep], mats["k"][idx[iu[0]], idx[iu[1]]][keep])
    print(json.dumps({"seconds": time.perf_counter() - t}))


if __name__ == "__main__":
    main()
