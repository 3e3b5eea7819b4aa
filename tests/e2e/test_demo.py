"""The default experiment (README command 1) end to end, on a random model of the demo model's
shape (the trained one is tools/demo.sh's, five minutes to make; tests/e2e/test_trained_demo.py
trains a short one): its summary carries the selectivity of Q and K with p-values and the Q-K
RSA with its p-value and confidence interval. Run by ctest (demo_experiment)."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import h5py

BIN = os.environ["LAMINAR_BIN"]
ROOT = os.environ["LAMINAR_SOURCE"]


class Demo(unittest.TestCase):
    def test_demo_runs_and_reports(self):
        tmp = tempfile.mkdtemp(prefix="laminar-demo-")
        try:
            model = os.path.join(tmp, "demo-gpt2")
            subprocess.run(["/usr/bin/python3", os.path.join(ROOT, "tools", "make_model.py"), model, "--layers", "4",
                            "--heads", "4", "--width", "128", "--positions", "64", "--seed", "5"], check=True)
            out = os.path.join(tmp, "demo.h5")
            r = subprocess.run([BIN, "run", os.path.join(ROOT, "experiments", "demo.yaml"), "--model",
                                f"demo-gpt2={model}", "--out", out], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            number = r"-?[0-9.e+-]+"
            for site in "qk":
                self.assertRegex(r.stdout, rf"selectivity/demo-gpt2/blocks\.3\.attn\.hook_{site} +index={number}  p_value=<?{number}")
            self.assertRegex(r.stdout, rf"rsa/demo-gpt2/blocks\.3\.attn\.hook_q~blocks\.3\.attn\.hook_k +r={number}  "
                                       rf"p_value=<?{number}  ci_low={number}  ci_high={number}  n_pairs=561")
            with h5py.File(out, "r") as f:
                self.assertEqual(f["activations/demo-gpt2/blocks.3.attn.hook_q"].shape, (34, 128))
                self.assertEqual([f[f"activations/demo-gpt2/blocks.{l}.hook_resid_post"].shape for l in range(4)],
                                 [(34, 128)] * 4)
                self.assertEqual(list(f["stimuli/token_ids"][0]), [464, 1306, 1573, 318, 16161])
                rsa = f["results/rsa/demo-gpt2/blocks.3.attn.hook_q~blocks.3.attn.hook_k"]
                self.assertEqual([rsa[f"categories/{c}"].attrs["n_pairs"] for c in ("space", "interior", "fruit")],
                                 [45, 78, 55])
                self.assertEqual(f["results/selectivity/demo-gpt2/blocks.3.attn.hook_q/null"].shape, (10000,))
        finally:
            shutil.rmtree(tmp)


if __name__ == "__main__":
    unittest.main()
