"""laminar's phi backend against phi_numpy.py (family_check.py's checks): partial rotary (half of
each head), attention and MLP in parallel from one LayerNorm, biases everywhere, the untied head
with a bias; num_key_value_heads null in one model (F32), and in the other q/k LayerNorms shared
by the heads with grouped-query attention (BF16, sharded). Run by ctest (family_phi)."""
import unittest

import family_check
import phi_numpy
from family_check import Model


class Phi(family_check.FamilyCheck):  # (imported as a module: unittest would run the base too)
    MODELS = {
        "phi-partial-rotary-f32": Model(
            "phi", phi_numpy,
            ["--family", "phi", "--layers", "3", "--heads", "4", "--width", "64", "--seed", "1"],
            attention=("q", "k", "v", "rot_q", "rot_k"), residual=("resid_pre", "resid_post"),
            hooks=("hook_embed", "blocks.1.hook_attn_out", "blocks.2.hook_mlp_out", "ln_final.hook_normalized", "logits")),
        "phi-qknorm-gqa-bf16-sharded": Model(
            "phi", phi_numpy,
            ["--family", "phi", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--width", "64", "--dtype", "bf16",
             "--shards", "2", "--seed", "2", "--set", "qk_layernorm=true", "--set", "rope_theta=500"],
            attention=("q", "k", "rot_q", "rot_k"), residual=("resid_post",),
            hooks=("blocks.0.attn.hook_q_normalized", "blocks.1.attn.hook_k_normalized", "blocks.1.hook_mlp_out", "logits")),
    }


if __name__ == "__main__":
    unittest.main()
