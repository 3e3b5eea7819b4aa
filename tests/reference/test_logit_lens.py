"""The logit lens (issue 11, item 4) against numpy: the residual stream at the token before each
word by numpy's own forward pass, through the final norm and the unembedding read from the
model's safetensors by numpy (gpt2_numpy, llama_numpy), then softmax, top k, entropy, KL to the
last layer, the word's rank and probability and the top logit's z-score; for GPT-2 (tied
unembedding) and Llama (lm_head). For BERT the masked variant: the prompt with the word's
tokens replaced by [MASK] through bert_numpy, each layer's normalized stream at the word's first
token through the MLM head, the target the word's true first token."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

import bert_numpy
import gpt2_numpy
import llama_numpy
from neox_numpy import gelu

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "python"))
import laminar  # noqa: E402

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
PYTHON = "/usr/bin/python3"

EXPERIMENT = """experiment: lens
models:
  - {{id: m, backend: {backend}, path: model-{name}}}
stimuli:
  template: "She looked at the {{word}} for a long time"
  position: word_first
  categories:
    space: [galaxy, comet, moon, star]
    fruit: [pear, grape, apple, dragonfruit]
extract:
  - {{extractor: residual, layers: all}}
  - {{extractor: logit_lens, k: 5}}
analyze:
  - {{metric: logit_lens}}
