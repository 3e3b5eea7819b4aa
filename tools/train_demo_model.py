#!/usr/bin/env python3
"""Trains the demo model: a tiny GPT-2 that reads WordNet's definitions for about six minutes.

    tools/train_demo_model.py OUT_DIR [--steps 700] [--seed 0]
    tools/train_demo_model.py --recipe [--steps 700] [--seed 0]    the hash a cached model must carry

The corpus is WordNet 3.0 as Debian's wordnet-base installs it (/usr/share/wordnet/data.*), one
line per synset: its first lemma, its gloss and its examples ("galaxy: (astronomy) a collection
of star systems; ..."), tokenized by GPT-2's own encoder (the npm package gpt-3-encoder, whose
ids laminar's tokenizer matches on every line of it). The model is GPT-2 exactly as Hugging Face
defines it (4 blocks, width 128, 4 heads, context 64, tied unembedding), trained with PyTorch on one thread
(faster than two here, and the only way to the same bytes from the same seed), with OpenBLAS's
Haswell kernels and libtorch's AVX2 code on any CPU that has them (the same bytes on every
machine of our kind, not only on one), for a fixed number
of steps: AdamW (lr 3e-3 after 50 warm-up steps, cosine decay to a tenth; betas 0.9/0.95; weight
decay 0.01 on matrices; gradients clipped at 1.0), batches of 32 windows of 64 tokens. The loss
is a sampled softmax over the batch's target tokens and 1,024 random others instead of all
50,257: four times faster, and in as many minutes the full softmax learned nothing visible in the
founding study's numbers.

The folder is written by tools/make_model.py's writer (safetensors, vocab.json + merges.txt,
config.json); config.json's `laminar_training` says how it was made: corpus, steps, seed, the
final loss, and `recipe`, a hash of everything that determines the weights, which tools/demo.sh
compares to decide whether a cached model is still the one this script would make.
"""
import argparse
import hashlib
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time

# One thread everywhere, set before numpy and torch load their BLAS: OpenBLAS would otherwise
# start its own threads besides torch's one (slower here, and the sums' order would vary).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = os.environ.get("LAMINAR_TRAIN_THREADS", "1")


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            return next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return []


# The same kernels on every machine with AVX2 and FMA (all machines of our kind), so that each
# trains the same bytes: OpenBLAS picks its kernels by CPU (Haswell's on AMD EPYC, SkylakeX's on
# an AVX-512 Intel), and a model trained with one set differs from one trained with another
# (founding-study numbers 1.018 against 1.030 for q). Pinned here to the set every such CPU can
# run, and libtorch's vector code to AVX2 (libtorch 1.13 takes AVX-512 only when asked). A CPU
# without AVX2 trains with its own kernels, and the recipe says so.
KERNELS = ({"OPENBLAS_CORETYPE": "Haswell", "ATEN_CPU_CAPABILITY": "avx2"}
           if {"avx2", "fma"} <= set(_cpu_flags()) else {"OPENBLAS_CORETYPE": "(the CPU's own)"})
os.environ.update({k: v for k, v in KERNELS.items() if not v.startswith("(")})

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_model  # noqa: E402  (the writer of every model folder laminar's tests and demo use)

WORDNET = "/usr/share/wordnet"
PARTS = ["noun", "verb", "adj", "adv"]
EOS = 50256
SHAPE = {"layers": 4, "width": 128, "heads": 4, "positions": 64}
TRAINING = {"batch": 32, "context": 64, "negatives": 1024, "lr": 3e-3, "warmup": 50, "final_lr": 0.1,
            "betas": [0.9, 0.95], "weight_decay": 0.01, "clip": 1.0}


def wordnet_lines(folder=WORDNET):
    """One line per synset, "lemma: gloss; examples", in the files' order."""
    lines = []
    for part in PARTS:
        with open(os.path.join(folder, f"data.{part}"), encoding="latin-1") as f:
            for line in f:
                if line.startswith("  "):  # the licence header
                    continue
                head, _, gloss = line.partition("|")
                lemma = re.sub(r"\(.*\)$", "", head.split()[4]).replace("_", " ")  # "galaxy", "long(a)" -> "long"
                lines.append(f"{lemma}: {gloss.strip()}")
    return lines


def corpus_digest(folder=WORDNET):
    h = hashlib.sha256()
    for part in PARTS:
        with open(os.path.join(folder, f"data.{part}"), "rb") as f:
            h.update(f.read())
    return h.hexdigest()


def tokenize(lines):
    """Token ids of every line by GPT-2's own encoder (gpt-3-encoder, tools/gpt2_encode.js),
    joined with GPT-2's end-of-text token. laminar reads the model with the same ids on this
    corpus, all 2.4 million of them (tests/e2e/test_trained_demo.py); encoding with node needs
    no build, so the training starts while laminar builds."""
    text = "".join(json.dumps(line) + "\n" for line in lines)
    out = subprocess.run(["node", os.path.join(HERE, "gpt2_encode.js")], input=text, check=True,
                         capture_output=True, text=True).stdout
    ids = []
    for row in out.splitlines():
        ids.extend(json.loads(row))
        ids.append(EOS)
    return np.asarray(ids, dtype=np.int64)


