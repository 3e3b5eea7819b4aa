"""numpy/scipy baseline for bench_analyze.py: every number the analyze stage of bench_analyze's
experiment writes (cosine matrices, their means and histograms; selectivity with its null,
per-category indices and p-values, Holm across sites and across sites x categories; RSA with
its Mantel test and bootstrap interval, overall and within each category, Holm within each
family), computed from a run file's activations as numpy is commonly written: similarities as one
matrix product, a batch of label shuffles as one matrix product, a relabelled RDM as
`b[np.ix_(p, p)]`, a bootstrap resample as the pairs of its words. The fastest numpy Mantel null
we found (two `take`s and a `vdot`, 3.7 times faster) is timed beside it on a tenth of the
relabellings ("fastest numpy: ..."). Prints JSON: the results, and the seconds each statistic
took (laminar's --profile names).

    numpy_analyze.py RUN.h5 PERMUTATIONS BOOTSTRAP [--sites q k] [--pairs q~k ...]
    numpy_analyze.py RUN.h5 CKA_PERMUTATIONS MI_PERMUTATIONS --others   (cka and mutual_information of q~k)

The random draws are numpy's, not laminar's: p-values, null moments and intervals agree within
Monte Carlo error (bench_analyze.py checks), everything else to rounding.
"""
import argparse
import json
import time
from collections import defaultdict

import h5py
import numpy as np

rng = np.random.default_rng(1)
seconds = defaultdict(float)


class timed:
    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.start = time.perf_counter()

    def __exit__(self, *exc):
        seconds[self.name] += time.perf_counter() - self.start


def upper(m):
    return m[np.triu_indices(len(m), 1)]


def cosine(x):
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    s = u @ u.T
    np.fill_diagonal(s, 1)
    return s


def p_greater(null, observed):
    """laminar's p: (1 + #{null >= observed - tol}) / (1 + N), tol 100 eps of max(1, |observed|)."""
    tol = 100 * np.finfo(float).eps * max(1.0, abs(observed))
    return (1 + np.sum(null >= observed - tol, axis=0)) / (1 + len(null))


def holm(p):
    p = np.asarray(p, float)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((len(p) - np.arange(len(p))) * p[order])
    out = np.empty_like(p)
    out[order] = np.minimum(1, stepped)
    return out


def blocks(s, onehot):
    """Block sums and counts of similarity s for a batch of one-hot labellings [p, n, k]."""
    sl = np.einsum("ij,pjk->pik", s, onehot, optimize=True)  # one matrix product for the batch
    sums = np.einsum("pic,pid->pcd", onehot, sl, optimize=True)
    diag = np.einsum("i,pic->pc", np.diag(s), onehot)
    sizes = onehot.sum(1)
    counts = sizes[:, :, None] * sizes[:, None, :]
    for c in range(onehot.shape[2]):
        sums[:, c, c] = (sums[:, c, c] - diag[:, c]) / 2
        counts[:, c, c] = sizes[:, c] * (sizes[:, c] - 1) / 2
    return sums, counts


def selectivity(sums, counts):
    """Index (mean of within-block means / mean of between-block means) and per category."""
    means = sums / counts
    k = means.shape[-1]
    within = np.diagonal(means, axis1=-2, axis2=-1)
    off = ~np.eye(k, dtype=bool)
    between_c = (means * off).sum(-1) / (k - 1)
    iu = np.triu_indices(k, 1)
    return within.mean(-1) / means[..., iu[0], iu[1]].mean(-1), within / between_c


def analyse_selectivity(s, labels, k, permutations):
    sums, counts = blocks(s, np.eye(k)[labels][None])
    index, per = selectivity(sums, counts)
    means = sums[0] / counts[0]
    iu = np.triu_indices(k, 1)
    u = upper(s)
    out = {"index": index[0], "per_category": per[0].tolist(), "block_means": means.tolist(),
           "mean_within": np.diag(means).mean(), "mean_between": means[iu].mean(),
           "ill_conditioned": int(means[iu].mean() <= 0.25 * u.std(ddof=1))}
    with timed("selectivity null"):
        null = []
        for start in range(0, permutations, 256):
            batch = np.array([rng.permutation(labels) for _ in range(min(256, permutations - start))])
            i, pc = selectivity(*blocks(s, np.eye(k)[batch]))
            null.append(np.column_stack([i, pc]))
        null = np.vstack(null)
    out.update(p_value=p_greater(null[:, 0], index[0]), null_mean=null[:, 0].mean(), null_sd=null[:, 0].std(ddof=1),
               per_category_p=[p_greater(null[:, c + 1], per[0][c]) for c in range(k)])
    return out


