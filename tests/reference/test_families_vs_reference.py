"""laminar's gpt_neox, llama and bert backends against independent numpy forward passes
(neox_numpy.py, llama_numpy.py, bert_numpy.py), on random models made by tools/make_model.py in
save_pretrained's layout with the real tokenizers of ../shared/tokenizers; and gpt2 and
bert-base-uncased folders as the Hugging Face Hub publishes them (gpt2_numpy.py, bert_numpy.py).

The models cover: Pythia with parallel and with sequential residuals and two rotary shares;
Llama with grouped-query attention; Mistral with one key/value head and a sliding window
shorter than the prompts; Qwen2 with q/k/v biases, tied embeddings and a large rope_theta;
BERT with its MLM head and old LayerNorm.gamma/beta names, and a bare BertModel from vocab.txt.
The Hub folders hold their published config.json (gpt2's, as the Hub writes it, is
tests/data/gpt2_config.json; bert-base-uncased's is read from ../shared), the published
tokenizer files of ../shared/tokenizers/published (model sections without a type) and random
F32 weights of the true shapes under the Hub's keys: gpt2's without the transformer. prefix,
with the attn.bias buffers and no lm_head; bert's with LayerNorm.gamma/beta and both
pre-training heads (make_model.py --config; weights scaled to their width, see fan_in_scale).
F32, F16 and BF16 files, single and sharded. Every hook point at the analysed token within 1e-4
absolute, at the last token and averaged over the word; batches equal to prompts run alone.
The checks every family gets are family_check.py's; the tests here are the first wave's own.
Run by ctest (families_vs_reference).
"""
import json
import os
import shutil
import subprocess
import unittest

import h5py
import numpy as np

import bert_numpy
import family_check
import gpt2_numpy
import llama_numpy
import neox_numpy
from family_check import BIN, Model, SHARED, TOLERANCE

