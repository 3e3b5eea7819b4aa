"""Every metric, method and RDM on categories of 2, 3 and 4 words, with permutations and bootstrap
(issue 21): exit 0, nothing left beside the run file, NaN only where a warning names its result
group, the numbers that are defined within their ranges; selectivity's `difference` variant and
its ratios' ill-conditioning flag against numpy. Run by ctest (metrics_small_categories)."""
import itertools
import math
import os
import shutil
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
PYTHON = "/usr/bin/python3"

CATEGORIES = {"two": ["galaxy", "comet"], "three": ["pear", "grape", "apple"], "four": ["sofa", "lamp", "rug", "door"]}
METHODS = ["corr", "spearman", "tau-a", "rho-a", "cosine", "corr_cov", "cosine_cov"]
VARIANTS = ["mean_of_blocks", "pooled", "difference"]
BOOTSTRAP, PERMUTATIONS = 60, 60

EXPERIMENT = """experiment: small-categories
models:
  - id: m
    backend: gpt2
    path: {model}
stimuli:
{stimuli}
  categories:
{categories}
extract:
  - extractor: attention
    sites: [q, k]
    layers: [0, 1]
  - extractor: residual
    layers: [1]
{more_extract}
analyze:
{analyses}
output: run.h5
"""
MEAN = '  template: "The next word is {word}"'
KEEP = '  templates: ["The next word is {word}", "She looked at the {word} for a long time."]\n  contexts: keep\n  position: word_last'


def analyses(rdms, noise_ceiling):
    out = ["  - {metric: cosine, histogram: {bins: 5}}", "  - {metric: correlation, histogram: {bins: 5}}"]
    for similarity, variant in itertools.product(["cosine", "correlation"], VARIANTS):
        out.append(f"  - {{metric: selectivity, name: sel_{similarity}_{variant}, similarity: {similarity}, "
                   f"variant: {variant}, permutations: {PERMUTATIONS}, seed: 2}}")
    for rdm, method in itertools.product(rdms, METHODS):
        out.append(f"  - {{metric: rsa, name: rsa_{rdm}_{method.replace('-', '_')}, rdm: {rdm}, method: {method}, "
                   f"pairs: [[q, k], [resid_post, hypothesis:category]], hypotheses: {{category: category}}, "
                   f"noise_ceiling: {str(noise_ceiling).lower()}, permutations: {PERMUTATIONS}, bootstrap: {BOOTSTRAP}, seed: 3}}")
    out.append(f"  - {{metric: cka, pairs: [[q, k]], rbf: 0.5, permutations: {PERMUTATIONS}, bootstrap: {BOOTSTRAP}, seed: 4}}")
    out.append("  - {metric: mutual_information, pairs: [[q, k]], sites: [q], permutations: 20, seed: 5}")
    out.append("  - {metric: effective_dimensionality, shuffles: 5}")
    return "\n".join(out)


def upper(m):
    return m[np.triu_indices(len(m), 1)]


def similarity(x, kind):
    if kind == "correlation":
        x = x - x.mean(axis=1, keepdims=True)
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    return u @ u.T


def contrast(s, labels, names, variant, words):
    """numpy: the within and between means an index compares, overall and per category; pairs
    of one word's contexts left out (with contexts kept the word is the unit)."""
    i, j = np.triu_indices(len(s), 1)
    i, j = i[words[i] != words[j]], j[words[i] != words[j]]
    a, b, v = labels[i], labels[j], s[i, j]
    block = {(c, d): v[((a == c) & (b == d)) | ((a == d) & (b == c))] for c in names for d in names}
    if variant == "pooled":
        within = np.concatenate([block[c, c] for c in names]).mean()
        between = np.concatenate([block[c, d] for c, d in itertools.combinations(names, 2)]).mean()
        between_c = [np.concatenate([block[c, d] for d in names if d != c]).mean() for c in names]
    else:
        within = np.mean([block[c, c].mean() for c in names])
        between = np.mean([block[c, d].mean() for c, d in itertools.combinations(names, 2)])
        between_c = [np.mean([block[c, d].mean() for d in names if d != c]) for c in names]
    return within, between, np.array([block[c, c].mean() for c in names]), np.array(between_c)


