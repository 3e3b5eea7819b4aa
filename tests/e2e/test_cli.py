"""The `laminar` command end to end, and its run file read back with h5py and numpy.

Run by ctest (cli_end_to_end), which sets LAMINAR_BIN and the fixture plugin folders.
"""
import os
import re
import shutil
import subprocess
import tempfile
import unittest

import h5py
import numpy as np

BIN = os.environ["LAMINAR_BIN"]
FIXTURES = os.environ["LAMINAR_FIXTURE_PLUGINS"]
MISMATCHED = os.environ["LAMINAR_MISMATCHED_PLUGINS"]
DATA = os.environ["LAMINAR_TEST_DATA"]


def laminar(*args, plugin_path=FIXTURES):
    env = dict(os.environ, LAMINAR_PLUGIN_PATH=plugin_path)
    return subprocess.run([BIN, *args], env=env, capture_output=True, text=True, timeout=120)


def api_version():
    """kApiVersion as the plugin header declares it (the fixtures are built against it)."""
    with open(os.path.join(os.path.dirname(__file__), "..", "..", "framework", "include", "laminar", "plugin.hpp")) as f:
        return int(re.search(r"kApiVersion = (\d+);", f.read()).group(1))


class Cli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="laminar-e2e-")
        shutil.copytree(os.path.join(DATA, "toy_model"), os.path.join(self.dir, "toy_model"))
        shutil.copy(os.path.join(DATA, "toy.yaml"), self.dir)
        self.yaml = os.path.join(self.dir, "toy.yaml")
        self.run_file = os.path.join(self.dir, "runs", "toy.h5")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def test_help_on_every_command_and_usage_errors_exit_2(self):
        for command in ["run", "validate", "plugins", "inspect"]:
            r = laminar(command, "--help")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("usage: laminar " + command, r.stdout)
        self.assertEqual(laminar("frobnicate").returncode, 2)
        self.assertEqual(laminar().returncode, 2)
        r = laminar("run", self.yaml, "--no-such-flag")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unrecognised option '--no-such-flag'", r.stderr)
        r = laminar("run", self.yaml, "--stage", "plot")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--stage must be extract, analyze or report", r.stderr)

    def test_run_then_read_the_file_with_h5py(self):
        r = laminar("run", self.yaml)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("extract: toy: 9 prompts, 2 activation set(s)", r.stdout)
        self.assertIn("row_norms/toy/blocks.0.hook_resid_post", r.stdout)  # the report stage's table
        with h5py.File(self.run_file, "r") as f:
            self.assertEqual(f.attrs["experiment"], "toy-fixture")
            self.assertIn("experiment: toy-fixture", f.attrs["spec"])
            self.assertTrue(f.attrs["laminar_version"])
            self.assertEqual(len(f.attrs["spec_hash"]), 32)
            self.assertEqual(f["stimuli/text"].shape, (9,))
            self.assertEqual(f["stimuli/text"][0].decode(), "The next word is galaxy")
            self.assertEqual([c.decode() for c in f["stimuli/category"][:]], ["space"] * 4 + ["fruit"] * 5)
            ids = f["stimuli/token_ids"]
            self.assertEqual(ids.shape, (9,))
            self.assertEqual(len(ids[1]), 6)  # "asteroid" is two toy tokens
            np.testing.assert_array_equal(f["stimuli/position"][:], [len(t) - 1 for t in ids])
            act = f["activations/toy/blocks.2.hook_resid_post"]
            self.assertEqual(act.shape, (9, 6))
            self.assertEqual(act.dtype, np.float32)
            self.assertEqual(act.attrs["layer"], 2)
            self.assertEqual(act.attrs["site"], "resid_post")
            self.assertEqual(act.attrs["model_id"], "toy")
            self.assertEqual(len(act.attrs["model_fingerprint"]), 32)
            # The metric's numbers against numpy, from the same stored activations.
            group = f["results/row_norms/toy/blocks.2.hook_resid_post"]
            norms = np.linalg.norm(act[:].astype(np.float64), axis=1)
            np.testing.assert_allclose(group["norms"][:], norms, rtol=1e-12)
            self.assertAlmostEqual(group.attrs["mean_norm"], norms.mean(), places=12)
            self.assertEqual(f["results/row_norms"].attrs["metric"], "row_norms")
            self.assertEqual(len(f["stages/extract"].attrs["inputs_hash"]), 32)

    def test_second_run_skips_and_out_overrides_the_output(self):
        self.assertEqual(laminar("run", self.yaml).returncode, 0)
        r = laminar("run", self.yaml)
        self.assertIn("extract: up to date", r.stdout)
        self.assertIn("analyze: row_norms: up to date", r.stdout)
        other = os.path.join(self.dir, "elsewhere.h5")
        r = laminar("run", self.yaml, "--out", other, "--stage", "extract")
        self.assertEqual(r.returncode, 0, r.stderr)
        with h5py.File(other, "r") as f:
            self.assertIn("activations", f)
            self.assertNotIn("results", f)

    def test_validate_reports_file_line_and_field(self):
        r = laminar("validate", self.yaml)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("ok", r.stdout)
        with open(self.yaml) as f:
            text = f.read()
        bad = self.write("bad.yaml", text.replace("position: last", "position: centre"))
        r = laminar("validate", bad)
        self.assertEqual(r.returncode, 2)
        self.assertIn(bad + ":9:13: stimuli.position: expected one of: last, word_last, word_first, word_mean", r.stderr)
        r = laminar("run", bad)
        self.assertEqual(r.returncode, 2)
        self.assertFalse(os.path.exists(self.run_file))

    def test_missing_model_folder_is_a_spec_error_naming_the_field(self):
        shutil.rmtree(os.path.join(self.dir, "toy_model"))
        r = laminar("run", self.yaml)
        self.assertEqual(r.returncode, 2)
        self.assertIn(self.yaml + ":6:11: models[0].path: model folder not found", r.stderr)

    def test_plugins_lists_kind_name_version_api_and_file_and_refusals(self):
        r = laminar("plugins", plugin_path=FIXTURES + ":" + MISMATCHED)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertTrue(lines[0].split() == ["KIND", "NAME", "VERSION", "API", "FILE"])
        api = api_version()
        self.assertTrue(any(l.split()[:4] == ["metric", "row_norms", "0.1.0", str(api)] for l in lines[1:]))
        self.assertTrue(any(l.split()[:2] == ["model", "toy"] and "laminar_model_toy.so" in l and l.endswith("(config.json model_type: toy)")
                            for l in lines))
        self.assertTrue(any(l.split()[:2] == ["model", "llama"] and l.endswith("(config.json model_type: llama mistral qwen2)")
                            for l in lines))
        self.assertIn("refused: " + os.path.join(MISMATCHED, "laminar_metric_mismatched.so"), r.stdout)
        self.assertIn(f"API version {api + 41}, but this laminar has API version {api}", r.stdout)  # mismatched.cpp's + 41

    def test_inspect_shows_tree_shapes_and_attributes(self):
        laminar("run", self.yaml)
        r = laminar("inspect", self.run_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("blocks.2.hook_resid_post  [9 x 6] float32", r.stdout)
        self.assertIn("token_ids  [9] vlen int32", r.stdout)
        self.assertIn("@layer = 2", r.stdout)
        self.assertIn("@site = resid_post", r.stdout)
        r = laminar("inspect", os.path.join(self.dir, "nope.h5"))
        self.assertEqual(r.returncode, 2)
        self.assertIn("no such run file", r.stderr)

    def test_model_override_on_the_command_line(self):
        moved = os.path.join(self.dir, "moved_model")
        shutil.move(os.path.join(self.dir, "toy_model"), moved)
        r = laminar("run", self.yaml, "--model", "toy=" + moved)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = laminar("run", self.yaml, "--model", "toy")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--model expects ID=PATH", r.stderr)


if __name__ == "__main__":
    unittest.main()
