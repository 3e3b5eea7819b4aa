"""The checks every model family gets against its independent numpy reference (the second wave's
tests: test_family_<name>.py, one per family, each a FamilyCheck with its own MODELS).

A family's test lists miniature random models made by tools/make_model.py --family NAME (with
its quirks switched on through make_model's options and --set KEY=JSON), each with the numpy
module that computes the same forward pass in float64 and the hook points to compare. Every
listed hook at the analysed token must agree within TOLERANCE absolute, at the last token and
averaged over the word; prompts run in one batch must give the bits they give alone; the
backend must be chosen from config.json's model_type; `laminar hooks` must list exactly the
reference's points.
"""
import os
import shutil
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
PYTHON = os.environ.get("LAMINAR_PYTHON", "/usr/bin/python3")
SHARED = os.path.join(os.environ["LAMINAR_SOURCE"], "..", "shared", "tokenizers")
TOLERANCE = 1e-4
WORDS = {"space": ["galaxy", "asteroid", "moon"], "fruit": ["pear", "pomegranate", "apple"]}


class Model:
    """A miniature model of a family: `options` for make_model.py, its numpy `reference`
    (load(folder) -> config, weights; forward(config, weights, ids) -> {hook: [T, ...]}), the
    extractors' sites to record, and further whole hook names (logits, embeddings)."""

    def __init__(self, backend, reference, options, attention=("q", "k", "v"), residual=("resid_pre", "resid_post"),
                 hooks=("logits",), relative_tolerance=None):
        self.backend, self.reference, self.options = backend, reference, list(options)
        self.attention, self.residual, self.hooks = list(attention), list(residual), list(hooks)
        # Wide models: float32 gets a sum of thousands of products right to a few 1e-6 of the
        # largest value; such a model's hooks are held to this share of their largest value.
        self.relative_tolerance = relative_tolerance


def experiment(model, model_dir, out, position="last", words=None, backend=True, heads="concat"):
    words = words or WORDS
    categories = "\n".join(f"    {c}: [{', '.join(ws)}]" for c, ws in words.items())
    extract = [f"""  - extractor: attention
    sites: [{", ".join(model.attention)}]
    heads: {heads}
    layers: all""" if model.attention else "",
               f"""  - extractor: residual
    sites: [{", ".join(model.residual)}]
    layers: all""" if model.residual else "",
               f"""  - extractor: hooks
    hooks: [{", ".join(model.hooks)}]""" if model.hooks else ""]
    return f"""experiment: family-check
models:
  - id: m
{f"    backend: {model.backend}{chr(10)}" if backend else ""}    path: {model_dir}
stimuli:
  template: "The {{word}} is next to me"
  position: {position}
  categories:
{categories}
extract:
{chr(10).join(e for e in extract if e)}
output: {out}
"""


