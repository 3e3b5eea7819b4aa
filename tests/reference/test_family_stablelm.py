"""laminar's stablelm backend against stablelm_numpy.py (family_check.py's checks): one model in
sequence with q/k/v biases and grouped-query attention (F32), one in parallel with per-head q/k
LayerNorms (F16, sharded), both with partial rotary embeddings and the untied head. Run by
ctest (family_stablelm)."""
import unittest

import family_check
import stablelm_numpy
from family_check import Model


class StableLm(family_check.FamilyCheck):  # (imported as a module: unittest would run the base too)
    MODELS = {
        "stablelm-sequential-gqa-bias-f32": Model(
            "stablelm", stablelm_numpy,
            ["--family", "stablelm", "--layers", "3", "--heads", "4", "--kv-heads", "2", "--width", "64", "--seed", "1",
             "--set", "use_qkv_bias=true", "--set", "partial_rotary_factor=0.25"],
            attention=("q", "k", "v", "rot_q", "rot_k"), residual=("resid_pre", "resid_mid", "resid_post"),
            hooks=("hook_embed", "blocks.1.hook_attn_out", "blocks.2.hook_mlp_out", "ln_final.hook_normalized", "logits")),
        "stablelm-parallel-qknorm-f16-sharded": Model(
            "stablelm", stablelm_numpy,
            ["--family", "stablelm", "--layers", "2", "--heads", "4", "--width", "64", "--dtype", "f16", "--shards", "2",
             "--seed", "2", "--set", "use_parallel_residual=true", "--set", "qk_layernorm=true",
             "--set", "partial_rotary_factor=0.5", "--set", "rope_theta=1000"],
            attention=("q", "k", "rot_q", "rot_k"), residual=("resid_post",),
            hooks=("blocks.0.attn.hook_q_normalized", "blocks.1.attn.hook_k_normalized", "blocks.1.hook_mlp_out", "logits")),
    }


if __name__ == "__main__":
    unittest.main()
