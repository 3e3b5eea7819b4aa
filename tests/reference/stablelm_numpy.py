"""An independent StableLM forward pass in numpy (float64), for checking laminar's.

Written from the published architecture (Stability AI's StableLM-3B-4E1T and StableLM 2 reports;
Hugging Face's modeling_stablelm), sharing no code with laminar: LayerNorms with weight and
bias; q/k/v projections (biases with use_qkv_bias); with qk_layernorm, each head of q and of k
normalised by a LayerNorm of its own without bias (StableLmLayerNormPerHead); rotary
embeddings in the rotate-half convention on the first int(d_head * partial_rotary_factor)
dimensions, base rope_theta; grouped-query attention scaled by 1/sqrt(d_head); o_proj without
bias; a SwiGLU MLP; attention and MLP in sequence (post_attention_layernorm) or, with
use_parallel_residual, both on the one input_layernorm; an untied lm_head.
"""
import math

import numpy as np

from gpt2_numpy import load_files
from llama_numpy import rotary


def load(folder):
    return load_files(folder, prefix="model.")


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    y = (x - mu) / np.sqrt(var + eps) * w
    return y if b is None else y + b


def forward(config, w, ids):
    d, H, KV = config["hidden_size"], config["num_attention_heads"], config["num_key_value_heads"]
    dh, T, eps = d // H, len(ids), config["layer_norm_eps"]
    rot = int(dh * config["partial_rotary_factor"])
    theta, parallel = config["rope_theta"], config["use_parallel_residual"]
    future = np.triu(np.ones((T, T), bool), 1)
    hooks = {"hook_embed": w["embed_tokens.weight"][ids]}
    x = hooks["hook_embed"]
    for l in range(config["num_hidden_layers"]):
        p, a, name = f"layers.{l}.", f"layers.{l}.self_attn.", f"blocks.{l}."
        hooks[name + "hook_resid_pre"] = x
        h = layer_norm(x, w[p + "input_layernorm.weight"], w[p + "input_layernorm.bias"], eps)

        def proj(n, heads):
            y = h @ w[a + f"{n}_proj.weight"].T
            if config["use_qkv_bias"]:
                y = y + w[a + f"{n}_proj.bias"]
            return y.reshape(T, heads, dh)

        q, k, v = proj("q", H), proj("k", KV), proj("v", KV)
        hooks[name + "attn.hook_q"], hooks[name + "attn.hook_k"], hooks[name + "attn.hook_v"] = q, k, v
        if config["qk_layernorm"]:
            q = np.stack([layer_norm(q[:, i], w[a + f"q_layernorm.norms.{i}.weight"], None, eps) for i in range(H)], 1)
            k = np.stack([layer_norm(k[:, i], w[a + f"k_layernorm.norms.{i}.weight"], None, eps) for i in range(KV)], 1)
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
        attn_out = z @ w[a + "o_proj.weight"].T
        hooks[name + "hook_attn_out"] = attn_out
        if parallel:
            h2 = h
        else:
            hooks[name + "hook_resid_mid"] = x + attn_out
            h2 = layer_norm(x + attn_out, w[p + "post_attention_layernorm.weight"], w[p + "post_attention_layernorm.bias"], eps)
        gate = h2 @ w[p + "mlp.gate_proj.weight"].T
        mlp_out = (gate / (1.0 + np.exp(-gate)) * (h2 @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
        hooks[name + "hook_mlp_out"] = mlp_out
        x = x + attn_out + mlp_out
        hooks[name + "hook_resid_post"] = x
    hooks["ln_final.hook_normalized"] = layer_norm(x, w["norm.weight"], w["norm.bias"], eps)
    hooks["logits"] = hooks["ln_final.hook_normalized"] @ w["lm_head.weight"].T
    return hooks
