"""The sibling analyses (issue 11) against independent implementations run here: CKA against a
numpy transcription of Kornblith et al. (2019) (kornblith_cka.py); effective dimensionality
against numpy's SVD."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

import kornblith_cka as ref

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
PYTHON = "/usr/bin/python3"
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "python"))
import laminar  # noqa: E402

CATEGORIES = {"space": ["galaxy", "comet", "moon", "star", "planet", "sun"],
              "fruit": ["pear", "grape", "apple", "lime", "peach", "cherry"],
              "interior": ["sofa", "lamp", "rug", "chair", "table", "door"]}
EXPERIMENT = """experiment: siblings
models:
  - {{id: m, backend: gpt2, path: model}}
stimuli:
  template: "The next word is {{word}}"
  categories:
{categories}
extract:
  - {{extractor: attention, sites: [q, k], layers: all}}
  - {{extractor: residual, layers: all}}
analyze:
  - metric: cka
    pairs: [[q, k], [resid_post, q]]
    rbf: 0.5
    grid: true
    permutations: 2000
    bootstrap: 500
    seed: 4
  - metric: effective_dimensionality
    sites: [resid_post, q]
    thresholds: [80, 90, 95, 99]
    shuffles: 20
    seed: 2
output: run.h5
"""


class Siblings(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-siblings-")
        subprocess.run([PYTHON, MAKE_MODEL, os.path.join(cls.dir, "model"), "--layers", "3", "--heads", "4",
                        "--width", "64", "--seed", "13"], check=True, capture_output=True)
        categories = "".join(f"    {c}: [{', '.join(w)}]\n" for c, w in CATEGORIES.items())
        with open(os.path.join(cls.dir, "exp.yaml"), "w") as f:
            f.write(EXPERIMENT.format(categories=categories.rstrip("\n")))
        r = subprocess.run([BIN, "run", os.path.join(cls.dir, "exp.yaml"), "--quiet"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        cls.f = h5py.File(os.path.join(cls.dir, "run.h5"), "r")

    @classmethod
    def tearDownClass(cls):
        cls.f.close()
        shutil.rmtree(cls.dir)

    def x(self, hook):
        return self.f[f"activations/m/{hook}"][()].astype(np.float64)

    # --- cka ---------------------------------------------------------------------------------
    def test_cka_biased_unbiased_and_rbf_equal_the_papers_formulas(self):
        pairs = [(f"blocks.{l}.attn.hook_q", f"blocks.{l}.attn.hook_k") for l in range(3)] + \
                [(f"blocks.{l}.hook_resid_post", f"blocks.{l}.attn.hook_q") for l in range(3)]
        for a, b in pairs:
            g = self.f[f"results/cka/m/{a}~{b}"]
            x, y = self.x(a), self.x(b)
            self.assertAlmostEqual(g.attrs["cka"], ref.cka(ref.gram_linear(x), ref.gram_linear(y)), delta=1e-10)
            self.assertAlmostEqual(g.attrs["cka"], ref.feature_space_linear_cka(x, y), delta=1e-10)
            self.assertAlmostEqual(g.attrs["cka_unbiased"], ref.cka(ref.gram_linear(x), ref.gram_linear(y), debiased=True),
                                   delta=1e-10)
            self.assertAlmostEqual(g.attrs["cka_unbiased"], ref.feature_space_linear_cka(x, y, debiased=True), delta=1e-9)
            self.assertAlmostEqual(g.attrs["cka_rbf"], ref.cka(ref.gram_rbf(x, 0.5), ref.gram_rbf(y, 0.5)), delta=1e-10)
            self.assertEqual(g.attrs["layer"], int(a.split(".")[1]))  # described by the host like rsa pairs

    def test_cka_permutation_null_and_bootstrap_agree_with_numpys_own(self):
        rng = np.random.default_rng(0)
        a, b = "blocks.2.hook_resid_post", "blocks.2.attn.hook_q"
        g = self.f[f"results/cka/m/{a}~{b}"]
        x, y = self.x(a), self.x(b)
        n = len(x)
        kx = ref.gram_linear(x)
        null = np.array([ref.cka(kx, ref.gram_linear(y[p])) for p in (rng.permutation(n) for _ in range(2000))])
        # Two estimates of one null distribution from 2,000 draws each: means within 5 standard errors.
        self.assertLess(abs(g.attrs["null_mean"] - null.mean()), 5 * null.std() / np.sqrt(2000))
        self.assertAlmostEqual(g.attrs["null_sd"], null.std(), delta=0.15 * null.std())
        p = (1 + np.sum(null >= g.attrs["cka"])) / 2001
        self.assertLess(abs(g.attrs["p_value"] - p), 0.02 + 3 * np.sqrt(p * (1 - p) / 2000))
        boot = [ref.cka(ref.gram_linear(x[i]), ref.gram_linear(y[i])) for i in (rng.integers(0, n, n) for _ in range(500))]
        low, high = np.quantile(boot, [0.025, 0.975])
        self.assertAlmostEqual(g.attrs["ci_low"], low, delta=0.05)
        self.assertAlmostEqual(g.attrs["ci_high"], high, delta=0.05)
        self.assertIn("p_value_corrected", g.attrs)

    def test_cka_grid_is_every_layer_against_every_layer(self):
        grid = self.f["results/cka/m/q~k/grid"][()]
        self.assertEqual(grid.shape, (3, 3))
        for i in range(3):
            for j in range(3):
                expected = ref.cka(ref.gram_linear(self.x(f"blocks.{i}.attn.hook_q")), ref.gram_linear(self.x(f"blocks.{j}.attn.hook_k")))
                self.assertAlmostEqual(grid[i, j], expected, delta=1e-10)
        run = laminar.open(os.path.join(self.dir, "run.h5"))
        self.assertEqual(list(run.matrix("cka", "m", "q~k", "grid").index), [0, 1, 2])


    # --- effective dimensionality ----------------------------------------------------------------
    def test_effective_dimensionality_equals_numpys_svd(self):
        for layer in range(3):
            for hook in (f"blocks.{layer}.hook_resid_post", f"blocks.{layer}.attn.hook_q"):
                g = self.f[f"results/effective_dimensionality/m/{hook}"]
                x = self.x(hook)
                s = np.linalg.svd(x - x.mean(axis=0), compute_uv=False)
                explained = s ** 2 / np.sum(s ** 2)
                np.testing.assert_allclose(g["explained_variance"][()], explained, rtol=0, atol=1e-12)
                cumulative = np.cumsum(explained)
                for t in (80, 90, 95, 99):
                    self.assertEqual(g.attrs[f"n{t}"], int(np.searchsorted(cumulative, t / 100 - 1e-12) + 1), (hook, t))
                self.assertAlmostEqual(g.attrs["participation_ratio"], np.sum(s ** 2) ** 2 / np.sum(s ** 4), delta=1e-9)
                self.assertEqual(g.attrs["layer"], layer)

    def test_the_shuffled_control_agrees_with_numpys_shuffles_and_has_more_dimensions(self):
        rng = np.random.default_rng(1)
        hook = "blocks.2.hook_resid_post"
        g = self.f[f"results/effective_dimensionality/m/{hook}"]
        x = self.x(hook)
        x = x - x.mean(axis=0)
        counts = []
        for _ in range(200):
            shuffled = np.column_stack([rng.permutation(col) for col in x.T])
            s = np.linalg.svd(shuffled - shuffled.mean(axis=0), compute_uv=False)
            counts.append(np.searchsorted(np.cumsum(s ** 2) / np.sum(s ** 2), 0.95 - 1e-12) + 1)
        counts = np.array(counts)
        # laminar's 20 shuffles against numpy's 200: the means within 5 standard errors of laminar's.
        self.assertLess(abs(g.attrs["shuffled_n95_mean"] - counts.mean()), 5 * max(counts.std(), 0.5) / np.sqrt(20))
        self.assertGreaterEqual(g.attrs["shuffled_n95_mean"], g.attrs["n95"])  # structure concentrates variance
        self.assertIn("shuffled_n95_sd", g.attrs)


if __name__ == "__main__":
    unittest.main()
