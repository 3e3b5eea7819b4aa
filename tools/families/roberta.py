"""RoBERTa (roberta-base, roberta-large) as save_pretrained writes RobertaForMaskedLM (roberta.*,
lm_head.*; the decoder tied to the word embeddings and not written, unless tie_word_embeddings is
false) or, with architectures ["RobertaModel"], RobertaModel (no prefix, a pooler, no head).

Tokenizer: the real roberta-base vocab.json is GPT-2's byte-level BPE in fairseq's id order
(<s> 0, <pad> 1, </s> 2, <unk> 3, ..., <mask> 50264), which is not among the shared files. This
writes a tokenizer.json from GPT-2's published one: <s> <pad> </s> <unk> at RoBERTa's ids 0-3,
GPT-2's tokens after them (id + 4), <mask> after the last (50261, not roberta-base's 50264), and
RobertaProcessing (<s> $A </s>), so that the same text gives other ids than roberta-base's."""
import json
import os

from .opt import gpt2_with_specials

FAMILY = "roberta"


def config(args):
    d = args.width
    return {"architectures": ["RobertaForMaskedLM"], "model_type": "roberta", "hidden_size": d,
            "num_hidden_layers": args.layers, "num_attention_heads": args.heads, "intermediate_size": args.mlp or 4 * d,
            "hidden_act": "gelu", "layer_norm_eps": 1e-5, "max_position_embeddings": args.positions + 2, "type_vocab_size": 1,
            "vocab_size": 50265, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2,
            "position_embedding_type": "absolute", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
            "initializer_range": 0.02}


def weights(config, normal):
    d, m, V = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    head = config["architectures"] != ["RobertaModel"]
    prefix = "roberta." if head else ""

    def layer_norm(name):
        w[name + ".weight"] = 1.0 + normal(d, sd=0.1)
        w[name + ".bias"] = normal(d, sd=0.05)

    w = {prefix + "embeddings.word_embeddings.weight": normal(V, d, sd=0.5),
         prefix + "embeddings.position_embeddings.weight": normal(config["max_position_embeddings"], d, sd=0.2),
         prefix + "embeddings.token_type_embeddings.weight": normal(config["type_vocab_size"], d, sd=0.2)}
    layer_norm(prefix + "embeddings.LayerNorm")
    for l in range(config["num_hidden_layers"]):
        p = f"{prefix}encoder.layer.{l}."
        for n in ("query", "key", "value"):
            w[p + f"attention.self.{n}.weight"] = normal(d, d, sd=0.15)
            w[p + f"attention.self.{n}.bias"] = normal(d, sd=0.05)
        w[p + "attention.output.dense.weight"] = normal(d, d, sd=0.1)
        w[p + "attention.output.dense.bias"] = normal(d)
        layer_norm(p + "attention.output.LayerNorm")
        w[p + "intermediate.dense.weight"] = normal(m, d, sd=0.1)
        w[p + "intermediate.dense.bias"] = normal(m)
        w[p + "output.dense.weight"] = normal(d, m, sd=0.1)
        w[p + "output.dense.bias"] = normal(d)
        layer_norm(p + "output.LayerNorm")
    if not head:
        w["pooler.dense.weight"] = normal(d, d)
        w["pooler.dense.bias"] = normal(d)
        return w
    w["lm_head.dense.weight"] = normal(d, d, sd=0.1)
    w["lm_head.dense.bias"] = normal(d)
    layer_norm("lm_head.layer_norm")
    w["lm_head.bias"] = normal(V, sd=0.1)
    if not config.get("tie_word_embeddings", True):  # an untied decoder is written, with its bias (lm_head.bias's twin)
        w["lm_head.decoder.weight"] = normal(V, d, sd=0.5)
        w["lm_head.decoder.bias"] = w["lm_head.bias"]
    return w


def tokenizer(out, shared):
    t = gpt2_with_specials(shared, ["<s>", "<pad>", "</s>", "<unk>"], ["<mask>"])
    t["post_processor"] = {"type": "RobertaProcessing", "sep": ["</s>", 2], "cls": ["<s>", 0], "trim_offsets": True,
                           "add_prefix_space": False}
    with open(os.path.join(out, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(t, f, ensure_ascii=False)
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "RobertaTokenizer", "add_prefix_space": False, "errors": "replace", "bos_token": "<s>",
                   "eos_token": "</s>", "sep_token": "</s>", "cls_token": "<s>", "unk_token": "<unk>", "pad_token": "<pad>",
                   "mask_token": "<mask>", "trim_offsets": True}, f, indent=2)
