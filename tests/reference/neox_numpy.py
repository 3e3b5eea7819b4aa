"""An independent GPT-NeoX (Pythia) forward pass in numpy (float64), for checking laminar's.

Written from the published architecture (Black et al. 2022; Hugging Face's modeling_gpt_neox),
sharing no code with laminar: the fused query_key_value projection is laid out per head
([q | k | v] for each head), rotary embeddings turn the first rotary_pct of each head (halves
paired), attention and MLP read the same input when use_parallel_residual, else in sequence;
exact GELU; an untied unembedding (embed_out).
"""
import math

import numpy as np

from gpt2_numpy import layer_norm, load_files
from llama_numpy import rotary


def load(folder):
    return load_files(folder, prefix="gpt_neox.")


def gelu(x):
    return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))


def forward(config, w, ids):
    d, H = config["hidden_size"], config["num_attention_heads"]
    dh, T, eps = d // H, len(ids), config["layer_norm_eps"]
    rot = int(dh * config["rotary_pct"])
    parallel = config["use_parallel_residual"]
    hooks = {"hook_embed": w["embed_in.weight"][ids]}
    x = hooks["hook_embed"]
    future = np.triu(np.ones((T, T), bool), 1)
    for l in range(config["num_hidden_layers"]):
        p, name = f"layers.{l}.", f"blocks.{l}."
        hooks[name + "hook_resid_pre"] = x
        h = layer_norm(x, w[p + "input_layernorm.weight"], w[p + "input_layernorm.bias"], eps)
        qkv = (h @ w[p + "attention.query_key_value.weight"].T + w[p + "attention.query_key_value.bias"]).reshape(T, H, 3 * dh)
        q, k, v = qkv[..., :dh], qkv[..., dh:2 * dh], qkv[..., 2 * dh:]
        hooks[name + "attn.hook_q"], hooks[name + "attn.hook_k"], hooks[name + "attn.hook_v"] = q, k, v
        rq = np.concatenate([rotary(q[..., :rot], config["rotary_emb_base"]), q[..., rot:]], -1)
        rk = np.concatenate([rotary(k[..., :rot], config["rotary_emb_base"]), k[..., rot:]], -1)
        hooks[name + "attn.hook_rot_q"], hooks[name + "attn.hook_rot_k"] = rq, rk
        scores = np.einsum("qhd,khd->hqk", rq, rk) / math.sqrt(dh)
        scores[:, future] = -np.inf
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        pattern = scores / scores.sum(-1, keepdims=True)
        hooks[name + "attn.hook_pattern"] = pattern
        z = np.einsum("hqk,khd->qhd", pattern, v).reshape(T, d)
        attn_out = z @ w[p + "attention.dense.weight"].T + w[p + "attention.dense.bias"]
        hooks[name + "hook_attn_out"] = attn_out
        mlp_in = x if parallel else x + attn_out
        if not parallel:
            hooks[name + "hook_resid_mid"] = mlp_in
        h2 = layer_norm(mlp_in, w[p + "post_attention_layernorm.weight"], w[p + "post_attention_layernorm.bias"], eps)
        mlp_out = gelu(h2 @ w[p + "mlp.dense_h_to_4h.weight"].T + w[p + "mlp.dense_h_to_4h.bias"]) @ \
            w[p + "mlp.dense_4h_to_h.weight"].T + w[p + "mlp.dense_4h_to_h.bias"]
        hooks[name + "hook_mlp_out"] = mlp_out
        x = x + attn_out + mlp_out
        hooks[name + "hook_resid_post"] = x
    hooks["ln_final.hook_normalized"] = layer_norm(x, w["final_layer_norm.weight"], w["final_layer_norm.bias"], eps)
    hooks["logits"] = hooks["ln_final.hook_normalized"] @ w["embed_out.weight"].T
    return hooks
