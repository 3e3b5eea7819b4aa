"""Mutual information's statistics audit (issue 23, item 6), on run
files of generated activations analysed by laminar, against numpy and scikit-learn:

* `equal_frequency` bins are scikit-learn's KBinsDiscretizer(strategy="quantile"): tied values
  share a bin. On dimensions with heavy ties laminar's MI equals the plug-in MI of
  KBinsDiscretizer's bins, and a constant dimension has MI 0 by every estimator. Before: ties were
  split by the order of the stimuli (sorted by category), and a constant dimension had
  mi_label_equal_frequency = log2(3) = 1.585 bits, the category's entropy.

Run by ctest (mutual_information_audit)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings

import h5py
import numpy as np
from sklearn.preprocessing import KBinsDiscretizer

BIN = os.environ["LAMINAR_BIN"]
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "bench"))
import synthetic_run  # noqa: E402

NAMES = ["space", "fruit", "interior"]
WORDS = 30  # 3 categories of 10
PERMUTATIONS = 400
SITE, NOISE, Q, K = "blocks.0.hook_resid_post", "blocks.1.hook_resid_post", "blocks.0.attn.hook_q", "blocks.0.attn.hook_k"

ANALYZE = """experiment: mi-audit
models: [{{id: m, backend: gpt2, path: /nonexistent}}]
stimuli: {{template: "{{word}}", categories: {{space: [a, b], fruit: [c, d], interior: [e, f]}}}}
analyze:
  - {{metric: mutual_information, pairs: [[q, k]], sites: [resid_post], permutations: {permutations}, seed: 7}}
output: {out}
"""


def plug_in_bits(a, b):
    """Plug-in MI (bits) of two discrete variables."""
    joint = np.zeros((a.max() + 1, b.max() + 1))
    np.add.at(joint, (a, b), 1)
    p = joint / joint.sum()
    px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
    nz = p > 0
    return float(np.sum(p[nz] * np.log2(p[nz] / (px @ py)[nz])))


def kbins(x, bins=15):
    """scikit-learn's quantile bins (it warns of the bins it merges)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return KBinsDiscretizer(n_bins=bins, encode="ordinal", strategy="quantile", subsample=None) \
            .fit_transform(x[:, None])[:, 0].astype(int)


def equal_width(x, bins=15):
    """numpy.histogram's bins."""
    edges = np.histogram_bin_edges(x, bins=bins)
    return np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)


def duplicated(points):
    """How many rows equal another row."""
    _, inverse, counts = np.unique(points, axis=0, return_inverse=True, return_counts=True)
    return int(np.sum(counts[inverse.ravel()] > 1))


def activations(rng):
    labels = np.repeat(np.arange(3), WORDS // 3)
    x = rng.standard_normal((WORDS, 24))
    x[:, 0] = 0.7                                   # constant
    x[:, 1] = np.round(x[:, 1])                     # a handful of values
    x[:, 2] = rng.integers(0, 3, WORDS)             # three values, unrelated to the category
    x[:20, 3] = 0.0                                 # one value shared by two whole categories
    x[:, 4] = labels                                # the category itself
    x[:, 5] = np.where(labels == 2, 1.0, np.round(rng.standard_normal(WORDS), 1))  # ties within and across
    noise = rng.standard_normal((WORDS, 240))       # pure noise: 240 independent draws
    q, k = rng.standard_normal((WORDS, 16)), rng.standard_normal((WORDS, 16))
    q[1], k[1] = q[0], k[0]                         # a word twice: its similarities repeat
    return labels, {SITE: ("resid_post", 0, x.astype(np.float32)), NOISE: ("resid_post", 1, noise.astype(np.float32)),
                    Q: ("q", 0, q.astype(np.float32)), K: ("k", 0, k.astype(np.float32))}


class MutualInformationAudit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-mi-audit-")
        cls.labels, sets = activations(np.random.default_rng(23))
        words = [f"w{i}" for i in range(WORDS)]
        categories = [NAMES[c] for c in cls.labels]
        cls.files = {}
        for threads in ("1", "2"):
            run = os.path.join(cls.dir, f"run{threads}.h5")
            synthetic_run.write(run, words, categories, NAMES, sets)
            yaml = os.path.join(cls.dir, f"run{threads}.yaml")
            with open(yaml, "w") as f:
                f.write(ANALYZE.format(permutations=PERMUTATIONS, out=run))
            synthetic_run.stamp_as_extracted(run, yaml)
            r = subprocess.run([BIN, "run", yaml, "--stage", "analyze", "--quiet"], capture_output=True, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": threads})
            assert r.returncode == 0, r.stderr
            cls.files[threads] = h5py.File(run, "r")
        cls.f = cls.files["2"]

    @classmethod
    def tearDownClass(cls):
        for f in cls.files.values():
            f.close()
        shutil.rmtree(cls.dir)

    def x(self, hook):
        return self.f[f"activations/m/{hook}"][()].astype(np.float64)

    def similarities(self, hook):
        x = self.x(hook)
        u = x / np.linalg.norm(x, axis=1, keepdims=True)
        return (u @ u.T)[np.triu_indices(len(x), 1)]

    # --- item 6: equal_frequency ----------------------------------------------------------------------
    def test_equal_frequency_bins_are_kbins_discretizers_and_ties_share_a_bin(self):
        g = self.f[f"results/mutual_information/m/{SITE}"]
        x = self.x(SITE)
        expected = [plug_in_bits(kbins(col), self.labels) for col in x.T]
        np.testing.assert_allclose(g["mi_label_equal_frequency"][()], expected, rtol=0, atol=1e-12)
        # A constant dimension carries no information by any estimator (it was 1.585 bits).
        for estimator in ("binned", "equal_frequency", "ksg"):
            self.assertEqual(g[f"mi_label_{estimator}"][0], 0.0, estimator)
        # The category itself: log2(3) by the plug-in estimators.
        self.assertAlmostEqual(g["mi_label_equal_frequency"][4], np.log2(3), delta=1e-12)
        # Between two spaces, on similarities with repeated values (a word twice).
        pair = self.f[f"results/mutual_information/m/{Q}~{K}"]
        a, b = self.similarities(Q), self.similarities(K)
        self.assertAlmostEqual(pair.attrs["mi_equal_frequency"], plug_in_bits(kbins(a), kbins(b)), delta=1e-10)


if __name__ == "__main__":
    unittest.main()
