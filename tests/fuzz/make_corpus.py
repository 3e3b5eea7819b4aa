#!/usr/bin/env python3
"""Writes the small seed corpora of the fuzz targets (corpus/<target>/): valid inputs of every
kind each target reads, and a few of the broken ones issue 8 found. Run from anywhere; the run
file seed needs a built laminar (LAMINAR_BIN, default build/laminar)."""
import json
import os
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def put(target, name, data):
    with open(os.path.join(HERE, "corpus", target, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, header=None, pad=0):
    h = header or {n: {"dtype": d, "shape": s, "data_offsets": [b, e]} for n, (d, s, b, e) in tensors.items()}
    text = json.dumps(h) + " " * pad
    size = max([e for *_, e in tensors.values()] + [0])
    return struct.pack("<Q", len(text)) + text.encode() + bytes(range(256)) * (size // 256) + bytes(size % 256)


put("safetensors", "f32", safetensors({"a": ("F32", [2, 2], 0, 16)}))
put("safetensors", "mixed", safetensors({"a": ("BF16", [3], 0, 6), "b": ("F16", [1], 6, 8), "c": ("F32", [0], 8, 8)}))
put("safetensors", "unaligned", safetensors({"w": ("F32", [4], 0, 16)}, pad=3))
put("safetensors", "metadata", safetensors({"w": ("F32", [1], 0, 4)}, header={"__metadata__": {"format": "pt"},
                                                                            "w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}))
put("safetensors", "gap", safetensors({"a": ("F32", [1], 0, 4), "b": ("F32", [1], 8, 12)}))
put("safetensors", "i64", safetensors({"ids": ("I64", [2], 0, 16)}))

byte_level = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}
vocab = {c: i for i, c in enumerate(["T", "h", "e", "Ġ", "n", "x", "t", "w", "o", "r", "d", "i", "s", "Th", "The", "Ġn", "ex"])}
bpe = {"model": {"type": "BPE", "vocab": vocab, "merges": ["T h", "Th e", "Ġ n", "e x"]},
       "pre_tokenizer": byte_level, "added_tokens": [{"id": 17, "content": "<|endoftext|>", "special": True}]}
put("tokenizer", "bpe-json", b"\x00" + json.dumps(bpe).encode() + b"\n@@text@@\nThe next word is <|endoftext|> \xf0\x9f\x98\x80")
metaspace = {"normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                                  {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
             "model": {"type": "BPE", "vocab": {"<unk>": 0, "<0x41>": 1, "\u2581": 2, "a": 3, "\u2581a": 4},
                       "merges": ["\u2581 a"], "byte_fallback": True, "unk_token": "<unk>"},
             "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<unk>", "type_id": 0}},
                                                                         {"Sequence": {"id": "A", "type_id": 0}}],
                                "special_tokens": {"<unk>": {"id": "<unk>", "ids": [0], "tokens": ["<unk>"]}}}}
put("tokenizer", "metaspace-json", b"\x00" + json.dumps(metaspace).encode() + b"\n@@text@@\na A aa")
wordpiece = {"normalizer": {"type": "BertNormalizer", "lowercase": True}, "pre_tokenizer": {"type": "BertPreTokenizer"},
             "model": {"type": "WordPiece", "vocab": {"[UNK]": 0, "[CLS]": 1, "[SEP]": 2, "the": 3, "next": 4, "##s": 5},
                       "unk_token": "[UNK]"},
             "post_processor": {"type": "BertProcessing", "cls": ["[CLS]", 1], "sep": ["[SEP]", 2]}}
put("tokenizer", "wordpiece-json", b"\x00" + json.dumps(wordpiece).encode() + b"\n@@text@@\nThe nexts, Caf\xc3\xa9!")
put("tokenizer", "vocab-merges", b"\x01" + json.dumps(vocab).encode() + b"\n@@merges@@\n#version: 0.2\nT h\nTh e\n\xc4\xa0 n\ne x\n@@text@@\nThe next")
put("tokenizer", "vocab-txt", b"\x02[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\nnext\n##s\n\n@@text@@\nthe nexts")
put("tokenizer", "empty-merges", b"\x01" + json.dumps(vocab).encode() + b"\n@@merges@@\n#version: 0.2\n\n@@text@@\nThe")


