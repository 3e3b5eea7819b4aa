"""An independent Gemma / Gemma 2 forward pass in numpy (float64), for checking laminar's.

Written from the published architecture (Gemma Team 2024a, 2024b; Hugging Face's modeling_gemma
and modeling_gemma2), sharing no code with laminar: RMSNorm scaling by (1 + w), embeddings times
sqrt(hidden_size) rounded to the dtype the embedding table is stored in, rotary embeddings in the
rotate-half convention on a head_dim of its own, grouped/multi-query attention, a GeGLU MLP
(down(gelu_tanh(gate x) * up x)), the tied unembedding. Gemma 2 adds post-attention and
post-feedforward norms before each residual add, the pre-feedforward norm, scores scaled by
query_pre_attn_scalar^-1/2 and soft-capped before the mask, a sliding window (a key is visible
while query - key < sliding_window) on layers 0, 2, ... (or as layer_types says), soft-capped
logits. hook_embed is the scaled embedding.
"""
import json
import math
import os
import struct

import numpy as np

from gpt2_numpy import load_files


def load(folder):
    config, w = load_files(folder, prefix="model.")
    config["_embed_dtype"] = stored_dtype(folder, "model.embed_tokens.weight")
    return config, w


def stored_dtype(folder, name):
    """The safetensors dtype ("F32", "F16", "BF16") `name` is stored in."""
    index = os.path.join(folder, "model.safetensors.index.json")
    file = "model.safetensors"
    if os.path.exists(index):
        with open(index) as f:
            file = json.load(f)["weight_map"][name]
    with open(os.path.join(folder, file), "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        return json.loads(f.read(n))[name]["dtype"]


def round_to(x, dtype):
    """x rounded to a float of `dtype` (round to nearest even), as a Python float."""
    f = np.array([x], np.float32)
    if dtype == "F16":
        return float(f.astype(np.float16)[0])
    if dtype == "BF16":
        bits = f.view(np.uint32).astype(np.uint64)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
        return float(bits.astype(np.uint32).view(np.float32)[0])
    return float(f[0])


def rms_norm(x, w, eps):
    return x / np.sqrt((x ** 2).mean(-1, keepdims=True) + eps) * (1.0 + w)


def gelu_tanh(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def rotary(x, theta):
    """x [T, heads, dh] at positions 0..T-1."""
    T, _, dh = x.shape
    inv_freq = 1.0 / theta ** (np.arange(0, dh, 2) / dh)
    angles = np.arange(T)[:, None] * inv_freq[None, :]
    cos, sin = np.cos(angles)[:, None, :], np.sin(angles)[:, None, :]
    x1, x2 = x[..., :dh // 2], x[..., dh // 2:]
    return np.concatenate([x1 * cos - x2 * sin, x2 * cos + x1 * sin], -1)


def sliding_layers(config):
    n = config["num_hidden_layers"]
    if config["model_type"] != "gemma2" or config.get("sliding_window") is None:
        return [False] * n
    if config.get("layer_types"):
        return [t == "sliding_attention" for t in config["layer_types"]]
    return [l % 2 == 0 for l in range(n)]


def forward(config, w, ids):
    two = config["model_type"] == "gemma2"
    d, H, KV, dh = config["hidden_size"], config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]
    eps, theta, T = config.get("rms_norm_eps", 1e-6), config.get("rope_theta", 10000.0), len(ids)
    scale = config.get("query_pre_attn_scalar", 256) ** -0.5 if two else dh ** -0.5
    attn_cap = config.get("attn_logit_softcapping", 50.0) if two else None
    final_cap = config.get("final_logit_softcapping", 30.0) if two else None
    hooks = {"hook_embed": w["embed_tokens.weight"][ids] * round_to(math.sqrt(d), config["_embed_dtype"])}
    x = hooks["hook_embed"]
    q_pos, k_pos = np.arange(T)[:, None], np.arange(T)[None, :]
    for l, sliding in enumerate(sliding_layers(config)):
        p, name = f"layers.{l}.", f"blocks.{l}."
        hooks[name + "hook_resid_pre"] = x
        h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
        q = (h @ w[p + "self_attn.q_proj.weight"].T).reshape(T, H, dh)
        k = (h @ w[p + "self_attn.k_proj.weight"].T).reshape(T, KV, dh)
        v = (h @ w[p + "self_attn.v_proj.weight"].T).reshape(T, KV, dh)
        hooks[name + "attn.hook_q"], hooks[name + "attn.hook_k"], hooks[name + "attn.hook_v"] = q, k, v
        rq, rk = rotary(q, theta), rotary(k, theta)
        hooks[name + "attn.hook_rot_q"], hooks[name + "attn.hook_rot_k"] = rq, rk
        visible = k_pos <= q_pos
        if sliding:
            visible &= q_pos - k_pos < config["sliding_window"]
        group = H // KV
        pattern = np.zeros((H, T, T))
        z = np.zeros((T, H, dh))
        for head in range(H):
            s = rq[:, head] @ rk[:, head // group].T * scale
            if attn_cap:
                s = np.tanh(s / attn_cap) * attn_cap
            s = np.where(visible, s, -np.inf)
            s = np.exp(s - s.max(-1, keepdims=True))
            pattern[head] = s / s.sum(-1, keepdims=True)
            z[:, head] = pattern[head] @ v[:, head // group]
        hooks[name + "attn.hook_pattern"] = pattern
        attn_out = z.reshape(T, H * dh) @ w[p + "self_attn.o_proj.weight"].T
        if two:
            attn_out = rms_norm(attn_out, w[p + "post_attention_layernorm.weight"], eps)
        hooks[name + "hook_attn_out"] = attn_out
        x = x + attn_out
        hooks[name + "hook_resid_mid"] = x
        h2 = rms_norm(x, w[p + ("pre_feedforward_layernorm" if two else "post_attention_layernorm") + ".weight"], eps)
        mlp_out = (gelu_tanh(h2 @ w[p + "mlp.gate_proj.weight"].T) * (h2 @ w[p + "mlp.up_proj.weight"].T)) \
            @ w[p + "mlp.down_proj.weight"].T
        if two:
            mlp_out = rms_norm(mlp_out, w[p + "post_feedforward_layernorm.weight"], eps)
        hooks[name + "hook_mlp_out"] = mlp_out
        x = x + mlp_out
        hooks[name + "hook_resid_post"] = x
    hooks["ln_final.hook_normalized"] = rms_norm(x, w["norm.weight"], eps)
    logits = hooks["ln_final.hook_normalized"] @ w["embed_tokens.weight"].T
    if final_cap:
        logits = np.tanh(logits / final_cap) * final_cap
    hooks["logits"] = logits
    return hooks
