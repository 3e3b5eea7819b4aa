"""PyTorch-eager baseline for bench_llama.py: a Llama forward pass written the way Hugging
Face's LlamaModel is (nn.Linear as F.linear, RMSNorm, rotate-half rotary, repeat_kv, masked
softmax), in float32 after widening the BF16 file, run in inference mode.

    torch_eager_llama.py seed MODEL_DIR IDS.json OUT.npy   whole process: load, run the batch, save q, k of block 5
    torch_eager_llama.py forward MODEL_DIR REPEATS         full forward of 8 x 128 tokens, tokens/s (JSON)
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


def load(folder):
    """Every tensor of model.safetensors (or its shards) as float32, widened from BF16/F16."""
    with open(os.path.join(folder, "config.json")) as f:
        config = json.load(f)
    index = os.path.join(folder, "model.safetensors.index.json")
    files = [os.path.join(folder, "model.safetensors")]
    if os.path.exists(index):
        with open(index) as f:
            files = sorted({os.path.join(folder, s) for s in json.load(f)["weight_map"].values()})
    w = {}
    for path in files:
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(n))
        data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + n)
        for name, info in header.items():
            if name == "__metadata__":
                continue
            begin, end = info["data_offsets"]
            raw = torch.from_numpy(np.array(data[begin:end]))
            dtype = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}[info["dtype"]]
            w[name.removeprefix("model.")] = raw.view(dtype).reshape(info["shape"]).float()
    return config, w


class Llama:
    def __init__(self, config, w):
        self.c, self.w = config, w
        self.H, self.KV = config["num_attention_heads"], config["num_key_value_heads"]
        self.dh = config.get("head_dim", config["hidden_size"] // self.H)

    def rms(self, x, name):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.c["rms_norm_eps"]) * self.w[name]

    def forward(self, ids, capture_layer=None):
        w, B, T = self.w, ids.shape[0], ids.shape[1]
        x = F.embedding(ids, w["embed_tokens.weight"])
        inv = 1.0 / (self.c.get("rope_theta", 10000.0) ** (torch.arange(0, self.dh, 2).float() / self.dh))
        ang = torch.outer(torch.arange(T).float(), inv)
        emb = torch.cat([ang, ang], -1)
        cos, sin = emb.cos()[None, None], emb.sin()[None, None]
        rot = lambda t: torch.cat([-t[..., self.dh // 2:], t[..., :self.dh // 2]], -1)
        mask = torch.full((T, T), float("-inf")).triu(1)
        captured = None
        for l in range(self.c["num_hidden_layers"]):
            p = f"layers.{l}."
            h = self.rms(x, p + "input_layernorm.weight")
            q = F.linear(h, w[p + "self_attn.q_proj.weight"]).view(B, T, self.H, self.dh).transpose(1, 2)
            k = F.linear(h, w[p + "self_attn.k_proj.weight"]).view(B, T, self.KV, self.dh).transpose(1, 2)
            v = F.linear(h, w[p + "self_attn.v_proj.weight"]).view(B, T, self.KV, self.dh).transpose(1, 2)
            if l == capture_layer:
                captured = (q[:, :, -1].clone(), k[:, :, -1].clone())
            q, k = q * cos + rot(q) * sin, k * cos + rot(k) * sin
            k = k.repeat_interleave(self.H // self.KV, 1)
            v = v.repeat_interleave(self.H // self.KV, 1)
            att = F.softmax(q @ k.transpose(-1, -2) / math.sqrt(self.dh) + mask, dim=-1)
            z = (att @ v).transpose(1, 2).reshape(B, T, self.H * self.dh)
            x = x + F.linear(z, w[p + "self_attn.o_proj.weight"])
            h2 = self.rms(x, p + "post_attention_layernorm.weight")
            x = x + F.linear(F.silu(F.linear(h2, w[p + "mlp.gate_proj.weight"])) * F.linear(h2, w[p + "mlp.up_proj.weight"]),
                             w[p + "mlp.down_proj.weight"])
        return self.rms(x, "norm.weight"), captured


def main():
    mode, folder = sys.argv[1], sys.argv[2]
    model = Llama(*load(folder))
    with torch.inference_mode():
        if mode == "seed":  # the whole process is what is timed, from outside
            with open(sys.argv[3]) as f:
                prompts = json.load(f)
            rows = [None] * len(prompts)
            for length in sorted({len(p) for p in prompts}):  # equal-length batches, as HF without padding
                members = [i for i, p in enumerate(prompts) if len(p) == length]
                _, (q, k) = model.forward(torch.tensor([prompts[i] for i in members]), capture_layer=5)
                for j, i in enumerate(members):
                    rows[i] = torch.cat([q[j].reshape(-1), k[j].reshape(-1)]).numpy()
            np.save(sys.argv[4], np.stack(rows))
            return
        repeats = int(sys.argv[3])
        ids = (torch.arange(8)[:, None] * 7919 + torch.arange(128)[None] * 104729) % 30000
        model.forward(ids)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            model.forward(ids)
            times.append(time.perf_counter() - t)
        s = sorted(times)[len(times) // 2]
        print(json.dumps({"batch": 8, "length": 128, "seconds": s, "tokens_per_s": 8 * 128 / s}))


if __name__ == "__main__":
    main()
