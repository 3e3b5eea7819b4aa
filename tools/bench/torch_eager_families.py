"""PyTorch-eager baseline for bench_families.py: the forward pass of each second-wave family
written the way Hugging Face's modeling_<family>.py computes it (F.linear, F.layer_norm, RMSNorm
in float32, softmax over masked scores, its rotary and masks), in float32 after widening the
file's BF16/F16 weights, run in inference mode over every layer (as HF's model(...) runs).

    torch_eager_families.py seed MODEL_DIR IDS.json OUT.npy

Whole process: load, run the prompts in equal-length batches, save q and k of block 5 (the
projections before rotary, [heads * d_head] each, concatenated) at the stimulus position: the
last token, or for the encoders the last before [SEP] / </s>. The family comes from config.json's
model_type; each has one block function below, over shared helpers.
"""
import json
import math
import os
import re
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

CAPTURE = 5
NEG = torch.finfo(torch.float32).min
GELU_NEW = lambda x: F.gelu(x, approximate="tanh")  # HF's gelu_new and gelu_pytorch_tanh
ACT = {"gelu_new": GELU_NEW, "gelu_pytorch_tanh": GELU_NEW, "gelu_fast": GELU_NEW, "gelu": F.gelu, "relu": F.relu,
       "silu": F.silu}


def act(c, key, default):
    """HF's ACT2FN[config[key]] (default when the config has none)."""
    return ACT[c.get(key) or default]
ENCODERS = ("roberta", "distilbert")


def load(folder):
    """Every tensor of model.safetensors (or its shards) as float32, widened from BF16/F16, under
    its name less the model's prefix (model., transformer., roberta., distilbert.)."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    index = os.path.join(folder, "model.safetensors.index.json")
    files = [os.path.join(folder, "model.safetensors")]
    if os.path.exists(index):
        with open(index) as f:
            files = sorted({os.path.join(folder, s) for s in json.load(f)["weight_map"].values()})
    w = {}
    for path in files:
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
        data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
        for name, info in header.items():
            if name == "__metadata__":
                continue
            begin, end = info["data_offsets"]
            raw = torch.from_numpy(np.array(data[begin:end]))
            dtype = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[info["dtype"]]
            w[re.sub(r"^(model|transformer|roberta|distilbert)\.", "", name)] = raw.view(dtype).reshape(info["shape"]).float()
    return config, w


# --- shared helpers -------------------------------------------------------------------------

def linear(x, w, p, bias=None):
    """F.linear with the weight p.weight and, when the file has it (or `bias` says so), p.bias."""
    b = w.get(p + ".bias") if bias is not False else None
    return F.linear(x, w[p + ".weight"], b)


def layer_norm(x, w, p, eps):
    return F.layer_norm(x, x.shape[-1:], w[p + ".weight"], w.get(p + ".bias"), eps)


def rms_norm(x, weight, eps, plus_one=False):
    """LlamaRMSNorm (weight * x / rms), or Gemma's (1 + weight), computed in float32."""
    x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)
    return x * (1.0 + weight) if plus_one else x * weight


def heads(x, n, dh):
    """[B, T, n * dh] -> [B, n, T, dh]."""
    return x.view(x.shape[0], x.shape[1], n, dh).transpose(1, 2)


def rotary_half(T, dim, theta):
    """cos, sin [T, dim] of rotate-half rotary (Llama, Phi, Gemma, OLMo2, StableLM)."""
    inv = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    ang = torch.outer(torch.arange(T).float(), inv)
    emb = torch.cat([ang, ang], -1)
    return emb.cos(), emb.sin()


