"""An independent Phi-3 forward pass in numpy (float64), for checking laminar's.

Written from the published architecture (Abdin et al. 2024; Hugging Face's modeling_phi3),
sharing no code with laminar: Llama's pre-RMSNorm block with q, k, v cut from the fused
qkv_proj rows (q, then k, then v), rotary embeddings (rotate-half) on the first
int(head_dim * partial_rotary_factor) dimensions of each head, grouped-query attention with a
sliding window where sliding_window is set (a key is visible while query - key < sliding_window),
the MLP up * silu(gate) with gate and up cut from gate_up_proj (gate rows first), untied head.
"""
import math

import numpy as np

from gpt2_numpy import load_files


def load(folder):
    return load_files(folder, prefix="model.")


def rms_norm(x, w, eps):
    return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * w


def rotary(x, theta, dims):
    """The first `dims` of each head of x [T, heads, dh] rotated, at positions 0..T-1."""
    T = x.shape[0]
    inv_freq = 1.0 / theta ** (np.arange(0, dims, 2) / dims)
    angles = np.arange(T)[:, None] * inv_freq[None, :]
    cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
    x1, x2, rest = x[..., :dims // 2], x[..., dims // 2:dims], x[..., dims:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin, rest], -1)


def forward(config, w, ids):
    d, H = config["hidden_size"], config["num_attention_heads"]
    KV, dh, m = config.get("num_key_value_heads") or H, d // H, config["intermediate_size"]
    eps, theta, T = config.get("rms_norm_eps", 1e-5), config.get("rope_theta", 10000.0), len(ids)
    dims = int(dh * config.get("partial_rotary_factor", 1.0))
    window = config.get("sliding_window")
    q_pos, k_pos = np.arange(T)[:, None], np.arange(T)[None, :]
    visible = k_pos <= q_pos
    if window:
        visible &= q_pos - k_pos < window
    hooks = {"hook_embed": w["embed_tokens.weight"][ids]}
    x = hooks["hook_embed"]
    for l in range(config["num_hidden_layers"]):
        p, name = f"layers.{l}.", f"blocks.{l}."
        hooks[name + "hook_resid_pre"] = x
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        qkv = h @ w[p + "self_attn.qkv_proj.weight"].T
        q = qkv[:, :H * dh].reshape(T, H, dh)
        k = qkv[:, H * dh:(H + KV) * dh].reshape(T, KV, dh)
        v = qkv[:, (H + KV) * dh:].reshape(T, KV, dh)
        hooks[name + "attn.hook_q"], hooks[name + "attn.hook_k"], hooks[name + "attn.hook_v"] = q, k, v
        rq, rk = rotary(q, theta, dims), rotary(k, theta, dims)
        hooks[name + "attn.hook_rot_q"], hooks[name + "attn.hook_rot_k"] = rq, rk
        group = H // KV
        pattern = np.zeros((H, T, T))
        z = np.zeros((T, H, dh))
        for head in range(H):
            s = np.where(visible, rq[:, head] @ rk[:, head // group].T / math.sqrt(dh), -np.inf)
            s = np.exp(s - s.max(-1, keepdims=True))
            pattern[head] = s / s.sum(-1, keepdims=True)
            z[:, head] = pattern[head] @ v[:, head // group]
        hooks[name + "attn.hook_pattern"] = pattern
        hooks[name + "hook_attn_out"] = attn_out = z.reshape(T, H * dh) @ w[p + "self_attn.o_proj.weight"].T
        x = x + attn_out
        hooks[name + "hook_resid_mid"] = x
        h2 = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        gate_up = h2 @ w[p + "mlp.gate_up_proj.weight"].T
        gate, up = gate_up[:, :m], gate_up[:, m:]
        hooks[name + "hook_mlp_out"] = mlp_out = (up * (gate / (1.0 + np.exp(-gate)))) @ w[p + "mlp.down_proj.weight"].T
        x = x + mlp_out
        hooks[name + "hook_resid_post"] = x
    hooks["ln_final.hook_normalized"] = rms_norm(x, w["norm.weight"], eps)
    hooks["logits"] = hooks["ln_final.hook_normalized"] @ w["lm_head.weight"].T
    return hooks
