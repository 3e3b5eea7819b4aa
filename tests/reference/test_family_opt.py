"""laminar's opt backend against opt_numpy.py (family_check.py's checks): a pre-LayerNorm model
(OPTForCausalLM's model.decoder.* keys, F32), a post-LayerNorm one with project_in / project_out
(word_embed_proj_dim half of hidden_size, OPTModel's decoder.* keys as the Hub's files, F16,
sharded), and one without biases, LayerNorm affine parameters or final LayerNorm (enable_bias,
layer_norm_elementwise_affine, _remove_final_layer_norm), BF16. The tokenizer prepends </s>.
Run by ctest (family_opt)."""
import os
import unittest

import h5py

import family_check
import opt_numpy
from family_check import Model


class Opt(family_check.FamilyCheck):  # (imported as a module: unittest would run the base too)
    MODELS = {
        "opt-pre-ln-f32": Model("opt", opt_numpy,
                                ["--family", "opt", "--layers", "3", "--heads", "4", "--width", "64", "--seed", "1"],
                                attention=("q", "k", "v"), residual=("resid_pre", "resid_mid", "resid_post"),
                                hooks=("hook_embed", "hook_pos_embed", "blocks.1.hook_attn_out",
                                       "blocks.2.hook_mlp_out", "ln_final.hook_normalized", "logits")),
        "opt-post-ln-projected-f16-sharded": Model(
            "opt", opt_numpy,
            ["--family", "opt", "--layers", "2", "--heads", "4", "--width", "64", "--dtype", "f16", "--shards", "2",
             "--seed", "2", "--set", "do_layer_norm_before=false", "--set", "word_embed_proj_dim=32",
             "--set", 'architectures=["OPTModel"]'],
            residual=("resid_pre", "resid_mid", "normalized_resid_mid", "resid_post", "normalized_resid_post"),
            hooks=("hook_embed", "blocks.0.hook_attn_out", "blocks.1.hook_mlp_out", "logits")),
        "opt-no-bias-affine-final-bf16": Model(
            "opt", opt_numpy,
            ["--family", "opt", "--layers", "2", "--heads", "2", "--width", "32", "--dtype", "bf16", "--seed", "3",
             "--set", "enable_bias=false", "--set", "layer_norm_elementwise_affine=false",
             "--set", "_remove_final_layer_norm=true"],
            residual=("resid_mid", "resid_post"), hooks=("logits",)),
    }

    def test_prompts_start_with_the_bos_token_which_is_never_analysed(self):
        out = self.run_laminar("opt-pre-ln-f32", "bos", position="word_mean")
        with h5py.File(out, "r") as f:
            ids, begin = f["stimuli/token_ids"][:], f["stimuli/word_begin"][:]
            for prompt, b in zip(ids, begin):
                self.assertEqual(prompt[0], 2)  # </s>, OPT's BOS
                self.assertNotIn(2, list(prompt[1:]))
                self.assertGreaterEqual(b, 1)


if __name__ == "__main__":
    unittest.main()