def apply_half(x, cos, sin):
    """Rotate-half rotary on the first cos.shape[-1] dims of each head (partial rotary), rest passed."""
    r = cos.shape[-1]
    x_rot, x_pass = x[..., :r], x[..., r:]
    rot = torch.cat([-x_rot[..., r // 2:], x_rot[..., :r // 2]], -1)
    return torch.cat([x_rot * cos + rot * sin, x_pass], -1)


def apply_every_two(x, dim, theta=10000.0):
    """GPT-J's rotate-every-two rotary on the first `dim` dims of each head, sin/cos interleaved."""
    T = x.shape[-2]
    inv = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    ang = torch.einsum("i,j->ij", torch.arange(T).float(), inv)
    sin, cos = ang.sin().repeat_interleave(2, -1), ang.cos().repeat_interleave(2, -1)
    x_rot, x_pass = x[..., :dim], x[..., dim:]
    rot = torch.stack((-x_rot[..., 1::2], x_rot[..., ::2]), -1).flatten(-2)
    return torch.cat([x_rot * cos + rot * sin, x_pass], -1)


def attention(q, k, v, scale=None, causal=True, window=None, softcap=None):
    """softmax(q k^T * scale [soft-capped] + mask) v over [B, H, T, dh]; k, v of fewer key/value
    heads are repeated (repeat_kv). window: keys further back than it are masked (HF's sliding
    window: j > i - window). Returns [B, T, H * dh]."""
    B, H, T, dh = q.shape
    if k.shape[1] != H:
        k, v = k.repeat_interleave(H // k.shape[1], 1), v.repeat_interleave(H // v.shape[1], 1)
    s = q @ k.transpose(-1, -2)
    if scale is not None:
        s = s * scale
    if softcap is not None:
        s = torch.tanh(s / softcap) * softcap
    if causal:
        i, j = torch.arange(T)[:, None], torch.arange(T)[None]
        allowed = j <= i
        if window is not None:
            allowed = allowed & (j > i - window)
        s = s.masked_fill(~allowed, NEG)
    z = F.softmax(s, dim=-1) @ v
    return z.transpose(1, 2).reshape(B, T, H * dh)


# --- one block function per family: (x, l) -> x, with q, k (before rotary) handed to `cap` ----

def gpt_neo(c, w, x, l, cap):
    p, H = f"h.{l}.", c["num_heads"]
    dh, eps = c["hidden_size"] // H, c["layer_norm_epsilon"]
    h = layer_norm(x, w, p + "ln_1", eps)
    a = p + "attn.attention."
    q, k, v = (heads(linear(h, w, a + n + "_proj"), H, dh) for n in "qkv")
    cap(q, k)
    local = c["attention_layers"][l] == "local"  # scores unscaled, in float32
    z = attention(q, k, v, window=c["window_size"] if local else None)
    x = x + linear(z, w, a + "out_proj")
    h = layer_norm(x, w, p + "ln_2", eps)
    return x + linear(act(c, "activation_function", "gelu_new")(linear(h, w, p + "mlp.c_fc")), w, p + "mlp.c_proj")


def gptj(c, w, x, l, cap):
    p, H = f"h.{l}.", c["n_head"]
    dh = c["n_embd"] // H
    h = layer_norm(x, w, p + "ln_1", c["layer_norm_epsilon"])
    q, k, v = (heads(linear(h, w, p + f"attn.{n}_proj"), H, dh) for n in "qkv")
    cap(q, k)
    r = c["rotary_dim"] or dh
    q, k = apply_every_two(q, r), apply_every_two(k, r)
    z = attention(q, k, v, scale=1.0 / math.sqrt(dh))  # HF divides by scale_attn = sqrt(head_dim)
    attn = linear(z, w, p + "attn.out_proj")
    mlp = linear(act(c, "activation_function", "gelu_new")(linear(h, w, p + "mlp.fc_in")), w, p + "mlp.fc_out")
    return x + attn + mlp  # parallel residual


def opt(c, w, x, l, cap):
    p, H = f"decoder.layers.{l}.", c["num_attention_heads"]
    dh, pre = c["hidden_size"] // H, c.get("do_layer_norm_before", True)
    h = layer_norm(x, w, p + "self_attn_layer_norm", 1e-5) if pre else x
    q, k, v = (heads(linear(h, w, p + f"self_attn.{n}_proj"), H, dh) for n in "qkv")
    cap(q, k)
    x = x + linear(attention(q * dh ** -0.5, k, v), w, p + "self_attn.out_proj")
    if not pre:
        x = layer_norm(x, w, p + "self_attn_layer_norm", 1e-5)
    h = layer_norm(x, w, p + "final_layer_norm", 1e-5) if pre else x
    x = x + linear(act(c, "activation_function", "relu")(linear(h, w, p + "fc1")), w, p + "fc2")
    return x if pre else layer_norm(x, w, p + "final_layer_norm", 1e-5)


def phi(c, w, x, l, cap, rot):
    p, H = f"layers.{l}.", c["num_attention_heads"]
    KV, dh = c.get("num_key_value_heads") or H, c["hidden_size"] // H
    h = layer_norm(x, w, p + "input_layernorm", c["layer_norm_eps"])
    q = heads(linear(h, w, p + "self_attn.q_proj"), H, dh)
    k = heads(linear(h, w, p + "self_attn.k_proj"), KV, dh)
    v = heads(linear(h, w, p + "self_attn.v_proj"), KV, dh)
    if c.get("qk_layernorm"):
        q = layer_norm(q, w, p + "self_attn.q_layernorm", c["layer_norm_eps"])
        k = layer_norm(k, w, p + "self_attn.k_layernorm", c["layer_norm_eps"])
    cap(q, k)
    q, k = apply_half(q, *rot), apply_half(k, *rot)
    attn = linear(attention(q, k, v, scale=dh ** -0.5), w, p + "self_attn.dense")
    mlp = linear(act(c, "hidden_act", "gelu_new")(linear(h, w, p + "mlp.fc1")), w, p + "mlp.fc2")
    return x + attn + mlp  # parallel: attention and MLP read the same normed input


def phi3(c, w, x, l, cap, rot):
    p, H = f"layers.{l}.", c["num_attention_heads"]
    KV, dh, eps = c.get("num_key_value_heads") or H, c.get("head_dim") or c["hidden_size"] // H, c["rms_norm_eps"]
    h = rms_norm(x, w[p + "input_layernorm.weight"], eps)
    qkv = linear(h, w, p + "self_attn.qkv_proj")
    q = heads(qkv[..., :H * dh], H, dh)
    k = heads(qkv[..., H * dh:(H + KV) * dh], KV, dh)
    v = heads(qkv[..., (H + KV) * dh:], KV, dh)
    cap(q, k)
    q, k = apply_half(q, *rot), apply_half(k, *rot)
    x = x + linear(attention(q, k, v, scale=dh ** -0.5, window=c.get("sliding_window")), w, p + "self_attn.o_proj")
    h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
    gate, up = linear(h, w, p + "mlp.gate_up_proj").chunk(2, dim=-1)
    return x + linear(up * act(c, "hidden_act", "silu")(gate), w, p + "mlp.down_proj")


def llama_attention(c, w, h, p, cap, rot, norm=None, **kw):
    """q, k, v projections (biases where the file has them), optional q/k norm over the whole
    projection (OLMo2), rotate-half rotary, attention: [B, T, H * dh] before o_proj."""
    H = c["num_attention_heads"]
    KV, dh = c.get("num_key_value_heads") or H, c.get("head_dim") or c["hidden_size"] // H
    q, k, v = (linear(h, w, p + f"self_attn.{n}_proj") for n in "qkv")
    cap(heads(q, H, dh), heads(k, KV, dh))  # the projections, before any norm: laminar's hook_q, hook_k
    if norm:
        q, k = norm(q, w[p + "self_attn.q_norm.weight"]), norm(k, w[p + "self_attn.k_norm.weight"])
    q, k, v = heads(q, H, dh), heads(k, KV, dh), heads(v, KV, dh)
    q, k = apply_half(q, *rot), apply_half(k, *rot)
    return attention(q, k, v, **kw)


def gated_mlp(w, h, p, f):
    return linear(f(linear(h, w, p + "mlp.gate_proj")) * linear(h, w, p + "mlp.up_proj"), w, p + "mlp.down_proj")


def gemma(c, w, x, l, cap, rot):
    p, eps = f"layers.{l}.", c["rms_norm_eps"]
    dh = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
    h = rms_norm(x, w[p + "input_layernorm.weight"], eps, plus_one=True)
    x = x + linear(llama_attention(c, w, h, p, cap, rot, scale=dh ** -0.5), w, p + "self_attn.o_proj")
    h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps, plus_one=True)
    return x + gated_mlp(w, h, p, act(c, "hidden_activation", "gelu_pytorch_tanh"))  # as HF: not hidden_act


def gemma2(c, w, x, l, cap, rot):
    p, eps = f"layers.{l}.", c["rms_norm_eps"]
    norm = lambda t, n: rms_norm(t, w[p + n + ".weight"], eps, plus_one=True)
    types = c.get("layer_types") or ["sliding_attention" if i % 2 == 0 else "full_attention"
                                     for i in range(c["num_hidden_layers"])]
    window = c["sliding_window"] if types[l] == "sliding_attention" else None
    z = llama_attention(c, w, norm(x, "input_layernorm"), p, cap, rot, scale=c["query_pre_attn_scalar"] ** -0.5,
                        window=window, softcap=c.get("attn_logit_softcapping"))
    x = x + norm(linear(z, w, p + "self_attn.o_proj"), "post_attention_layernorm")
    return x + norm(gated_mlp(w, norm(x, "pre_feedforward_layernorm"), p, act(c, "hidden_activation", "gelu_pytorch_tanh")),
                    "post_feedforward_layernorm")


def olmo2(c, w, x, l, cap, rot):
    p, eps = f"layers.{l}.", c["rms_norm_eps"]
    dh = c.get("head_dim") or c["hidden_size"] // c["num_attention_heads"]
    z = llama_attention(c, w, x, p, cap, rot, norm=lambda t, g: rms_norm(t, g, eps), scale=dh ** -0.5)
    x = x + rms_norm(linear(z, w, p + "self_attn.o_proj"), w[p + "post_attention_layernorm.weight"], eps)
    return x + rms_norm(gated_mlp(w, x, p, act(c, "hidden_act", "silu")), w[p + "post_feedforward_layernorm.weight"], eps)


def stablelm(c, w, x, l, cap, rot):
    p, eps = f"layers.{l}.", c["layer_norm_eps"]
    dh = c["hidden_size"] // c["num_attention_heads"]
    h = layer_norm(x, w, p + "input_layernorm", eps)
    attn = linear(llama_attention(c, w, h, p, cap, rot, scale=dh ** -0.5), w, p + "self_attn.o_proj")
    if c.get("use_parallel_residual"):
        return x + attn + gated_mlp(w, h, p, act(c, "hidden_act", "silu"))
    x = x + attn
    return x + gated_mlp(w, layer_norm(x, w, p + "post_attention_layernorm", eps), p, act(c, "hidden_act", "silu"))


def roberta(c, w, x, l, cap):
    p, H = f"encoder.layer.{l}.", c["num_attention_heads"]
    dh, eps = c["hidden_size"] // H, c["layer_norm_eps"]
    q, k, v = (heads(linear(x, w, p + f"attention.self.{n}"), H, dh) for n in ("query", "key", "value"))
    cap(q, k)
    z = attention(q, k, v, scale=1.0 / math.sqrt(dh), causal=False)
    x = layer_norm(linear(z, w, p + "attention.output.dense") + x, w, p + "attention.output.LayerNorm", eps)
    h = act(c, "hidden_act", "gelu")(linear(x, w, p + "intermediate.dense"))
    return layer_norm(linear(h, w, p + "output.dense") + x, w, p + "output.LayerNorm", eps)


def distilbert(c, w, x, l, cap):
    p, H = f"transformer.layer.{l}.", c["n_heads"]
    dh = c["dim"] // H
    q, k, v = (heads(linear(x, w, p + f"attention.{n}_lin"), H, dh) for n in "qkv")
    cap(q, k)
    z = attention(q / math.sqrt(dh), k, v, causal=False)
    x = layer_norm(linear(z, w, p + "attention.out_lin") + x, w, p + "sa_layer_norm", 1e-12)
    f = act(c, "activation", "gelu")
    return layer_norm(linear(f(linear(x, w, p + "ffn.lin1")), w, p + "ffn.lin2") + x, w, p + "output_layer_norm", 1e-12)


# --- embeddings, final norms, the families' table ---------------------------------------------

def rope(c, T, dh, factor_key="partial_rotary_factor", theta_key="rope_theta"):
    return rotary_half(T, int(dh * c.get(factor_key, 1.0)), c.get(theta_key, 10000.0))


def model(c, w):
    """(layers, embed(ids) -> x, block(x, l, cap), final(x)) of config.json's model_type."""
    t = c["model_type"]
    ln = lambda name, eps: (lambda x: layer_norm(x, w, name, eps))
    pos = lambda ids, offset=0: torch.arange(ids.shape[1]) + offset
    if t == "gpt_neo":
        return (c["num_layers"], lambda ids: F.embedding(ids, w["wte.weight"]) + w["wpe.weight"][pos(ids)],
                lambda x, l, cap: gpt_neo(c, w, x, l, cap), ln("ln_f", c["layer_norm_epsilon"]))
    if t == "gptj":
        return (c["n_layer"], lambda ids: F.embedding(ids, w["wte.weight"]),
                lambda x, l, cap: gptj(c, w, x, l, cap), ln("ln_f", c["layer_norm_epsilon"]))
    if t == "opt":  # learned positions offset by 2; 1.3b's word_embed_proj_dim == hidden_size (no project_in)
        final = ln("decoder.final_layer_norm", 1e-5) if "decoder.final_layer_norm.weight" in w else (lambda x: x)
        return (c["num_hidden_layers"],
                lambda ids: F.embedding(ids, w["decoder.embed_tokens.weight"]) + w["decoder.embed_positions.weight"][pos(ids, 2)],
                lambda x, l, cap: opt(c, w, x, l, cap), final)
    if t in ("phi", "phi3", "gemma", "gemma2", "olmo2", "stablelm"):
        H = c["num_attention_heads"]
        dh = c.get("head_dim") or c["hidden_size"] // H
        block = globals()[t]
        embed = lambda ids: F.embedding(ids, w["embed_tokens.weight"])
        if t in ("gemma", "gemma2"):  # scaled by sqrt(hidden_size), in the hidden states' dtype
            embed = lambda ids: F.embedding(ids, w["embed_tokens.weight"]) * torch.tensor(c["hidden_size"] ** 0.5)
        final = {"phi": ln("final_layernorm", c.get("layer_norm_eps")), "stablelm": ln("norm", c.get("layer_norm_eps")),
                 "gemma": lambda x: rms_norm(x, w["norm.weight"], c["rms_norm_eps"], True),
                 "gemma2": lambda x: rms_norm(x, w["norm.weight"], c["rms_norm_eps"], True)}.get(
                     t, lambda x: rms_norm(x, w["norm.weight"], c["rms_norm_eps"]))
        state = {}

        def run(x, l, cap):
            T = x.shape[1]
            if state.get("T") != T:
                state["T"], state["rot"] = T, rope(c, T, dh)
            return block(c, w, x, l, cap, state["rot"])
        return c["num_hidden_layers"], embed, run, final
    if t == "roberta":  # positions from padding_idx + 1; token type 0
        def embed(ids):
            x = (F.embedding(ids, w["embeddings.word_embeddings.weight"])
                 + w["embeddings.position_embeddings.weight"][pos(ids, c.get("pad_token_id", 1) + 1)]
                 + w["embeddings.token_type_embeddings.weight"][0])
            return layer_norm(x, w, "embeddings.LayerNorm", c["layer_norm_eps"])
        return c["num_hidden_layers"], embed, lambda x, l, cap: roberta(c, w, x, l, cap), lambda x: x
    if t == "distilbert":
        def embed(ids):
            x = F.embedding(ids, w["embeddings.word_embeddings.weight"]) + w["embeddings.position_embeddings.weight"][pos(ids)]
            return layer_norm(x, w, "embeddings.LayerNorm", 1e-12)
        return c["n_layers"], embed, lambda x, l, cap: distilbert(c, w, x, l, cap), lambda x: x
    raise SystemExit(f"torch_eager_families.py: no forward pass for model_type {t!r}")


def forward(c, w, ids, at):
    """All layers over ids [B, T]; q and k of block CAPTURE at token index `at`, [B, H * dh] each."""
    layers, embed, block, final = model(c, w)
    captured = {}

    def cap(q, k):
        if "q" not in captured and cap.layer == CAPTURE:
            captured["q"] = q[:, :, at].reshape(q.shape[0], -1).clone()
            captured["k"] = k[:, :, at].reshape(k.shape[0], -1).clone()
    x = embed(ids)
    for l in range(layers):
        cap.layer = l
        x = block(x, l, cap)
    final(x)
    return captured["q"], captured["k"]


def main():
    if len(sys.argv) != 5 or sys.argv[1] != "seed":
        raise SystemExit(__doc__)
    config, w = load(sys.argv[2])
    with open(sys.argv[3]) as f:
        prompts = json.load(f)
    at = -2 if config["model_type"] in ENCODERS else -1  # encoders: the last text token, before [SEP] / </s>
    rows = [None] * len(prompts)
    with torch.inference_mode():
        for length in sorted({len(p) for p in prompts}):  # equal-length batches, as HF without padding
            members = [i for i, p in enumerate(prompts) if len(p) == length]
            q, k = forward(config, w, torch.tensor([prompts[i] for i in members]), at)
            for j, i in enumerate(members):
                rows[i] = torch.cat([q[j], k[j]]).numpy()
    np.save(sys.argv[4], np.stack(rows))


if __name__ == "__main__":
    main()
