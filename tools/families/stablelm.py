"""StableLM (stabilityai/stablelm-3b-4e1t, stablelm-2-1_6b) as StableLmForCausalLM's save_pretrained
writes it: model.* keys, LayerNorms with weight and bias, q/k/v biases with use_qkv_bias,
per-head q/k LayerNorms (no bias) with qk_layernorm, no post_attention_layernorm with
use_parallel_residual, the untied lm_head; GPT-NeoX's tokenizer (vocab_size 50304)."""
import os
import shutil

FAMILY = "stablelm"


def config(args):
    heads = args.heads
    return {"architectures": ["StableLmForCausalLM"], "model_type": "stablelm", "hidden_size": args.width,
            "intermediate_size": args.mlp or 3 * args.width, "num_hidden_layers": args.layers,
            "num_attention_heads": heads, "num_key_value_heads": args.kv_heads or heads, "hidden_act": "silu",
            "max_position_embeddings": args.positions, "layer_norm_eps": 1e-5, "rope_theta": args.rope_theta,
            "rope_scaling": None, "partial_rotary_factor": 0.25, "use_qkv_bias": False, "qk_layernorm": False,
            "use_parallel_residual": False, "vocab_size": 50304, "bos_token_id": 0, "eos_token_id": 0,
            "tie_word_embeddings": False}


def weights(config, normal):
    d, m, V = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    H, KV = config["num_attention_heads"], config["num_key_value_heads"]
    dh = d // H
    q, kv = H * dh, KV * dh
    w = {"model.embed_tokens.weight": normal(V, d, sd=0.5), "model.norm.weight": 1.0 + normal(d, sd=0.1),
         "model.norm.bias": normal(d, sd=0.05), "lm_head.weight": normal(V, d, sd=0.1)}
    for l in range(config["num_hidden_layers"]):
        p = f"model.layers.{l}."
        norms = ["input_layernorm"] + ([] if config["use_parallel_residual"] else ["post_attention_layernorm"])
        for ln in norms:
            w[p + ln + ".weight"] = 1.0 + normal(d, sd=0.1)
            w[p + ln + ".bias"] = normal(d, sd=0.05)
        for n, size in (("q", q), ("k", kv), ("v", kv)):
            w[p + f"self_attn.{n}_proj.weight"] = normal(size, d, sd=0.15 if n != "v" else 0.1)
            if config["use_qkv_bias"]:
                w[p + f"self_attn.{n}_proj.bias"] = normal(size, sd=0.1)
        if config["qk_layernorm"]:
            for n, heads in (("q", H), ("k", KV)):
                for h in range(heads):
                    w[p + f"self_attn.{n}_layernorm.norms.{h}.weight"] = 1.0 + normal(dh, sd=0.1)
        w[p + "self_attn.o_proj.weight"] = normal(d, q, sd=0.1)
        w[p + "mlp.gate_proj.weight"] = normal(m, d, sd=0.1)
        w[p + "mlp.up_proj.weight"] = normal(m, d, sd=0.1)
        w[p + "mlp.down_proj.weight"] = normal(d, m, sd=0.1)
    return w


def tokenizer(out, shared):
    for name in os.listdir(os.path.join(shared, "gpt_neox")):
        shutil.copy(os.path.join(shared, "gpt_neox", name), os.path.join(out, name))
