"""DistilBERT (distilbert-base-uncased, ...) as save_pretrained writes DistilBertForMaskedLM
(distilbert.*, vocab_transform, vocab_layer_norm, vocab_projector.bias; vocab_projector.weight
tied to the word embeddings and not written, unless tie_word_embeddings is false) or, with
architectures ["DistilBertModel"], DistilBertModel (no prefix, no head); bert-base-uncased's
tokenizer, as distilbert-base-uncased has it."""
import os
import shutil

FAMILY = "distilbert"


def config(args):
    d = args.width
    return {"architectures": ["DistilBertForMaskedLM"], "model_type": "distilbert", "dim": d, "n_layers": args.layers,
            "n_heads": args.heads, "hidden_dim": args.mlp or 4 * d, "activation": "gelu",
            "max_position_embeddings": args.positions, "sinusoidal_pos_embds": False, "vocab_size": 30522, "pad_token_id": 0,
            "dropout": 0.1, "attention_dropout": 0.1, "qa_dropout": 0.1, "seq_classif_dropout": 0.2, "initializer_range": 0.02}


def weights(config, normal):
    d, m, V = config["dim"], config["hidden_dim"], config["vocab_size"]
    head = config["architectures"] != ["DistilBertModel"]
    prefix = "distilbert." if head else ""

    def layer_norm(name):
        w[name + ".weight"] = 1.0 + normal(d, sd=0.1)
        w[name + ".bias"] = normal(d, sd=0.05)

    w = {prefix + "embeddings.word_embeddings.weight": normal(V, d, sd=0.5),
         prefix + "embeddings.position_embeddings.weight": normal(config["max_position_embeddings"], d, sd=0.2)}
    layer_norm(prefix + "embeddings.LayerNorm")
    for l in range(config["n_layers"]):
        p = f"{prefix}transformer.layer.{l}."
        for n in ("q_lin", "k_lin", "v_lin"):
            w[p + f"attention.{n}.weight"] = normal(d, d, sd=0.15)
            w[p + f"attention.{n}.bias"] = normal(d, sd=0.05)
        w[p + "attention.out_lin.weight"] = normal(d, d, sd=0.1)
        w[p + "attention.out_lin.bias"] = normal(d)
        layer_norm(p + "sa_layer_norm")
        w[p + "ffn.lin1.weight"] = normal(m, d, sd=0.1)
        w[p + "ffn.lin1.bias"] = normal(m)
        w[p + "ffn.lin2.weight"] = normal(d, m, sd=0.1)
        w[p + "ffn.lin2.bias"] = normal(d)
        layer_norm(p + "output_layer_norm")
    if head:
        w["vocab_transform.weight"] = normal(d, d, sd=0.1)
        w["vocab_transform.bias"] = normal(d)
        layer_norm("vocab_layer_norm")
        w["vocab_projector.bias"] = normal(V, sd=0.1)
        if not config.get("tie_word_embeddings", True):
            w["vocab_projector.weight"] = normal(V, d, sd=0.5)
    return w


def tokenizer(out, shared):
    for name in os.listdir(os.path.join(shared, "bert")):
        shutil.copy(os.path.join(shared, "bert", name), os.path.join(out, name))
