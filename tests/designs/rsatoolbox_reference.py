"""rsatoolbox's definitions transcribed in numpy (rsatoolbox is not packaged here): calc_rdm
(rdm/calc.py), compare (rdm/compare.py), pool_rdm (util/inference_util.py),
boot_noise_ceiling (inference/noise_ceiling.py) and eval_fixed (inference/evaluate.py),
written the way rsatoolbox computes them (indicator matrices for the whitened comparisons), not
the way laminar does."""
import numpy as np
from scipy import stats
from scipy.spatial.distance import pdist, squareform


def triu(m):
    return m[np.triu_indices(len(m), 1)]


def average_by(x, labels, rows=None):
    """rsatoolbox.data.average_dataset_by: the mean pattern of each condition (sorted labels)."""
    rows = np.arange(len(x)) if rows is None else rows
    conditions = np.unique(labels)
    return np.array([x[rows][labels[rows] == c].mean(axis=0) for c in conditions])


def calc_rdm(x, words, contexts, method):
    """The RDM vector of patterns x (rows: word x context) over the words."""
    if method == "crossnobis":
        return np.mean([crossnobis_fold(x, words, contexts, f) for f in np.unique(contexts)], axis=0)
    m = average_by(x, words)
    if method == "euclidean":
        sq = np.sum(m ** 2, axis=1, keepdims=True)
        return triu(sq + sq.T - 2 * m @ m.T) / m.shape[1]
    if method == "correlation":
        m = m - m.mean(axis=1, keepdims=True)
        m /= np.sqrt(np.einsum("ij,ij->i", m, m))[:, None]
        return triu(1 - np.einsum("ik,jk", m, m))
    if method == "cosine":  # not in rsatoolbox's calc_rdm: scipy's cosine distance
        return pdist(m, "cosine")
    raise ValueError(method)


def crossnobis_fold(x, words, contexts, fold):
    """_calc_rdm_crossnobis_single(train, test, identity) of one leave-one-out fold."""
    train = average_by(x, words, np.flatnonzero(contexts != fold))
    test = average_by(x, words, np.flatnonzero(contexts == fold))
    kernel = train @ np.eye(x.shape[1]) @ test.T
    rdm = np.expand_dims(np.diag(kernel), 0) + np.expand_dims(np.diag(kernel), 1) - kernel - kernel.T
    return triu(rdm) / train.shape[1]


def context_rdms(x, words, contexts, method):
    """Each context's RDM from its own rows (a subject's RDM); one pattern per word and context
    cannot be cross-validated, so crossnobis is euclidean within a context."""
    method = "euclidean" if method == "crossnobis" else method
    return [calc_rdm(x[contexts == f], words[contexts == f], contexts[contexts == f], method) for f in np.unique(contexts)]


def _cosine(a, b):
    return a @ b / np.sqrt(a @ a) / np.sqrt(b @ b)


def _n_from_length(m):
    return int(round((1 + np.sqrt(1 + 8 * m)) / 2))


def _row_col_indicator_g(n):
    """rsatoolbox.util.matrix.row_col_indicator_g: pairs (i < j), then the diagonal."""
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)] + [(i, i) for i in range(n)]
    row, col = np.zeros((len(pairs), n)), np.zeros((len(pairs), n))
    for k, (i, j) in enumerate(pairs):
        row[k, i] = 1
        col[k, j] = 1
    return row, col


def _cov_weighting(v):
    """rsatoolbox's _cov_weighting without sigma_k and without NaN."""
    n_dist = len(v)
    n = _n_from_length(n_dist)
    w = -0.5 * np.r_[v, np.zeros(n)]
    row, col = _row_col_indicator_g(n)
    both = row + col
    m = w @ both / n
    mm = np.sum(w * 2) / (n * n)
    w = w - m @ both.T + mm
    w[:n_dist] *= np.sqrt(2)
    return w


def compare(a, b, method):
    if method == "cosine":
        return _cosine(a, b)
    if method == "corr":
        return _cosine(a - a.mean(), b - b.mean())
    if method == "spearman":
        ra, rb = stats.rankdata(a), stats.rankdata(b)
        return _cosine(ra - ra.mean(), rb - rb.mean())
    if method == "rho-a":
        ra, rb = stats.rankdata(a), stats.rankdata(b)
        ra, rb = ra - ra.mean(), rb - rb.mean()
        return ra @ rb / (len(a) ** 3 - len(a)) * 12
    if method == "tau-a":
        i, j = np.triu_indices(len(a), 1)
        return np.sum(np.sign(a[i] - a[j]) * np.sign(b[i] - b[j])) / len(i)
    if method == "cosine_cov":
        return _cosine(_cov_weighting(a), _cov_weighting(b))
    if method == "corr_cov":
        return _cosine(_cov_weighting(a - a.mean()), _cov_weighting(b - b.mean()))
    raise ValueError(method)


def pool_rdm(vectors, method):
    v = np.array(vectors)
    if method in ("cosine", "cosine_cov"):
        v = v / np.sqrt(np.mean(v ** 2, axis=1, keepdims=True))
        return v.mean(axis=0)
    if method in ("corr", "corr_cov"):
        v = v - v.mean(axis=1, keepdims=True)
        v = v / v.std(axis=1, keepdims=True)
        v = v.mean(axis=0)
        return v - v.min()
    if method in ("spearman", "rho-a", "tau-a"):
        return np.array([stats.rankdata(x) for x in v]).mean(axis=0)
    raise ValueError(method)


def boot_noise_ceiling(vectors, method):
    """(lower, upper): leave one subject out, and all subjects."""
    everyone = pool_rdm(vectors, method)
    lower = [compare(pool_rdm(vectors[:s] + vectors[s + 1:], method), vectors[s], method) for s in range(len(vectors))]
    upper = [compare(everyone, vectors[s], method) for s in range(len(vectors))]
    return np.mean(lower), np.mean(upper)


def eval_fixed(model, vectors, method):
    """rsatoolbox.inference.eval_fixed's evaluation of one model: the mean over the subjects of
    compare(model, subject) (its Result's mean over the last axis)."""
    return np.mean([compare(model, v, method) for v in vectors])


def square(v):
    return squareform(v, checks=False)