output: {name}.h5
"""
SHARED = os.path.join(os.environ["LAMINAR_SOURCE"], "..", "shared", "tokenizers")  # Llama's and BERT's tokenizers
MODELS = {"gpt2": ("gpt2", ["--layers", "3", "--heads", "2", "--width", "32", "--seed", "3"]),
          "llama": ("llama", ["--family", "llama", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--width", "32", "--seed", "3"]),
          "bert": ("bert", ["--family", "bert", "--layers", "2", "--heads", "2", "--width", "32", "--seed", "3"])}
MODULES = {"gpt2": gpt2_numpy, "llama": llama_numpy, "bert": bert_numpy}


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


class LogitLens(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-lens-")
        # GPT-2's vocabulary comes with the project (npm); Llama's from ../shared/tokenizers.
        cls.made = [name for name in MODELS if name == "gpt2" or os.path.isdir(SHARED)]
        for name in cls.made:
            backend, args = MODELS[name]
            subprocess.run([PYTHON, MAKE_MODEL, os.path.join(cls.dir, f"model-{name}"), *args], check=True, capture_output=True)
            with open(os.path.join(cls.dir, f"{name}.yaml"), "w") as f:
                f.write(EXPERIMENT.format(backend=backend, name=name))
            r = subprocess.run([BIN, "run", os.path.join(cls.dir, f"{name}.yaml"), "--quiet"], capture_output=True, text=True)
            assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def unembed(self, name, x):
        if name == "bert":
            config, w = bert_numpy.load(os.path.join(self.dir, "model-bert"))
            ln = lambda v, n: gpt2_numpy.layer_norm(v, w[n + ".weight"], w[n + ".bias"], config["layer_norm_eps"])
            t = ln(gelu(x @ w["cls.predictions.transform.dense.weight"].T + w["cls.predictions.transform.dense.bias"]),
                   "cls.predictions.transform.LayerNorm")
            return t @ w["embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]
        if name == "gpt2":
            config, w = gpt2_numpy.load(os.path.join(self.dir, "model-gpt2"))
            h = gpt2_numpy.layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], config.get("layer_norm_epsilon", 1e-5))
            return h @ w["wte.weight"].T
        config, w = llama_numpy.load(os.path.join(self.dir, "model-llama"))
        h = llama_numpy.rms_norm(x, w["norm.weight"], config.get("rms_norm_eps", 1e-6))
        head = w["lm_head.weight"] if "lm_head.weight" in w else w["embed_tokens.weight"]
        return h @ head.T

    def test_lens_statistics_equal_numpy_from_the_recorded_residuals(self):
        for name in MODELS:
            with self.subTest(model=name):
                if name not in self.made:
                    self.skipTest(f"the real tokenizer files are not at {SHARED} (../shared/tokenizers)")
                self.check_model(name)

    def check_model(self, name):
        with h5py.File(os.path.join(self.dir, f"{name}.h5"), "r") as f:
            # position word_first recorded the word's token; the lens reads the one before it,
            # which word_first of the prompt "... the {word} ..." is not: record it by hand.
            ids = f["stimuli/token_ids"][()]
            begin = f["stimuli/word_begin"][()]
            end = f["stimuli/word_end"][()]
            layers = sorted(int(h.split(".")[1]) for h in f["activations/m"] if h.endswith("hook_resid_post"))
            results = f["results/logit_lens/m"]
            self.assertEqual(list(results["entropy_columns"][()]), layers)
            final = None
            for li, layer in reversed(list(enumerate(layers))):
                x = self.lens_input(name, ids, begin, end, layer)
                lp = log_softmax(self.unembed(name, x.astype(np.float64)))
                if final is None:
                    final = lp
                p = np.exp(lp)
                top = np.argsort(-lp, axis=1, kind="stable")[:, :5]
                np.testing.assert_array_equal(results["top_ids"][:, li, :], top)
                np.testing.assert_allclose(results["top_probs"][:, li, :], np.take_along_axis(p, top, 1), rtol=1e-4, atol=1e-7)
                np.testing.assert_allclose(results["entropy"][:, li], -(p * lp).sum(1) / np.log(2), rtol=1e-4, atol=1e-6)
                np.testing.assert_allclose(results["kl_to_final"][:, li], (p * (lp - final)).sum(1) / np.log(2), atol=1e-5)
                target = np.array([row[b] for row, b in zip(ids, begin)])
                t = lp[np.arange(len(target)), target]
                np.testing.assert_array_equal(results["target_rank"][:, li], 1 + (lp > t[:, None]).sum(1))
                np.testing.assert_allclose(results["target_prob"][:, li], np.exp(t), rtol=1e-4, atol=1e-9)
                z = (lp.max(1) - lp.mean(1)) / lp.std(1)
                np.testing.assert_allclose(results["top_logit_z"][:, li], z, rtol=1e-4)
            np.testing.assert_array_equal(results["kl_to_final"][:, -1], 0)
            # The tokens read as text without the model: the target (the word's first
            # token) is the start of " word".
            data = f["stimuli/by_model/m/vocabulary_bytes"][()].tobytes()
            offsets = f["stimuli/by_model/m/vocabulary_offsets"][()]
            for row, b, word in zip(ids, begin, f["stimuli/word"][()]):
                text = data[offsets[row[b]]:offsets[row[b] + 1]].decode("utf-8", errors="replace").replace("\u2581", " ")
                self.assertTrue((" " + word.decode()).startswith(text) or word.decode().startswith(text), (text, word))

    def test_the_figure_draws_the_stored_lens(self):
        run = laminar.open(os.path.join(self.dir, "gpt2.h5"))
        fig = laminar.plot_logit_lens(run)
        by_label = {ax.get_ylabel(): ax for ax in fig.axes}
        left, right, rank = fig.axes[0], by_label["bits (mean over stimuli)"], by_label["target rank (median, log)"]
        with h5py.File(os.path.join(self.dir, "gpt2.h5"), "r") as f:
            g = f["results/logit_lens/m"]
            np.testing.assert_allclose(left.images[0].get_array(), g["top_probs"][:, :, 0], rtol=1e-6)
            first = [t.get_text() for t in left.texts[:3]]  # stimulus 0 at layers 0, 1, 2
            self.assertEqual(first, [repr(t)[1:-1][:10] for t in run.tokens("m", g["top_ids"][0, :, 0])])
            np.testing.assert_allclose(right.lines[0].get_ydata(), g["entropy"][()].mean(0), rtol=1e-6)
            np.testing.assert_allclose(right.lines[1].get_ydata(), g["kl_to_final"][()].mean(0), rtol=1e-6, atol=1e-9)
            np.testing.assert_allclose(rank.lines[0].get_ydata(), np.median(g["target_rank"][()], 0))
        # and the run's page has it
        self.assertTrue(os.path.exists(os.path.join(self.dir, "gpt2", "figures", "logit_lens-m.png")))

    def test_the_masked_variant_is_refused_where_it_cannot_be(self):
        experiment = EXPERIMENT.format(backend="gpt2", name="gpt2").replace("output: gpt2.h5", "output: refused.h5")
        for change, line, expected in [
                ("k: 5, at: masked_word}", 12, "extract[1].at: masked_word needs a mask token"),
                ("k: 5, at: masked_word, continuation: ' is'}", 12, "extract[1].continuation: the masked word is its own target")]:
            with self.subTest(change=change):
                path = os.path.join(self.dir, "refused.yaml")
                with open(path, "w") as f:
                    f.write(experiment.replace("k: 5}", change))
                r = subprocess.run([BIN, "run", path, "--quiet"], capture_output=True, text=True)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(f"refused.yaml:{line}:", r.stderr)
                self.assertIn(expected, r.stderr)
                self.assertFalse(os.path.exists(os.path.join(self.dir, "refused.h5")))

    def test_the_reader_gives_the_top_tokens_as_text(self):
        run = laminar.open(os.path.join(self.dir, "gpt2.h5"))
        table = run.logit_lens()
        self.assertEqual(len(table), 8 * 3 * 5)
        first = table[(table["stimulus"] == 0) & (table["layer"] == 2) & (table["rank"] == 1)].iloc[0]
        with h5py.File(os.path.join(self.dir, "gpt2.h5"), "r") as f:
            self.assertEqual(first["token_id"], f["results/logit_lens/m/top_ids"][0, 2, 0])
            data = f["stimuli/by_model/m/vocabulary_bytes"][()].tobytes()
            offsets = f["stimuli/by_model/m/vocabulary_offsets"][()]
            token = first["token_id"]
            self.assertEqual(first["token"], data[offsets[token]:offsets[token + 1]].decode("utf-8", errors="replace"))

    def mask_id(self):
        """[MASK]'s id, as the model folder's tokenizer.json lists it among its added tokens."""
        with open(os.path.join(self.dir, "model-bert", "tokenizer.json")) as f:
            return next(t["id"] for t in json.load(f)["added_tokens"] if t["content"] == "[MASK]")

    def lens_input(self, name, ids, begin, end, layer):
        """What the lens reads after `layer`, by numpy's forward: a decoder's residual stream at the
        token before each word; BERT's normalized stream at the word's first token, the word masked."""
        module = MODULES[name]
        config, w = module.load(os.path.join(self.dir, f"model-{name}"))
        rows = []
        for row, b, e in zip(ids, begin, end):
            row = np.asarray(row, dtype=np.int64)
            if name == "bert":
                row = row.copy()
                row[b:e] = self.mask_id()
                rows.append(module.forward(config, w, row)[f"blocks.{layer}.hook_normalized_resid_post"][b])
            else:
                rows.append(module.forward(config, w, row)[f"blocks.{layer}.hook_resid_post"][b - 1])
        return np.array(rows)


if __name__ == "__main__":
    unittest.main()
