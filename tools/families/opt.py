"""OPT (facebook/opt-125m ... opt-66b; opt-350m's post-LayerNorm blocks and projected embeddings)
as save_pretrained writes it: OPTForCausalLM's model.decoder.* keys, or OPTModel's decoder.* (the
layout of the Hub's facebook/opt-* files), the tied lm_head not written, the position table two
rows longer than max_position_embeddings.

Tokenizer: the real facebook/opt-* folders hold GPT2Tokenizer's vocab.json + merges.txt (the
fairseq ids RoBERTa also uses: <s> 0, <pad> 1, </s> 2, <unk> 3, then the byte-level BPE tokens in
fairseq's order) and a tokenizer_config.json with add_bos_token true and bos_token "</s>", and
no tokenizer.json: transformers prepends </s> (id 2) to every prompt. The real vocabulary is not
among the shared files, so this writes the same three files from GPT-2's published ones with the
four special tokens at OPT's ids 0-3 and GPT-2's tokens after them (id + 4: the same BPE, other
ids than the real OPT's)."""
import json
import os
import shutil

FAMILY = "opt"
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # OPT's (and RoBERTa's) ids 0-3


def config(args):
    d = args.width
    return {"architectures": ["OPTForCausalLM"], "model_type": "opt", "hidden_size": d, "num_hidden_layers": args.layers,
            "num_attention_heads": args.heads, "ffn_dim": args.mlp or 4 * d, "max_position_embeddings": args.positions,
            "word_embed_proj_dim": d, "do_layer_norm_before": True, "_remove_final_layer_norm": False,
            "activation_function": "relu", "enable_bias": True, "layer_norm_elementwise_affine": True,
            "vocab_size": 50272, "pad_token_id": 1, "bos_token_id": 2, "eos_token_id": 2, "prefix": "</s>",
            "dropout": 0.1, "attention_dropout": 0.0, "layerdrop": 0.0, "init_std": 0.02, "tie_word_embeddings": True}


def weights(config, normal):
    d, e, m = config["hidden_size"], config["word_embed_proj_dim"] or config["hidden_size"], config["ffn_dim"]
    V, P = config["vocab_size"], config["max_position_embeddings"] + 2
    bias, affine = config.get("enable_bias", True), config.get("layer_norm_elementwise_affine", True)
    pre = config.get("do_layer_norm_before", True)
    prefix = "decoder." if config["architectures"] == ["OPTModel"] else "model.decoder."
    w = {prefix + "embed_tokens.weight": normal(V, e, sd=0.3 if pre else 0.1), prefix + "embed_positions.weight": normal(P, d, sd=0.1)}
    if e != d:
        w[prefix + "project_in.weight"] = normal(d, e, sd=1.0 / e ** 0.5)
        w[prefix + "project_out.weight"] = normal(e, d, sd=1.0 / d ** 0.5)

    def layer_norm(name):
        if affine:
            w[name + ".weight"] = 1.0 + normal(d, sd=0.1)
            w[name + ".bias"] = normal(d, sd=0.05)

    def linear(name, out, inp, sd):
        w[name + ".weight"] = normal(out, inp, sd=sd)
        if bias:
            w[name + ".bias"] = normal(out, sd=0.05)

    for l in range(config["num_hidden_layers"]):
        p = f"{prefix}layers.{l}."
        for n in "qkv":
            linear(p + f"self_attn.{n}_proj", d, d, 0.15)
        linear(p + "self_attn.out_proj", d, d, 0.1)
        layer_norm(p + "self_attn_layer_norm")
        linear(p + "fc1", m, d, 0.15)
        linear(p + "fc2", d, m, 0.1)
        layer_norm(p + "final_layer_norm")
    if pre and not config.get("_remove_final_layer_norm", False):
        layer_norm(prefix + "final_layer_norm")
    return w


def gpt2_with_specials(shared, front, back=()):
    """GPT-2's published tokenizer.json with the special tokens `front` at ids 0.. (GPT-2's tokens
    after them) and `back` after GPT-2's last token."""
    with open(os.path.join(shared, "published", "gpt2", "tokenizer.json"), encoding="utf-8") as f:
        t = json.load(f)
    n = len(front)
    vocab = {token: i + n for token, i in t["model"]["vocab"].items()}
    specials = list(enumerate(front)) + [(len(vocab) + n + i, s) for i, s in enumerate(back)]
    for i, s in specials:
        vocab[s] = i
    t["model"]["vocab"] = vocab
    t["added_tokens"] = [{"id": i, "content": s, "single_word": False, "lstrip": s == "<mask>", "rstrip": False,
                          "normalized": False, "special": True} for i, s in specials] + \
        [dict(a, id=a["id"] + n) for a in t["added_tokens"]]
    return t


def tokenizer(out, shared):
    t = gpt2_with_specials(shared, SPECIALS)
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(t["model"]["vocab"], f, ensure_ascii=False)
    shutil.copy(os.path.join(shared, "published", "gpt2", "merges.txt"), os.path.join(out, "merges.txt"))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "GPT2Tokenizer", "add_bos_token": True, "add_prefix_space": False, "errors": "replace",
                   "bos_token": {"__type": "AddedToken", "content": "</s>", "lstrip": False, "normalized": True,
                                 "rstrip": False, "single_word": False},
                   "eos_token": "</s>", "unk_token": "</s>", "pad_token": "<pad>"}, f, indent=2)
