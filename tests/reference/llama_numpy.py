"""An independent Llama-family forward pass in numpy (float64), for checking laminar's.

Written from the published architecture (Touvron et al. 2023; Hugging Face's modeling_llama,
modeling_mistral, modeling_qwen2), sharing no code with laminar: RMSNorm, rotary embeddings in
the rotate-half convention (the first and second halves of each head pair up), grouped-query
attention (query head h reads key/value head h // (heads / kv_heads)), SwiGLU MLP, optional
q/k/v biases, Mistral's sliding window, tied or untied unembedding.
"""
import math
import os

import numpy as np

from gpt2_numpy import read_safetensors, load_files


def load(folder):
    return load_files(folder, prefix="model.")


def rms_norm(x, w, eps):
    return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * w


def rotary(x, theta):
    """x [T, heads, dh] at positions 0..T-1."""
    T, _, dh = x.shape
    inv_freq = 1.0 / theta ** (np.arange(0, dh, 2) / dh)
    angles = np.arange(T)[:, None] * inv_freq[None, :]          # [T, dh/2]
    cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
    x1, x2 = x[..., :dh // 2], x[..., dh // 2:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


def forward(config, w, ids):
    H, KV, dh = config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]
    eps, theta, T = config["rms_norm_eps"], config.get("rope_theta", 10000.0), len(ids)
    window = config.get("sliding_window") if config["model_type"] == "mistral" else None
    hooks = {"hook_embed": w["embed_tokens.weight"][ids]}
    x = hooks["hook_embed"]
    visible = np.tril(np.ones((T, T), bool))
    if window:
        visible &= ~np.tril(np.ones((T, T), bool), -window)
    for l in range(config["num_hidden_layers"]):
        p, name = f"layers.{l}.", f"blocks.{l}."
        hooks[name + "hook_resid_pre"] = x
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)

        def proj(n, heads):
            y = h @ w[p + f"self_attn.{n}_proj.weight"].T
            if p + f"self_attn.{n}_proj.bias" in w:
                y = y + w[p + f"self_attn.{n}_proj.bias"]
            return y.reshape(T, heads, dh)

        q, k, v = proj("q", H), proj("k", KV), proj("v", KV)
        hooks[name + "attn.hook_q"], hooks[name + "attn.hook_k"], hooks[name + "attn.hook_v"] = q, k, v
        rq, rk = rotary(q, theta), rotary(k, theta)
        hooks[name + "attn.hook_rot_q"], hooks[name + "attn.hook_rot_k"] = rq, rk
        group = H // KV
        z = np.zeros((T, H, dh))
        pattern = np.zeros((H, T, T))
        for head in range(H):
            s = rq[:, head] @ rk[:, head // group].T / math.sqrt(dh)
            s = np.where(visible, s, -np.inf)
            s = np.exp(s - s.max(-1, keepdims=True))
            pattern[head] = s / s.sum(-1, keepdims=True)
            z[:, head] = pattern[head] @ v[:, head // group]
        hooks[name + "attn.hook_pattern"] = pattern
        attn_out = z.reshape(T, H * dh) @ w[p + "self_attn.o_proj.weight"].T
        hooks[name + "hook_attn_out"] = attn_out
        x = x + attn_out
        hooks[name + "hook_resid_mid"] = x
        h2 = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate = h2 @ w[p + "mlp.gate_proj.weight"].T
        mlp_out = (gate / (1.0 + np.exp(-gate)) * (h2 @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
        hooks[name + "hook_mlp_out"] = mlp_out
        x = x + mlp_out
        hooks[name + "hook_resid_post"] = x
    hooks["ln_final.hook_normalized"] = rms_norm(x, w["norm.weight"], eps)
    unembed = w.get("lm_head.weight", w["embed_tokens.weight"])
    hooks["logits"] = hooks["ln_final.hook_normalized"] @ unembed.T
    return hooks
