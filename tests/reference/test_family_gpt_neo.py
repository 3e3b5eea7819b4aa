"""laminar's gpt_neo backend against gpt_neo_numpy.py (family_check.py's checks): a local
window shorter than the prompt on alternating layers, unscaled scores, the tied head, F32 and
BF16 sharded files with the causal-mask buffers older Hub files carry. Run by ctest
(family_gpt_neo)."""
import unittest

import family_check
import gpt_neo_numpy
from family_check import Model


class GptNeo(family_check.FamilyCheck):  # (imported as a module: unittest would run the base too)
    MODELS = {
        "gpt-neo-window-f32": Model("gpt_neo", gpt_neo_numpy,
                                    ["--family", "gpt_neo", "--layers", "3", "--heads", "4", "--width", "64", "--seed", "1",
                                     "--set", "window_size=3"],
                                    attention=("q", "k", "v"), residual=("resid_pre", "resid_mid", "resid_post"),
                                    hooks=("hook_embed", "hook_pos_embed", "blocks.1.hook_attn_out", "blocks.2.hook_mlp_out",
                                           "ln_final.hook_normalized", "logits")),
        "gpt-neo-bf16-sharded": Model("gpt_neo", gpt_neo_numpy,
                                      ["--family", "gpt_neo", "--layers", "2", "--heads", "2", "--width", "32", "--dtype", "bf16",
                                       "--shards", "2", "--seed", "2", "--set", "window_size=2"],
                                      residual=("resid_post",), hooks=("logits",)),
    }


if __name__ == "__main__":
    unittest.main()
