"""Choices of the statistics audit (issue 23, items 7 and 10), on run files of generated
activations (tools/bench/synthetic_run.py) analysed by laminar, against numpy and statsmodels.

* Selectivity's `per_category_p` are corrected within their own family — the per-category
  p-values of every set of the analysis, with the analysis's `correction` — into
  `per_category_p_corrected`, equal to statsmodels' multipletests (holm, fdr_bh); `none` writes
  none. Before, they were given uncorrected only.
* effective_dimensionality's n<t> cannot pass the rank of the centred rows, min(dims, n - 1):
  `max_components` gives it, and a warning names each threshold capped there when the stimuli,
  not the dimensions, set it (numpy's SVD counts decide which); none where the dimensions do.
  Before, the cap was silent.
* cosine's and correlation's `within`, with contexts kept, is the pairs of different words of a
  category; the pairs of one word's contexts are `same_word` (issue 21 made it so, plugins
  1.2.0; tests/designs/test_word_unit.py checks cosine on random models, this checks
  correlation too, histograms and means against numpy).

Run by ctest (audit_choices)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np
from statsmodels.stats.multitest import multipletests

BIN = os.environ["LAMINAR_BIN"]
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "bench"))
import synthetic_run  # noqa: E402

NAMES = ["space", "fruit", "interior"]
PERMUTATIONS = 499

analyze = synthetic_run.analyze  # activations written as a run file, analysed by laminar


def rank_counts(x, thresholds):
    """numpy's n<t>: the components of the rows centred over stimuli that first reach t %."""
    s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
    cumulative = np.cumsum(s ** 2) / np.sum(s ** 2)
    return {t: int(np.searchsorted(cumulative, t / 100 - 1e-12) + 1) for t in thresholds}