def mantel(a_rdm, b_rdm, permutations, fastest=False):
    """The Pearson r of two RDMs' upper triangles under relabellings of b's stimuli: the z-scored
    triangle of a against b's relabelled one, `b[np.ix_(p, p)][iu]` as numpy's documentation and
    RSA code write a relabelling; `fastest`: the whole matrices, two `take`s and one `vdot` (the
    fastest numpy way we found: 1.9 ms a relabelling at 1,000 words against 7.0)."""
    n = len(a_rdm)
    iu = np.triu_indices(n, 1)
    a, b = a_rdm[iu], b_rdm[iu]
    za, zb = (a - a.mean()) / np.linalg.norm(a - a.mean()), (b - b.mean()) / np.linalg.norm(b - b.mean())
    full = []
    for z in (za, zb):
        m = np.zeros((n, n))
        m[iu] = z
        full.append(m + m.T)
    perms = (rng.permutation(n) for _ in range(permutations))
    if fastest:
        return np.array([np.vdot(full[0], full[1].take(p, 0).take(p, 1)) / 2 for p in perms])
    return np.array([np.dot(za, full[1][np.ix_(p, p)][iu]) for p in perms])


def bootstrap(a_rdm, b_rdm, samples):
    n = len(a_rdm)
    iu = np.triu_indices(n, 1)
    out = []
    for _ in range(samples):
        idx = rng.integers(0, n, n)
        i, j = idx[iu[0]], idx[iu[1]]
        keep = i != j
        out.append(np.corrcoef(a_rdm[i[keep], j[keep]], b_rdm[i[keep], j[keep]])[0, 1])
    return np.array(out)


def test_and_interval(a_rdm, b_rdm, r, permutations, samples, within):
    name = " (within categories)" if within else ""
    with timed("mantel null" + name):
        null = mantel(a_rdm, b_rdm, permutations)
    with timed("fastest numpy: mantel null" + name):  # timed only, on a tenth of the relabellings
        mantel(a_rdm, b_rdm, max(1, permutations // 10), fastest=True)
    with timed("bootstrap" + name):
        boot = bootstrap(a_rdm, b_rdm, samples)
    return {"r": r, "n_pairs": len(a_rdm) * (len(a_rdm) - 1) // 2, "p_value": p_greater(null, r),
            "null_mean": null.mean(), "null_sd": null.std(ddof=1),
            "ci_low": np.quantile(boot, 0.025, method="hazen"), "ci_high": np.quantile(boot, 0.975, method="hazen")}


def centred_gram(x):
    g = x @ x.T
    means = g.mean(0)
    return g - means[None, :] - means[:, None] + means.mean()


def unbiased_cka(gx, gy):
    """Song et al.'s unbiased HSIC, as the CKA paper's code: U-centred Gram matrices."""
    def u_centre(g):
        n = len(g)
        g = g.copy()
        np.fill_diagonal(g, 0)
        means = g.sum(0) / (n - 2)
        means -= means.sum() / (2 * (n - 1))
        g -= means[None, :] + means[:, None]
        np.fill_diagonal(g, 0)
        return g
    a, b = u_centre(gx), u_centre(gy)
    return np.vdot(a, b) / np.sqrt(np.vdot(a, a) * np.vdot(b, b))


def analyse_cka(x, y, permutations):
    """Linear CKA, its permutation null (one side relabelled), and the jackknife of the unbiased CKA."""
    with timed("gram"):
        k, l = centred_gram(x), centred_gram(y)
        gx, gy = x @ x.T, y @ y.T
    norms = np.linalg.norm(k) * np.linalg.norm(l)
    linear = np.vdot(k, l) / norms
    with timed("cka null"):
        null = np.array([np.vdot(k, l.take(p, 0).take(p, 1)) / norms for p in (rng.permutation(len(x)) for _ in range(permutations))])
    with timed("jackknife"):
        n = len(x)
        keep = ~np.eye(n, dtype=bool)
        loo = np.array([unbiased_cka(gx[keep[i]][:, keep[i]], gy[keep[i]][:, keep[i]]) for i in range(n)])
    return {"cka": linear, "cka_unbiased": unbiased_cka(gx, gy), "p_value": p_greater(null, linear), "null_mean": null.mean(),
            "null_sd": null.std(ddof=1), "ci_se": np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2))}


def plug_in_bits(joint):
    p = joint / joint.sum()
    px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float(np.sum(p[nz] * np.log2(p[nz] / (px @ py)[nz])))


