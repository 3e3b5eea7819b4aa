"""The logit lens's statistics audited (issue 23, items 4 and 10): against numpy's forward pass
on a tiny random GPT-2 (tools/make_model.py), with a word in two contexts.

* `contexts: mean` (the default) with the lens is refused, by `run` and by `validate`, naming
  the extractor and what to write instead. Before, the host averaged the lens's rows over a
  word's contexts: top_ids such as 280.667 (a mean of token ids), probabilities averaged across
  different tokens, a mean rank.
* With contexts kept, `kl_from_final` = KL(final ‖ layer) (the tuned lens's direction, Belrose et
  al. 2023) beside `kl_to_final` = KL(layer ‖ final), both in bits, against numpy.
* `target_rank` counts ties in the target's favour: 1 + the tokens with a strictly higher
  probability. The model's unembedding is edited so that the target (" the", a continuation)
  and 200 other tokens have the same logit (their rows of the tied embedding zeroed): a rank
  that counted ties against the target, or as scipy's average rank, would be 200 or 100 worse.

Run by ctest (logit_lens_audit)."""
import json
import os
import shutil
import struct
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

import gpt2_numpy

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
PYTHON = "/usr/bin/python3"

THE = 262                   # GPT-2's " the": the continuation whose first token is the target
TIED = range(1000, 1200)    # tokens given the target's logit (0) by zeroing their embedding rows
TOL = 1e-5                  # numpy's float64 forward against laminar's float32: log-probabilities agree to this

EXPERIMENT = """experiment: lens-audit
models:
  - {{id: m, backend: gpt2, path: model}}
stimuli:
  templates: ["She looked at the {{word}} for a long time", "A {{word}} was all we saw"]
{contexts}  position: word_first
  categories:
    space: [galaxy, comet, moon, star]
    fruit: [pear, grape, apple, plum]
extract:
  - {{extractor: logit_lens, k: 5, at: position, continuation: " the"}}
analyze:
  - {{metric: logit_lens}}
output: {name}.h5
"""


def log_softmax(z):
    z = z - z.max(-1, keepdims=True)
    return z - np.log(np.exp(z).sum(-1, keepdims=True))


def edit(path, tensor, change):
    """Replaces a float32 tensor of a safetensors file by change(tensor), in place."""
    with open(path, "r+b") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        info = json.loads(f.read(n))[tensor]
        assert info["dtype"] == "F32", info
        begin, end = info["data_offsets"]
        f.seek(8 + n + begin)
        a = np.frombuffer(f.read(end - begin), "<f4").reshape(info["shape"]).copy()
        change(a)
        f.seek(8 + n + begin)
        f.write(a.astype("<f4").tobytes())


