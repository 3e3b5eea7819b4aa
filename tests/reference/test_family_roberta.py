"""laminar's roberta backend against roberta_numpy.py (family_check.py's checks): the MLM head
with the decoder tied and not written (F32), an untied decoder that is written (F16, sharded),
RobertaModel without a head or prefix (BF16); positions from pad_token_id + 1; <s> and </s>
around every prompt, never analysed. Run by ctest (family_roberta)."""
import unittest

import h5py

import family_check
import roberta_numpy
from family_check import Model


class Roberta(family_check.FamilyCheck):  # (imported as a module: unittest would run the base too)
    MODELS = {
        "roberta-mlm-f32": Model("roberta", roberta_numpy,
                                 ["--family", "roberta", "--layers", "3", "--heads", "4", "--width", "64", "--seed", "1"],
                                 attention=("q", "k", "v"),
                                 residual=("resid_pre", "resid_mid", "normalized_resid_mid", "resid_post", "normalized_resid_post"),
                                 hooks=("hook_embed", "hook_pos_embed", "hook_token_type_embed", "blocks.1.hook_attn_out",
                                        "blocks.2.hook_mlp_out", "logits")),
        "roberta-untied-f16-sharded": Model("roberta", roberta_numpy,
                                            ["--family", "roberta", "--layers", "2", "--heads", "2", "--width", "32", "--dtype", "f16",
                                             "--shards", "2", "--seed", "2", "--set", "tie_word_embeddings=false"],
                                            residual=("resid_post", "normalized_resid_post"), hooks=("logits",)),
        "roberta-model-bf16": Model("roberta", roberta_numpy,
                                    ["--family", "roberta", "--layers", "2", "--heads", "4", "--width", "32", "--dtype", "bf16",
                                     "--seed", "3", "--set", 'architectures=["RobertaModel"]'],
                                    residual=("resid_pre", "normalized_resid_post"), hooks=("hook_pos_embed",)),
    }

    def test_s_and_end_tokens_are_in_the_prompt_but_never_analysed(self):
        for position in ["last", "word_mean"]:
            with self.subTest(position=position), h5py.File(self.run_laminar("roberta-mlm-f32", f"specials-{position}",
                                                                            position=position), "r") as f:
                ids, pos = f["stimuli/token_ids"][:], f["stimuli/position"][:]
                begin, end = f["stimuli/word_begin"][:], f["stimuli/word_end"][:]
                for i, prompt in enumerate(ids):
                    prompt = list(prompt)
                    self.assertEqual(prompt[0], 0)    # <s>
                    self.assertEqual(prompt[-1], 2)   # </s>
                    self.assertNotIn(0, prompt[1:])
                    self.assertNotIn(2, prompt[:-1])
                    if position == "last":
                        self.assertEqual(pos[i], len(prompt) - 2)  # "me", not </s>
                    else:
                        self.assertGreaterEqual(begin[i], 1)
                        self.assertLessEqual(end[i], len(prompt) - 1)


if __name__ == "__main__":
    unittest.main()
