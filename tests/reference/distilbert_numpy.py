"""An independent DistilBERT forward pass in numpy (float64), for checking laminar's.

Written from the published architecture (Sanh et al. 2019; Hugging Face's modeling_distilbert),
sharing no code with laminar: word + position embeddings (no token types) and LayerNorm, then
post-LayerNorm blocks (attention, sa_layer_norm, FFN, output_layer_norm) with bidirectional
attention, q divided by sqrt(d_head), every LayerNorm at eps 1e-12, then the MLM head where there
is one (vocab_transform, the config's activation, vocab_layer_norm, vocab_projector: its own
weight where written, else the word embeddings; plus its bias). Hook names as TransformerLens's
HookedEncoder.
"""
import numpy as np

from gpt2_numpy import gelu, layer_norm, load_files

EPS = 1e-12


def load(folder):
    return load_files(folder, prefix="distilbert.")


def forward(config, w, ids):
    d, H, T, act = config["dim"], config["n_heads"], len(ids), config.get("activation", "gelu")
    dh = d // H
    ln = lambda x, name: layer_norm(x, w[name + ".weight"], w[name + ".bias"], EPS)
    hooks = {"hook_embed": w["embeddings.word_embeddings.weight"][ids],
             "hook_pos_embed": w["embeddings.position_embeddings.weight"][:T]}
    x = ln(hooks["hook_embed"] + hooks["hook_pos_embed"], "embeddings.LayerNorm")
    for l in range(config["n_layers"]):
        p, name = f"transformer.layer.{l}.", f"blocks.{l}."
        lin = lambda x, n: x @ w[p + n + ".weight"].T + w[p + n + ".bias"]
        hooks[name + "hook_resid_pre"] = x
        q, k, v = (lin(x, f"attention.{n}").reshape(T, H, dh) for n in ("q_lin", "k_lin", "v_lin"))
        hooks[name + "attn.hook_q"], hooks[name + "attn.hook_k"], hooks[name + "attn.hook_v"] = q, k, v
        scores = np.einsum("qhd,khd->hqk", q / np.sqrt(dh), k)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        pattern = scores / scores.sum(-1, keepdims=True)
        hooks[name + "attn.hook_pattern"] = pattern
        attn_out = lin(np.einsum("hqk,khd->qhd", pattern, v).reshape(T, d), "attention.out_lin")
        hooks[name + "hook_attn_out"] = attn_out
        hooks[name + "hook_resid_mid"] = x + attn_out
        mid = ln(x + attn_out, p + "sa_layer_norm")
        hooks[name + "hook_normalized_resid_mid"] = mid
        mlp_out = lin(gelu(lin(mid, "ffn.lin1"), act), "ffn.lin2")
        hooks[name + "hook_mlp_out"] = mlp_out
        hooks[name + "hook_resid_post"] = mid + mlp_out
        x = ln(mid + mlp_out, p + "output_layer_norm")
        hooks[name + "hook_normalized_resid_post"] = x
    if "vocab_transform.weight" in w:
        t = ln(gelu(x @ w["vocab_transform.weight"].T + w["vocab_transform.bias"], act), "vocab_layer_norm")
        projector = w.get("vocab_projector.weight", w["embeddings.word_embeddings.weight"])
        hooks["logits"] = t @ projector.T + w["vocab_projector.bias"]
    return hooks