PUBLISHED = os.path.join(SHARED, "published")
ROTARY_SITES = ["q", "k", "v", "rot_q", "rot_k"]
MODELS = {name: Model(*entry) for name, entry in {  # backend, reference, make_model options, attention sites, residual sites, hooks
    "pythia-parallel-f32": ("gpt_neox", neox_numpy,
                            ["--family", "gpt_neox", "--layers", "2", "--heads", "4", "--width", "64", "--seed", "1"],
                            ROTARY_SITES, ["resid_pre", "resid_post"],
                            ["hook_embed", "blocks.0.hook_attn_out", "blocks.1.hook_mlp_out", "ln_final.hook_normalized", "logits"]),
    "pythia-sequential-bf16-sharded": ("gpt_neox", neox_numpy,
                                       ["--family", "gpt_neox", "--layers", "3", "--heads", "2", "--width", "32", "--sequential",
                                        "--rotary-pct", "0.5", "--dtype", "bf16", "--shards", "3", "--seed", "2"],
                                       ROTARY_SITES, ["resid_pre", "resid_mid", "resid_post"], ["logits"]),
    "llama-gqa-f32": ("llama", llama_numpy,
                      ["--family", "llama", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--width", "64", "--seed", "1"],
                      ROTARY_SITES, ["resid_pre", "resid_mid", "resid_post"],
                      ["hook_embed", "blocks.0.hook_attn_out", "blocks.1.hook_mlp_out", "ln_final.hook_normalized", "logits"]),
    # Wide enough that the MLP and head products run unpadded (models::linear pads only small
    # weights): batches must still give the numbers of prompts alone.
    "llama-wide-bf16": ("llama", llama_numpy,
                        ["--family", "llama", "--layers", "1", "--heads", "8", "--kv-heads", "2", "--width", "1024",
                         "--mlp", "4096", "--dtype", "bf16", "--seed", "6"],
                        ROTARY_SITES, ["resid_pre", "resid_post"], ["logits"]),
    "mistral-bf16-sharded-window": ("llama", llama_numpy,
                                    ["--family", "mistral", "--layers", "2", "--heads", "4", "--kv-heads", "1", "--width", "32",
                                     "--dtype", "bf16", "--shards", "2", "--sliding-window", "3", "--seed", "2"],
                                    ROTARY_SITES, ["resid_pre", "resid_mid", "resid_post"], ["logits"]),
    "qwen2-f16-tied": ("llama", llama_numpy,
                       ["--family", "qwen2", "--layers", "2", "--heads", "2", "--width", "32", "--dtype", "f16", "--tied",
                        "--rope-theta", "1000000", "--seed", "3"],
                       ROTARY_SITES, ["resid_pre", "resid_mid", "resid_post"], ["ln_final.hook_normalized", "logits"]),
    "bert-mlm-old-names": ("bert", bert_numpy,
                           ["--family", "bert", "--layers", "2", "--heads", "4", "--width", "64", "--old-names", "--seed", "4"],
                           ["q", "k", "v"], ["resid_pre", "resid_mid", "normalized_resid_mid", "resid_post", "normalized_resid_post"],
                           ["hook_embed", "hook_pos_embed", "hook_token_type_embed", "blocks.1.hook_attn_out", "logits"]),
    "bert-bare-f16-vocab-txt": ("bert", bert_numpy,
                                ["--family", "bert", "--layers", "2", "--heads", "2", "--width", "32", "--no-head",
                                 "--tokenizer", "files", "--dtype", "f16", "--seed", "5"],
                                ["q", "k", "v"], ["resid_post", "normalized_resid_post"], ["blocks.0.hook_mlp_out"]),
    "gpt2-hub": ("gpt2", gpt2_numpy,
                 ["--config", os.path.join(os.environ["LAMINAR_SOURCE"], "tests", "data", "gpt2_config.json"),
                  "--layout", "bare", "--tokenizer", "none", "--seed", "7"],
                 ["q", "k", "v"], ["resid_pre", "resid_mid", "resid_post"], ["ln_final.hook_normalized", "logits"]),
    "bert-base-uncased-hub": ("bert", bert_numpy,
                              ["--family", "bert", "--config", os.path.join(PUBLISHED, "bert-base-uncased", "config.json"),
                               "--old-names", "--tokenizer", "none", "--seed", "8"],
                              ["q", "k", "v"], ["resid_pre", "resid_post", "normalized_resid_post"], ["logits"]),
}.items()}
# The wide model's residual stream reaches ~200 and its MLP sums 4,096 products, which float32
# gets right to a few 1e-6 of the largest value: held to 1e-5 of the hook's largest value.
MODELS["llama-wide-bf16"].relative_tolerance = 1e-5
# The Hub folders' tokenizer files, linked from ../shared/tokenizers/published.
PUBLISHED_TOKENIZERS = {"gpt2-hub": ("gpt2", ["tokenizer.json", "vocab.json", "merges.txt"]),
                        "bert-base-uncased-hub": ("bert-base-uncased", ["tokenizer.json", "tokenizer_config.json", "vocab.txt"])}




class FamiliesAgainstReference(family_check.FamilyCheck):  # (imported as a module: unittest would run the base too)
    MODELS = MODELS
    BATCH_MODELS = ["pythia-sequential-bf16-sharded", "mistral-bf16-sharded-window", "llama-wide-bf16", "bert-mlm-old-names"]

    @classmethod
    def prepare(cls):
        os.remove(os.path.join(cls.dir, "bert-bare-f16-vocab-txt", "tokenizer.json"))  # vocab.txt alone
        for name, (published, files) in PUBLISHED_TOKENIZERS.items():
            for file in files:
                os.symlink(os.path.join(PUBLISHED, published, file), os.path.join(cls.dir, name, file))

    def test_added_tokens_are_in_the_prompt_but_never_analysed(self):
        for name, first, last in [("llama-gqa-f32", 1, None), ("bert-mlm-old-names", 101, 102), ("pythia-parallel-f32", None, None)]:
            with self.subTest(model=name), h5py.File(self.run_laminar(name, "added"), "r") as f:
                for prompt, p, b in zip(f["stimuli/token_ids"][:], f["stimuli/position"][:], f["stimuli/word_begin"][:]):
                    self.assertEqual(prompt[0] == first, first is not None)  # <s> / [CLS]
                    self.assertEqual(prompt[-1] == last, last is not None)  # [SEP]
                    self.assertEqual(p, len(prompt) - (2 if last else 1))
                    self.assertEqual(b, 2 if first else 1)  # "The" first, then the word

    def test_hub_folders_give_the_published_ids(self):
        """The first prompt, "The galaxy is next to me", numbered as the published vocabularies number its words."""
        with open(os.path.join(PUBLISHED, "gpt2", "vocab.json")) as f:
            gpt2 = json.load(f)
        with open(os.path.join(PUBLISHED, "bert-base-uncased", "vocab.txt")) as f:
            bert = {token: i for i, token in enumerate(f.read().split("\n"))}
        words = "The galaxy is next to me".split()
        expected = {"gpt2-hub": [gpt2[words[0]]] + [gpt2["\u0120" + w] for w in words[1:]],  # \u0120: a space before
                    "bert-base-uncased-hub": [bert["[CLS]"]] + [bert[w.lower()] for w in words] + [bert["[SEP]"]]}
        self.assertEqual(expected["gpt2-hub"][:3], [464, 16161, 318])
        for name, ids in expected.items():
            with self.subTest(model=name), h5py.File(self.run_laminar(name, "ids"), "r") as f:
                self.assertEqual(list(f["stimuli/token_ids"][0]), ids)

    def test_separate_heads_follow_grouped_query_attention(self):
        config, weights = llama_numpy.load(os.path.join(self.dir, "llama-gqa-f32"))
        with h5py.File(self.run_laminar("llama-gqa-f32", "heads", heads="separate"), "r") as f:
            ids, pos = f["stimuli/token_ids"][:], f["stimuli/position"][:]
            for site, heads in [("q", 4), ("rot_q", 4), ("k", 2), ("v", 2), ("rot_k", 2)]:
                self.assertNotIn(f"blocks.1.attn.hook_{site}.head{heads}", f["activations/m"])
                for h in range(heads):
                    data = f[f"activations/m/blocks.1.attn.hook_{site}.head{h}"]
                    self.assertEqual(data.shape[1], 16)
                    for i, prompt in enumerate(ids):
                        ref = llama_numpy.forward(config, weights, list(prompt))[f"blocks.1.attn.hook_{site}"]
                        np.testing.assert_allclose(data[i], ref[pos[i], h], atol=TOLERANCE)

    def test_a_model_type_no_plugin_reads_is_an_error_listing_those_read(self):
        folder = os.path.join(self.dir, "t5")
        shutil.copytree(os.path.join(self.dir, "bert-bare-f16-vocab-txt"), folder)
        with open(os.path.join(folder, "config.json")) as f:
            config = f.read()
        with open(os.path.join(folder, "config.json"), "w") as f:
            f.write(config.replace('"model_type": "bert"', '"model_type": "t5"'))
        yaml = os.path.join(self.dir, "t5.yaml")
        with open(yaml, "w") as f:
            f.write(family_check.experiment(MODELS["bert-bare-f16-vocab-txt"], folder, "t5.h5", backend=False))
        r = subprocess.run([BIN, "run", yaml], capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("t5.yaml:4:11: models[0].path:", r.stderr)
        self.assertIn('config.json: model_type "t5" is read by no model plugin (read: ', r.stderr)
        for read in ["gpt2: gpt2", "gpt_neox: gpt_neox", "llama: llama mistral qwen2", "bert: bert"]:
            self.assertIn(read, r.stderr)

    def test_hook_points_are_listed_per_family(self):
        def hooks(name):
            r = subprocess.run([BIN, "hooks", "--model", os.path.join(self.dir, name)], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            return r.stdout.split()
        self.assertIn("blocks.1.hook_resid_mid", hooks("pythia-sequential-bf16-sharded"))
        self.assertNotIn("blocks.1.hook_resid_mid", hooks("pythia-parallel-f32"))
        self.assertIn("blocks.1.attn.hook_rot_k", hooks("llama-gqa-f32"))
        self.assertIn("blocks.1.hook_normalized_resid_post", hooks("bert-mlm-old-names"))
        self.assertIn("logits", hooks("bert-mlm-old-names"))
        self.assertNotIn("logits", hooks("bert-bare-f16-vocab-txt"))


if __name__ == "__main__":
    unittest.main()
