"""An independent OPT forward pass in numpy (float64), for checking laminar's.

Written from the published architecture (Zhang et al. 2022; Hugging Face's modeling_opt),
sharing no code with laminar: token embeddings (projected in when word_embed_proj_dim differs
from hidden_size) plus learned positions read two rows on; LayerNorm (eps 1e-5) before each
sublayer with a final LayerNorm, or after each sublayer's sum (do_layer_norm_before false, no
final LayerNorm); q scaled by 1/sqrt(d_head), causal softmax; ReLU MLP; project_out; the head
tied to the token embeddings. Keys with model.decoder. or decoder. read alike.
"""
import numpy as np

from gpt2_numpy import gelu, layer_norm, load_files


def load(folder):
    config, w = load_files(folder, prefix="model.")
    return config, {k[len("decoder."):] if k.startswith("decoder.") else k: v for k, v in w.items()}


def forward(config, w, ids):
    d, H, T = config["hidden_size"], config["num_attention_heads"], len(ids)
    dh, act = d // H, config.get("activation_function", "relu")
    pre = config.get("do_layer_norm_before", True)
    final = pre and not config.get("_remove_final_layer_norm", False)

    def ln(x, name):
        if config.get("layer_norm_elementwise_affine", True):
            return layer_norm(x, w[name + ".weight"], w[name + ".bias"], 1e-5)
        return layer_norm(x, 1.0, 0.0, 1e-5)

    def linear(x, name):
        y = x @ w[name + ".weight"].T
        return y + w[name + ".bias"] if config.get("enable_bias", True) else y

    tok = w["embed_tokens.weight"][ids]
    if "project_in.weight" in w:
        tok = tok @ w["project_in.weight"].T
    hooks = {"hook_embed": tok, "hook_pos_embed": w["embed_positions.weight"][2:T + 2]}
    x = tok + hooks["hook_pos_embed"]
    causal = np.arange(T)[None, :] <= np.arange(T)[:, None]
    for l in range(config["num_hidden_layers"]):
        p, name = f"layers.{l}.", f"blocks.{l}."
        hooks[name + "hook_resid_pre"] = x
        h = ln(x, p + "self_attn_layer_norm") if pre else x
        q, k, v = (linear(h, p + f"self_attn.{n}_proj").reshape(T, H, dh) for n in "qkv")
        hooks[name + "attn.hook_q"], hooks[name + "attn.hook_k"], hooks[name + "attn.hook_v"] = q, k, v
        scores = np.where(causal, np.einsum("qhd,khd->hqk", q * dh ** -0.5, k), -np.inf)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        pattern = scores / scores.sum(-1, keepdims=True)
        hooks[name + "attn.hook_pattern"] = pattern
        attn_out = linear(np.einsum("hqk,khd->qhd", pattern, v).reshape(T, d), p + "self_attn.out_proj")
        hooks[name + "hook_attn_out"] = attn_out
        x = x + attn_out
        hooks[name + "hook_resid_mid"] = x
        if not pre:
            x = ln(x, p + "self_attn_layer_norm")
            hooks[name + "hook_normalized_resid_mid"] = x
        h2 = ln(x, p + "final_layer_norm") if pre else x
        mlp_out = linear(gelu(linear(h2, p + "fc1"), act), p + "fc2")
        hooks[name + "hook_mlp_out"] = mlp_out
        x = x + mlp_out
        hooks[name + "hook_resid_post"] = x
        if not pre:
            x = ln(x, p + "final_layer_norm")
            hooks[name + "hook_normalized_resid_post"] = x
    if final:
        x = ln(x, "final_layer_norm")
        hooks["ln_final.hook_normalized"] = x
    if "project_out.weight" in w:
        x = x @ w["project_out.weight"].T
    hooks["logits"] = x @ w["embed_tokens.weight"].T
    return hooks
