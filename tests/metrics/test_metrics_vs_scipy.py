"""The metric plugins end to end, against numpy/scipy recomputing every number from the
activations stored in the same run file. Run by ctest (metrics_vs_scipy)."""
import itertools
import os
import shutil
import subprocess
import tempfile
import unittest

import h5py
import numpy as np
from scipy import stats

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
PYTHON = "/usr/bin/python3"

CATEGORIES = {"space": ["galaxy", "comet", "moon", "star", "orbit", "planet"],
              "interior": ["sofa", "door", "lamp", "chair", "table", "rug", "bed"],
              "fruit": ["pear", "grape", "apple", "lime", "peach"]}

EXPERIMENT = """experiment: metrics-check
models:
  - id: m
    backend: gpt2
    path: {model}
stimuli:
  template: "The next word is {{word}}"
  categories:
{categories}
extract:
  - extractor: attention
    sites: [q, k, v]
    layers: [1, 2]
analyze:
  - metric: cosine
    histogram: {{bins: 12}}
  - metric: correlation
    sites: [q]
    histogram: {{bins: 7, range: [-1, 1]}}
  - metric: selectivity
    permutations: 500
    seed: 3
  - metric: selectivity
    name: selectivity_pooled
    variant: pooled
    sites: [k]
    permutations: 0
{rsa}
output: run.h5
"""
RSA = """  - metric: rsa
    name: rsa_{name}
    pairs: [[q, k], [k, v]]
    method: {method}
    permutations: 200
    bootstrap: 100
    seed: 5"""
METHODS = {"pearson": "pearson", "spearman": "spearman", "tau_a": "tau-a", "cosine": "cosine"}


def upper(m):
    return m[np.triu_indices(len(m), 1)]


def cosine_matrix(x):
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    return u @ u.T


def tau_a(x, y):
    i, j = np.triu_indices(len(x), 1)
    return np.sum(np.sign(x[i] - x[j]) * np.sign(y[i] - y[j])) / len(i)


def reference_compare(a, b, method):
    if method == "pearson":
        return stats.pearsonr(a, b)[0]
    if method == "spearman":
        return stats.spearmanr(a, b)[0]
    if method == "tau-a":
        return tau_a(a, b)
    return a @ b / np.linalg.norm(a) / np.linalg.norm(b)


