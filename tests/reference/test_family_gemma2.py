"""laminar's gemma backend on Gemma 2 folders against gemma_numpy.py (family_check.py's checks):
attention-logit and final-logit soft-caps small enough to bite (2 and 3), a sliding window of 3
keys (shorter than the prompts) on layers 0, 2, ... or as layer_types says, query_pre_attn_scalar
(24) not head_dim (16), the post-attention / pre- and post-feedforward (1 + w) norms,
grouped-query attention; a BF16 file and an F32 sharded one. Run by ctest (family_gemma2)."""
import unittest

import family_check
import gemma_numpy
from family_check import Model


class Gemma2(family_check.FamilyCheck):  # (imported as a module: unittest would run the base too)
    MODELS = {
        "gemma2-bf16": Model("gemma", gemma_numpy,
                             ["--family", "gemma2", "--layers", "3", "--heads", "4", "--kv-heads", "2", "--width", "48",
                              "--dtype", "bf16", "--seed", "1", "--set", "head_dim=16", "--set", "query_pre_attn_scalar=24",
                              "--set", "attn_logit_softcapping=2.0", "--set", "final_logit_softcapping=3.0",
                              "--set", "sliding_window=3"],
                             attention=("q", "k", "v"), residual=("resid_pre", "resid_mid", "resid_post"),
                             hooks=("hook_embed", "blocks.0.attn.hook_rot_q", "blocks.2.attn.hook_rot_k",
                                    "blocks.0.hook_attn_out", "blocks.1.hook_attn_out", "blocks.2.hook_mlp_out",
                                    "ln_final.hook_normalized", "logits")),
        "gemma2-layer-types-f32-sharded": Model("gemma", gemma_numpy,
                                                ["--family", "gemma2", "--layers", "3", "--heads", "2", "--kv-heads", "1",
                                                 "--width", "32", "--shards", "2", "--seed", "2", "--set", "head_dim=24",
                                                 "--set", "query_pre_attn_scalar=10", "--set", "sliding_window=2",
                                                 "--set", "attn_logit_softcapping=3.0", "--set", "final_logit_softcapping=null",
                                                 "--set", 'layer_types=["full_attention", "sliding_attention", "sliding_attention"]'],
                                                residual=("resid_mid", "resid_post"), hooks=("blocks.1.hook_attn_out", "logits")),
    }


if __name__ == "__main__":
    unittest.main()
