"""laminar's distilbert backend against distilbert_numpy.py (family_check.py's checks): the MLM
head with vocab_projector tied and not written (F32), an untied projector that is written with
ReLU as the activation (F16, sharded), DistilBertModel without a head or prefix (BF16);
bert-base-uncased's tokenizer. Run by ctest (family_distilbert)."""
import unittest

import family_check
import distilbert_numpy
from family_check import Model


class DistilBert(family_check.FamilyCheck):  # (imported as a module: unittest would run the base too)
    MODELS = {
        "distilbert-mlm-f32": Model("distilbert", distilbert_numpy,
                                    ["--family", "distilbert", "--layers", "3", "--heads", "4", "--width", "64", "--seed", "1"],
                                    attention=("q", "k", "v"),
                                    residual=("resid_pre", "resid_mid", "normalized_resid_mid", "resid_post",
                                              "normalized_resid_post"),
                                    hooks=("hook_embed", "hook_pos_embed", "blocks.1.hook_attn_out", "blocks.2.hook_mlp_out",
                                           "logits")),
        "distilbert-untied-relu-f16-sharded": Model(
            "distilbert", distilbert_numpy,
            ["--family", "distilbert", "--layers", "2", "--heads", "2", "--width", "32", "--dtype", "f16", "--shards", "2",
             "--seed", "2", "--set", "tie_word_embeddings=false", "--set", 'activation="relu"'],
            residual=("resid_post", "normalized_resid_post"), hooks=("logits",)),
        "distilbert-model-bf16": Model("distilbert", distilbert_numpy,
                                       ["--family", "distilbert", "--layers", "2", "--heads", "4", "--width", "32", "--dtype",
                                        "bf16", "--seed", "3", "--set", 'architectures=["DistilBertModel"]'],
                                       residual=("resid_pre", "normalized_resid_post"), hooks=("hook_pos_embed",)),
    }


if __name__ == "__main__":
    unittest.main()