def analyse_mi(sa, sb, bins, permutations):
    """MI (bits, numpy.histogram's equal-width bins) of the cosine similarities over the same pairs,
    with its permutation null: the bins stay with the values, so each relabelling recounts them."""
    n = len(sa)
    iu = np.triu_indices(n, 1)
    a, b = sa[iu], sb[iu]
    cut = lambda v: np.minimum(((v - v.min()) / (v.max() - v.min()) * bins).astype(int), bins - 1)
    ba, bb = cut(a), np.zeros((n, n), dtype=np.int64)
    bb[iu] = cut(b)
    bb += bb.T
    observed = plug_in_bits(np.bincount(ba * bins + bb[iu], minlength=bins * bins).reshape(bins, bins))
    with timed("mi null"):
        null = np.array([plug_in_bits(np.bincount(ba * bins + bb.take(p, 0).take(p, 1)[iu], minlength=bins * bins).reshape(bins, bins))
                         for p in (rng.permutation(n) for _ in range(permutations))])
    return {"mi_binned": observed, "p_value": p_greater(null, observed), "null_mean": null.mean(), "null_sd": null.std(ddof=1)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run")
    ap.add_argument("permutations", type=int)
    ap.add_argument("bootstrap", type=int)
    ap.add_argument("--sites", nargs="+", default=["q", "k"])
    ap.add_argument("--pairs", nargs="*", default=["q~k"])
    ap.add_argument("--bins", type=int, default=20)
    ap.add_argument("--others", action="store_true", help="CKA and MI of q~k instead (the permutations for each)")
    args = ap.parse_args()
    t = time.perf_counter()
    with h5py.File(args.run, "r") as f:
        acts = {ds.attrs["site"]: ds[:].astype(np.float64) for name, ds in f["activations/m"].items()
                if ds.attrs["site"] in args.sites and name.startswith("blocks.0.")}  # the first layer's
        names = [c.decode() for c in f["stimuli/category_names"][:]]
        labels = np.array([names.index(c.decode()) for c in f["stimuli/category"][:]])
    k = len(names)
    results = {"cosine": {}, "selectivity": {}, "rsa": {}}
    sims = {}
    iu = np.triu_indices(len(labels), 1)
    same = labels[iu[0]] == labels[iu[1]]
    for site, x in acts.items():
        with timed("similarity"):
            sims[site] = cosine(x)
        with timed("histograms"):
            u = upper(sims[site])
            edges = np.histogram_bin_edges(u, bins=args.bins)
            results["cosine"][site] = {"mean_all": u.mean(), "mean_within": u[same].mean(), "mean_between": u[~same].mean(),
                                       "edges": edges.tolist(),
                                       **{f"histogram_{g}": np.histogram(v, bins=edges)[0].tolist()
                                          for g, v in (("all", u), ("within", u[same]), ("between", u[~same]))}}
    if args.others:
        results = {"cka": analyse_cka(acts["q"], acts["k"], args.permutations),
                   "mutual_information": analyse_mi(sims["q"], sims["k"], 15, args.bootstrap)}
        print(json.dumps({"seconds": time.perf_counter() - t, "statistics": seconds, "results": results},
                         default=lambda v: v.item() if hasattr(v, "item") else v))
        return
    for site in args.sites:
        results["selectivity"][site] = analyse_selectivity(sims[site], labels, k, args.permutations)
    with timed("corrections"):
        p = holm([results["selectivity"][s]["p_value"] for s in args.sites])
        per = holm(np.concatenate([results["selectivity"][s]["per_category_p"] for s in args.sites]))
        for i, s in enumerate(args.sites):
            results["selectivity"][s]["p_value_corrected"] = p[i]
            results["selectivity"][s]["per_category_p_corrected"] = per[i * k:(i + 1) * k].tolist()
    overall, within = [], []
    for pair in args.pairs:
        sa, sb = pair.split("~")
        with timed("rdm"):
            A, B = 1 - sims[sa], 1 - sims[sb]
        res = test_and_interval(A, B, np.corrcoef(upper(A), upper(B))[0, 1], args.permutations, args.bootstrap, False)
        overall.append(res)
        res["categories"] = {}
        for c, name in enumerate(names):
            w = np.flatnonzero(labels == c)
            a, b = A[np.ix_(w, w)], B[np.ix_(w, w)]
            res["categories"][name] = test_and_interval(a, b, np.corrcoef(upper(a), upper(b))[0, 1], args.permutations,
                                                        args.bootstrap, True)
            within.append(res["categories"][name])
        results["rsa"][pair] = res
    with timed("corrections"):
        for family in (overall, within):
            for r, q in zip(family, holm([r["p_value"] for r in family])):
                r["p_value_corrected"] = q
    print(json.dumps({"seconds": time.perf_counter() - t, "statistics": seconds, "results": results},
                     default=lambda v: v.item() if hasattr(v, "item") else v))


if __name__ == "__main__":
    main()
