"""The encoding and decoding metrics (issue 26) against scikit-learn (Debian's python3-sklearn),
on run files of generated activations analysed by laminar:

* encoding: every fold laminar stores is refitted with RidgeCV(alphas, alpha_per_target=True,
  fit_intercept=True) on the same training words: the chosen alphas are equal, the held-out r
  within 1e-6, the score their median; with more dimensions than words and fewer, and with
  contexts kept (a word's rows averaged first). The ceiling is numpy's Spearman-Brown.
* decoding: every fold refitted with StandardScaler + LogisticRegression(C, solver="lbfgs") run
  to its optimum (tol 1e-10): predictions equal on >= 97 % of words, accuracy within one word,
  balanced accuracy scikit-learn's, with 3 classes (multinomial) and 2 (binary).
* Calibration: on 200 sets of random activations, each metric's p-values are uniform (the share
  at or under 0.05, 0.1, 0.25 and 0.5 within the binomial 99.9 % range, Kolmogorov-Smirnov p >
  0.001); power: planted linear structure gets the smallest p-value there is.
* The same numbers with 1 and 2 threads; targets and labels files checked against the stimuli
  at validate, the file and line named.
Run by ctest (encoding_decoding)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np
from scipy import stats
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import balanced_accuracy_score
from sklearn.preprocessing import StandardScaler

BIN = os.environ["LAMINAR_BIN"]
PYTHON = os.environ.get("LAMINAR_PYTHON", sys.executable)
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools", "bench"))
import synthetic_run  # noqa: E402

ALPHAS = [0.01, 0.1, 1, 10, 100, 1000, 10000]
NAMES = ["space", "fruit", "interior"]


def write_targets(path, words, Y, names=None):
    names = names or [f"t{j}" for j in range(Y.shape[1])]
    with open(path, "w") as f:
        f.write("word," + ",".join(names) + "\n")
        for w, row in zip(words, Y):
            f.write(w + "," + ",".join(repr(float(v)) for v in row) + "\n")


def sets_of(arrays, site="resid_post"):
    return {f"blocks.{i}.hook_{site}": (site, i, a.astype(np.float32)) for i, a in enumerate(arrays)}


def refit_encoding(X, Y, fold):
    """scikit-learn's RidgeCV on each fold laminar stored: alphas [folds x targets], r [targets]."""
    predicted, alphas = np.zeros_like(Y), []
    for f in range(fold.max() + 1):
        train, test = fold != f, fold == f
        model = RidgeCV(alphas=ALPHAS, alpha_per_target=True, fit_intercept=True).fit(X[train], Y[train])
        alphas.append(model.alpha_)
        predicted[test] = model.predict(X[test])
    r = np.array([np.corrcoef(predicted[:, j], Y[:, j])[0, 1] for j in range(Y.shape[1])])
    return np.array(alphas), r


def refit_decoding(X, y, fold, C=1.0):
    predicted = np.zeros_like(y)
    for f in range(fold.max() + 1):
        train, test = fold != f, fold == f
        scaler = StandardScaler().fit(X[train])
        model = LogisticRegression(C=C, solver="lbfgs", tol=1e-10, max_iter=100000)
        predicted[test] = model.fit(scaler.transform(X[train]), y[train]).predict(scaler.transform(X[test]))
    return predicted


