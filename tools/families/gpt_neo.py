"""GPT-Neo (EleutherAI/gpt-neo-125M ..., roneneldan/TinyStories-*) as GPTNeoForCausalLM's
save_pretrained writes it: transformer.* keys, the tied lm_head not written, and the causal-mask
buffers (attn.attention.bias, masked_bias) older Hub files carry; GPT-2's tokenizer."""
import os
import shutil

import numpy as np

FAMILY = "gpt_neo"


def config(args):
    layers = args.layers
    return {"architectures": ["GPTNeoForCausalLM"], "model_type": "gpt_neo", "hidden_size": args.width,
            "num_layers": layers, "num_heads": args.heads, "intermediate_size": None,
            "attention_types": [[["global", "local"], layers // 2]] + ([[["global"], 1]] if layers % 2 else []),
            "attention_layers": (["global", "local"] * layers)[:layers], "window_size": 256,
            "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "max_position_embeddings": args.positions,
            "vocab_size": 50257, "bos_token_id": 50256, "eos_token_id": 50256, "tie_word_embeddings": True}


def weights(config, normal):
    d, P, V = config["hidden_size"], config["max_position_embeddings"], config["vocab_size"]
    m = config["intermediate_size"] or 4 * d
    w = {"transformer.wte.weight": normal(V, d, sd=0.1), "transformer.wpe.weight": normal(P, d, sd=0.05),
         "transformer.ln_f.weight": 1.0 + normal(d, sd=0.1), "transformer.ln_f.bias": normal(d, sd=0.05)}
    for l in range(config["num_layers"]):
        p = f"transformer.h.{l}."
        for ln in ("ln_1", "ln_2"):
            w[p + ln + ".weight"] = 1.0 + normal(d, sd=0.1)
            w[p + ln + ".bias"] = normal(d, sd=0.05)
        for n in "qkv":  # unscaled scores: small q and k keep the pattern from being one-hot
            w[p + f"attn.attention.{n}_proj.weight"] = normal(d, d, sd=0.05)
        w[p + "attn.attention.out_proj.weight"] = normal(d, d, sd=0.05)
        w[p + "attn.attention.out_proj.bias"] = normal(d)
        w[p + "attn.attention.bias"] = np.tril(np.ones((8, 8), np.float32))[None, None]  # buffers: never read
        w[p + "attn.attention.masked_bias"] = np.array(-1e9, np.float32)
        w[p + "mlp.c_fc.weight"] = normal(m, d, sd=0.05)
        w[p + "mlp.c_fc.bias"] = normal(m)
        w[p + "mlp.c_proj.weight"] = normal(d, m, sd=0.05)
        w[p + "mlp.c_proj.bias"] = normal(d)
    return w


def tokenizer(out, shared):
    for name in ("tokenizer.json", "vocab.json", "merges.txt"):
        shutil.copy(os.path.join(shared, "published", "gpt2", name), os.path.join(out, name))