class LensAudit(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-lens-audit-")
        model = os.path.join(cls.dir, "model")
        subprocess.run([PYTHON, MAKE_MODEL, model, "--layers", "3", "--heads", "2", "--width", "32", "--seed", "7"],
                       check=True, capture_output=True)
        weights = os.path.join(model, "model.safetensors")
        edit(weights, "transformer.wte.weight", lambda w: w.__setitem__([THE, *TIED], 0))
        # A random model's lens is near uniform (logits of SD 0.1): the final norm's gain x 8
        # makes each layer's distribution peaked and different, and the two KLs far apart.
        edit(weights, "transformer.ln_f.weight", lambda g: g.__imul__(8))
        for name, contexts in (("kept", "  contexts: keep\n"), ("mean", "")):
            with open(os.path.join(cls.dir, f"{name}.yaml"), "w") as f:
                f.write(EXPERIMENT.format(contexts=contexts, name=name))
        r = subprocess.run([BIN, "run", os.path.join(cls.dir, "kept.yaml"), "--quiet"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        cls.f = h5py.File(os.path.join(cls.dir, "kept.h5"), "r")
        # numpy's lens: the residual stream at each word's first token (`at: position`, so that
        # every word has its own distribution), final norm, tied unembedding.
        config, w = gpt2_numpy.load(model)
        ids, position = cls.f["stimuli/token_ids"][()], cls.f["stimuli/position"][()]
        forwards = [gpt2_numpy.forward(config, w, np.asarray(row, dtype=np.int64)) for row in ids]
        cls.log_probs = []  # [layer] -> [stimuli x vocabulary]
        for layer in range(config["n_layer"]):
            x = np.array([f[f"blocks.{layer}.hook_resid_post"][p] for f, p in zip(forwards, position)])
            h = gpt2_numpy.layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], config.get("layer_norm_epsilon", 1e-5))
            cls.log_probs.append(log_softmax(h @ w["wte.weight"].T))

    @classmethod
    def tearDownClass(cls):
        cls.f.close()
        shutil.rmtree(cls.dir)

    def test_contexts_mean_is_refused_with_the_field_and_what_to_write(self):
        path = os.path.join(self.dir, "mean.yaml")
        for command in ("run", "validate"):
            with self.subTest(command=command):
                r = subprocess.run([BIN, command, path, "--quiet"] if command == "run" else [BIN, command, path],
                                   capture_output=True, text=True)
                self.assertEqual(r.returncode, 2, r.stdout + r.stderr)
                self.assertRegex(r.stderr, r"mean\.yaml:\d+:\d+: extract\[0\]")
                self.assertIn("'blocks.0.lens.top_ids'", r.stderr)
                self.assertIn("cannot be averaged over a word's contexts", r.stderr)
                self.assertIn("stimuli.contexts: keep", r.stderr)
                self.assertFalse(os.path.exists(os.path.join(self.dir, "mean.h5")))

    def test_kl_in_both_directions_equals_numpy(self):
        g = self.f["results/logit_lens/m"]
        final = self.log_probs[-1]
        self.assertEqual(g["kl_from_final"].shape, (16, 3))  # 8 words x 2 contexts, 3 layers
        for layer, lp in enumerate(self.log_probs):
            to_final = (np.exp(lp) * (lp - final)).sum(1) / np.log(2)
            from_final = (np.exp(final) * (final - lp)).sum(1) / np.log(2)
            np.testing.assert_allclose(g["kl_to_final"][:, layer], to_final, rtol=1e-4, atol=TOL)
            np.testing.assert_allclose(g["kl_from_final"][:, layer], from_final, rtol=1e-4, atol=TOL)
            if layer < 2:  # the two directions differ (KL is not symmetric)
                self.assertGreater(np.abs(to_final - from_final).max(), 0.1)
        np.testing.assert_array_equal(g["kl_from_final"][:, -1], 0)

    def test_target_rank_counts_ties_in_the_targets_favour(self):
        g = self.f["results/logit_lens/m"]
        rest = np.setdiff1d(np.arange(self.log_probs[0].shape[1]), [THE, *TIED])
        for layer, lp in enumerate(self.log_probs):
            t = lp[:, THE]
            np.testing.assert_array_equal(lp[:, list(TIED)], np.repeat(t[:, None], len(TIED), 1))  # tied exactly
            # 1 + the tokens strictly above the target; a token within TOL of it (not one of the
            # tied) may fall on either side between numpy's float64 and laminar's float32.
            above = 1 + (lp[:, rest] > t[:, None] + TOL).sum(1)
            near = (np.abs(lp[:, rest] - t[:, None]) <= TOL).sum(1)
            rank = g["target_rank"][:, layer]
            self.assertTrue(np.all(rank >= above) and np.all(rank <= above + near), (layer, rank, above, near))
            self.assertTrue(np.all(near < 50), near)  # so that counting ties against it (+200) or averaging (+100) shows
            np.testing.assert_allclose(g["target_prob"][:, layer], np.exp(t), rtol=1e-4)


if __name__ == "__main__":
    unittest.main()
