"""Permutation p-values with ties, end to end (issue 23, item 5): laminar's p-values against
numpy's enumeration of every relabelling, on run files of designed activations.

* Two identical spaces, two categories of 6 words (720 relabellings each, fewer than the 10,000
  permutations asked): the within-category Mantel test is exact (`exact` 1, 720 relabellings)
  and p = #ties / 720: 1 / 720 for 6 generic words, 8 / 720 for 3 pairs of identical words.
  Before, 10,000 random draws dropped the identity's ties: p = 1 / 10001 for the generic words
  (the issue: 0.0007), both below 1 / 720.
* Six words in all: rsa, cka, mutual_information (binned: ties everywhere) and selectivity are
  exact, and each p equals numpy's count over all 720 relabellings (selectivity: the 20 distinct
  labellings) of the values reaching the observed one.
Numpy's values are its own computations (another order of sums): a relabelling reaches the
observed value when it is at least that less 1e-9 (distinct values lie much further apart).
Run by ctest (permutation_ties)."""
import itertools
import os
import shutil
import tempfile
import unittest

import numpy as np

import test_word_unit as wu
from test_word_unit import cosine, plug_in_bits, ref, upper

TOL = 1e-9


def exact_p(values, observed):
    return np.mean(np.asarray(values) >= observed - TOL)