@unittest.skipUnless(os.path.isdir(SHARED), f"the real tokenizer files are not at {SHARED} (../shared/tokenizers)")
class FamilyCheck(unittest.TestCase):
    MODELS = {}           # name: Model
    BATCH_MODELS = None   # the models whose batches are checked against prompts alone (default: all)

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-family-")
        for name, model in cls.MODELS.items():
            subprocess.run([PYTHON, MAKE_MODEL, os.path.join(cls.dir, name), *model.options], check=True)
        cls.prepare()

    @classmethod
    def prepare(cls):
        """Changes to the made folders before the tests (a subclass's: files as the Hub has them)."""

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def run_laminar(self, name, tag, model=None, **kwargs):
        """The extraction of experiment(model or MODELS[name], ...) on model folder `name`: its run file."""
        out = os.path.join(self.dir, f"{name}-{tag}.h5")
        with open(out[:-3] + ".yaml", "w") as f:
            f.write(experiment(model or self.MODELS[name], os.path.join(self.dir, name), out, **kwargs))
        r = subprocess.run([BIN, "run", out[:-3] + ".yaml", "--stage", "extract"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        return out

    def compare(self, name, position):
        model = self.MODELS[name]
        config, weights = model.reference.load(os.path.join(self.dir, name))
        worst = 0.0
        with h5py.File(self.run_laminar(name, position, position=position), "r") as f:
            ids, pos = f["stimuli/token_ids"][:], f["stimuli/position"][:]
            begin, end = f["stimuli/word_begin"][:], f["stimuli/word_end"][:]
            sets = f["activations/m"]
            for i, prompt in enumerate(ids):
                ref = model.reference.forward(config, weights, list(prompt))
                layers = len({h.split(".")[1] for h in ref if h.startswith("blocks.")})
                self.assertEqual(len(sets), (len(model.attention) + len(model.residual)) * layers + len(model.hooks))
                for hook, data in sets.items():
                    value = ref[hook].reshape(len(prompt), -1)
                    expected = value[pos[i]] if pos[i] >= 0 else value[begin[i]:end[i]].mean(0)
                    diff = np.abs(data[i].astype(np.float64) - expected).max()
                    if model.relative_tolerance:
                        diff *= TOLERANCE / (model.relative_tolerance * np.abs(value).max())
                    worst = max(worst, diff)
                    self.assertLess(diff, TOLERANCE, f"{name} {hook} stimulus {i} position {position}")
        return worst

    def test_every_hook_of_every_model(self):
        for name in self.MODELS:
            for position in ["last", "word_mean"]:
                with self.subTest(model=name, position=position):
                    print(f"{name} {position}: max |laminar - numpy| = {self.compare(name, position):.2e}")

    def test_attention_patterns_where_the_analysed_token_looks(self):
        # blocks.L.attn.hook_pattern through the hooks extractor: a row per token of the prompt
        # (the keys), a column per head, the analysed token's row of [head, query, key]; windows,
        # soft-caps and masks show in it as the reference computes them.
        for name, model in self.MODELS.items():
            config, weights = model.reference.load(os.path.join(self.dir, name))
            layers = sorted({int(h.split(".")[1]) for h in model.reference.forward(config, weights, [1, 2]) if h.startswith("blocks.")})
            patterns = Model(model.backend, model.reference, model.options, attention=(), residual=(),
                             hooks=[f"blocks.{l}.attn.hook_pattern" for l in layers])
            for position in ["last", "word_mean"]:
                with self.subTest(model=name, position=position):
                    with h5py.File(self.run_laminar(name, f"pattern-{position}", patterns, position=position), "r") as f:
                        ids, pos = f["stimuli/token_ids"][:], f["stimuli/position"][:]
                        begin, end = f["stimuli/word_begin"][:], f["stimuli/word_end"][:]
                        first = 0
                        for i, prompt in enumerate(ids):
                            ref = model.reference.forward(config, weights, list(prompt))
                            for l in layers:
                                pattern = ref[f"blocks.{l}.attn.hook_pattern"]  # [head, query, key]
                                queries = slice(pos[i], pos[i] + 1) if pos[i] >= 0 else slice(begin[i], end[i])
                                expected = pattern[:, queries, :].mean(1).T      # [key, head]
                                data = f[f"activations/m/blocks.{l}.attn.hook_pattern"][first:first + len(prompt)]
                                self.assertEqual(data.shape, expected.shape)
                                diff = np.abs(data.astype(np.float64) - expected).max()
                                self.assertLess(diff, TOLERANCE, f"{name} layer {l} stimulus {i} position {position}")
                            first += len(prompt)

    def test_batches_give_the_numbers_of_one_prompt_at_a_time(self):
        for name in self.BATCH_MODELS if self.BATCH_MODELS is not None else self.MODELS:
            with self.subTest(model=name):
                with h5py.File(self.run_laminar(name, "together"), "r") as f:
                    together = {k: v[:] for k, v in f["activations/m"].items()}
                row = 0
                for category, ws in WORDS.items():
                    for word in ws:
                        with h5py.File(self.run_laminar(name, f"alone-{word}", words={category: [word]}), "r") as f:
                            for hook, data in f["activations/m"].items():
                                np.testing.assert_array_equal(data[0], together[hook][row], err_msg=f"{name} {word} {hook}")
                        row += 1

    def test_backend_is_chosen_by_model_type(self):
        for name, model in self.MODELS.items():
            with self.subTest(model=name):
                with h5py.File(self.run_laminar(name, "auto", backend=False), "r") as f:
                    self.assertEqual(f["activations/m"].attrs["backend"], model.backend)

    def test_hooks_lists_exactly_the_points_the_reference_computes(self):
        for name, model in self.MODELS.items():
            with self.subTest(model=name):
                r = subprocess.run([BIN, "hooks", "--model", os.path.join(self.dir, name)], capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stderr)
                config, weights = model.reference.load(os.path.join(self.dir, name))
                ref = model.reference.forward(config, weights, [1, 2, 3])
                self.assertEqual(sorted(r.stdout.split()), sorted(ref))

    def test_the_logit_lens_reads_a_head_and_a_folder_without_one_is_refused(self):
        for name, model in self.MODELS.items():
            with self.subTest(model=name):
                config, weights = model.reference.load(os.path.join(self.dir, name))
                headed = "logits" in model.reference.forward(config, weights, [1, 2, 3])
                out = os.path.join(self.dir, f"{name}-lens.h5")
                with open(out[:-3] + ".yaml", "w") as f:
                    f.write(f"""experiment: lens
models: [{{id: m, path: {os.path.join(self.dir, name)}}}]
stimuli: {{template: "The {{word}} is next to me", categories: {{space: [galaxy, moon], fruit: [pear, apple]}}}}
extract:
  - {{extractor: logit_lens, k: 3}}
output: {out}
""")
                r = subprocess.run([BIN, "run", out[:-3] + ".yaml", "--stage", "extract"], capture_output=True, text=True)
                if headed:
                    self.assertEqual(r.returncode, 0, r.stderr)
                else:
                    self.assertNotEqual(r.returncode, 0)
                    self.assertIn("has no output head", r.stderr)

