"""An independent BERT forward pass in numpy (float64), for checking laminar's.

Written from the published architecture (Devlin et al. 2019; Hugging Face's modeling_bert),
sharing no code with laminar: word + position + token-type-0 embeddings and LayerNorm, then
post-LayerNorm encoder blocks with bidirectional attention and exact GELU, then the MLM head
(dense, GELU, LayerNorm, decoder tied to the word embeddings, bias). Hook names as
TransformerLens's HookedEncoder. LayerNorm.gamma/beta are read as weight/bias.
"""
import math

import numpy as np

from gpt2_numpy import layer_norm, load_files
from neox_numpy import gelu


def load(folder):
    config, w = load_files(folder, prefix="bert.")
    return config, {k.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias"): v
                    for k, v in w.items()}


def forward(config, w, ids):
    d, H = config["hidden_size"], config["num_attention_heads"]
    dh, T, eps = d // H, len(ids), config["layer_norm_eps"]
    ln = lambda x, name: layer_norm(x, w[name + ".weight"], w[name + ".bias"], eps)
    hooks = {"hook_embed": w["embeddings.word_embeddings.weight"][ids],
             "hook_pos_embed": w["embeddings.position_embeddings.weight"][:T],
             "hook_token_type_embed": np.tile(w["embeddings.token_type_embeddings.weight"][0], (T, 1))}
    x = ln(hooks["hook_embed"] + hooks["hook_pos_embed"] + hooks["hook_token_type_embed"], "embeddings.LayerNorm")
    for l in range(config["num_hidden_layers"]):
        p, name = f"encoder.layer.{l}.", f"blocks.{l}."
        hooks[name + "hook_resid_pre"] = x
        q, k, v = ((x @ w[p + f"attention.self.{n}.weight"].T + w[p + f"attention.self.{n}.bias"]).reshape(T, H, dh)
                   for n in ("query", "key", "value"))
        hooks[name + "attn.hook_q"], hooks[name + "attn.hook_k"], hooks[name + "attn.hook_v"] = q, k, v
        scores = np.einsum("qhd,khd->hqk", q, k) / math.sqrt(dh)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        pattern = scores / scores.sum(-1, keepdims=True)
        hooks[name + "attn.hook_pattern"] = pattern
        z = np.einsum("hqk,khd->qhd", pattern, v).reshape(T, d)
        attn_out = z @ w[p + "attention.output.dense.weight"].T + w[p + "attention.output.dense.bias"]
        hooks[name + "hook_attn_out"] = attn_out
        hooks[name + "hook_resid_mid"] = x + attn_out
        mid = ln(x + attn_out, p + "attention.output.LayerNorm")
        hooks[name + "hook_normalized_resid_mid"] = mid
        mlp_out = gelu(mid @ w[p + "intermediate.dense.weight"].T + w[p + "intermediate.dense.bias"]) @ \
            w[p + "output.dense.weight"].T + w[p + "output.dense.bias"]
        hooks[name + "hook_mlp_out"] = mlp_out
        hooks[name + "hook_resid_post"] = mid + mlp_out
        x = ln(mid + mlp_out, p + "output.LayerNorm")
        hooks[name + "hook_normalized_resid_post"] = x
    if "cls.predictions.bias" in w:
        t = ln(gelu(x @ w["cls.predictions.transform.dense.weight"].T + w["cls.predictions.transform.dense.bias"]),
               "cls.predictions.transform.LayerNorm")
        hooks["logits"] = t @ w["embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]
    return hooks
