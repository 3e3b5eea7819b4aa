"""laminar's gptj backend against gptj_numpy.py (family_check.py's checks): rotary_dim smaller
than the head (rotate-every-two on part of it), attention and MLP in parallel from one
LayerNorm, the untied head with a bias and a vocabulary larger than the tokenizer's, F32 and
BF16 sharded files with the causal-mask buffers older Hub files carry. Run by ctest
(family_gptj)."""
import unittest

import family_check
import gptj_numpy
from family_check import Model


class GptJ(family_check.FamilyCheck):  # (imported as a module: unittest would run the base too)
    MODELS = {
        "gptj-partial-rotary-f32": Model("gptj", gptj_numpy,
                                         ["--family", "gptj", "--layers", "3", "--heads", "4", "--width", "64", "--seed", "1",
                                          "--set", "rotary_dim=6"],
                                         attention=("q", "k", "v", "rot_q", "rot_k"), residual=("resid_pre", "resid_post"),
                                         hooks=("hook_embed", "blocks.1.hook_attn_out",
                                                "blocks.2.hook_mlp_out", "ln_final.hook_normalized", "logits")),
        "gptj-bf16-sharded": Model("gptj", gptj_numpy,
                                   ["--family", "gptj", "--layers", "2", "--heads", "2", "--width", "32", "--dtype", "bf16",
                                    "--shards", "2", "--seed", "2", "--set", "rotary_dim=8"],
                                   attention=("rot_q",), residual=("resid_post",), hooks=("logits",)),
    }


if __name__ == "__main__":
    unittest.main()
