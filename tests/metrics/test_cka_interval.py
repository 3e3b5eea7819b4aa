"""cka's interval covers the population CKA (issue 23, item 2), end to end through laminar.

cka 1.1.0 wrote the percentile bootstrap of the biased CKA over words drawn with replacement: a
repeated word agrees with itself in both spaces, which inflates the biased CKA, so that the
interval lay above the estimate and did not cover the population CKA (0 % in the issue's
simulation). cka 1.2.0 writes the jackknife interval of the population CKA that `cka_unbiased`
estimates (`ci_of: cka_unbiased`).

200 samples (layers of one run file) of one design with a known population CKA: 18 words in 5
contexts kept (the issue's design), 32 dimensions, a weak signal shared through 4 latent
dimensions (as in the issue's simulation): rows x = z_w A + e and y = z_w B + f, e and f
independent per row. The word is the unit: laminar compares the words' mean patterns, whose
population CKA is ||A'B||^2 / (||A'A + I/5|| ||B'B + I/5||) (the context noise averaged over 5
rows).

* Every interval equals numpy's jackknife (each word left out; the paper's functions from
  kornblith_cka.py; t quantile from scipy), within 1e-9.
* Coverage of the population CKA at 95 %: at least 0.90 of 200 (a calibrated interval's share
  has sd 0.015; 0.90 is 3.2 sd below 0.95) and at most 0.99 (not uselessly wide).
On today's main (cka 1.1.0) the bootstrap interval covered the population CKA (0.337) in none of
the 200 samples: the biased cka averages 0.708 there, cka_unbiased 0.332. Run by ctest
(cka_interval)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np
from scipy import stats

BIN = os.environ["LAMINAR_BIN"]
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "bench"))
import kornblith_cka as ref  # noqa: E402
import synthetic_run  # noqa: E402

SAMPLES, WORDS, CONTEXTS, DIMS, LATENT = 200, 18, 5, 32, 4
NAMES = ["space", "fruit", "interior"]

ANALYZE = """experiment: cka-interval
models: [{{id: m, backend: gpt2, path: /nonexistent}}]
stimuli: {{template: "{{word}}", categories: {{space: [a, b], fruit: [c, d], interior: [e, f]}}}}
analyze:
  - {{metric: cka, pairs: [[q, k]], permutations: 0, bootstrap: 1000, ci: 0.95}}
output: {out}
"""


def jackknife(x, y, level=0.95):
    """numpy's jackknife interval of the unbiased CKA of the words' patterns x and y, and its se."""
    n = len(x)
    kx, ky = ref.gram_linear(x), ref.gram_linear(y)
    loo = np.array([ref.cka(kx[np.ix_(keep, keep)], ky[np.ix_(keep, keep)], debiased=True)
                    for keep in (np.delete(np.arange(n), i) for i in range(n))])
    se = np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2))
    t = stats.t.ppf((1 + level) / 2, n - 1)
    estimate = ref.cka(kx, ky, debiased=True)
    return np.clip(estimate - t * se, 0, 1), np.clip(estimate + t * se, 0, 1), se


class CkaInterval(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-cka-interval-")
        rng = np.random.default_rng(23)
        a, b = 0.12 * rng.normal(size=(LATENT, DIMS)), 0.12 * rng.normal(size=(LATENT, DIMS))
        eye = np.eye(DIMS) / CONTEXTS  # the covariance of a word's mean context noise
        cls.truth = np.sum((a.T @ b) ** 2) / (np.linalg.norm(a.T @ a + eye) * np.linalg.norm(b.T @ b + eye))
        word_of_row = np.repeat(np.arange(WORDS), CONTEXTS)
        words = [f"w{w}" for w in word_of_row]
        categories = [NAMES[w // 6] for w in word_of_row]
        sets = {}
        for layer in range(SAMPLES):
            z = rng.normal(size=(WORDS, LATENT))[word_of_row]
            offset = rng.normal(size=DIMS)  # a model's vectors share a direction
            q = offset + z @ a + rng.normal(size=(len(words), DIMS))
            k = offset + z @ b + rng.normal(size=(len(words), DIMS))
            sets[f"blocks.{layer}.attn.hook_q"] = ("q", layer, q.astype(np.float32))
            sets[f"blocks.{layer}.attn.hook_k"] = ("k", layer, k.astype(np.float32))
        run = os.path.join(cls.dir, "run.h5")
        synthetic_run.write(run, words, categories, NAMES, sets, np.tile(np.arange(CONTEXTS), WORDS))
        yaml = os.path.join(cls.dir, "run.yaml")
        with open(yaml, "w") as f:
            f.write(ANALYZE.format(out=run))
        synthetic_run.stamp_as_extracted(run, yaml)
        r = subprocess.run([BIN, "run", yaml, "--stage", "analyze", "--quiet"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        cls.f = h5py.File(run, "r")
        cls.word_of_row = word_of_row

    @classmethod
    def tearDownClass(cls):
        cls.f.close()
        shutil.rmtree(cls.dir)

    def group(self, layer):
        return self.f[f"results/cka/m/blocks.{layer}.attn.hook_q~blocks.{layer}.attn.hook_k"]

    def means(self, layer, site):
        x = self.f[f"activations/m/blocks.{layer}.attn.hook_{site}"][()].astype(np.float64)
        return np.stack([x[self.word_of_row == w].mean(axis=0) for w in range(WORDS)])

    def test_every_interval_is_numpys_jackknife_over_the_words(self):
        for layer in range(SAMPLES):
            g = self.group(layer)
            low, high, se = jackknife(self.means(layer, "q"), self.means(layer, "k"))
            self.assertEqual((g.attrs["n"], g.attrs["ci_of"], g.attrs["ci_method"]), (WORDS, "cka_unbiased", "jackknife"))
            np.testing.assert_allclose([g.attrs["ci_low"], g.attrs["ci_high"], g.attrs["ci_se"]], [low, high, se],
                                       rtol=1e-9, atol=1e-9)
            if 0 <= g.attrs["cka_unbiased"] <= 1:
                self.assertTrue(g.attrs["ci_low"] <= g.attrs["cka_unbiased"] <= g.attrs["ci_high"])

    def test_the_interval_covers_the_population_cka_at_its_level(self):
        low = np.array([self.group(l).attrs["ci_low"] for l in range(SAMPLES)])
        high = np.array([self.group(l).attrs["ci_high"] for l in range(SAMPLES)])
        biased = np.array([self.group(l).attrs["cka"] for l in range(SAMPLES)])
        unbiased = np.array([self.group(l).attrs["cka_unbiased"] for l in range(SAMPLES)])
        covered = np.mean((low <= self.truth) & (self.truth <= high))
        print(f"\n  population CKA {self.truth:.3f}; mean cka {biased.mean():.3f}, mean cka_unbiased "
              f"{unbiased.mean():.3f}; coverage at 95 %: {covered:.3f} of {SAMPLES}", file=sys.stderr)
        self.assertGreaterEqual(covered, 0.90)
        self.assertLessEqual(covered, 0.99)


if __name__ == "__main__":
    unittest.main()
