"""An independent RoBERTa forward pass in numpy (float64), for checking laminar's.

Written from the published architecture (Liu et al. 2019; Hugging Face's modeling_roberta),
sharing no code with laminar: word + position + token-type-0 embeddings and LayerNorm, positions
counted from pad_token_id + 1 (fairseq's make_positions: <pad> reads row pad_token_id), then
post-LayerNorm encoder blocks with bidirectional attention, then the MLM head where there is one
(dense, exact GELU, LayerNorm, decoder: lm_head.decoder.weight where written, else the word
embeddings; plus lm_head.bias). Hook names as TransformerLens's HookedEncoder.
"""
import math

import numpy as np

from gpt2_numpy import layer_norm, load_files
from neox_numpy import gelu


def load(folder):
    return load_files(folder, prefix="roberta.")


def forward(config, w, ids):
    d, H = config["hidden_size"], config["num_attention_heads"]
    dh, T, eps, pad = d // H, len(ids), config["layer_norm_eps"], config.get("pad_token_id", 1)
    act = config.get("hidden_act", "gelu")
    ln = lambda x, name: layer_norm(x, w[name + ".weight"], w[name + ".bias"], eps)
    counted = np.array(ids) != pad
    positions = np.cumsum(counted) * counted + pad
    hooks = {"hook_embed": w["embeddings.word_embeddings.weight"][ids],
             "hook_pos_embed": w["embeddings.position_embeddings.weight"][positions],
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
        assert act == "gelu"
        mlp_out = gelu(mid @ w[p + "intermediate.dense.weight"].T + w[p + "intermediate.dense.bias"]) @ \
            w[p + "output.dense.weight"].T + w[p + "output.dense.bias"]
        hooks[name + "hook_mlp_out"] = mlp_out
        hooks[name + "hook_resid_post"] = mid + mlp_out
        x = ln(mid + mlp_out, p + "output.LayerNorm")
        hooks[name + "hook_normalized_resid_post"] = x
    if "lm_head.dense.weight" in w:
        t = ln(gelu(x @ w["lm_head.dense.weight"].T + w["lm_head.dense.bias"]), "lm_head.layer_norm")
        decoder = w.get("lm_head.decoder.weight", w["embeddings.word_embeddings.weight"])
        hooks["logits"] = t @ decoder.T + w["lm_head.bias"]
    return hooks
