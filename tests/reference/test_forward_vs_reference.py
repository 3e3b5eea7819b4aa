"""laminar's GPT-2 extraction against the independent numpy forward pass (gpt2_numpy.py).

For several model shapes, both key layouts, F32 / F16 / BF16 weights, sharded and single
files, laminar extracts q, k, v and the residual stream at every layer into a run file; the
values read back with h5py must agree with the reference within 1e-4 absolute. Run by ctest.
"""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

import gpt2_numpy

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
PYTHON = os.environ.get("LAMINAR_PYTHON", "/usr/bin/python3")
TOLERANCE = 1e-4

WORDS = {"space": ["galaxy", "asteroid", "comet", "moon"],          # asteroid: 2 tokens
         "fruit": ["pear", "pomegranate", "cherry", "apple"],       # pomegranate: 4 tokens
         "interior": ["sofa", "carpet", "chandelier"]}

MODELS = {  # name: make_model.py options
    "bare-f32": ["--layers", "3", "--heads", "4", "--width", "64", "--layout", "bare", "--seed", "1"],
    "prefixed-f32-sharded": ["--layers", "2", "--heads", "2", "--width", "96", "--layout", "prefixed",
                             "--shards", "3", "--tokenizer", "json", "--seed", "2"],
    "prefixed-f16": ["--layers", "2", "--heads", "4", "--width", "32", "--layout", "prefixed", "--dtype", "f16",
                     "--seed", "3"],
    "bare-bf16-gelu": ["--layers", "2", "--heads", "2", "--width", "32", "--layout", "bare", "--dtype", "bf16",
                       "--activation", "gelu", "--seed", "4"],
}


def experiment(model_dir, out, position="last", template="The next word is {word}"):
    categories = "\n".join(f"    {c}: [{', '.join(ws)}]" for c, ws in WORDS.items())
    return f"""experiment: reference-check
models:
  - id: m
    backend: gpt2
    path: {model_dir}
stimuli:
  template: "{template}"
  position: {position}
  categories:
{categories}
extract:
  - extractor: attention
    layers: all
  - extractor: residual
    sites: [resid_pre, resid_mid, resid_post]
    layers: all
output: {out}
"""


