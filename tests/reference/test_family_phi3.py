"""laminar's phi3 backend against phi3_numpy.py (family_check.py's checks): the fused qkv_proj and
gate_up_proj cut into q, k, v and gate, up; a sliding window of 3 keys (shorter than the prompts);
rotary on half of each head (partial_rotary_factor 0.5); grouped-query attention; the untied head;
a BF16 file and an F32 sharded one without a window. Run by ctest (family_phi3)."""
import unittest

import family_check
import phi3_numpy
from family_check import Model


class Phi3(family_check.FamilyCheck):  # (imported as a module: unittest would run the base too)
    MODELS = {
        "phi3-window-partial-bf16": Model("phi3", phi3_numpy,
                                          ["--family", "phi3", "--layers", "3", "--heads", "4", "--kv-heads", "2", "--width", "64",
                                           "--dtype", "bf16", "--seed", "1", "--set", "sliding_window=3",
                                           "--set", "partial_rotary_factor=0.5"],
                                          attention=("q", "k", "v"), residual=("resid_pre", "resid_mid", "resid_post"),
                                          hooks=("hook_embed", "blocks.0.attn.hook_rot_q", "blocks.2.attn.hook_rot_k",
                                                 "blocks.1.hook_attn_out", "blocks.2.hook_mlp_out", "ln_final.hook_normalized",
                                                 "logits")),
        "phi3-f32-sharded": Model("phi3", phi3_numpy,
                                  ["--family", "phi3", "--layers", "2", "--heads", "4", "--width", "32", "--shards", "2",
                                   "--seed", "2", "--set", "sliding_window=null"],
                                  residual=("resid_mid", "resid_post"), hooks=("blocks.1.attn.hook_rot_k", "logits")),
    }


if __name__ == "__main__":
    unittest.main()