class Block(torch.nn.Module):
    """One GPT-2 block, as Hugging Face's GPT2Block computes it (Conv1D weights are [in, out])."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln_1, self.ln_2 = torch.nn.LayerNorm(d, eps=1e-5), torch.nn.LayerNorm(d, eps=1e-5)
        self.c_attn_w = torch.nn.Parameter(torch.randn(d, 3 * d) * 0.02)
        self.c_attn_b = torch.nn.Parameter(torch.zeros(3 * d))
        self.attn_proj_w = torch.nn.Parameter(torch.randn(d, d) * 0.02)
        self.attn_proj_b = torch.nn.Parameter(torch.zeros(d))
        self.c_fc_w = torch.nn.Parameter(torch.randn(d, 4 * d) * 0.02)
        self.c_fc_b = torch.nn.Parameter(torch.zeros(4 * d))
        self.mlp_proj_w = torch.nn.Parameter(torch.randn(4 * d, d) * 0.02)
        self.mlp_proj_b = torch.nn.Parameter(torch.zeros(d))

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = (self.ln_1(x) @ self.c_attn_w + self.c_attn_b).split(d, dim=2)
        q, k, v = (z.view(b, t, self.heads, d // self.heads).transpose(1, 2) for z in (q, k, v))
        a = F.scaled_dot_product_attention(q, k, v, is_causal=True) if hasattr(F, "scaled_dot_product_attention") \
            else _attention(q, k, v)
        x = x + a.transpose(1, 2).reshape(b, t, d) @ self.attn_proj_w + self.attn_proj_b
        h = F.gelu(self.ln_2(x) @ self.c_fc_w + self.c_fc_b, approximate="tanh")  # gelu_new
        return x + h @ self.mlp_proj_w + self.mlp_proj_b


_CAUSAL = {}


def _attention(q, k, v):
    """Causal softmax attention (torch 1.13 has no fused one): q scaled before the product,
    the mask added, which is cheaper than dividing and filling the larger score tensor."""
    t = q.shape[2]
    if t not in _CAUSAL:
        _CAUSAL[t] = torch.full((t, t), float("-inf")).triu(1)
    scores = torch.baddbmm(_CAUSAL[t].expand(q.shape[0] * q.shape[1], t, t),
                           (q * (1.0 / math.sqrt(q.shape[-1]))).flatten(0, 1), k.flatten(0, 1).transpose(1, 2))
    return (scores.softmax(-1) @ v.flatten(0, 1)).view(q.shape)


class TinyGPT2(torch.nn.Module):
    def __init__(self, layers, width, heads, positions):
        super().__init__()
        self.wte = torch.nn.Parameter(torch.randn(make_model.VOCAB_SIZE, width) * 0.02)
        self.wpe = torch.nn.Parameter(torch.randn(positions, width) * 0.01)
        self.blocks = torch.nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.ln_f = torch.nn.LayerNorm(width, eps=1e-5)

    def forward(self, ids):
        x = self.wte[ids] + self.wpe[: ids.shape[1]]
        for block in self.blocks:
            x = block(x)
        return self.ln_f(x)

    def hf_tensors(self):
        """The weights under the names save_pretrained writes for GPT2LMHeadModel (lm_head tied)."""
        w = {"transformer.wte.weight": self.wte, "transformer.wpe.weight": self.wpe,
             "transformer.ln_f.weight": self.ln_f.weight, "transformer.ln_f.bias": self.ln_f.bias}
        for i, b in enumerate(self.blocks):
            p = f"transformer.h.{i}."
            w.update({p + "ln_1.weight": b.ln_1.weight, p + "ln_1.bias": b.ln_1.bias,
                      p + "attn.c_attn.weight": b.c_attn_w, p + "attn.c_attn.bias": b.c_attn_b,
                      p + "attn.c_proj.weight": b.attn_proj_w, p + "attn.c_proj.bias": b.attn_proj_b,
                      p + "ln_2.weight": b.ln_2.weight, p + "ln_2.bias": b.ln_2.bias,
                      p + "mlp.c_fc.weight": b.c_fc_w, p + "mlp.c_fc.bias": b.c_fc_b,
                      p + "mlp.c_proj.weight": b.mlp_proj_w, p + "mlp.c_proj.bias": b.mlp_proj_b})
        w = {k: v.detach().numpy().astype(np.float32) for k, v in w.items()}
        w["lm_head.weight"] = w["transformer.wte.weight"]
        return w


def learning_rate(step, steps):
    if step < TRAINING["warmup"]:
        return TRAINING["lr"] * (step + 1) / TRAINING["warmup"]
    progress = (step - TRAINING["warmup"]) / max(1, steps - TRAINING["warmup"])
    return TRAINING["lr"] * (TRAINING["final_lr"] + (1 - TRAINING["final_lr"]) * 0.5 * (1 + math.cos(math.pi * progress)))


def recipe(steps, seed):
    """A hash of everything that determines the weights: this script, the corpus, the settings."""
    h = hashlib.sha256()
    with open(os.path.abspath(__file__), "rb") as f:
        h.update(f.read())
    h.update(corpus_digest().encode())
    h.update(json.dumps([steps, seed, SHAPE, TRAINING, torch.__version__, KERNELS], sort_keys=True).encode())
    return h.hexdigest()[:32]


def train(data, steps, seed, log):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    model = TinyGPT2(SHAPE["layers"], SHAPE["width"], SHAPE["heads"], SHAPE["positions"])
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": TRAINING["weight_decay"]},
                             {"params": other, "weight_decay": 0.0}], lr=TRAINING["lr"], betas=TRAINING["betas"])
    data = torch.from_numpy(data)
    b, t = TRAINING["batch"], TRAINING["context"]
    offsets = torch.arange(t + 1)
    losses, start = [], time.monotonic()
    for step in range(steps):
        for group in opt.param_groups:
            group["lr"] = learning_rate(step, steps)
        window = data[torch.randint(0, len(data) - t - 1, (b,), generator=g)[:, None] + offsets]
        x, y = window[:, :-1], window[:, 1:]
        # Sampled softmax: the batch's targets and 1,024 random tokens are the classes.
        candidates = torch.unique(torch.cat([y.flatten(), torch.randint(0, make_model.VOCAB_SIZE,
                                                                         (TRAINING["negatives"],), generator=g)]))
        target = torch.searchsorted(candidates, y.flatten())
        logits = model(x).reshape(b * t, -1) @ model.wte[candidates].T
        loss = F.cross_entropy(logits, target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), TRAINING["clip"])
        opt.step()
        losses.append(loss.item())
        if (step + 1) % 50 == 0 or step + 1 == steps:
            spent = time.monotonic() - start
            left = spent / (step + 1) * (steps - step - 1)
            log(f"train: step {step + 1}/{steps}, loss {np.mean(losses[-50:]):.3f}, "
                f"{spent:.0f} s, about {left:.0f} s left")
    return model, losses


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", nargs="?", help="the model folder to write")
    ap.add_argument("--steps", type=int, default=700)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--recipe", action="store_true", help="print the recipe hash of these settings and exit")
    args = ap.parse_args()
    if args.recipe:
        print(recipe(args.steps, args.seed))
        return
    if not args.out:
        ap.error("the model folder to write is missing")
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    log = lambda text: print(text, flush=True)  # noqa: E731

    started = time.monotonic()
    partial = args.out.rstrip("/") + ".partial"
    os.makedirs(partial, exist_ok=True)
    make_model.write_tokenizer_files(partial)
    lines = wordnet_lines()
    data = tokenize(lines)
    log(f"train: WordNet 3.0, {len(lines)} synsets, {len(data)} GPT-2 tokens; {args.steps} steps, seed {args.seed}")
    model, losses = train(data, args.steps, args.seed, log)

    make_model.write_weights(partial, model.hf_tensors(), "f32", 1)
    config = make_model.gpt2_config(SHAPE["layers"], SHAPE["width"], SHAPE["heads"], SHAPE["positions"], "f32")
    config["laminar_note"] = ("a tiny GPT-2 (4 blocks, width 128) that read WordNet's definitions for about six "
                              "minutes (tools/train_demo_model.py): enough for category structure, not a language "
                              "model for anything else")
    config["laminar_training"] = {
        "corpus": f"WordNet 3.0 (Debian wordnet-base, {WORDNET}/data.{{{','.join(PARTS)}}}): one line per synset, "
                  "lemma: gloss; examples",
        "corpus_sha256": corpus_digest(), "synsets": len(lines), "tokens": int(len(data)),
        "steps": args.steps, "seed": args.seed, "shape": SHAPE, "training": TRAINING,
        "loss_first_50": round(float(np.mean(losses[:50])), 4), "loss_last_50": round(float(np.mean(losses[-50:])), 4),
        "torch": torch.__version__, "threads": 1, "kernels": KERNELS, "seconds": round(time.monotonic() - started, 1),
        "recipe": recipe(args.steps, args.seed)}
    with open(os.path.join(partial, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    if os.path.exists(args.out):  # replaced whole: a half-written model is never taken for a cached one
        shutil.rmtree(args.out)
    os.rename(partial, args.out)
    log(f"train: {args.out}: loss {config['laminar_training']['loss_first_50']} -> "
        f"{config['laminar_training']['loss_last_50']} in {config['laminar_training']['seconds']:.0f} s")


if __name__ == "__main__":
    main()
