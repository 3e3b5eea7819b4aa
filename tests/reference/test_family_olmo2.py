"""laminar's olmo2 backend against olmo2_numpy.py (family_check.py's checks): q_norm / k_norm
over the whole projections before rotary (their own hooks), post-norms of the attention and MLP
outputs with no input norms, grouped-query attention, the untied head; an F16 sharded file and
an F32 one with attention biases and rope_theta 500000. Run by ctest (family_olmo2)."""
import unittest

import family_check
import olmo2_numpy
from family_check import Model


class Olmo2(family_check.FamilyCheck):  # (imported as a module: unittest would run the base too)
    MODELS = {
        "olmo2-gqa-f16-sharded": Model("olmo2", olmo2_numpy,
                                       ["--family", "olmo2", "--layers", "3", "--heads", "4", "--kv-heads", "2", "--width", "64",
                                        "--dtype", "f16", "--shards", "2", "--seed", "1"],
                                       attention=("q", "k", "v"), residual=("resid_pre", "resid_mid", "resid_post"),
                                       hooks=("hook_embed", "blocks.0.attn.hook_q_normalized", "blocks.1.attn.hook_k_normalized",
                                              "blocks.2.attn.hook_rot_q", "blocks.1.attn.hook_rot_k", "blocks.0.hook_attn_out",
                                              "blocks.2.hook_mlp_out", "ln_final.hook_normalized", "logits")),
        "olmo2-bias-f32": Model("olmo2", olmo2_numpy,
                                ["--family", "olmo2", "--layers", "2", "--heads", "2", "--width", "32", "--seed", "2",
                                 "--rope-theta", "500000", "--set", "attention_bias=true"],
                                residual=("resid_mid", "resid_post"), hooks=("blocks.1.attn.hook_q_normalized", "logits")),
    }


if __name__ == "__main__":
    unittest.main()
