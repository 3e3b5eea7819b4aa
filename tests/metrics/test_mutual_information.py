"""Mutual information's statistics audit (issue 23, items 6, 8 and the KSG part of 10), on run
files of generated activations analysed by laminar, against numpy, scikit-learn and statsmodels:

* `equal_frequency` bins are scikit-learn's KBinsDiscretizer(strategy="quantile"): tied values
  share a bin. On dimensions with heavy ties laminar's MI equals the plug-in MI of
  KBinsDiscretizer's bins, and a constant dimension has MI 0 by every estimator. Before: ties were
  split by the order of the stimuli (sorted by category), and a constant dimension had
  mi_label_equal_frequency = log2(3) = 1.585 bits, the category's entropy.
* `mi_label` has a permutation null (the words' category labels shuffled): its null mean agrees
  with numpy's own shuffles, its p-values with numpy's, their Holm correction across the
  dimensions with statsmodels', and `mi_label_corrected` is the MI less the null mean. On 240
  dimensions of pure noise (independent draws) the raw binned MI averages 0.71 bits and the
  corrected 0 (within 4 standard errors); pairs report `mi_binned_corrected` likewise. The same
  numbers with 1 and 2 threads. Before: no null, no correction.
* KSG without scikit-learn's jitter: duplicated points are warned of, the set named, with the
  counts numpy finds. Before: no warning.

The simulations over 1,000 seeds (calibration, the corrected mean) are doctest cases, in
tests/unit/test_mutual_information.cpp. Run by ctest (mutual_information_audit)."""
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
from statsmodels.stats.multitest import multipletests

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
            quiet = ["--quiet"] if threads == "1" else []  # the other run's log is read for its warnings
            r = subprocess.run([BIN, "run", yaml, "--stage", "analyze", *quiet], capture_output=True, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": threads})
            assert r.returncode == 0, r.stderr
            cls.log = r.stdout + r.stderr
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

    # --- item 8: the null of mi_label and the bias-corrected values --------------------------------
    def test_mi_label_null_p_values_and_correction_agree_with_numpy_and_statsmodels(self):
        rng = np.random.default_rng(5)
        g = self.f[f"results/mutual_information/m/{SITE}"]
        x = self.x(SITE)
        self.assertEqual(g.attrs["estimator"], "binned")
        self.assertEqual(g.attrs["permutations"], PERMUTATIONS)
        shuffles = [rng.permutation(self.labels) for _ in range(2000)]
        raw, null_mean, p = g["mi_label"][()], g["mi_label_null_mean"][()], g["mi_label_p_value"][()]
        for d, col in enumerate(x.T):
            bins = equal_width(col)
            self.assertAlmostEqual(raw[d], plug_in_bits(bins, self.labels), delta=1e-12)
            null = np.array([plug_in_bits(bins, s) for s in shuffles])
            # laminar's 400 shuffles against numpy's 2,000: the means within 5 standard errors of
            # laminar's, p-values within 4 binomial standard errors (ties counted as scipy does).
            self.assertLessEqual(abs(null_mean[d] - null.mean()), 5 * null.std() / np.sqrt(PERMUTATIONS) + 1e-12, d)
            expected = (1 + np.sum(null >= raw[d] * (1 - 1e-13))) / 2001
            self.assertLessEqual(abs(p[d] - expected), 4 * np.sqrt(expected * (1 - expected) / PERMUTATIONS) + 1 / PERMUTATIONS, d)
        self.assertEqual(p[0], 1.0)  # constant: every shuffle ties
        self.assertLess(p[4], 0.01)  # the category itself
        np.testing.assert_array_equal(g["mi_label_corrected"][()], raw - null_mean)
        np.testing.assert_allclose(g["mi_label_p_value_corrected"][()], multipletests(p, method="holm")[1], rtol=0, atol=1e-15)
        self.assertEqual(g.attrs["correction"], "holm")
        pair = self.f[f"results/mutual_information/m/{Q}~{K}"]
        self.assertEqual(pair.attrs["mi_binned_corrected"], pair.attrs["mi_binned"] - pair.attrs["null_mean"])

    def test_pure_noise_raw_mi_is_bias_and_the_corrected_mi_is_zero_on_average(self):
        """240 dimensions of independent noise (30 words): the raw binned MI averages 0.71 bits
        (numpy's value for each); less the null mean, 0 within 4 standard errors and 0.02 bits."""
        g = self.f[f"results/mutual_information/m/{NOISE}"]
        x = self.x(NOISE)
        raw, corrected = g["mi_label"][()], g["mi_label_corrected"][()]
        np.testing.assert_allclose(raw, [plug_in_bits(equal_width(col), self.labels) for col in x.T], rtol=0, atol=1e-12)
        self.assertGreater(raw.mean(), 0.5)
        self.assertGreater(raw.mean(), 20 * raw.std() / np.sqrt(len(raw)))
        self.assertLess(abs(corrected.mean()), 4 * corrected.std() / np.sqrt(len(corrected)))
        self.assertLess(abs(corrected.mean()), 0.02)
        # Valid at 5 % and 25 %: the share of p-values at or below, within 3.5 binomial standard
        # errors above the level (the dimensions share one set of shuffles, so this is a check of
        # the pipeline; the calibration over independent shuffles is the doctest's).
        p = g["mi_label_p_value"][()]
        for a in (0.05, 0.25):
            self.assertLessEqual(np.mean(p <= a), a + 3.5 * np.sqrt(a * (1 - a) / len(p)), a)
        self.assertLess(np.mean(g["mi_label_p_value_corrected"][()] <= 0.05), 0.05)

    def test_the_same_numbers_with_one_thread_and_two(self):
        for hook in (SITE, NOISE):
            one, two = self.files["1"][f"results/mutual_information/m/{hook}"], self.files["2"][f"results/mutual_information/m/{hook}"]
            self.assertEqual(sorted(one), sorted(two))
            for name in one:
                np.testing.assert_array_equal(one[name][()], two[name][()], name)

    # --- item 10: KSG on duplicated points ---------------------------------------------------------------
    def test_ksg_warns_of_duplicated_points_with_numpys_counts(self):
        text = self.f["results/mutual_information"].attrs["warnings"]
        text = text.decode() if isinstance(text, bytes) else text
        x = self.x(SITE)
        counts = [duplicated(col[:, None]) for col in x.T]
        dims, values = sum(c > 0 for c in counts), sum(counts)
        self.assertEqual(dims, 6)  # the constant, rounded, integer, shared-zero, category and tied dimensions
        self.assertIn(f"m/{SITE}: mi_label_ksg: {dims} of 24 dimensions have words with duplicated values ({values} values in all)",
                      text)
        self.assertNotIn(f"m/{NOISE}: mi_label_ksg", text)
        a, b = self.similarities(Q), self.similarities(K)
        twins = duplicated(np.column_stack([a, b]))
        self.assertEqual(twins, 2 * (WORDS - 2))  # (0, m) and (1, m) for every other word m
        self.assertIn(f"m/{Q}~{K}: mi_ksg: {twins} of {len(a)} pairs of words have the same pair of similarities as another",
                      text)

    # --- review: a family that cannot pass, and warnings said once per kind --------------------------
    def test_a_family_no_p_value_can_pass_is_warned_of_with_the_permutations_that_would_let_one(self):
        """Holm over m dimensions cannot bring a p-value below m / (permutations + 1): 24 / 401 and
        240 / 401 are both above 0.05, so no dimension could ever pass; the warning says so, and
        that 20 m - 1 permutations would bring the floor to 0.05."""
        text = self.f["results/mutual_information"].attrs["warnings"]
        text = text.decode() if isinstance(text, bytes) else text
        for hook in (SITE, NOISE):
            g = self.f[f"results/mutual_information/m/{hook}"]
            m = int(np.sum(~np.isnan(g["mi_label_p_value"][()])))
            floor = m / (PERMUTATIONS + 1)
            self.assertGreater(floor, 0.05)
            self.assertGreaterEqual(np.nanmin(g["mi_label_p_value_corrected"][()]), floor - 1e-15)
            self.assertIn(f"m/{hook}: mi_label_p_value_corrected cannot fall below {floor:.6g} (holm over {m} dimensions, "
                          f"{PERMUTATIONS} permutations): no dimension can reach p < 0.05 whatever the data; "
                          f"permutations: {20 * m - 1} or more would let one", text)
            self.assertLessEqual(m / (20 * m - 1 + 1), 0.05)
        self.assertNotIn(f"{Q}~{K}: mi_label_p_value_corrected", text)  # a pair is one test, no family

    def test_the_log_says_each_kind_of_warning_once_and_counts_the_rest(self):
        """The two spaces' floor warnings differ only in numbers: the log gives the first and says
        one more is in the run file (which keeps both, as the test above reads)."""
        floor = [line for line in self.log.splitlines() if "cannot fall below" in line]
        self.assertEqual(len(floor), 1, self.log)
        self.assertIn(f"m/{SITE}: mi_label_p_value_corrected", floor[0])
        self.assertIn("warning: analyze mutual_information: (and 1 more like it at other spaces: "
                      "`laminar inspect RUN.h5 --all` lists them, results/mutual_information's warnings)", self.log)
        self.assertEqual(self.log.count("mi_ksg: "), 1)  # a kind met once is said once, with no count


if __name__ == "__main__":
    unittest.main()
