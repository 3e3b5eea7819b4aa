"""experiments/family_comparison.yaml end to end, on miniature random models of every family at
the real models' depths (gpt2-medium 24 layers, pythia-410m 24, TinyLlama 22, bert-base 12,
gpt-neo-125m 12, gpt-j-6b 28, opt-1.3b 24, phi-2 32, phi-3-mini 32, gemma-2b 18, gemma-2-2b 26,
olmo-2-1b 16, stablelm-2-1.6b 24, roberta-base 12, distilbert 6; width 32), made by
tools/make_model.py with real tokenizers. Every model gets
selectivity at every layer, Q-K RSA at every layer, and the cross-model RSA pairs; the
tokenizers' added tokens (<s>, [CLS], [SEP]) are never the analysed position. Run by ctest
(family_comparison)."""
import os
import shutil
import subprocess
import tempfile
import unittest

import h5py

BIN = os.environ["LAMINAR_BIN"]
ROOT = os.environ["LAMINAR_SOURCE"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
SHARED = os.path.join(ROOT, "..", "shared", "tokenizers")
MODELS = {  # id: (layers, make_model options)
    "gpt2-medium": (24, ["--heads", "2", "--width", "32"]),
    "pythia-410m": (24, ["--family", "gpt_neox", "--heads", "2", "--width", "32"]),
    "tinyllama-1.1b": (22, ["--family", "llama", "--heads", "4", "--kv-heads", "2", "--width", "32", "--dtype", "bf16"]),
    "bert-base-uncased": (12, ["--family", "bert", "--heads", "2", "--width", "32"]),
    "gpt-neo-125m": (12, ["--family", "gpt_neo", "--heads", "2", "--width", "32"]),
    "gpt-j-6b": (28, ["--family", "gptj", "--heads", "2", "--width", "32"]),
    "opt-1.3b": (24, ["--family", "opt", "--heads", "2", "--width", "32"]),
    "phi-2": (32, ["--family", "phi", "--heads", "2", "--width", "32", "--dtype", "bf16"]),
    "phi-3-mini": (32, ["--family", "phi3", "--heads", "2", "--width", "32", "--dtype", "bf16"]),
    "gemma-2b": (18, ["--family", "gemma", "--heads", "2", "--kv-heads", "1", "--width", "32", "--dtype", "bf16"]),
    "gemma-2-2b": (26, ["--family", "gemma2", "--heads", "2", "--kv-heads", "1", "--width", "32", "--dtype", "bf16"]),
    "olmo-2-1b": (16, ["--family", "olmo2", "--heads", "2", "--width", "32", "--dtype", "bf16"]),
    "stablelm-2-1.6b": (24, ["--family", "stablelm", "--heads", "2", "--width", "32", "--dtype", "bf16"]),
    "roberta-base": (12, ["--family", "roberta", "--heads", "2", "--width", "32"]),
    "distilbert-base-uncased": (6, ["--family", "distilbert", "--heads", "2", "--width", "32"]),
}
BACKENDS = {"gpt2-medium": "gpt2", "pythia-410m": "gpt_neox", "tinyllama-1.1b": "llama", "bert-base-uncased": "bert",
            "gpt-neo-125m": "gpt_neo", "gpt-j-6b": "gptj", "opt-1.3b": "opt", "phi-2": "phi", "phi-3-mini": "phi3",
            "gemma-2b": "gemma", "gemma-2-2b": "gemma", "olmo-2-1b": "olmo2", "stablelm-2-1.6b": "stablelm",
            "roberta-base": "roberta", "distilbert-base-uncased": "distilbert"}


@unittest.skipUnless(os.path.isdir(SHARED), f"the real tokenizer files are not at {SHARED} (../shared/tokenizers)")
class FamilyComparison(unittest.TestCase):
    def test_runs_on_every_family(self):
        tmp = tempfile.mkdtemp(prefix="laminar-families-e2e-")
        try:
            overrides = []
            for model, (layers, options) in MODELS.items():
                folder = os.path.join(tmp, model)
                subprocess.run(["/usr/bin/python3", MAKE_MODEL, folder, "--layers", str(layers), *options], check=True)
                overrides += ["--model", f"{model}={folder}"]
            out = os.path.join(tmp, "family.h5")
            r = subprocess.run([BIN, "run", os.path.join(ROOT, "experiments", "family_comparison.yaml"), "--out", out,
                                *overrides], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            with h5py.File(out, "r") as f:
                for model, (layers, _) in MODELS.items():
                    self.assertEqual(f[f"activations/{model}"].attrs["backend"], BACKENDS[model])
                    for l in range(layers):
                        for hook in [f"blocks.{l}.hook_resid_post", f"blocks.{l}.attn.hook_q"]:
                            self.assertIn("p_value", f[f"results/selectivity/{model}/{hook}"].attrs)
                        self.assertIn("r", f[f"results/rsa/{model}/blocks.{l}.attn.hook_q~blocks.{l}.attn.hook_k"].attrs)
                across = f["results/rsa_across_models"]
                self.assertIn("blocks.23.hook_resid_post~blocks.11.hook_resid_post",
                              across["gpt2-medium~bert-base-uncased"])
                self.assertIn("blocks.23.hook_resid_post~blocks.21.hook_resid_post", across["pythia-410m~tinyllama-1.1b"])
                self.assertIn("blocks.11.hook_resid_post~blocks.5.hook_resid_post", across["bert-base-uncased~distilbert-base-uncased"])
                self.assertEqual(sum(len(g) for g in across.values()), 12)
                # Each tokenizer's own ids and positions; never an added token.
                bert_ids = f["stimuli/by_model/bert-base-uncased/token_ids"][:]
                bert_pos = f["stimuli/by_model/bert-base-uncased/position"][:]
                self.assertTrue(all(ids[0] == 101 and ids[-1] == 102 and p == len(ids) - 2
                                    for ids, p in zip(bert_ids, bert_pos)))
                llama_ids = f["stimuli/by_model/tinyllama-1.1b/token_ids"][:]
                self.assertTrue(all(ids[0] == 1 for ids in llama_ids))
            # The report page beside the run file: the profile on relative depth (the models
            # differ in depth) and the model x model grid of the cross-model pairs.
            figures = os.listdir(os.path.join(tmp, "family", "figures"))
            self.assertIn("profile.png", figures)
            self.assertIn("rsa_across_models-grid.svg", figures)
            self.assertNotIn("rsa-grid.png", figures)  # q~k layer by layer: no grid to draw
            import sys
            sys.path.insert(0, os.path.join(ROOT, "tools", "python"))
            import laminar
            with laminar.open(out) as run:
                profile = laminar.plot_profile(run)
                self.assertEqual(profile.axes[-1].get_xlabel(), "relative depth (layer / (layers - 1))")
                bert_q = next(l for l in profile.axes[0].get_lines() if l.get_label() == "bert-base-uncased q")
                self.assertEqual((bert_q.get_xdata()[0], bert_q.get_xdata()[-1]), (0.0, 1.0))
                grid = laminar.plot_rsa_grid(run, "rsa_across_models")
                self.assertEqual([a.get_title() for a in grid.axes if a.get_title()],
                                 ["resid_post ~ resid_post at relative depth 1.00",
                                  "resid_post ~ resid_post at relative depth 0.48"])
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    unittest.main()