class IdenticalSpaces(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-ties-")
        rng = np.random.default_rng(8)
        generic = rng.normal(size=(6, 5)) + 1
        pairs = np.repeat(rng.normal(size=(3, 5)) + 1, 2, axis=0)  # words 0 and 1 alike, 2 and 3, 4 and 5
        cls.q = np.vstack([generic, pairs]).astype(np.float32)
        cls.v = (rng.normal(size=(12, 5)) + 1).astype(np.float32)
        words = [f"w{i}" for i in range(12)]
        categories = ["generic"] * 6 + ["paired"] * 6
        sets = {"blocks.0.attn.hook_q": ("q", 0, cls.q), "blocks.0.attn.hook_k": ("k", 0, cls.q.copy()),
                "blocks.0.attn.hook_v": ("v", 0, cls.v)}
        cls.f = wu.analyze(cls.dir, "ties", words, categories, sets, None,
                           "  - {metric: rsa, pairs: [[q, k], [q, v]], permutations: 10000, bootstrap: 0, seed: 4}")

    @classmethod
    def tearDownClass(cls):
        cls.f.close()
        shutil.rmtree(cls.dir)

    def test_within_category_tests_are_exact_and_count_every_tie(self):
        perms = [np.array(p) for p in itertools.permutations(range(6))]
        for other, x_other in (("k", self.q), ("v", self.v)):
            g = self.f[f"results/rsa/m/blocks.0.attn.hook_q~blocks.0.attn.hook_{other}"]
            for c, at in (("generic", slice(0, 6)), ("paired", slice(6, 12))):
                with self.subTest(pair=other, category=c):
                    a = upper(1 - cosine(self.q[at].astype(np.float64)))
                    b = 1 - cosine(x_other[at].astype(np.float64))
                    values = [np.corrcoef(a, upper(b[np.ix_(p, p)]))[0, 1] for p in perms]
                    observed = np.corrcoef(a, upper(b))[0, 1]
                    s = g[f"categories/{c}"].attrs
                    self.assertEqual((s["exact"], s["n_permutations_used"]), (1, 720))
                    self.assertAlmostEqual(s["p_value"], exact_p(values, observed), delta=1e-12)
                    if other == "k":  # identical spaces: only the relabellings that keep the RDM tie
                        self.assertAlmostEqual(s["p_value"], (1 if c == "generic" else 8) / 720, delta=1e-12)
                    self.assertAlmostEqual(s["null_mean"], np.mean(values), delta=1e-9)
                    self.assertAlmostEqual(s["null_sd"], np.std(values, ddof=1), delta=1e-9)
            # 12 words: 12! relabellings, far more than 10,000: drawn, p never 0.
            self.assertEqual((g.attrs["exact"], g.attrs["n_permutations_used"]), (0, 10000))
            self.assertGreaterEqual(g.attrs["p_value"], 1 / 10001)


class SixWords(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-ties-six-")
        rng = np.random.default_rng(9)
        a = rng.normal(size=(6, 6))
        cls.x = {"q": (a + 1).astype(np.float32), "k": (a @ rng.normal(size=(6, 6)) + rng.normal(size=(6, 6)) + 1).astype(np.float32)}
        cls.labels = np.array([0, 0, 0, 1, 1, 1])
        sets = {f"blocks.0.attn.hook_{s}": (s, 0, x) for s, x in cls.x.items()}
        cls.f = wu.analyze(cls.dir, "six", [f"w{i}" for i in range(6)], ["one"] * 3 + ["two"] * 3, sets, None, """\
  - {metric: rsa, pairs: [[q, k]], permutations: 1000, bootstrap: 0, seed: 1}
  - {metric: cka, pairs: [[q, k]], permutations: 1000, bootstrap: 0, seed: 2}
  - {metric: mutual_information, pairs: [[q, k]], estimators: [binned], bins: 3, permutations: 1000, seed: 3}
  - {metric: selectivity, sites: [q], permutations: 1000, seed: 4}""")
        cls.x = {s: x.astype(np.float64) for s, x in cls.x.items()}

    @classmethod
    def tearDownClass(cls):
        cls.f.close()
        shutil.rmtree(cls.dir)

    def test_pair_metrics_enumerate_all_720_relabellings_as_numpy_does(self):
        q, k = self.x["q"], self.x["k"]
        sq, sk = cosine(q), cosine(k)
        gq, gk = ref.gram_linear(q), ref.gram_linear(k)
        perms = [np.array(p) for p in itertools.permutations(range(6))]
        statistics = {
            "rsa": lambda p: np.corrcoef(upper(1 - sq), upper((1 - sk)[np.ix_(p, p)]))[0, 1],
            "cka": lambda p: ref.cka(gq, gk[np.ix_(p, p)]),
            "mutual_information": lambda p: plug_in_bits(np.histogram2d(upper(sq), upper(sk[np.ix_(p, p)]), bins=3)[0]),
        }
        for analysis, statistic in statistics.items():
            with self.subTest(analysis=analysis):
                g = self.f[f"results/{analysis}/m/blocks.0.attn.hook_q~blocks.0.attn.hook_k"].attrs
                values = np.array([statistic(p) for p in perms])
                self.assertEqual((g["exact"], g["n_permutations_used"]), (1, 720))
                self.assertAlmostEqual(g["p_value"], exact_p(values, statistic(np.arange(6))), delta=1e-12)
                self.assertAlmostEqual(g["null_mean"], values.mean(), delta=1e-9)
        # Binned MI takes few values: most relabellings tie with another, so ties decide p.
        values = np.array([statistics["mutual_information"](p) for p in perms])
        self.assertLess(len(np.unique(np.round(values, 9))), 100)

    def test_selectivity_enumerates_the_20_labellings(self):
        labellings = sorted(set(itertools.permutations(self.labels)))
        s = cosine(self.x["q"])
        words = np.arange(6)
        values = np.array([wu.selectivity(s, words, np.array(l), 2)[0] for l in labellings])
        observed = wu.selectivity(s, words, self.labels, 2)[0]
        g = self.f["results/selectivity/m/blocks.0.attn.hook_q"]
        self.assertEqual((g.attrs["exact"], g.attrs["n_permutations_used"]), (1, 20))
        np.testing.assert_allclose(np.sort(g["null"][()]), np.sort(values), rtol=1e-9)
        self.assertAlmostEqual(g.attrs["p_value"], exact_p(values, observed), delta=1e-12)
        # Swapping the two categories' names keeps the index: p moves in steps of 2 / 20.
        self.assertAlmostEqual(g.attrs["p_value"] * 10, round(g.attrs["p_value"] * 10), delta=1e-9)


if __name__ == "__main__":
    unittest.main()
