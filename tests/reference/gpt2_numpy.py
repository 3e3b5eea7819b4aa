"""An independent GPT-2 forward pass in numpy (float64), for checking laminar's libtorch one.

It shares no code with laminar: it reads the safetensors files itself (header JSON + raw
little-endian data) and follows Hugging Face's GPT2Model: pre-LayerNorm blocks, Conv1D
weights stored [in, out], causal softmax attention, GELU as config.json names it.
"""
import json
import math
import os
import struct

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        if info["dtype"] == "F32":
            a = np.frombuffer(raw, "<f4")
        elif info["dtype"] == "F16":
            a = np.frombuffer(raw, "<f2")
        elif info["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view("<f4")
        else:
            raise ValueError(f"{path}: {name} has dtype {info['dtype']}")
        out[name] = a.astype(np.float64).reshape(info["shape"])
    return out


def load_files(folder, prefix):
    """config.json and every tensor of the folder (single file or shards), `prefix` removed."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    index = os.path.join(folder, "model.safetensors.index.json")
    files = [os.path.join(folder, "model.safetensors")]
    if os.path.exists(index):
        with open(index) as f:
            files = sorted({os.path.join(folder, s) for s in json.load(f)["weight_map"].values()})
    weights = {}
    for path in files:
        for name, a in read_safetensors(path).items():
            weights[name[len(prefix):] if name.startswith(prefix) else name] = a
    return config, weights


def load(folder):
    return load_files(folder, prefix="transformer.")


def layer_norm(x, w, b, eps):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * w + b


def gelu(x, kind):
    if kind == "gelu":
        return 0.5 * x * (1.0 + np.vectorize(math.erf)(x / math.sqrt(2.0)))  # exact GELU
    if kind == "relu":
        return np.maximum(x, 0.0)
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))


def forward(config, w, ids):
    """Hook values of one prompt, TransformerLens names -> arrays with position first."""
    d, H = config["n_embd"], config["n_head"]
    dh, eps, T = d // H, config.get("layer_norm_epsilon", 1e-5), len(ids)
    hooks = {"hook_embed": w["wte.weight"][ids], "hook_pos_embed": w["wpe.weight"][:T]}
    x = hooks["hook_embed"] + hooks["hook_pos_embed"]
    mask = np.triu(np.ones((T, T), bool), 1)
    for l in range(config["n_layer"]):
        p, name = f"h.{l}.", f"blocks.{l}."
        hooks[name + "hook_resid_pre"] = x
        h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]
        q, k, v = (qkv[:, i * d:(i + 1) * d].reshape(T, H, dh) for i in range(3))
        hooks[name + "attn.hook_q"], hooks[name + "attn.hook_k"], hooks[name + "attn.hook_v"] = q, k, v
        scores = np.einsum("qhd,khd->hqk", q, k) / math.sqrt(dh)
        scores[:, mask] = -np.inf
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        pattern = scores / scores.sum(-1, keepdims=True)
        hooks[name + "attn.hook_pattern"] = pattern
        z = np.einsum("hqk,khd->qhd", pattern, v).reshape(T, d)
        attn_out = z @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
        hooks[name + "hook_attn_out"] = attn_out
        x = x + attn_out
        hooks[name + "hook_resid_mid"] = x
        h2 = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        mlp = gelu(h2 @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"], config.get("activation_function", "gelu_new"))
        mlp_out = mlp @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"]
        hooks[name + "hook_mlp_out"] = mlp_out
        x = x + mlp_out
        hooks[name + "hook_resid_post"] = x
    hooks["ln_final.hook_normalized"] = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    hooks["logits"] = hooks["ln_final.hook_normalized"] @ w["wte.weight"].T
    return hooks
