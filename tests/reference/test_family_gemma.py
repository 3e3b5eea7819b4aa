"""laminar's gemma backend on Gemma folders against gemma_numpy.py (family_check.py's checks):
head_dim not hidden_size / heads, multi-query attention (one key/value head), (1 + w) RMSNorms,
the embedding scale sqrt(hidden_size) rounded to BF16 (width 48: 6.9375, not 6.9282), GeGLU,
the tied head; a BF16 file and an F32 sharded one whose config has only hidden_act (the older
configs: gelu_pytorch_tanh all the same). Run by ctest (family_gemma)."""
import unittest

import family_check
import gemma_numpy
from family_check import Model


class Gemma(family_check.FamilyCheck):  # (imported as a module: unittest would run the base too)
    MODELS = {
        "gemma-mqa-bf16": Model("gemma", gemma_numpy,
                                ["--family", "gemma", "--layers", "3", "--heads", "4", "--kv-heads", "1", "--width", "48",
                                 "--dtype", "bf16", "--seed", "1", "--set", "head_dim=16"],
                                attention=("q", "k", "v"), residual=("resid_pre", "resid_mid", "resid_post"),
                                hooks=("hook_embed", "blocks.0.attn.hook_rot_q", "blocks.1.attn.hook_rot_k",
                                       "blocks.1.hook_attn_out", "blocks.2.hook_mlp_out", "ln_final.hook_normalized", "logits")),
        "gemma-f32-sharded": Model("gemma", gemma_numpy,
                                   ["--family", "gemma", "--layers", "2", "--heads", "2", "--kv-heads", "1", "--width", "32",
                                    "--shards", "2", "--seed", "2", "--set", "head_dim=24", "--set", "hidden_activation=null",
                                    "--set", "rope_theta=500.0"],
                                   residual=("resid_mid", "resid_post"), hooks=("hook_embed", "logits")),
    }


if __name__ == "__main__":
    unittest.main()
