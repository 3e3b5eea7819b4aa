"""An independent GPT-Neo forward pass in numpy (float64), for checking laminar's.

Written from the published architecture (Black et al. 2021; Hugging Face's modeling_gpt_neo),
sharing no code with laminar: GPT-2's pre-LayerNorm block with learned positions, q/k/v
projections without bias, attention scores q.k NOT divided by sqrt(d_head), local attention
(the last window_size keys) on the layers attention_types marks "local", tied head.
"""
import numpy as np

from gpt2_numpy import gelu, layer_norm, load_files


def load(folder):
    return load_files(folder, prefix="transformer.")


def layer_kinds(config):
    kinds = []
    for pattern, repeats in config["attention_types"]:
        kinds += pattern * repeats
    return kinds


def forward(config, w, ids):
    d, H, T = config["hidden_size"], config["num_heads"], len(ids)
    dh, eps, act = d // H, config["layer_norm_epsilon"], config["activation_function"]
    q_pos, k_pos = np.arange(T)[:, None], np.arange(T)[None, :]
    hooks = {"hook_embed": w["wte.weight"][ids], "hook_pos_embed": w["wpe.weight"][:T]}
    x = hooks["hook_embed"] + hooks["hook_pos_embed"]
    for l, kind in enumerate(layer_kinds(config)):
        p, a, name = f"h.{l}.", f"h.{l}.attn.attention.", f"blocks.{l}."
        hooks[name + "hook_resid_pre"] = x
        h = layer_norm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
        q, k, v = ((h @ w[a + f"{n}_proj.weight"].T).reshape(T, H, dh) for n in "qkv")
        hooks[name + "attn.hook_q"], hooks[name + "attn.hook_k"], hooks[name + "attn.hook_v"] = q, k, v
        visible = k_pos <= q_pos
        if kind == "local":
            visible &= q_pos - k_pos < config["window_size"]
        scores = np.where(visible, np.einsum("qhd,khd->hqk", q, k), -np.inf)  # no 1/sqrt(d_head)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        pattern = scores / scores.sum(-1, keepdims=True)
        hooks[name + "attn.hook_pattern"] = pattern
        z = np.einsum("hqk,khd->qhd", pattern, v).reshape(T, d)
        attn_out = z @ w[a + "out_proj.weight"].T + w[a + "out_proj.bias"]
        hooks[name + "hook_attn_out"] = attn_out
        x = x + attn_out
        hooks[name + "hook_resid_mid"] = x
        h2 = layer_norm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
        mlp_out = gelu(h2 @ w[p + "mlp.c_fc.weight"].T + w[p + "mlp.c_fc.bias"], act) @ w[p + "mlp.c_proj.weight"].T \
            + w[p + "mlp.c_proj.bias"]
        hooks[name + "hook_mlp_out"] = mlp_out
        x = x + mlp_out
        hooks[name + "hook_resid_post"] = x
    hooks["ln_final.hook_normalized"] = layer_norm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
    hooks["logits"] = hooks["ln_final.hook_normalized"] @ w["wte.weight"].T
    return hooks
