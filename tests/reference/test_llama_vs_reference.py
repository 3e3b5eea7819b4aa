"""laminar's llama backend (Llama, Mistral, Qwen2) against the independent numpy forward pass
(llama_numpy.py), on random models made by tools/make_model.py in save_pretrained's layout with
real tokenizers from ../shared/tokenizers: grouped-query attention, F32 / F16 / BF16, sharded
and single files, tied and untied unembedding, Qwen2's q/k/v biases, Mistral's sliding window.
Every hook point within 1e-4 absolute. Run by ctest (llama_vs_reference).
"""
import os
import shutil
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

import llama_numpy

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
PYTHON = os.environ.get("LAMINAR_PYTHON", "/usr/bin/python3")
SHARED = os.path.join(os.environ["LAMINAR_SOURCE"], "..", "shared", "tokenizers")
TOLERANCE = 1e-4

MODELS = {
    "llama-gqa-f32": ["--family", "llama", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--width", "64", "--seed", "1"],
    "mistral-bf16-sharded-window": ["--family", "mistral", "--layers", "2", "--heads", "4", "--kv-heads", "1", "--width", "32",
                                    "--dtype", "bf16", "--shards", "2", "--sliding-window", "3", "--seed", "2"],
    "qwen2-f16-tied": ["--family", "qwen2", "--layers", "2", "--heads", "2", "--width", "32", "--dtype", "f16", "--tied",
                       "--rope-theta", "1000000", "--seed", "3"],
}
HOOKS = ["hook_embed", "blocks.0.hook_attn_out", "blocks.1.hook_mlp_out", "ln_final.hook_normalized", "logits"]


def experiment(model_dir, out, position="last", heads="concat"):
    return f"""experiment: llama-check
models:
  - id: m
    backend: llama
    path: {model_dir}
stimuli:
  template: "The {{word}} is next to me"
  position: {position}
  categories:
    space: [galaxy, asteroid, moon]
    fruit: [pear, pomegranate, apple]
extract:
  - extractor: attention
    sites: [q, k, v, rot_q, rot_k]
    heads: {heads}
    layers: all
  - extractor: residual
    sites: [resid_pre, resid_mid, resid_post]
    layers: all
  - extractor: hooks
    hooks: [{", ".join(HOOKS)}]
output: {out}
"""


@unittest.skipUnless(os.path.isdir(SHARED), f"the real tokenizer files are not at {SHARED} (../shared/tokenizers)")
class LlamaAgainstReference(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-llama-")
        for name, options in MODELS.items():
            subprocess.run([PYTHON, MAKE_MODEL, os.path.join(cls.dir, name), *options], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def extract(self, model, position="last", heads="concat"):
        out = os.path.join(self.dir, f"{model}-{position}-{heads}.h5")
        yaml = out[:-3] + ".yaml"
        with open(yaml, "w") as f:
            f.write(experiment(os.path.join(self.dir, model), out, position, heads))
        r = subprocess.run([BIN, "run", yaml, "--stage", "extract"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return out

    def compare(self, model, position):
        config, weights = llama_numpy.load(os.path.join(self.dir, model))
        worst = 0.0
        with h5py.File(self.extract(model, position), "r") as f:
            ids, pos = f["stimuli/token_ids"][:], f["stimuli/position"][:]
            begin, end = f["stimuli/word_begin"][:], f["stimuli/word_end"][:]
            sets = f["activations/m"]
            self.assertEqual(len(sets), 8 * config["num_hidden_layers"] + len(HOOKS))
            for i, prompt in enumerate(ids):
                self.assertNotEqual(pos[i], 0 if model.startswith(("llama", "mistral")) else -2)  # never the BOS
                ref = llama_numpy.forward(config, weights, list(prompt))
                for hook, data in sets.items():
                    value = ref[hook].reshape(len(prompt), -1)
                    expected = value[pos[i]] if pos[i] >= 0 else value[begin[i]:end[i]].mean(0)
                    diff = np.abs(data[i].astype(np.float64) - expected).max()
                    worst = max(worst, diff)
                    self.assertLess(diff, TOLERANCE, f"{model} {hook} stimulus {i} position {position}")
        return worst

    def test_every_hook_of_every_model(self):
        for model in MODELS:
            for position in ["last", "word_mean"]:
                with self.subTest(model=model, position=position):
                    print(f"{model} {position}: max |laminar - numpy| = {self.compare(model, position):.2e}")

    def test_bos_is_part_of_the_prompt_but_never_analysed(self):
        with h5py.File(self.extract("llama-gqa-f32"), "r") as f:
            for prompt, p, b in zip(f["stimuli/token_ids"][:], f["stimuli/position"][:], f["stimuli/word_begin"][:]):
                self.assertEqual(prompt[0], 1)  # <s>
                self.assertEqual(p, len(prompt) - 1)
                self.assertGreater(b, 1)

    def test_separate_heads_follow_grouped_query_attention(self):
        config, weights = llama_numpy.load(os.path.join(self.dir, "llama-gqa-f32"))
        with h5py.File(self.extract("llama-gqa-f32", heads="separate"), "r") as f:
            ids, pos = f["stimuli/token_ids"][:], f["stimuli/position"][:]
            for site, heads in [("q", 4), ("rot_q", 4), ("k", 2), ("v", 2), ("rot_k", 2)]:
                self.assertNotIn(f"blocks.1.attn.hook_{site}.head{heads}", f["activations/m"])
                for h in range(heads):
                    data = f[f"activations/m/blocks.1.attn.hook_{site}.head{h}"]
                    self.assertEqual(data.shape[1], 16)
                    for i, prompt in enumerate(ids):
                        ref = llama_numpy.forward(config, weights, list(prompt))[f"blocks.1.attn.hook_{site}"]
                        np.testing.assert_allclose(data[i], ref[pos[i], h], atol=TOLERANCE)


if __name__ == "__main__":
    unittest.main()