class EncodingDecoding(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-encoding-")
        cls.model = os.path.join(cls.dir, "model")  # what validate checks the experiment's model path against
        subprocess.run([PYTHON, os.environ["LAMINAR_MAKE_MODEL"], cls.model, "--layers", "1", "--heads", "2", "--width", "16"],
                       check=True, capture_output=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def analyze(self, name, words, categories, sets, analyses, contexts=None):
        return synthetic_run.analyze(self.dir, name, words, categories, sets, contexts, analyses)

    def test_encoding_equals_ridgecv_on_every_fold(self):
        rng = np.random.default_rng(26)
        for design, (n, dims, contexts) in {"more dims than words": (48, 80, 1), "more words than dims": (90, 12, 1),
                                            "contexts kept": (36, 30, 3)}.items():
            with self.subTest(design=design):
                words = [f"w{i}" for i in range(n)]
                truth = rng.standard_normal((n, dims))
                Y = truth[:, :4] @ rng.standard_normal((4, 5)) + rng.standard_normal((n, 5)) * 2
                Y[:, 4] = rng.standard_normal(n) * 1e3  # pure noise, on another scale
                rows = np.repeat(truth, contexts, axis=0) + rng.standard_normal((n * contexts, dims)) * 0.5
                row_words = [w for w in words for _ in range(contexts)]
                cats = [NAMES[i % 3] for i in range(n) for _ in range(contexts)]
                targets = os.path.join(self.dir, f"targets-{n}.csv")
                write_targets(targets, words, Y)
                f = self.analyze(f"enc{n}", row_words, cats, sets_of([rows]),
                                 f"  - {{metric: encoding, targets: {targets}, permutations: 20, seed: 5}}",
                                 contexts=[c for _ in range(n) for c in range(contexts)] if contexts > 1 else None)
                g = f["results/encoding/m/blocks.0.hook_resid_post"]
                # the word's pattern: the float32 rows' mean in double, as laminar takes it
                X = rows.astype(np.float32).astype(np.float64).reshape(n, contexts, dims).mean(axis=1)
                alphas, r = refit_encoding(X, Y, g["fold"][:].astype(int))
                np.testing.assert_array_equal(g["alpha"][:], alphas)
                np.testing.assert_allclose(g["r"][:], r, atol=1e-6, rtol=0)
                self.assertAlmostEqual(g.attrs["score"], np.median(r), delta=1e-6)
                self.assertEqual(json.loads(g.attrs["targets"]), [f"t{j}" for j in range(5)])
                counts = np.bincount(g["fold"][:].astype(int))
                self.assertLessEqual(counts.max() - counts.min(), 1)

    def test_decoding_equals_logistic_regression_on_every_fold(self):
        rng = np.random.default_rng(27)
        for classes, (n, dims) in ((3, (60, 40)), (2, (50, 90))):
            with self.subTest(classes=classes):
                words = [f"w{i}" for i in range(n)]
                y = np.arange(n) % classes
                X = rng.standard_normal((classes, dims))[y] * 0.35 + rng.standard_normal((n, dims))
                cats = [NAMES[c] for c in y]
                f = self.analyze(f"dec{classes}", words, cats, sets_of([X]),
                                 "  - {metric: decoding, C: 0.5, permutations: 20, seed: 2}")
                g = f["results/decoding/m/blocks.0.hook_resid_post"]
                order = json.loads(g.attrs["labels"])
                self.assertEqual(order, NAMES[:classes])
                fold = g["fold"][:].astype(int)
                for c in range(classes):  # stratified: each fold holds each class in proportion
                    per_fold = np.bincount(fold[y == c], minlength=5)
                    self.assertLessEqual(per_fold.max() - per_fold.min(), 1)
                theirs = refit_decoding(X.astype(np.float32).astype(np.float64), y, fold, C=0.5)
                mine = g["predicted"][:].astype(int)
                self.assertGreaterEqual(np.mean(mine == theirs), 0.97)
                self.assertLessEqual(abs(np.sum(mine == y) - np.sum(theirs == y)), 1)
                self.assertAlmostEqual(g.attrs["accuracy"], np.mean(mine == y), places=12)
                self.assertAlmostEqual(g.attrs["balanced_accuracy"], balanced_accuracy_score(y, mine), places=12)
                self.assertAlmostEqual(g.attrs["chance"], np.bincount(y).max() / n, places=12)
                confusion = np.zeros((classes, classes))
                np.add.at(confusion, (y, mine), 1)
                np.testing.assert_array_equal(g["confusion"][:], confusion)

    def test_nulls_are_calibrated_and_planted_structure_is_found(self):
        rng = np.random.default_rng(28)
        n, dims, sets = 30, 40, 200  # more dimensions than words: the null's fast path (ridge_cv.hpp)
        words = [f"w{i}" for i in range(n)]
        cats = [NAMES[i % 3] for i in range(n)]
        noise = [rng.standard_normal((n, dims)) for _ in range(sets)]
        planted = rng.standard_normal((n, dims))
        Y = np.column_stack([planted[:, :2] @ rng.standard_normal(2), rng.standard_normal(n), planted[:, 3]])
        targets = os.path.join(self.dir, "calibration.csv")
        write_targets(targets, words, Y)
        labels = np.arange(n) % 3
        separated = rng.standard_normal((n, dims)) * 0.3
        separated[:, :3] += np.eye(3)[labels] * 3
        f = self.analyze("calibration", words, cats, sets_of(noise + [planted, separated]),
                         f"  - {{metric: encoding, targets: {targets}, permutations: 99, seed: 11, correction: none}}\n"
                         f"  - {{metric: decoding, permutations: 49, seed: 12, correction: none}}")
        for metric, permutations in (("encoding", 99), ("decoding", 49)):
            with self.subTest(metric=metric):
                p = np.array([f[f"results/{metric}/m/blocks.{i}.hook_resid_post"].attrs["p_value"] for i in range(sets)])
                for alpha in (0.05, 0.1, 0.25, 0.5):
                    low, high = stats.binom.ppf([0.0005, 0.9995], sets, alpha) / sets
                    self.assertTrue(low <= np.mean(p <= alpha + 1e-12) <= high, (alpha, np.mean(p <= alpha)))
                self.assertGreater(stats.kstest(p, "uniform").pvalue, 0.001)
                found = f[f"results/{metric}/m/blocks.{sets if metric == 'encoding' else sets + 1}.hook_resid_post"].attrs
                self.assertAlmostEqual(found["p_value"], 1 / (permutations + 1))
        self.assertGreater(f[f"results/encoding/m/blocks.{sets}.hook_resid_post"].attrs["score"], 0.5)
        self.assertGreater(f[f"results/decoding/m/blocks.{sets + 1}.hook_resid_post"].attrs["accuracy"], 0.75)  # chance: 1/3

    def test_ceiling_is_spearman_brown_and_threads_change_nothing(self):
        rng = np.random.default_rng(29)
        n, dims = 40, 16
        words = [f"w{i}" for i in range(n)]
        cats = [NAMES[i % 3] for i in range(n)]
        X = rng.standard_normal((n, dims))
        signal = X[:, :3] @ rng.standard_normal((3, 4))
        first, repeat = signal + rng.standard_normal((n, 4)), signal + rng.standard_normal((n, 4))
        targets, ceiling = os.path.join(self.dir, "first.csv"), os.path.join(self.dir, "repeat.csv")
        write_targets(targets, words, first)
        write_targets(ceiling, words, repeat)
        step = (f"  - {{metric: encoding, targets: {targets}, ceiling: {ceiling}, permutations: 30}}\n"
                "  - {metric: decoding, permutations: 30}")
        runs = {}
        for threads in ("1", "2"):
            os.environ["OMP_NUM_THREADS"] = threads
            try:
                runs[threads] = self.analyze(f"threads{threads}", words, cats, sets_of([X]), step)
            finally:
                del os.environ["OMP_NUM_THREADS"]
        g = runs["2"]["results/encoding/m/blocks.0.hook_resid_post"]
        r_half = np.array([np.corrcoef(first[:, j], repeat[:, j])[0, 1] for j in range(4)])
        np.testing.assert_allclose(g["ceiling"][:], 2 * r_half / (1 + r_half), atol=1e-12)
        self.assertAlmostEqual(g.attrs["score_normalized"], g.attrs["score"] / np.median(g["ceiling"][:]), places=12)
        for metric in ("encoding", "decoding"):
            a, b = (runs[t][f"results/{metric}/m/blocks.0.hook_resid_post"] for t in ("1", "2"))
            np.testing.assert_array_equal(a["null"][:], b["null"][:])
            self.assertEqual(a.attrs["p_value"], b.attrs["p_value"])

    def test_targets_and_labels_files_are_checked_at_validate(self):
        words = ["galaxy", "comet", "moon", "pear", "grape", "lime"]
        good = os.path.join(self.dir, "good.csv")
        write_targets(good, words, np.arange(12.0).reshape(6, 2))
        missing = os.path.join(self.dir, "missing.csv")
        write_targets(missing, words[:5], np.arange(10.0).reshape(5, 2))
        text = os.path.join(self.dir, "text.csv")
        with open(text, "w") as f:
            f.write("word,a\n" + "".join(f"{w},1\n" for w in words[:3]) + "pear,high\n" + "".join(f"{w},1\n" for w in words[4:]))
        labels = os.path.join(self.dir, "labels.csv")
        with open(labels, "w") as f:
            f.write("word,size\n" + "".join(f"{w},{'big' if i < 3 else 'small'}\n" for i, w in enumerate(words)))
        base = ('experiment: check\nmodels: [{id: m, path: ' + self.model + '}]\n'
                'stimuli: {template: "{word}", categories: {space: [galaxy, comet, moon], fruit: [pear, grape, lime]}}\n'
                'extract: [{extractor: residual, sites: [resid_post], layers: [0]}]\nanalyze:\n  - %s\noutput: out.h5\n')
        cases = {
            "{metric: encoding, targets: %s, folds: 2}" % missing: "no row for the stimuli's word(s) lime",
            "{metric: encoding, targets: %s, folds: 2}" % text: "text.csv:5: column 'a': 'high' is not a finite number",
            "{metric: encoding, targets: %s, folds: 7}" % good: "7 folds of 6 words: a fold needs a word",
            "{metric: decoding, labels: size, folds: 2}": "name it with labels_file",
            "{metric: decoding, labels: colour, labels_file: %s, folds: 2}" % labels: "no column 'colour'",
        }
        for step, expected in cases.items():
            with self.subTest(step=step):
                path = os.path.join(self.dir, "check.yaml")
                with open(path, "w") as f:
                    f.write(base % step)
                r = subprocess.run([BIN, "validate", path], capture_output=True, text=True)
                self.assertNotEqual(r.returncode, 0)
                self.assertIn(expected, r.stderr)
                self.assertIn("check.yaml", r.stderr)
        for step in ("{metric: encoding, targets: %s, folds: 2}" % good, "{metric: decoding, labels: size, labels_file: %s, folds: 2}" % labels):
            with open(path, "w") as f:
                f.write(base % step)
            r = subprocess.run([BIN, "validate", path], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)


if __name__ == "__main__":
    unittest.main()
