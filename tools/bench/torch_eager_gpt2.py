"""PyTorch-eager baseline for bench_extract.py: GPT-2 written the way Hugging Face's GPT2Model
is (Conv1D as addmm, split heads, masked softmax), run in inference mode, timed on the same
workloads as laminar_bench_model. Prints one JSON object.

    torch_eager_gpt2.py MODEL_DIR [REPEATS]
"""
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

SEED_WORDS = ("galaxy asteroid comet cosmos space sun planet moon star orbit ceiling sofa couch carpet door "
              "window lamp chair table rug bed floor wall pear grape banana cherry peach apple seed jelly "
              "orange lime fruit").split()


def load(folder):
    """Weights as float32 tensors over a memory map of model.safetensors (no copy for F32)."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    path = os.path.join(folder, "model.safetensors")
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
    w = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        a = data[begin:end].view({"F32": np.float32, "F16": np.float16}[info["dtype"]]).reshape(info["shape"])
        w[name.removeprefix("transformer.")] = torch.from_numpy(a).float()
    return config, w


class GPT2:
    def __init__(self, config, w):
        self.c, self.w = config, w
        self.H, self.d = config["n_head"], config["n_embd"]

    def conv1d(self, x, name):  # HF's Conv1D: x @ W + b with W stored [in, out]
        size = x.size()[:-1] + (self.w[name + ".weight"].size(1),)
        return torch.addmm(self.w[name + ".bias"], x.view(-1, x.size(-1)), self.w[name + ".weight"]).view(size)

    def split_heads(self, x):
        return x.view(x.size()[:-1] + (self.H, self.d // self.H)).permute(0, 2, 1, 3)

    def forward(self, ids, hooks, last_layer=None, logits=True):
        w, eps = self.w, self.c["layer_norm_epsilon"]
        B, T = ids.shape
        x = F.embedding(ids, w["wte.weight"]) + w["wpe.weight"][:T]
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        last = self.c["n_layer"] - 1 if last_layer is None else last_layer
        for l in range(last + 1):
            p = f"h.{l}."
            h = F.layer_norm(x, (self.d,), w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
            q, k, v = self.conv1d(h, p + "attn.c_attn").split(self.d, dim=2)
            if l == 5 and "qk5" in hooks:
                hooks["qk5"].append((q[:, -1].clone(), k[:, -1].clone()))
            q, k, v = self.split_heads(q), self.split_heads(k), self.split_heads(v)
            att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(v.size(-1))
            att = torch.where(causal, att, torch.tensor(torch.finfo(att.dtype).min))
            att = F.softmax(att, dim=-1)
            z = torch.matmul(att, v).permute(0, 2, 1, 3).contiguous().view(B, T, self.d)
            x = x + self.conv1d(z, p + "attn.c_proj")
            h2 = F.layer_norm(x, (self.d,), w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
            x = x + self.conv1d(F.gelu(self.conv1d(h2, p + "mlp.c_fc"), approximate="tanh"), p + "mlp.c_proj")
            if "resid_post" in hooks:
                hooks["resid_post"].append(x)
        if last_layer is None:
            x = F.layer_norm(x, (self.d,), w["ln_f.weight"], w["ln_f.bias"], eps)
            if logits:
                return x @ w["wte.weight"].t()
        return x


def median_seconds(repeats, f):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main():
    folder, repeats = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5
    t = time.perf_counter()
    model = GPT2(*load(folder))
    load_s = time.perf_counter() - t
    seed = torch.tensor([[464, 1306, 1573, 318, 16161]] * len(SEED_WORDS))  # 34 five-token prompts
    out = {"load_s": load_s}
    with torch.inference_mode():
        model.forward(seed, {"qk5": []})
        out["seed_extract_s"] = median_seconds(repeats, lambda: model.forward(seed, {"qk5": []}))
        out["seed_extract_early_exit_s"] = median_seconds(repeats, lambda: model.forward(seed, {"qk5": []}, last_layer=5))
        out["full_forward"], out["full_forward_with_logits"] = [], []
        for batch, length in [(34, 5), (8, 128)]:
            ids = (torch.arange(batch)[:, None] * 7919 + torch.arange(length)[None] * 104729) % 30000
            for key, logits in [("full_forward", False), ("full_forward_with_logits", True)]:
                model.forward(ids, {"resid_post": []}, logits=logits)
                s = median_seconds(repeats, lambda: model.forward(ids, {"resid_post": []}, logits=logits))
                out[key].append({"batch": batch, "length": length, "seconds": s, "tokens_per_s": batch * length / s})
    print(json.dumps(out))


if __name__ == "__main__":
    main()
