"""OLMo 2 (allenai/OLMo-2-1124-7B ...) as Olmo2ForCausalLM's save_pretrained writes it: model.*
keys, self_attn.q_norm / k_norm over the whole q and k projections, post_attention_layernorm and
post_feedforward_layernorm (no input norms), an untied lm_head (attention_bias adds q/k/v/o
biases). The tokenizer is GPT-NeoX-20B's (../shared/tokenizers/gpt_neox), as the HF default
vocab_size 50304 has it."""
import os
import shutil

FAMILY = "olmo2"


def config(args):
    return {"architectures": ["Olmo2ForCausalLM"], "model_type": "olmo2", "hidden_size": args.width,
            "num_hidden_layers": args.layers, "num_attention_heads": args.heads,
            "num_key_value_heads": args.kv_heads or args.heads, "intermediate_size": args.mlp or 3 * args.width,
            "hidden_act": "silu", "max_position_embeddings": 4096, "rms_norm_eps": 1e-6, "rope_theta": args.rope_theta,
            "rope_scaling": None, "attention_bias": False, "attention_dropout": 0.0, "vocab_size": 50304,
            "pad_token_id": 1, "eos_token_id": 0, "tie_word_embeddings": False}


def weights(config, normal):
    d, V, m = config["hidden_size"], config["vocab_size"], config["intermediate_size"]
    H, KV = config["num_attention_heads"], config["num_key_value_heads"]
    dh = config.get("head_dim") or d // H
    w = {"model.embed_tokens.weight": normal(V, d, sd=0.5), "model.norm.weight": 1.0 + normal(d, sd=0.1),
         "lm_head.weight": normal(V, d, sd=0.1)}
    for l in range(config["num_hidden_layers"]):
        p = f"model.layers.{l}."
        for n, rows, sd in (("q", H * dh, 0.1), ("k", KV * dh, 0.1), ("v", KV * dh, 0.1)):
            w[p + f"self_attn.{n}_proj.weight"] = normal(rows, d, sd=sd)
        w[p + "self_attn.o_proj.weight"] = normal(d, H * dh, sd=0.1)
        if config.get("attention_bias"):
            for n, rows in (("q", H * dh), ("k", KV * dh), ("v", KV * dh), ("o", d)):
                w[p + f"self_attn.{n}_proj.bias"] = normal(rows, sd=0.1)
        w[p + "self_attn.q_norm.weight"] = 1.0 + normal(H * dh, sd=0.1)
        w[p + "self_attn.k_norm.weight"] = 1.0 + normal(KV * dh, sd=0.1)
        w[p + "post_attention_layernorm.weight"] = 1.0 + normal(d, sd=0.1)
        w[p + "post_feedforward_layernorm.weight"] = 1.0 + normal(d, sd=0.1)
        w[p + "mlp.gate_proj.weight"] = normal(m, d, sd=0.1)
        w[p + "mlp.up_proj.weight"] = normal(m, d, sd=0.1)
        w[p + "mlp.down_proj.weight"] = normal(d, m, sd=0.1)
    return w


def tokenizer(out, shared):
    folder = os.path.join(shared, "gpt_neox")
    for name in os.listdir(folder):
        shutil.copy(os.path.join(folder, name), os.path.join(out, name))
