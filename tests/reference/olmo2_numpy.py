"""An independent OLMo 2 forward pass in numpy (float64), for checking laminar's.

Written from the published architecture (OLMo Team 2024, "2 OLMo 2 Furious"; Hugging Face's
modeling_olmo2), sharing no code with laminar: no input norms; q and k projections RMS-normalised
over all their heads at once (q_norm, k_norm), then split into heads and rotated (rotate-half
convention); grouped-query attention; the attention output and the SwiGLU MLP output each
RMS-normalised before the residual add (x + norm(attn(x)), x + norm(mlp(x))); final RMSNorm,
untied head; optional q/k/v/o biases.
"""
import math

import numpy as np

from gpt2_numpy import load_files


def load(folder):
    return load_files(folder, prefix="model.")


def rms_norm(x, w, eps):
    return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * w


def rotary(x, theta):
    """x [T, heads, dh] at positions 0..T-1."""
    T, _, dh = x.shape
    inv_freq = 1.0 / theta ** (np.arange(0, dh, 2) / dh)
    angles = np.arange(T)[:, None] * inv_freq[None, :]
    cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
    x1, x2 = x[..., :dh // 2], x[..., dh // 2:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


def forward(config, w, ids):
    d, H = config["hidden_size"], config["num_attention_heads"]
    KV, dh = config.get("num_key_value_heads") or H, config.get("head_dim") or d // H
    eps, theta, T = config.get("rms_norm_eps", 1e-5), config.get("rope_theta", 10000.0), len(ids)
    hooks = {"hook_embed": w["embed_tokens.weight"][ids]}
    x = hooks["hook_embed"]
    visible = np.tril(np.ones((T, T), bool))
    for l in range(config["num_hidden_layers"]):
        p, name = f"layers.{l}.", f"blocks.{l}."
        hooks[name + "hook_resid_pre"] = x

        def proj(n):
            y = x @ w[p + f"self_attn.{n}_proj.weight"].T
            return y + w[p + f"self_attn.{n}_proj.bias"] if p + f"self_attn.{n}_proj.bias" in w else y

        q, k, v = proj("q"), proj("k"), proj("v")
        hooks[name + "attn.hook_q"] = q.reshape(T, H, dh)
        hooks[name + "attn.hook_k"] = k.reshape(T, KV, dh)
        hooks[name + "attn.hook_v"] = v = v.reshape(T, KV, dh)
        nq = rms_norm(q, w[p + "self_attn.q_norm.weight"], eps).reshape(T, H, dh)
        nk = rms_norm(k, w[p + "self_attn.k_norm.weight"], eps).reshape(T, KV, dh)
        hooks[name + "attn.hook_q_normalized"], hooks[name + "attn.hook_k_normalized"] = nq, nk
        rq, rk = rotary(nq, theta), rotary(nk, theta)
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
        o = z.reshape(T, H * dh) @ w[p + "self_attn.o_proj.weight"].T
        if p + "self_attn.o_proj.bias" in w:
            o = o + w[p + "self_attn.o_proj.bias"]
        hooks[name + "hook_attn_out"] = attn_out = rms_norm(o, w[p + "post_attention_layernorm.weight"], eps)
        x = x + attn_out
        hooks[name + "hook_resid_mid"] = x
        gate = x @ w[p + "mlp.gate_proj.weight"].T
        m = (gate / (1.0 + np.exp(-gate)) * (x @ w[p + "mlp.up_proj.weight"].T)) @ w[p + "mlp.down_proj.weight"].T
        hooks[name + "hook_mlp_out"] = mlp_out = rms_norm(m, w[p + "post_feedforward_layernorm.weight"], eps)
        x = x + mlp_out
        hooks[name + "hook_resid_post"] = x
    hooks["ln_final.hook_normalized"] = rms_norm(x, w["norm.weight"], eps)
    hooks["logits"] = hooks["ln_final.hook_normalized"] @ w["lm_head.weight"].T
    return hooks
