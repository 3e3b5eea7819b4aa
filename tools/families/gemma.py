"""Gemma (google/gemma-2b, gemma-7b) as GemmaForCausalLM's save_pretrained writes it: model.*
keys, the tied lm_head not written, RMSNorm weights stored as w (the norm scales by 1 + w), a
head_dim of its own. The tokenizer is Mistral-7B's (../shared/tokenizers/mistral, 32000 tokens),
standing in for Gemma's 256000-token SentencePiece vocabulary, which ../shared does not hold."""
import os
import shutil

FAMILY = "gemma"


def config(args):
    return {"architectures": ["GemmaForCausalLM"], "model_type": "gemma", "hidden_size": args.width,
            "num_hidden_layers": args.layers, "num_attention_heads": args.heads,
            "num_key_value_heads": args.kv_heads or args.heads, "head_dim": 16,
            "intermediate_size": args.mlp or 3 * args.width, "hidden_act": "gelu", "hidden_activation": "gelu_pytorch_tanh",
            "max_position_embeddings": 8192, "rms_norm_eps": 1e-6, "rope_theta": args.rope_theta, "rope_scaling": None,
            "attention_bias": False, "attention_dropout": 0.0, "vocab_size": 32000, "pad_token_id": 0,
            "bos_token_id": 1, "eos_token_id": 2, "tie_word_embeddings": True}


def weights(config, normal, post_norms=False):
    """Every tensor of GemmaForCausalLM (post_norms: Gemma 2's four norms per block)."""
    d, V, m = config["hidden_size"], config["vocab_size"], config["intermediate_size"]
    H, KV, dh = config["num_attention_heads"], config["num_key_value_heads"], config["head_dim"]
    w = {"model.embed_tokens.weight": normal(V, d, sd=0.1), "model.norm.weight": normal(d, sd=0.1)}  # norms: 1 + w
    norms = ["input_layernorm", "post_attention_layernorm"]
    if post_norms:
        norms += ["pre_feedforward_layernorm", "post_feedforward_layernorm"]
    for l in range(config["num_hidden_layers"]):
        p = f"model.layers.{l}."
        for n in norms:
            w[p + n + ".weight"] = normal(d, sd=0.1)
        w[p + "self_attn.q_proj.weight"] = normal(H * dh, d, sd=0.1)
        w[p + "self_attn.k_proj.weight"] = normal(KV * dh, d, sd=0.1)
        w[p + "self_attn.v_proj.weight"] = normal(KV * dh, d, sd=0.1)
        w[p + "self_attn.o_proj.weight"] = normal(d, H * dh, sd=0.05)
        w[p + "mlp.gate_proj.weight"] = normal(m, d, sd=0.1)
        w[p + "mlp.up_proj.weight"] = normal(m, d, sd=0.1)
        w[p + "mlp.down_proj.weight"] = normal(d, m, sd=0.05)
    return w


def tokenizer(out, shared):
    folder = os.path.join(shared, "mistral")
    for name in os.listdir(folder):
        shutil.copy(os.path.join(folder, name), os.path.join(out, name))