class SmallCategories(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-small-")
        model = os.path.join(cls.dir, "model")
        subprocess.run([PYTHON, MAKE_MODEL, model, "--layers", "2", "--heads", "2", "--width", "32", "--seed", "21"],
                       check=True, capture_output=True)
        categories = "\n".join(f"    {c}: [{', '.join(w)}]" for c, w in CATEGORIES.items())
        cls.runs = {}
        for name, stimuli, rdms, more in [
                ("mean", MEAN, ["cosine", "correlation", "euclidean"], "  - {extractor: logit_lens, k: 3}"),
                ("keep", KEEP, ["cosine", "correlation", "euclidean", "crossnobis"], "")]:
            folder = os.path.join(cls.dir, name)
            os.makedirs(folder)
            body = analyses(rdms, noise_ceiling=name == "keep") + ("\n  - {metric: logit_lens}" if more else "")
            with open(os.path.join(folder, "exp.yaml"), "w") as f:
                f.write(EXPERIMENT.format(model=model, stimuli=stimuli, categories=categories, more_extract=more, analyses=body))
            exp = os.path.join(folder, "exp.yaml")  # (the report stage left out: a minute of figures)
            r = subprocess.run([BIN, "run", exp, "--stage", "extract"], capture_output=True, text=True)
            if r.returncode == 0:
                r = subprocess.run([BIN, "run", exp, "--stage", "analyze"], capture_output=True, text=True)
            cls.runs[name] = (r, folder)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def each_run(self):
        """(contexts, open run file) of each run, once it is known to have succeeded."""
        for name, (r, folder) in self.runs.items():
            self.assertEqual(r.returncode, 0, r.stderr[-3000:])  # before issue 21: SIGABRT (-6) in rsa spearman
            self.assertEqual(sorted(os.listdir(folder)), ["exp.yaml", "run.h5"])  # no .lock, no .partial
            with h5py.File(os.path.join(folder, "run.h5"), "r") as f:
                yield name, f

    def test_nan_only_where_a_warning_names_the_result(self):
        for _, f in self.each_run():
            for analysis, root in f["results"].items():
                warnings = warnings_of(root).splitlines()
                checked = []

                def visit(path, obj):
                    values = [v for v in obj.attrs.values() if isinstance(v, (float, np.floating))]
                    if isinstance(obj, h5py.Dataset) and obj.dtype.kind == "f":
                        values += list(np.ravel(obj[()]))
                        path = path.rsplit("/", 1)[0]  # a dataset's group names it
                    if any(math.isnan(v) for v in values):
                        checked.append(path)
                        self.assertTrue(any(w.startswith(path + ":") or w.startswith(path + "/") for w in warnings),
                                        f"{analysis}/{path} has NaN and no warning names it; warnings: {warnings}")
                root.visititems(visit)
                if analysis.startswith("rsa_"):  # the category "two" has one pair: its r is NaN, and said so
                    self.assertTrue(any("/categories/two" in c for c in checked), analysis)

    def test_defined_numbers_are_in_range_and_skipped_bootstrap_samples_are_counted(self):
        for _, f in self.each_run():
            for analysis, root in f["results"].items():
                warnings = warnings_of(root)

                def visit(path, g):
                    if not isinstance(g, h5py.Group):
                        return
                    a = g.attrs
                    if "p_value" in a:
                        self.assertTrue(1 / (1 + PERMUTATIONS) - 1e-12 <= a["p_value"] <= 1, (analysis, path))
                    for key in ("r", "cka"):
                        if key in a and np.isfinite(a[key]):
                            self.assertLessEqual(abs(a[key]), 1 + 1e-9, (analysis, path, key))
                    if "n_bootstrap_used" in a:
                        used = a["n_bootstrap_used"]
                        self.assertLessEqual(used, BOOTSTRAP)
                        self.assertEqual("ci_low" in a, used > 0, (analysis, path))
                        if "ci_low" in a:
                            self.assertLessEqual(a["ci_low"], a["ci_high"])
                        if used < BOOTSTRAP:
                            self.assertIn(f"{path}: {BOOTSTRAP - used} of {BOOTSTRAP} bootstrap samples drew fewer than 3",
                                          warnings)
                    if np.isfinite(a.get("participation_ratio", np.nan)):
                        self.assertTrue(1 - 1e-9 <= a["participation_ratio"] <= a["n"], (analysis, path))
                    for key in ("mi_binned", "mi_equal_frequency", "mi_ksg"):
                        if key in a:
                            self.assertGreaterEqual(a[key], 0)
                root.visititems(visit)
                if analysis.startswith("rsa_"):  # 9 words in all: resamples of fewer than 3 happen, and are counted ...
                    used = [g.attrs["n_bootstrap_used"] for _, g in _groups(root) if "~" in g.name and "categories" not in g.name
                            and "n_bootstrap_used" in g.attrs]
                    self.assertTrue(used, analysis)
                    # ... and within "four" (under 10 words, issue 23) no interval is given, and a warning says why
                    four = [g for _, g in _groups(root) if g.name.endswith("categories/four")]
                    self.assertTrue(four, analysis)
                    for g in four:
                        self.assertFalse({"ci_low", "ci_high", "n_bootstrap_used"} & set(g.attrs), g.name)
                        self.assertIn(g.name[len(root.name) + 1:] + ": no bootstrap interval: 4 words, fewer than 10", warnings)

    def test_selectivity_every_variant_against_numpy(self):
        flagged = set()
        for contexts, f in self.each_run():
            labels = np.array([c.decode() for c in f["stimuli/category"][()]])
            for kind, variant in itertools.product(["cosine", "correlation"], VARIANTS):
                for hook, g in f[f"results/sel_{kind}_{variant}/m"].items():
                    s = similarity(f[f"activations/m/{hook}"][()].astype(np.float64), kind)
                    words = np.array([w.decode() for w in f["stimuli/word"][()]])
                    within, between, within_c, between_c = contrast(s, labels, list(CATEGORIES), variant, words)
                    a = g.attrs
                    self.assertEqual(a["variant"], variant)
                    self.assertAlmostEqual(a["mean_within"], within, delta=1e-12)
                    self.assertAlmostEqual(a["mean_between"], between, delta=1e-12)
                    per = within_c - between_c if variant == "difference" else within_c / between_c
                    index = within - between if variant == "difference" else within / between
                    tolerance = 1e-10 * max(1.0, abs(index))  # a ratio near its pole amplifies rounding
                    self.assertAlmostEqual(a["index"], index, delta=tolerance)
                    np.testing.assert_allclose(g["per_category"][()], per, rtol=1e-10, atol=1e-12)
                    null = g["null"][()]  # its own test, from its own null
                    self.assertAlmostEqual(a["p_value"], (1 + np.sum(null >= a["index"])) / (1 + len(null)), delta=1e-15)
                    if variant == "difference":
                        self.assertNotIn("ill_conditioned", a)
                        continue
                    bound = 0.25 * np.std(upper(s), ddof=1)
                    self.assertEqual(bool(a["ill_conditioned"]), between <= bound, (contexts, kind, variant, hook))
                    said = f"m/{hook}: the selectivity index ("
                    self.assertEqual(said in warnings_of(g.parent.parent), between <= bound)
                    flagged.add(between <= bound)
        self.assertEqual(flagged, {True, False})  # both kinds of set were met: the check above is not vacuous


def warnings_of(analysis):
    text = analysis.attrs.get("warnings", "")
    return text.decode() if isinstance(text, bytes) else text


def _groups(root):
    out = []
    root.visititems(lambda path, obj: out.append((path, obj)) if isinstance(obj, h5py.Group) else None)
    return out


if __name__ == "__main__":
    unittest.main()
