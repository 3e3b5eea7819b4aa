"""Phi (microsoft/phi-1, phi-1_5, phi-2) as PhiForCausalLM's save_pretrained writes it: model.*
keys, q/k/v and dense with biases, q/k LayerNorms over the head dimension with qk_layernorm,
fc1/fc2 with biases, final_layernorm, an untied lm_head with a bias; num_key_value_heads null
(the heads) as phi-2's config has it; GPT-2's tokenizer files (vocab_size 51200 in config)."""
import os
import shutil

FAMILY = "phi"


def config(args):
    return {"architectures": ["PhiForCausalLM"], "model_type": "phi", "hidden_size": args.width,
            "intermediate_size": args.mlp or 4 * args.width, "num_hidden_layers": args.layers,
            "num_attention_heads": args.heads, "num_key_value_heads": args.kv_heads or None, "hidden_act": "gelu_new",
            "max_position_embeddings": args.positions, "layer_norm_eps": 1e-5, "rope_theta": args.rope_theta,
            "rope_scaling": None, "partial_rotary_factor": 0.5, "qk_layernorm": False, "resid_pdrop": 0.1,
            "embd_pdrop": 0.0, "attention_dropout": 0.0, "vocab_size": 51200, "bos_token_id": 50256,
            "eos_token_id": 50256, "tie_word_embeddings": False}


def weights(config, normal):
    d, m, V = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    H = config["num_attention_heads"]
    KV = config["num_key_value_heads"] or H
    dh = d // H
    w = {"model.embed_tokens.weight": normal(V, d, sd=0.5),
         "model.final_layernorm.weight": 1.0 + normal(d, sd=0.1), "model.final_layernorm.bias": normal(d, sd=0.05),
         "lm_head.weight": normal(V, d, sd=0.1), "lm_head.bias": normal(V, sd=0.1)}
    for l in range(config["num_hidden_layers"]):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = 1.0 + normal(d, sd=0.1)
        w[p + "input_layernorm.bias"] = normal(d, sd=0.05)
        for n, size in (("q", H * dh), ("k", KV * dh), ("v", KV * dh)):
            w[p + f"self_attn.{n}_proj.weight"] = normal(size, d, sd=0.15 if n != "v" else 0.1)
            w[p + f"self_attn.{n}_proj.bias"] = normal(size, sd=0.1)
        if config["qk_layernorm"]:
            for n in "qk":
                w[p + f"self_attn.{n}_layernorm.weight"] = 1.0 + normal(dh, sd=0.1)
                w[p + f"self_attn.{n}_layernorm.bias"] = normal(dh, sd=0.1)
        w[p + "self_attn.dense.weight"] = normal(d, H * dh, sd=0.1)
        w[p + "self_attn.dense.bias"] = normal(d, sd=0.05)
        w[p + "mlp.fc1.weight"] = normal(m, d, sd=0.05)
        w[p + "mlp.fc1.bias"] = normal(m)
        w[p + "mlp.fc2.weight"] = normal(d, m, sd=0.05)
        w[p + "mlp.fc2.bias"] = normal(d)
    return w


def tokenizer(out, shared):
    for name in ("tokenizer.json", "vocab.json", "merges.txt"):
        shutil.copy(os.path.join(shared, "published", "gpt2", name), os.path.join(out, name))
