"""GPT-J (EleutherAI/gpt-j-6B) as GPTJForCausalLM's save_pretrained writes it: transformer.* keys,
q/k/v/out projections without bias, the causal-mask buffers older Hub files carry (attn.bias,
attn.masked_bias), an untied lm_head with a bias; a vocabulary (50400) larger than GPT-2's
tokenizer, whose files it uses."""
import os
import shutil

import numpy as np

FAMILY = "gptj"


def config(args):
    d, heads = args.width, args.heads
    return {"architectures": ["GPTJForCausalLM"], "model_type": "gptj", "n_embd": d, "n_layer": args.layers,
            "n_head": heads, "rotary_dim": d // heads, "n_inner": None, "n_positions": args.positions,
            "activation_function": "gelu_new", "layer_norm_epsilon": 1e-5, "vocab_size": 50400,
            "bos_token_id": 50256, "eos_token_id": 50256, "tie_word_embeddings": False}


def weights(config, normal):
    d, V = config["n_embd"], config["vocab_size"]
    m = config["n_inner"] or 4 * d
    w = {"transformer.wte.weight": normal(V, d, sd=0.5),
         "transformer.ln_f.weight": 1.0 + normal(d, sd=0.1), "transformer.ln_f.bias": normal(d, sd=0.05),
         "lm_head.weight": normal(V, d, sd=0.1), "lm_head.bias": normal(V, sd=0.1)}
    for l in range(config["n_layer"]):
        p = f"transformer.h.{l}."
        w[p + "ln_1.weight"] = 1.0 + normal(d, sd=0.1)
        w[p + "ln_1.bias"] = normal(d, sd=0.05)
        for n in "qkv":
            w[p + f"attn.{n}_proj.weight"] = normal(d, d, sd=0.15)
        w[p + "attn.out_proj.weight"] = normal(d, d, sd=0.05)
        w[p + "attn.bias"] = np.tril(np.ones((8, 8), np.float32))[None, None]  # buffers: never read
        w[p + "attn.masked_bias"] = np.array(-1e9, np.float32)
        w[p + "mlp.fc_in.weight"] = normal(m, d, sd=0.05)
        w[p + "mlp.fc_in.bias"] = normal(m)
        w[p + "mlp.fc_out.weight"] = normal(d, m, sd=0.05)
        w[p + "mlp.fc_out.bias"] = normal(d)
    return w


def tokenizer(out, shared):
    for name in ("tokenizer.json", "vocab.json", "merges.txt"):
        shutil.copy(os.path.join(shared, "published", "gpt2", name), os.path.join(out, name))
