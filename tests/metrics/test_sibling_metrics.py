"""The sibling analyses (issue 11) against independent implementations run here: CKA against a
numpy transcription of Kornblith et al. (2019) (kornblith_cka.py); effective dimensionality
against numpy's SVD; mutual information against numpy histograms, scikit-learn's
KBinsDiscretizer (equal-frequency bins) and mutual_info_regression / mutual_info_classif (KSG)."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings

import h5py
import numpy as np
from scipy import stats
from sklearn.feature_selection import mutual_info_classif, mutual_info_regression
from sklearn.preprocessing import KBinsDiscretizer

import kornblith_cka as ref

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "reference"))
import gpt2_numpy  # noqa: E402

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
  - {{extractor: attention, name: per_head, sites: [v], heads: separate, layers: all}}
  - {{extractor: residual, layers: all}}
  - {{extractor: residual, name: every_token, layers: all, positions: all}}
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
  - metric: effective_dimensionality
    name: ed_tokens
    sites: [resid_post.tokens]
    skip_tokens: 1
    shuffles: 0
  - metric: mutual_information
    pairs: [[q, k]]
    sites: [resid_post]
    permutations: 100
    seed: 3
  - metric: cka
    name: cka_heads
    pairs: [[v, q]]
    permutations: 0
    bootstrap: 0
  - metric: mutual_information
    name: mi_trimmed
    pairs: [[resid_post, q]]
    estimators: [equal_frequency]
    trim_z: 1.5
    permutations: 0
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

    def test_cka_permutation_null_and_jackknife_interval_agree_with_numpys_own(self):
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
        # The interval (issue 23): the jackknife's of the population CKA that cka_unbiased
        # estimates, each word left out, cut to [0, 1].
        kx, ky = ref.gram_linear(x), ref.gram_linear(y)
        loo = np.array([ref.cka(kx[np.ix_(k, k)], ky[np.ix_(k, k)], debiased=True)
                        for k in (np.delete(np.arange(n), i) for i in range(n))])
        se = np.sqrt((n - 1) / n * np.sum((loo - loo.mean()) ** 2))
        half = stats.t.ppf(0.975, n - 1) * se
        self.assertEqual(g.attrs["ci_of"], "cka_unbiased")
        self.assertAlmostEqual(g.attrs["ci_low"], max(0, g.attrs["cka_unbiased"] - half), delta=1e-9)
        self.assertAlmostEqual(g.attrs["ci_high"], min(1, g.attrs["cka_unbiased"] + half), delta=1e-9)
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

    def test_effective_dimensionality_over_the_tokens_of_each_prompt(self):
        ids = self.f["stimuli/token_ids"][()]
        lengths = self.f["stimuli/by_model/m/prompt_lengths"][()]
        self.assertEqual(list(lengths), [len(row) for row in ids])
        config, w = gpt2_numpy.load(os.path.join(self.dir, "model"))
        forwards = [gpt2_numpy.forward(config, w, np.asarray(row, dtype=np.int64)) for row in ids]
        for layer in range(3):
            hook = f"blocks.{layer}.hook_resid_post"
            tokens = self.f[f"activations/m/{hook}.tokens"]
            self.assertEqual(tokens.attrs["rows"], "tokens")
            self.assertEqual(tokens.attrs["site"], "resid_post.tokens")
            # Every token of every prompt, against numpy's forward; the analysed token's row is
            # the very row the per-stimulus set holds.
            first = np.concatenate([[0], np.cumsum(lengths)])
            for i, f in enumerate(forwards):
                np.testing.assert_allclose(tokens[first[i]:first[i + 1]], f[hook], rtol=1e-4, atol=1e-4)
            position = self.f["stimuli/position"][()]
            np.testing.assert_array_equal(tokens[()][first[:-1] + position], self.f[f"activations/m/{hook}"][()])
            # Each prompt centred over its own tokens after the first, pooled, SVD.
            x = tokens[()].astype(np.float64)
            centred = np.concatenate([x[a + 1:b] - x[a + 1:b].mean(axis=0) for a, b in zip(first[:-1], first[1:])])
            s = np.linalg.svd(centred, compute_uv=False)
            g = self.f[f"results/ed_tokens/m/{hook}.tokens"]
            np.testing.assert_allclose(g["explained_variance"][()], s ** 2 / np.sum(s ** 2), rtol=0, atol=1e-12)
            self.assertAlmostEqual(g.attrs["participation_ratio"], np.sum(s ** 2) ** 2 / np.sum(s ** 4), delta=1e-9)
            self.assertEqual(g.attrs["n"], len(centred))
            self.assertEqual(g.attrs["centred_over"], "tokens of each prompt")
        # The reader: a row per token, with its stimulus and its index in the prompt.
        values, rows = laminar.open(os.path.join(self.dir, "run.h5")).activations("m", "blocks.1.hook_resid_post.tokens")
        self.assertEqual(len(rows), len(values))
        self.assertEqual(list(rows.groupby("stimulus")["token"].max() + 1), list(lengths))
        self.assertEqual(rows["word"].iloc[-1], self.f["stimuli/word"][-1].decode())

    def test_sets_per_token_are_refused_where_stimuli_are_compared(self):
        for analysis, contexts, expected in [
                ("  - {metric: rsa, pairs: [[resid_post.tokens, q]]}\n", "",
                 "has a row for every token of each prompt (positions: all, or an attention pattern over its keys): this metric compares stimuli"),
                ("  - {metric: cosine}\n", "  templates: [\"The next word is {word}\", \"I saw the {word}\"]\n",
                 "cannot be averaged over a word's contexts: use stimuli.contexts: keep")]:
            with self.subTest(analysis=analysis):
                with open(os.path.join(self.dir, "exp.yaml")) as f:
                    text = f.read()
                text = text[:text.index("analyze:\n") + len("analyze:\n")] + analysis + "output: refused.h5\n"
                if contexts:
                    text = text.replace('  template: "The next word is {word}"\n', contexts)
                path = os.path.join(self.dir, "refused.yaml")
                with open(path, "w") as f:
                    f.write(text)
                r = subprocess.run([BIN, "run", path, "--quiet"], capture_output=True, text=True)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(expected, r.stderr)
                self.assertRegex(r.stderr, r"refused\.yaml:\d+:\d+: (analyze\[0\]|extract\[3\])")

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


    # --- mutual information ----------------------------------------------------------------------
    def similarity_values(self, hook):
        x = self.x(hook)
        u = x / np.linalg.norm(x, axis=1, keepdims=True)
        return (u @ u.T)[np.triu_indices(len(x), 1)]

    @staticmethod
    def plug_in_bits(joint):
        p = joint / joint.sum()
        px, py = p.sum(1, keepdims=True), p.sum(0, keepdims=True)
        nz = p > 0
        return float(np.sum(p[nz] * np.log2(p[nz] / (px @ py)[nz])))

    @staticmethod
    def equal_frequency(v, bins=15):
        """scikit-learn's quantile bins (tied values in one bin; issue 23)."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # of the bins it merges
            return KBinsDiscretizer(n_bins=bins, encode="ordinal", strategy="quantile", subsample=None) \
                .fit_transform(v[:, None])[:, 0].astype(int)

    def test_mi_between_two_spaces_similarities_equals_numpy_and_scikit_learn(self):
        for layer in range(3):
            a, b = f"blocks.{layer}.attn.hook_q", f"blocks.{layer}.attn.hook_k"
            g = self.f[f"results/mutual_information/m/{a}~{b}"]
            x, y = self.similarity_values(a), self.similarity_values(b)
            self.assertAlmostEqual(g.attrs["mi_binned"], self.plug_in_bits(np.histogram2d(x, y, bins=15)[0]), delta=1e-10)
            joint = np.zeros((15, 15))
            np.add.at(joint, (self.equal_frequency(x), self.equal_frequency(y)), 1)
            self.assertAlmostEqual(g.attrs["mi_equal_frequency"], self.plug_in_bits(joint), delta=1e-10)
            # scikit-learn adds noise of 1e-10 of the values' scale before its KSG: a tie it breaks
            # moves a neighbour count by one. Tolerance: 1e-6 bits.
            sk = mutual_info_regression(x[:, None], y, n_neighbors=3, random_state=0)[0] / np.log(2)
            self.assertAlmostEqual(g.attrs["mi_ksg"], sk, delta=1e-6)
            self.assertEqual(g.attrs["n_pairs"], len(x))
            self.assertTrue(1 / 101 <= g.attrs["p_value"] <= 1)

    def test_mi_permutation_null_agrees_with_numpys_own(self):
        """The binned MI's null (the stimuli of one space relabelled): laminar's 100 permutations
        against numpy's 1000, means within 5 standard errors, sds within 30 %."""
        rng = np.random.default_rng(5)
        a, b = "blocks.2.attn.hook_q", "blocks.2.attn.hook_k"
        g = self.f[f"results/mutual_information/m/{a}~{b}"]
        xa, xb = self.x(a), self.x(b)
        ua = xa / np.linalg.norm(xa, axis=1, keepdims=True)
        ub = xb / np.linalg.norm(xb, axis=1, keepdims=True)
        sa, sb, upper = ua @ ua.T, ub @ ub.T, np.triu_indices(len(xa), 1)
        null = []
        for _ in range(1000):
            p = rng.permutation(len(xb))
            null.append(self.plug_in_bits(np.histogram2d(sa[upper], sb[p][:, p][upper], bins=15)[0]))
        null = np.array(null)
        self.assertEqual(g.attrs["estimator"], "binned")
        self.assertLess(abs(g.attrs["null_mean"] - null.mean()), 5 * null.std() / np.sqrt(100))
        self.assertLess(abs(g.attrs["null_sd"] / null.std() - 1), 0.3)

    @staticmethod
    def ross(x, labels, k=3):
        """Ross (2014), the estimator of scikit-learn's _compute_mi_cd, by brute force in exact
        distances (bits)."""
        from scipy.special import digamma
        total, n = 0.0, len(x)
        for i in range(n):
            same = x[labels == labels[i]]
            kk = min(k, len(same) - 1)
            radius = np.nextafter(np.sort(np.abs(same - x[i]))[kk], 0)  # [0] is the point itself
            total += digamma(kk) - digamma(len(same)) - digamma(np.sum(np.abs(x - x[i]) <= radius))
        return max(0.0, digamma(n) + total / n) / np.log(2)

    def test_mi_of_each_dimension_with_the_category(self):
        hook = "blocks.1.hook_resid_post"
        g = self.f[f"results/mutual_information/m/{hook}"]
        x = self.x(hook)
        labels = np.unique([c.decode() for c in self.f["stimuli/category"][()]], return_inverse=True)[1]
        binned = [self.plug_in_bits(np.histogram2d(col, labels, bins=[15, np.arange(4) - 0.5])[0]) for col in x.T]
        np.testing.assert_allclose(g["mi_label_binned"][()], binned, atol=1e-10)
        np.testing.assert_array_equal(g["mi_label"][()], g["mi_label_binned"][()])  # the first estimator's
        ours = g["mi_label_ksg"][()]
        np.testing.assert_allclose(ours, [self.ross(col, labels) for col in x.T], atol=1e-12)
        # scikit-learn's own result is not invariant to its scaling and noise: the brute force
        # above gives one value for the raw, scaled and noisy data, scikit-learn three. Its
        # radius is the k-th neighbour's euclidean distance computed through dot products, so
        # nextafter(radius, 0) may stay above the exact distance and count that neighbour: a
        # shift of psi(m + 1) - psi(m) = 1/m for about half the points, whatever the number of
        # words. Measured here: 0.021 bits on average over the 64 dimensions, 0.18 at most.
        # Stated tolerance: 0.05 bits on average, 0.3 at most (1/m over half of 18 points, m >= 3).
        sk = mutual_info_classif(x, labels, discrete_features=False, n_neighbors=3, random_state=0) / np.log(2)
        self.assertLess(np.mean(np.abs(ours - sk)), 0.05)
        self.assertLess(np.max(np.abs(ours - sk)), 0.3)
        self.assertEqual(len(g["mi_label_equal_frequency"][()]), x.shape[1])

    def test_trimming_leaves_out_values_beyond_the_z_limit(self):
        g = self.f["results/mi_trimmed/m/blocks.2.hook_resid_post~blocks.2.attn.hook_q"]
        x, y = self.similarity_values("blocks.2.hook_resid_post"), self.similarity_values("blocks.2.attn.hook_q")
        keep = (np.abs(x - x.mean()) <= 1.5 * x.std()) & (np.abs(y - y.mean()) <= 1.5 * y.std())
        self.assertEqual(g.attrs["n_trimmed"], int(np.sum(~keep)))
        self.assertGreater(g.attrs["n_trimmed"], 0)
        joint = np.zeros((15, 15))
        np.add.at(joint, (self.equal_frequency(x[keep]), self.equal_frequency(y[keep])), 1)
        self.assertAlmostEqual(g.attrs["mi_equal_frequency"], self.plug_in_bits(joint), delta=1e-10)
        self.assertNotIn("mi_binned", g.attrs)


    # --- per-head maps -----------------------------------------------------------------------------
    def test_per_head_results_as_a_layer_by_head_table_and_heatmap(self):
        run = laminar.open(os.path.join(self.dir, "run.h5"))
        maps = laminar.head_table(run, "cka_heads")
        self.assertEqual(list(maps), [("m", "v~q")])
        grid = maps[("m", "v~q")]
        self.assertEqual((list(grid.index), list(grid.columns)), ([0, 1, 2], [0, 1, 2, 3]))
        for layer in range(3):
            for head in range(4):  # v of one head against q of the whole layer
                x, y = self.x(f"blocks.{layer}.attn.hook_v.head{head}"), self.x(f"blocks.{layer}.attn.hook_q")
                self.assertAlmostEqual(grid.loc[layer, head], ref.cka(ref.gram_linear(x), ref.gram_linear(y)), delta=1e-10)
        fig = laminar.plot_head_map(run, "cka_heads")
        np.testing.assert_array_equal(np.asarray(fig.axes[0].get_images()[0].get_array()), grid.to_numpy())
        self.assertIsNone(laminar.plot_head_map(run, "cka"))  # no per-head sets there


if __name__ == "__main__":
    unittest.main()