class MetricsAgainstScipy(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-metrics-")
        model = os.path.join(cls.dir, "model")
        subprocess.run([PYTHON, MAKE_MODEL, model, "--layers", "3", "--heads", "4", "--width", "64", "--seed", "9"],
                       check=True)
        categories = "\n".join(f"    {c}: [{', '.join(w)}]" for c, w in CATEGORIES.items())
        rsa = "\n".join(RSA.format(name=n, method=m) for n, m in METHODS.items())
        cls.yaml = os.path.join(cls.dir, "exp.yaml")
        with open(cls.yaml, "w") as f:
            f.write(EXPERIMENT.format(model=model, categories=categories, rsa=rsa))
        r = subprocess.run([BIN, "run", cls.yaml], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        cls.log = r.stdout
        cls.f = h5py.File(os.path.join(cls.dir, "run.h5"), "r")
        cls.labels = np.array([c.decode() for c in cls.f["stimuli/category"][:]])

    @classmethod
    def tearDownClass(cls):
        cls.f.close()
        shutil.rmtree(cls.dir)

    def activations(self, hook):
        return self.f[f"activations/m/{hook}"][:].astype(np.float64)

    def test_cosine_matrices_and_histograms(self):
        hooks = list(self.f["activations/m"])
        self.assertEqual(len(hooks), 6)
        within = self.labels[:, None] == self.labels[None, :]
        for hook in hooks:
            g = self.f[f"results/cosine/m/{hook}"]
            s = cosine_matrix(self.activations(hook))
            np.testing.assert_allclose(g["matrix"][:], s, atol=1e-12)
            u, w = upper(s), upper(within)
            counts, edges = np.histogram(u, bins=12)
            np.testing.assert_array_equal(g["histogram/all"][:], counts)
            np.testing.assert_allclose(g["histogram/edges"][:], edges, atol=1e-12)
            np.testing.assert_array_equal(g["histogram/within"][:], np.histogram(u[w], bins=edges)[0])
            np.testing.assert_array_equal(g["histogram/between"][:], np.histogram(u[~w], bins=edges)[0])
            self.assertAlmostEqual(g.attrs["mean_within"], u[w].mean(), places=12)
            self.assertAlmostEqual(g.attrs["mean_between"], u[~w].mean(), places=12)

    def test_correlation_matrices(self):
        self.assertEqual(sorted(self.f["results/correlation/m"]), ["blocks.1.attn.hook_q", "blocks.2.attn.hook_q"])
        for hook in self.f["results/correlation/m"]:
            g = self.f[f"results/correlation/m/{hook}"]
            r = np.corrcoef(self.activations(hook))
            np.testing.assert_allclose(g["matrix"][:], r, atol=1e-12)
            np.testing.assert_array_equal(g["histogram/all"][:], np.histogram(upper(r), bins=7, range=(-1, 1))[0])

    def selectivity(self, s, pooled):
        names = list(CATEGORIES)
        iu = np.triu_indices(len(s), 1)
        a, b = self.labels[iu[0]], self.labels[iu[1]]
        v = s[iu]
        within = [v[(a == c) & (b == c)] for c in names]
        between = [v[((a == c) & (b == d)) | ((a == d) & (b == c))] for c, d in itertools.combinations(names, 2)]
        if pooled:
            return np.concatenate(within).mean() / np.concatenate(between).mean()
        return np.mean([w.mean() for w in within]) / np.mean([x.mean() for x in between])

    def test_selectivity_index_both_variants_and_permutation_test(self):
        for hook in self.f["activations/m"]:
            g = self.f[f"results/selectivity/m/{hook}"]
            s = cosine_matrix(self.activations(hook))
            self.assertAlmostEqual(g.attrs["index"], self.selectivity(s, pooled=False), places=12)
            null = g["null"][:]
            self.assertEqual(len(null), 500)
            self.assertAlmostEqual(g.attrs["p_value"], (1 + np.sum(null >= g.attrs["index"])) / 501, places=12)
            self.assertAlmostEqual(g.attrs["null_sd"], null.std(ddof=1), places=12)
            self.assertGreater(null.std(), 0)
            # Every null value is the index of some relabelling: it must stay within the range
            # a relabelling of this matrix can produce.
            self.assertTrue(np.all(np.isfinite(null)))
        for hook in self.f["results/selectivity_pooled/m"]:
            g = self.f[f"results/selectivity_pooled/m/{hook}"]
            self.assertEqual(g.attrs["variant"], "pooled")
            s = cosine_matrix(self.activations(hook))
            self.assertAlmostEqual(g.attrs["index"], self.selectivity(s, pooled=True), places=12)
            self.assertNotIn("p_value", g.attrs)

    def test_rsa_every_method_overall_and_within_categories(self):
        for name, method in METHODS.items():
            for layer, (x, y) in itertools.product([1, 2], [("q", "k"), ("k", "v")]):
                hx, hy = f"blocks.{layer}.attn.hook_{x}", f"blocks.{layer}.attn.hook_{y}"
                g = self.f[f"results/rsa_{name}/m/{hx}~{hy}"]
                # The RDMs: 1 - cosine (rdm: cosine, the default)
                a, b = 1 - cosine_matrix(self.activations(hx)), 1 - cosine_matrix(self.activations(hy))
                self.assertAlmostEqual(g.attrs["r"], reference_compare(upper(a), upper(b), method), places=10,
                                       msg=f"{method} {hx}~{hy}")
                self.assertEqual(g.attrs["n_pairs"], len(upper(a)))
                for c, words in CATEGORIES.items():
                    idx = np.flatnonzero(self.labels == c)
                    sub = g[f"categories/{c}"]
                    self.assertEqual(sub.attrs["n_pairs"], len(words) * (len(words) - 1) // 2)
                    expected = reference_compare(upper(a[np.ix_(idx, idx)]), upper(b[np.ix_(idx, idx)]), method)
                    self.assertAlmostEqual(sub.attrs["r"], expected, places=10)
                self.assertGreaterEqual(g.attrs["p_value"], 1 / 201)
                self.assertLessEqual(g.attrs["p_value"], 1)
                self.assertLessEqual(g.attrs["ci_low"], g.attrs["ci_high"])

    def test_rerunning_after_the_model_is_gone_and_adding_a_metric(self):
        model = os.path.join(self.dir, "model")
        moved = model + ".away"
        os.rename(model, moved)
        try:
            with open(self.yaml) as f:
                text = f.read()
            extra = self.yaml.replace(".yaml", "-extra.yaml")
            with open(extra, "w") as f:
                f.write(text.replace("output: run.h5", "  - metric: cosine\n    name: cosine_k\n    sites: [k]\noutput: run.h5"))
            r = subprocess.run([BIN, "run", extra], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("using the activations already in", r.stdout)
            self.assertIn("analyze: cosine_k: done", r.stdout)
            self.assertEqual(r.stdout.count(": done"), 1)  # only the new metric ran
        finally:
            os.rename(moved, model)


if __name__ == "__main__":
    unittest.main()


class TwoModels(unittest.TestCase):
    """Several models in one experiment: each is extracted, and RSA compares them site by site."""

    def test_rsa_across_models(self):
        tmp = tempfile.mkdtemp(prefix="laminar-two-")
        try:
            for name, seed, layers in (("a", "11", "2"), ("b", "12", "3")):  # of different depth
                subprocess.run([PYTHON, MAKE_MODEL, os.path.join(tmp, name), "--layers", layers, "--heads", "2",
                                "--width", "32", "--seed", seed], check=True)
            yaml = os.path.join(tmp, "two.yaml")
            categories = "\n".join(f"    {c}: [{', '.join(w)}]" for c, w in CATEGORIES.items())
            with open(yaml, "w") as f:
                f.write(f"""experiment: two-models
models:
  - {{id: small-a, backend: gpt2, path: a}}
  - {{id: small-b, backend: gpt2, path: b}}
stimuli:
  template: "The next word is {{word}}"
  categories:
{categories}
extract:
  - {{extractor: residual, layers: all}}
analyze:
  - {{metric: rsa, pairs: [["small-a:resid_post", "small-b:resid_post"]], method: spearman, permutations: 99, bootstrap: 20}}
  - {{metric: rsa, name: by_depth, pairs: [["small-a:resid_post", "small-b:resid_post"]], align: relative_depth,
     permutations: 0, bootstrap: 0}}
output: two.h5
""")
            r = subprocess.run([BIN, "run", yaml], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            # Layer 2 of the deeper model has no partner: said, never dropped silently.
            self.assertIn("warning: analyze rsa: pairs[0]: 1 of the 3 sets of model 'small-b' have no partner at the same "
                          "layer in 'small-a' and are left out (name hooks to pair other layers, or align: "
                          "relative_depth): blocks.2.hook_resid_post", r.stdout)
            self.assertNotIn("sets of model 'small-a'", r.stdout)
            # align: relative_depth pairs layer 0 with 0 and the last with the last (0 -> 0, 1 -> 2).
            self.assertIn("warning: analyze by_depth: pairs[0]: 1 of the 3 sets of model 'small-b' have no partner at the "
                          "same layer in 'small-a' and are left out (name hooks to pair other layers): "
                          "blocks.1.hook_resid_post", r.stdout)
            with h5py.File(os.path.join(tmp, "two.h5"), "r") as f:
                self.assertEqual(sorted(f["activations"]), ["small-a", "small-b"])
                self.assertEqual(sorted(f["results/by_depth/small-a~small-b"]),
                                 ["blocks.0.hook_resid_post~blocks.0.hook_resid_post",
                                  "blocks.1.hook_resid_post~blocks.2.hook_resid_post"])
                self.assertEqual(f["activations/small-b"].attrs["n_layer"], 3)
                pairs = f["results/rsa/small-a~small-b"]
                self.assertEqual(sorted(pairs), [f"blocks.{l}.hook_resid_post~blocks.{l}.hook_resid_post" for l in (0, 1)])
                for l in (0, 1):
                    hook = f"blocks.{l}.hook_resid_post"
                    a = cosine_matrix(f[f"activations/small-a/{hook}"][:].astype(np.float64))
                    b = cosine_matrix(f[f"activations/small-b/{hook}"][:].astype(np.float64))
                    self.assertAlmostEqual(pairs[f"{hook}~{hook}"].attrs["r"], stats.spearmanr(upper(a), upper(b))[0],
                                           places=10)
        finally:
            shutil.rmtree(tmp)


class Mistakes(unittest.TestCase):
    def test_a_site_that_was_not_recorded_is_an_error_naming_the_field(self):
        tmp = tempfile.mkdtemp(prefix="laminar-typo-")
        try:
            subprocess.run([PYTHON, MAKE_MODEL, os.path.join(tmp, "m"), "--layers", "1", "--heads", "2", "--width", "16"],
                           check=True)
            yaml = os.path.join(tmp, "typo.yaml")
            with open(yaml, "w") as f:
                f.write("""experiment: typo
models: [{id: m, backend: gpt2, path: m}]
stimuli: {template: "The {word}", categories: {a: [cat, dog], b: [pear, plum]}}
extract: [{extractor: attention, sites: [q, k], layers: [0]}]
analyze:
  - metric: selectivity
    sites: [v]
output: run.h5
""")
            # Known before anything runs: what the extractors will record.
            r = subprocess.run([BIN, "run", yaml], capture_output=True, text=True)
            self.assertEqual(r.returncode, 2)
            self.assertIn("typo.yaml:7:13: analyze[0].sites[0]: no extractor records 'v' (recorded: sites q, k;", r.stderr)
            self.assertFalse(os.path.exists(os.path.join(tmp, "run.h5")))
            # The analyze stage alone checks against what the run file holds.
            r = subprocess.run([BIN, "run", yaml, "--stage", "extract"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = subprocess.run([BIN, "run", yaml, "--stage", "analyze"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 2)
            self.assertIn("typo.yaml:7:12: analyze[0].sites: no activations of model 'm' match these sites", r.stderr)
            self.assertIn("recorded: blocks.0.attn.hook_q, blocks.0.attn.hook_k", r.stderr)
        finally:
            shutil.rmtree(tmp)