def sequence(key, depth, leaf):
    """A Sequence of Sequences `depth` deep (two JSON levels each) around `leaf`: the readers of
    normalizers, pre-tokenizers and post-processors recurse once a level (issue 22: 30,000
    levels overflowed the stack; JSON nested more than 100 deep is now refused)."""
    opening, closing = json.dumps({"type": "Sequence", key: ["@"]}).split('"@"')
    return opening * depth + json.dumps(leaf) + closing * depth


deep = '{"normalizer": %s, "pre_tokenizer": %s, "post_processor": %s, "model": %s}'
model = json.dumps(bpe["model"])
put("tokenizer", "deep-sequences", b"\x00" + (deep % (sequence("normalizers", 48, {"type": "Lowercase"}),
                                                      sequence("pretokenizers", 48, byte_level),
                                                      sequence("processors", 48, byte_level), model)).encode() + b"\n@@text@@\nThe next")
put("tokenizer", "deep-normalizer-past-limit", b"\x00" + (deep % (sequence("normalizers", 150, {"type": "Lowercase"}), "null", "null",
                                                                  model)).encode() + b"\n@@text@@\nThe next")

for name in sorted(os.listdir(os.path.join(ROOT, "experiments"))):
    if name.endswith(".yaml"):
        put("experiment", name, open(os.path.join(ROOT, "experiments", name), "rb").read())
put("experiment", "anchors.yaml", "experiment: &a x\nmodels: [{id: *a, path: /m}]\nstimuli: {template: '{word}', categories: {c: [a, b]}}\n"
                                  "extract: [{extractor: attention, sites: [q], layers: [99999999999]}]\nanalyze: []\noutput: o.h5\n")
put("experiment", "nul.yaml", "experiment: x\nstimuli:\n  categories:\n    c: [\"a\\0b\"]\n")


def alias_levels(levels, copies, top):
    """Each level a list of `copies` aliases of the level before ("billion laughs" at 10 x 9)."""
    lines = ["l0: &l0 [" + ", ".join(["w"] * copies) + "]"]
    lines += [f"l{k}: &l{k} [" + ", ".join([f"*l{k - 1}"] * copies) + "]" for k in range(1, levels)]
    return "\n".join(lines) + f"\n{top}\n"


# Alias expansion (issue 22): a "billion laughs" file, refused at its limit, and nested aliases
# within it, expanded into an experiment's fields.
put("experiment", "alias-bomb.yaml", alias_levels(10, 9, "experiment: *l9"))
put("experiment", "aliases-nested.yaml", alias_levels(3, 3, "experiment: x\nmodels: [{id: m, path: /m}]\n"
                                                          "stimuli: {template: '{word}', categories: {c: *l2}}\n"
                                                          "extract: [{extractor: attention, sites: *l1}]\noutput: o.h5"))

laminar = os.environ.get("LAMINAR_BIN", os.path.join(ROOT, "build", "laminar"))
with tempfile.TemporaryDirectory() as tmp:
    model = os.path.join(tmp, "model")
    subprocess.run([sys.executable, os.path.join(ROOT, "tools", "make_model.py"), model, "--layers", "1", "--heads", "2",
                    "--width", "8", "--seed", "1"], check=True, capture_output=True)
    with open(os.path.join(tmp, "exp.yaml"), "w") as f:
        f.write(f"experiment: seed\nmodels:\n  - id: m\n    backend: gpt2\n    path: {model}\nstimuli:\n"
                "  template: \"A {word}\"\n  categories:\n    a: [sun, moon]\n    b: [pear, lime]\n"
                "extract:\n  - extractor: attention\n    sites: [q]\n    layers: [0]\nanalyze:\n  - metric: cosine\n"
                "output: run.h5\n")
    subprocess.run([laminar, "run", os.path.join(tmp, "exp.yaml")], check=True, capture_output=True)
    data = open(os.path.join(tmp, "run.h5"), "rb").read()
    put("run_file", "sealed.h5", data)
    put("run_file", "flipped.h5", data[:4000] + bytes([data[4000] ^ 4]) + data[4001:])
    put("run_file", "header-only.h5", data[:512])
print("corpora written under", os.path.join(HERE, "corpus"))