class ForwardAgainstReference(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-ref-")
        for name, options in MODELS.items():
            subprocess.run([PYTHON, MAKE_MODEL, os.path.join(cls.dir, name), *options], check=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def run_laminar(self, name, text, *args, env=None):
        """Writes the experiment `text` to NAME.yaml beside the models and runs laminar on it."""
        yaml = os.path.join(self.dir, f"{name}.yaml")
        with open(yaml, "w") as f:
            f.write(text)
        return subprocess.run([BIN, "run", yaml, *args], capture_output=True, text=True, env=env)

    def extract_text(self, name, text):
        r = self.run_laminar(name, text, "--stage", "extract")
        self.assertEqual(r.returncode, 0, r.stderr)

    def extract(self, model, position="last", template="The next word is {word}"):
        out = os.path.join(self.dir, f"{model}-{position}.h5")
        self.extract_text(f"{model}-{position}", experiment(os.path.join(self.dir, model), out, position, template))
        return out

    def compare(self, model, position="last", template="The next word is {word}"):
        config, weights = gpt2_numpy.load(os.path.join(self.dir, model))
        worst = 0.0
        with h5py.File(self.extract(model, position, template), "r") as f:
            ids = f["stimuli/token_ids"][:]
            pos = f["stimuli/position"][:]
            begin, end = f["stimuli/word_begin"][:], f["stimuli/word_end"][:]
            sets = f["activations/m"]
            self.assertEqual(len(sets), 6 * config["n_layer"])  # q, k, v, resid_pre/mid/post per layer
            for i, prompt in enumerate(ids):
                ref = gpt2_numpy.forward(config, weights, list(prompt))
                for hook, data in sets.items():
                    value = ref[hook].reshape(len(prompt), -1)
                    expected = value[pos[i]] if pos[i] >= 0 else value[begin[i]:end[i]].mean(0)
                    diff = np.abs(data[i].astype(np.float64) - expected).max()
                    worst = max(worst, diff)
                    self.assertLess(diff, TOLERANCE, f"{model} {hook} stimulus {i} position {position}")
        return worst

    def test_every_model_at_the_last_token(self):
        for model in MODELS:
            with self.subTest(model=model):
                print(f"{model}: max |laminar - numpy| = {self.compare(model):.2e}")

    def test_word_positions(self):
        for position in ["word_first", "word_last", "word_mean"]:
            with self.subTest(position=position):
                self.compare("bare-f32", position, template="The {word} is next to me")

    def test_heads_separately(self):
        model = os.path.join(self.dir, "bare-f32")
        self.extract_text("heads", experiment(model, "heads.h5").replace(
            "    layers: all\n  - extractor: residual", "    heads: separate\n    layers: [2]\n  - extractor: residual"))
        config, weights = gpt2_numpy.load(model)
        with h5py.File(os.path.join(self.dir, "heads.h5"), "r") as f:
            ids, pos = f["stimuli/token_ids"][:], f["stimuli/position"][:]
            for site in "qkv":
                for h in range(4):
                    data = f[f"activations/m/blocks.2.attn.hook_{site}.head{h}"]
                    self.assertEqual(data.shape, (11, 16))
                    for i, prompt in enumerate(ids):
                        ref = gpt2_numpy.forward(config, weights, list(prompt))[f"blocks.2.attn.hook_{site}"]
                        np.testing.assert_allclose(data[i], ref[pos[i], h], atol=TOLERANCE)

    def test_other_hook_points(self):
        model = os.path.join(self.dir, "prefixed-f32-sharded")
        hooks = ["hook_embed", "hook_pos_embed", "blocks.0.hook_attn_out", "blocks.1.hook_mlp_out",
                 "ln_final.hook_normalized", "logits"]
        text = experiment(model, "hooks.h5")
        self.extract_text("hooks", text[:text.index("extract:")] +
                          f"extract:\n  - extractor: hooks\n    hooks: [{', '.join(hooks)}]\noutput: hooks.h5\n")
        config, weights = gpt2_numpy.load(model)
        with h5py.File(os.path.join(self.dir, "hooks.h5"), "r") as f:
            ids, pos = f["stimuli/token_ids"][:], f["stimuli/position"][:]
            self.assertEqual(f["activations/m/logits"].shape, (11, 50257))
            for i, prompt in enumerate(ids):
                ref = gpt2_numpy.forward(config, weights, list(prompt))
                ref["hook_embed"] = weights["wte.weight"][list(prompt)]
                ref["hook_pos_embed"] = weights["wpe.weight"][:len(prompt)]
                for hook in hooks:
                    np.testing.assert_allclose(f[f"activations/m/{hook}"][i], ref[hook][pos[i]], atol=TOLERANCE,
                                               err_msg=f"{hook} stimulus {i}")

    def test_stimuli_record_the_tokens_and_positions(self):
        with h5py.File(self.extract("bare-f32"), "r") as f:
            ids = f["stimuli/token_ids"][:]
            self.assertEqual(list(ids[0]), [464, 1306, 1573, 318, 16161])  # the seed's " galaxy" prompt
            self.assertEqual(list(f["stimuli/position"][:]), [len(p) - 1 for p in ids])
            self.assertEqual(f["activations/m/blocks.1.attn.hook_q"].shape, (11, 64))
            self.assertEqual(f["activations/m/blocks.1.attn.hook_q"].attrs["site"], "q")

    def test_batches_give_the_numbers_of_one_prompt_at_a_time(self):
        # Tokens after the word too: a prompt's own tokens (after the shared template) then
        # number two or more, and prompts of several lengths share the run.
        for template in ["The next word is {word}", "They brought the {word} home"]:
            with self.subTest(template=template):
                with h5py.File(self.extract("bare-f32", template=template), "r") as f:
                    batched = {k: v[:] for k, v in f["activations/m"].items()}
                row = 0
                for category, words in WORDS.items():
                    for word in words:
                        head, tail = experiment(os.path.join(self.dir, "bare-f32"), f"alone-{word}.h5",
                                                template=template).split("  categories:\n")
                        self.extract_text(f"alone-{word}",
                                          head + f"  categories:\n    {category}: [{word}]\n" + tail[tail.index("extract:"):])
                        with h5py.File(os.path.join(self.dir, f"alone-{word}.h5"), "r") as f:
                            for hook, data in f["activations/m"].items():
                                np.testing.assert_array_equal(data[0], batched[hook][row], err_msg=f"{word} {hook}")
                        row += 1

    def test_thread_counts_and_kernels_give_the_same_bits(self):
        """The products' kernels (gemm.hpp: AVX-512, AVX2, portable std::fma) and any number of
        threads give the activations of the default run, bit for bit."""
        template = "They brought the {word} home"
        with h5py.File(self.extract("bare-bf16-gelu", template=template), "r") as f:
            default = {k: v[:] for k, v in f["activations/m"].items()}
        flags = open("/proc/cpuinfo").read().split()
        kernels = ["portable"] + (["avx2"] if {"avx2", "fma", "f16c"} <= set(flags) else []) + \
                  (["avx512"] if "avx512f" in flags else [])
        runs = [{"OMP_NUM_THREADS": str(n)} for n in (1, 3)] + [{"LAMINAR_GEMM_KERNEL": k} for k in kernels]
        for env in runs:
            with self.subTest(**env):
                out = os.path.join(self.dir, "variant.h5")
                r = self.run_laminar("variant", experiment(os.path.join(self.dir, "bare-bf16-gelu"), out, template=template),
                                     "--stage", "extract", env=dict(os.environ, **env))
                self.assertEqual(r.returncode, 0, r.stderr)
                with h5py.File(out, "r") as f:
                    for hook, data in f["activations/m"].items():
                        np.testing.assert_array_equal(data[:], default[hook], err_msg=f"{env} {hook}")

    def test_pickle_only_folders_are_refused_with_advice(self):
        folder = os.path.join(self.dir, "pickled")
        os.makedirs(folder, exist_ok=True)
        shutil.copy(os.path.join(self.dir, "bare-f32", "config.json"), folder)
        shutil.copy(os.path.join(self.dir, "bare-f32", "vocab.json"), folder)
        shutil.copy(os.path.join(self.dir, "bare-f32", "merges.txt"), folder)
        with open(os.path.join(folder, "pytorch_model.bin"), "wb") as f:
            f.write(b"\x80\x02 not to be unpickled")
        r = self.run_laminar("pickled", experiment(folder, "pickled.h5"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("has only pytorch_model.bin", r.stderr)
        self.assertIn("save_pretrained(DIR, safe_serialization=True)", r.stderr)

    def test_a_wrongly_shaped_tensor_names_the_tensor_and_both_shapes(self):
        folder = os.path.join(self.dir, "misshapen")
        subprocess.run([PYTHON, MAKE_MODEL, folder, *MODELS["bare-f32"]], check=True)
        with open(os.path.join(folder, "config.json")) as f:
            config = json.load(f)
        config["n_embd"] = 32  # the weights are 64 wide
        with open(os.path.join(folder, "config.json"), "w") as f:
            json.dump(config, f)
        r = self.run_laminar("misshapen", experiment(folder, "misshapen.h5"))
        self.assertEqual(r.returncode, 1)
        self.assertIn("tensor wte.weight has shape [50257, 64], expected [50257, 32]", r.stderr)


if __name__ == "__main__":
    unittest.main()