class AuditChoices(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-audit-choices-")
        rng = np.random.default_rng(23)
        # One row per word: 18 words, 6 per category. Selectivity on 4 sets of q, categories
        # planted with strengths 0 to 1.2 (p-values from 1/500 to uniform); effective
        # dimensionality on a set wider than the stimuli (256 dims: capped at 17) and one narrower
        # (4 dims: the dimensions bound it).
        words = [f"w{w}" for w in range(18)]
        categories = [NAMES[w // 6] for w in range(18)]
        labels = np.arange(18) // 6
        sets = {}
        for layer, strength in enumerate([0.0, 0.3, 0.6, 1.2]):
            x = rng.normal(size=(18, 16)) + strength * rng.normal(size=(3, 16))[labels] + 2.0
            sets[f"blocks.{layer}.attn.hook_q"] = ("q", layer, x.astype(np.float32))
        # wide: isotropic in 256 dimensions, its variance nearly even over all 17 components: n99 reaches the
        # cap, n80 does not (numpy's counts decide which are capped)
        sets["blocks.0.hook_resid_post"] = ("resid_post", 0, rng.normal(size=(18, 256)).astype(np.float32))
        sets["blocks.1.hook_resid_post"] = ("resid_post", 1, rng.normal(size=(18, 4)).astype(np.float32))
        selectivity = "".join(f"  - {{metric: selectivity, name: {n}, sites: [q], permutations: {PERMUTATIONS}, seed: 4{c}}}\n"
                              for n, c in (("holm", ""), ("bh", ", correction: fdr_bh"), ("raw", ", correction: none")))
        cls.words = analyze(cls.dir, "words", words, categories, sets, None, selectivity +
                            "  - {metric: effective_dimensionality, sites: [resid_post], shuffles: 0}")
        # Contexts kept: 12 words in 3 contexts each (a word's contexts alike).
        words = [f"w{w}" for w in range(12) for _ in range(3)]
        categories = [NAMES[w // 4] for w in range(12) for _ in range(3)]
        word_effects = rng.normal(size=(12, 8))
        x = 1.0 + word_effects[np.repeat(np.arange(12), 3)] + 0.5 * rng.normal(size=(36, 8))
        cls.kept = analyze(cls.dir, "kept", words, categories, {"blocks.0.hook_resid_post": ("resid_post", 0, x.astype(np.float32))},
                           list(range(3)) * 12,
                           "  - {metric: cosine, histogram: {bins: 10}}\n  - {metric: correlation, histogram: {bins: 10}}")
        cls.kept_x = x.astype(np.float32).astype(np.float64)

    @classmethod
    def tearDownClass(cls):
        cls.words.close()
        cls.kept.close()
        shutil.rmtree(cls.dir)

    def test_per_category_p_values_are_corrected_as_their_own_family(self):
        hooks = [f"blocks.{layer}.attn.hook_q" for layer in range(4)]
        for analysis, method in (("holm", "holm"), ("bh", "fdr_bh")):
            with self.subTest(correction=method):
                groups = [self.words[f"results/{analysis}/m/{h}"] for h in hooks]
                p = np.concatenate([g["per_category_p"][()] for g in groups])  # 4 sets x 3 categories
                expected = multipletests(p, method=method)[1].reshape(4, 3)
                for g, e in zip(groups, expected):
                    np.testing.assert_allclose(g["per_category_p_corrected"][()], e, rtol=1e-12, atol=0)
                # the sets' own p-values stay their own family
                overall = np.array([g.attrs["p_value"] for g in groups])
                np.testing.assert_allclose([g.attrs["p_value_corrected"] for g in groups],
                                           multipletests(overall, method=method)[1], rtol=1e-12, atol=0)
        self.assertGreater(np.ptp(p), 0.1)  # a family of different p-values, not all 1/500 or all 1
        for h in hooks:
            self.assertNotIn("per_category_p_corrected", self.words[f"results/raw/m/{h}"])
            np.testing.assert_array_equal(self.words[f"results/raw/m/{h}/per_category_p"][()],
                                          self.words[f"results/holm/m/{h}/per_category_p"][()])

    def test_effective_dimensionality_names_thresholds_capped_by_the_stimuli(self):
        root = self.words["results/effective_dimensionality"]
        warnings = root.attrs.get("warnings", "")
        x = self.words["activations/m/blocks.0.hook_resid_post"][()].astype(np.float64)
        counts = rank_counts(x, (80, 90, 95, 99))
        g = root["m/blocks.0.hook_resid_post"]
        self.assertEqual(g.attrs["max_components"], 17)
        for t, n in counts.items():
            self.assertEqual(g.attrs[f"n{t}"], n, t)
        capped = [f"n{t}" for t, n in counts.items() if n == 17]
        self.assertTrue(capped and len(capped) < 4, counts)  # some thresholds capped, some not
        line = next(w for w in warnings.splitlines() if w.startswith("m/blocks.0.hook_resid_post:"))
        self.assertIn(f": {', '.join(capped)} = 17, every component 18 centred rows can have", line)
        for t, n in counts.items():
            self.assertEqual(f"n{t}" in line.split(" = ")[0], n == 17, t)
        # 18 stimuli in 4 dimensions: the dimensions bound n<t>, which is no warning.
        g = root["m/blocks.1.hook_resid_post"]
        self.assertEqual(g.attrs["max_components"], 4)
        x = self.words["activations/m/blocks.1.hook_resid_post"][()].astype(np.float64)
        for t, n in rank_counts(x, (80, 90, 95, 99)).items():
            self.assertEqual(g.attrs[f"n{t}"], n, t)
        self.assertNotIn("blocks.1.hook_resid_post", warnings)

    def test_within_leaves_out_one_words_contexts_for_cosine_and_correlation(self):
        word = np.repeat(np.arange(12), 3)
        label = word // 4
        i, j = np.triu_indices(36, 1)
        same_word, same_category = word[i] == word[j], label[i] == label[j]
        for metric in ("cosine", "correlation"):
            with self.subTest(metric=metric):
                x = self.kept_x - (self.kept_x.mean(axis=1, keepdims=True) if metric == "correlation" else 0)
                u = x / np.linalg.norm(x, axis=1, keepdims=True)
                values = (u @ u.T)[i, j]
                g = self.kept[f"results/{metric}/m/blocks.0.hook_resid_post"]
                edges = g["histogram/edges"][()]
                for name, mask in (("within", same_category & ~same_word), ("between", ~same_category),
                                   ("same_word", same_word)):
                    np.testing.assert_allclose(g.attrs[f"mean_{name}"], values[mask].mean(), rtol=1e-9)
                    # a value within float32 rounding of an edge may fall in either bin
                    counts, expected = g[f"histogram/{name}"][()], np.histogram(values[mask], bins=edges)[0]
                    on_edge = np.sum(np.min(np.abs(values[mask][:, None] - edges[None, :]), axis=1) <= 1e-6)
                    self.assertLessEqual(np.abs(counts - expected).sum(), 2 * on_edge, name)
                self.assertEqual(g["histogram/within"][()].sum(), 3 * 6 * 9)  # 3 categories x C(4,2) word pairs x 3 x 3 contexts
                # what `within` counted before: every same-category pair, one word's contexts included
                self.assertGreater(values[same_category].mean() - values[same_category & ~same_word].mean(), 0.05)


if __name__ == "__main__":
    unittest.main()
