"""Phi-3 (microsoft/Phi-3-mini-4k-instruct ...) as Phi3ForCausalLM's save_pretrained writes it:
model.* keys, self_attn.qkv_proj (q, k, v rows fused), mlp.gate_up_proj (gate rows, then up rows),
an untied lm_head, sliding_window in config.json. The tokenizer is the Mistral vocabulary in
Llama-2's layout (../shared/tokenizers/llama2_legacy), vocab_size 32064 as Phi-3's config has it."""
import os
import shutil

FAMILY = "phi3"


def config(args):
    return {"architectures": ["Phi3ForCausalLM"], "model_type": "phi3", "hidden_size": args.width,
            "num_hidden_layers": args.layers, "num_attention_heads": args.heads,
            "num_key_value_heads": args.kv_heads or args.heads, "intermediate_size": args.mlp or 3 * args.width,
            "hidden_act": "silu", "max_position_embeddings": 4096, "original_max_position_embeddings": 4096,
            "rms_norm_eps": 1e-5, "rope_theta": args.rope_theta, "rope_scaling": None, "sliding_window": 2047,
            "attention_dropout": 0.0, "embd_pdrop": 0.0, "resid_pdrop": 0.0, "vocab_size": 32064,
            "bos_token_id": 1, "eos_token_id": 32000, "pad_token_id": 32000, "tie_word_embeddings": False}


def weights(config, normal):
    d, V, m = config["hidden_size"], config["vocab_size"], config["intermediate_size"]
    H, KV = config["num_attention_heads"], config["num_key_value_heads"]
    dh = d // H
    w = {"model.embed_tokens.weight": normal(V, d, sd=0.1), "model.norm.weight": 1.0 + normal(d, sd=0.1),
         "lm_head.weight": normal(V, d, sd=0.1)}
    for l in range(config["num_hidden_layers"]):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = 1.0 + normal(d, sd=0.1)
        w[p + "post_attention_layernorm.weight"] = 1.0 + normal(d, sd=0.1)
        w[p + "self_attn.qkv_proj.weight"] = normal((H + 2 * KV) * dh, d, sd=0.1)
        w[p + "self_attn.o_proj.weight"] = normal(d, H * dh, sd=0.05)
        w[p + "mlp.gate_up_proj.weight"] = normal(2 * m, d, sd=0.1)
        w[p + "mlp.down_proj.weight"] = normal(d, m, sd=0.05)
    return w


def tokenizer(out, shared):
    folder = os.path.join(shared, "llama2_legacy")
    for name in os.listdir(folder):
        shutil.copy(os.path.join(folder, name), os.path.join(out, name))
