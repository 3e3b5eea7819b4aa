"""An independent GPT-J forward pass in numpy (float64), for checking laminar's.

Written from the published architecture (Wang & Komatsuzaki 2021, mesh-transformer-jax; Hugging
Face's modeling_gptj), sharing no code with laminar: one LayerNorm (ln_1) whose output feeds
attention and the MLP in parallel, x + attn(ln_1 x) + mlp(ln_1 x); q/k/v/out without bias;
rotary embeddings on the first rotary_dim dimensions of each head in the rotate-every-two
convention (dimensions 2i and 2i+1 pair up and turn at frequency i), the rest unrotated;
scores divided by sqrt(d_head); an untied lm_head with a bias.
"""
import math

import numpy as np

from gpt2_numpy import gelu, layer_norm, load_files


def load(folder):
    return load_files(folder, prefix="transformer.")


def rotate_every_two(x, dims):
    """x [T, heads, dh] at positions 0..T-1; the first `dims` dimensions turned."""
    T = x.shape[0]
    inv_freq = 1.0 / 10000.0 ** (np.arange(0, dims, 2) / dims)        # [dims/2]
    angles = np.arange(T)[:, None, None] * inv_freq[None, None, :]    # [T, 1, dims/2]
    cos, sin = np.cos(angles), np.sin(angles)
    even, odd = x[..., 0:dims:2], x[..., 1:dims:2]
    out = x.copy()
    out[..., 0:dims:2] = even * cos - odd * sin
    out[..., 1:dims:2] = odd * cos + even * sin
    return out


def forward(config, w, ids):
    d, H, T = config["n_embd"], config["n_head"], len(ids)
    dh, eps, act = d // H, config["layer_norm_epsilon"], config["activation_function"]
    rot = config["rotary_dim"] or dh
    future = np.triu(np.ones((T, T), bool), 1)
    hooks = {"hook_embed": w["wte.weight"][ids]}
    x = hooks["hook_embed"]
    for l in range(config["n_layer"]):
        p, name = f"h.{l}.", f"blocks.{l}."
        hooks[name + "hook_resid_pre"] = x
        h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        q, k, v = ((h @ w[p + f"attn.{n}_proj.weight"].T).reshape(T, H, dh) for n in "qkv")
        hooks[name + "attn.hook_q"], hooks[name + "attn.hook_k"], hooks[name + "attn.hook_v"] = q, k, v
        rq, rk = rotate_every_two(q, rot), rotate_every_two(k, rot)
        hooks[name + "attn.hook_rot_q"], hooks[name + "attn.hook_rot_k"] = rq, rk
        scores = np.einsum("qhd,khd->hqk", rq, rk) / math.sqrt(dh)
        scores[:, future] = -np.inf
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        pattern = scores / scores.sum(-1, keepdims=True)
        hooks[name + "attn.hook_pattern"] = pattern
        z = np.einsum("hqk,khd->qhd", pattern, v).reshape(T, d)
        attn_out = z @ w[p + "attn.out_proj.weight"].T
        hooks[name + "hook_attn_out"] = attn_out
        mlp_out = gelu(h @ w[p + "mlp.fc_in.weight"].T + w[p + "mlp.fc_in.bias"], act) @ w[p + "mlp.fc_out.weight"].T \
            + w[p + "mlp.fc_out.bias"]
        hooks[name + "hook_mlp_out"] = mlp_out
        x = x + attn_out + mlp_out
        hooks[name + "hook_resid_post"] = x
    hooks["ln_final.hook_normalized"] = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    hooks["logits"] = hooks["ln_final.hook_normalized"] @ w["lm_head.weight"].T + w["lm_head.bias"]
    return hooks
