"""An independent Phi forward pass in numpy (float64), for checking laminar's.

Written from the published architecture (Microsoft's phi-1/phi-1.5/phi-2; Hugging Face's
modeling_phi), sharing no code with laminar: one input_layernorm whose output feeds attention
and the MLP in parallel, x + attn(ln x) + mlp(ln x); q/k/v with biases; with qk_layernorm, q and
k normalised over each head's dimensions by one LayerNorm each (weight and bias, shared by the
heads); rotary embeddings in the rotate-half convention on the first
int(d_head * partial_rotary_factor) dimensions, base rope_theta; grouped-query attention
(num_key_value_heads null: the heads) scaled by 1/sqrt(d_head); dense with a bias; a GELU MLP
(fc1, fc2); final_layernorm; an untied lm_head with a bias.
"""
import math

import numpy as np

from gpt2_numpy import gelu, layer_norm, load_files
from llama_numpy import rotary


def load(folder):
    return load_files(folder, prefix="model.")


def forward(config, w, ids):
    d, H = config["hidden_size"], config["num_attention_heads"]
    KV = config.get("num_key_value_heads") or H
    dh, T, eps = d // H, len(ids), config["layer_norm_eps"]
    rot = int(dh * config["partial_rotary_factor"])
    theta, act = config["rope_theta"], config["hidden_act"]
    future = np.triu(np.ones((T, T), bool), 1)
    hooks = {"hook_embed": w["embed_tokens.weight"][ids]}
    x = hooks["hook_embed"]
    for l in range(config["num_hidden_layers"]):
        p, a, name = f"layers.{l}.", f"layers.{l}.self_attn.", f"blocks.{l}."
        hooks[name + "hook_resid_pre"] = x
        h = layer_norm(x, w[p + "input_layernorm.weight"], w[p + "input_layernorm.bias"], eps)
        q, k, v = ((h @ w[a + f"{n}_proj.weight"].T + w[a + f"{n}_proj.bias"]).reshape(T, heads, dh)
                   for n, heads in (("q", H), ("k", KV), ("v", KV)))
        hooks[name + "attn.hook_q"], hooks[name + "attn.hook_k"], hooks[name + "attn.hook_v"] = q, k, v
        if config["qk_layernorm"]:
            q = layer_norm(q, w[a + "q_layernorm.weight"], w[a + "q_layernorm.bias"], eps)
            k = layer_norm(k, w[a + "k_layernorm.weight"], w[a + "k_layernorm.bias"], eps)
            hooks[name + "attn.hook_q_normalized"], hooks[name + "attn.hook_k_normalized"] = q, k
        rq = np.concatenate([rotary(q[..., :rot], theta), q[..., rot:]], -1)
        rk = np.concatenate([rotary(k[..., :rot], theta), k[..., rot:]], -1)
        hooks[name + "attn.hook_rot_q"], hooks[name + "attn.hook_rot_k"] = rq, rk
        group = H // KV
        kk, vv = np.repeat(rk, group, axis=1), np.repeat(v, group, axis=1)  # query head i reads kv head i // group
        scores = np.einsum("qhd,khd->hqk", rq, kk) / math.sqrt(dh)
        scores[:, future] = -np.inf
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        pattern = scores / scores.sum(-1, keepdims=True)
        hooks[name + "attn.hook_pattern"] = pattern
        z = np.einsum("hqk,khd->qhd", pattern, vv).reshape(T, d)
        attn_out = z @ w[a + "dense.weight"].T + w[a + "dense.bias"]
        hooks[name + "hook_attn_out"] = attn_out
        mlp_out = gelu(h @ w[p + "mlp.fc1.weight"].T + w[p + "mlp.fc1.bias"], act) @ w[p + "mlp.fc2.weight"].T \
            + w[p + "mlp.fc2.bias"]
        hooks[name + "hook_mlp_out"] = mlp_out
        x = x + attn_out + mlp_out
        hooks[name + "hook_resid_post"] = x
    hooks["ln_final.hook_normalized"] = layer_norm(x, w["final_layernorm.weight"], w["final_layernorm.bias"], eps)
    hooks["logits"] = hooks["ln_final.hook_normalized"] @ w["lm_head.weight"].T + w["lm_head.bias"]
    return hooks
