"""Hostile probe, second round (issue 22): the identity of a model's weights, broken plugins,
non-finite activations, too little memory. As test_bad_inputs: exit code and message asserted,
0 ok, 1 runtime failure, 2 usage or experiment-file error; never a signal."""
import json
import os
import shutil
import subprocess
import unittest

import h5py
import numpy as np

from test_bad_inputs import BIN, MAKE_MODEL, PYTHON, Case, digest, run, set_tensor

BROKEN = os.environ["LAMINAR_BROKEN_PLUGINS"]


def edit(path, *replacements):
    with open(path) as f:
        text = f.read()
    for a, b in replacements:
        assert a in text, a
        text = text.replace(a, b)
    with open(path, "w") as f:
        f.write(text)
    return path


class ModelIdentity(Case):
    """The model files' identity is their content: size and mtime can be kept by a copy (`cp -p`)
    or set back after an edit; the ctime, which users cannot set, says when to hash again."""

    def setUp(self):
        self.folder = os.path.join(self.dir, self.id().rsplit(".", 1)[1])
        shutil.copytree(self.model, self.folder)
        self.exp = edit(self.experiment(os.path.basename(self.folder) + ".yaml"), (self.model, self.folder))
        self.out = self.folder + "-run.h5"  # (its report page goes to a folder beside it, not into the model's)
        first = run("run", self.exp, "--out", self.out)
        self.assertEqual(first.returncode, 0, first.stderr)

    def other_weights_of_the_same_size(self, weights):
        """Copies another model's weights (same shape, another seed) over `weights`, size and mtime kept."""
        other = os.path.join(self.dir, "other-seed")
        if not os.path.exists(other):
            subprocess.run([PYTHON, MAKE_MODEL, other, "--layers", "2", "--heads", "2", "--width", "32", "--seed", "5"],
                           check=True, capture_output=True)
        before = os.stat(weights)
        shutil.copyfile(os.path.join(other, "model.safetensors"), weights)
        os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
        after = os.stat(weights)
        self.assertEqual((after.st_size, after.st_mtime_ns), (before.st_size, before.st_mtime_ns))

    def test_weights_changed_with_size_and_mtime_kept_are_another_model(self):
        weights = os.path.join(self.folder, "model.safetensors")
        self.other_weights_of_the_same_size(weights)
        before = digest(self.out)
        r = run("run", self.exp, "--out", self.out, "--stage", "analyze")
        self.assertFails(r, 2, "model 'm' (" + self.folder + ") is not the model its activations were extracted from: "
                         "model.safetensors (other contents)", "(without --stage analyze) to extract again first")
        self.assertEqual(digest(self.out), before)
        r = run("run", self.exp, "--out", self.out)  # all stages: extracts again, then analyses
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("extract: m: 11 prompts", r.stdout)
        self.assertNotIn("up to date", r.stdout)
        self.assertEqual(run("run", self.exp, "--out", self.out, "--stage", "analyze").returncode, 0)

    def test_an_edit_in_place_with_mtime_set_back_is_another_model(self):
        weights = os.path.join(self.folder, "model.safetensors")
        before = os.stat(weights)
        set_tensor(weights, "transformer.h.1.attn.c_attn.bias", 0.5)
        os.utime(weights, ns=(before.st_atime_ns, before.st_mtime_ns))
        r = run("run", self.exp, "--out", self.out, "--stage", "analyze")
        self.assertFails(r, 2, "is not the model its activations were extracted from: model.safetensors (other contents)")
        r = run("run", self.exp, "--out", self.out, "--stage", "extract")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("extract: m: 11 prompts", r.stdout)

    def test_a_copied_or_touched_folder_is_the_same_model(self):
        copy = self.folder + "-copy"
        shutil.copytree(self.folder, copy)  # new inodes, new times: hashed again, the same content
        for name in os.listdir(copy):
            os.utime(os.path.join(copy, name))
        for stage in ("extract", "analyze"):
            r = run("run", self.exp, "--out", self.out, "--stage", stage, "--model", "m=" + copy)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("up to date", r.stdout)
        shutil.rmtree(copy)  # gone: the activations are all there is, and they are analysed
        r = run("run", self.exp, "--out", self.out, "--stage", "analyze", "--model", "m=" + copy)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_the_run_file_records_what_each_file_was_hashed_from(self):
        with h5py.File(self.out, "r") as f:
            files = json.loads(f["activations/m"].attrs["model_files"])
            stats = json.loads(f["activations/m"].attrs["model_file_stats"])
        names = sorted(os.listdir(self.folder))
        self.assertEqual([e["name"] for e in files], names)
        st = os.stat(os.path.join(self.folder, "model.safetensors"))
        self.assertEqual(stats["model.safetensors"][:5], [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns])
        self.assertEqual(len(stats["model.safetensors"][5]), 32)  # XXH3-128, hex


class BrokenPlugins(Case):
    """Fixture plugins of tests/fixtures/broken, found through LAMINAR_PLUGIN_PATH."""

    env = dict(os.environ, LAMINAR_PLUGIN_PATH=BROKEN)

    def with_metric(self, metric):
        return edit(self.experiment(metric + ".yaml"), ("- metric: cosine", f"- metric: {metric}\n  - metric: cosine"))

    def library(self, name):
        return os.path.join(BROKEN, f"laminar_metric_{name}.so")

    def test_a_factory_that_returns_null_is_refused_naming_the_file(self):
        exp, out = self.with_metric("null_factory"), os.path.join(self.dir, "null", "run.h5")
        expected = self.library("null_factory") + ": laminar_create returned no object (a null pointer)"
        self.assertFails(run("validate", exp, env=self.env), 1, expected)
        self.assertFails(run("run", exp, "--out", out, env=self.env), 1, expected)
        self.assertEqual(run("run", exp, "--out", out, "--stage", "extract", env=self.env).returncode, 0)
        before = digest(out)
        self.assertFails(run("run", exp, "--out", out, "--stage", "analyze", env=self.env), 1, expected)
        self.assertEqual(digest(out), before)
        self.assertEqual(sorted(os.listdir(os.path.dirname(out))), ["run.h5"])  # no .lock, no .partial

    def test_a_plugin_with_an_unresolved_symbol_is_refused_naming_the_symbol(self):
        r = run("plugins", env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("refused: " + self.library("unresolved") + ": cannot be loaded: ", r.stdout)
        self.assertIn("undefined symbol: laminar_fixture_missing_symbol", r.stdout)
        self.assertNotRegex(r.stdout, r"\n\S+\s+unresolved\s")  # not listed among the plugins
        for command in ("validate", "run"):
            r = run(command, self.with_metric("unresolved"), env=self.env)
            self.assertFails(r, 1, "could not load " + self.library("unresolved") + ": ",
                             "undefined symbol: laminar_fixture_missing_symbol")

    def test_a_plugin_with_an_empty_name_is_refused_naming_the_file(self):
        r = run("plugins", env=self.env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("refused: " + self.library("nameless") + ": descriptor has an empty name", r.stdout)
        listed = [line for line in r.stdout.splitlines() if line.startswith("metric ") and "nameless" in line]
        self.assertEqual(listed, [])


class LowMemory(Case):
    def test_a_model_plugin_that_cannot_be_loaded_is_a_runtime_failure_not_a_missing_plugin(self):
        exp, out = self.experiment("low-memory.yaml"), os.path.join(self.dir, "low-memory.h5")
        r = subprocess.run(["bash", "-c", f"ulimit -v 500000; exec {BIN} run {exp} --out {out} --stage extract"],
                           capture_output=True, text=True)
        self.assertFails(r, 1, "could not load ", "laminar_model_gpt2.so: out of memory")
        self.assertNotIn("no model plugin named", r.stderr)

    def test_analyze_loads_no_model_plugin(self):
        """A copy of the build whose gpt2 plugin is not a library: `--stage analyze` still works,
        with `backend: gpt2` named in the experiment; extraction says which file it could not load."""
        exp, out = self.experiment("no-model-plugin.yaml"), os.path.join(self.dir, "no-model-plugin.h5")
        self.assertEqual(run("run", exp, "--out", out, "--stage", "extract").returncode, 0)
        copy = os.path.join(self.dir, "build-without-gpt2")
        os.makedirs(os.path.join(copy, "plugins"))
        shutil.copy2(BIN, copy)
        plugins = os.path.join(os.path.dirname(BIN), "plugins")
        for name in os.listdir(plugins):
            if name.endswith(".so"):
                os.symlink(os.path.join(plugins, name), os.path.join(copy, "plugins", name))
        broken = os.path.join(copy, "plugins", "laminar_model_gpt2.so")
        os.remove(broken)
        with open(broken, "w") as f:
            f.write("not a shared library\n")
        env = {k: v for k, v in os.environ.items() if k != "LAMINAR_PLUGIN_PATH"}
        laminar = os.path.join(copy, "laminar")
        r = subprocess.run([laminar, "run", exp, "--out", out, "--stage", "analyze", "--force"], capture_output=True, text=True, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("analyze: rsa: done", r.stdout)
        r = subprocess.run([laminar, "run", exp, "--out", out, "--stage", "extract", "--force"], capture_output=True, text=True, env=env)
        self.assertFails(r, 1, "could not load " + broken + ": ")


# Every metric on activations that are infinite (the residual stream of block 0, the embedding
# set to inf) or NaN (everything after a layer norm of them).
NONFINITE_ANALYSES = """analyze:
  - metric: cosine
  - metric: correlation
  - metric: selectivity
    permutations: 20
  - metric: selectivity
    name: selectivity_difference
    variant: difference
    permutations: 20
  - metric: rsa
    pairs: [[q, k], [resid_pre, q], [q, hypothesis:category]]
    hypotheses: {category: category}
    permutations: 20
    bootstrap: 20
  - metric: rsa
    name: rsa_spearman
    pairs: [[q, k]]
    method: spearman
    rdm: correlation
    permutations: 20
    bootstrap: 20
  - metric: rsa
    name: rsa_tau
    pairs: [[q, k]]
    method: tau-a
    rdm: euclidean
    permutations: 20
    bootstrap: 0
  - metric: cka
    pairs: [[q, k], [resid_pre, q]]
    rbf: 0.5
    permutations: 20
    bootstrap: 20
  - metric: effective_dimensionality
    shuffles: 5
  - metric: mutual_information
    pairs: [[q, k]]
    sites: [q, resid_pre]
    permutations: 20
  - metric: logit_lens
"""


class NonFinite(Case):
    def test_every_metric_gives_nan_with_a_warning_naming_the_set(self):
        folder = os.path.join(self.dir, "inf-model")
        shutil.copytree(self.model, folder)
        set_tensor(os.path.join(folder, "model.safetensors"), "transformer.wte.weight", np.inf)
        exp = self.experiment("inf.yaml", layers="[0, 1]")
        with open(exp) as f:
            text = f.read()
        text = text[:text.index("analyze:")] + NONFINITE_ANALYSES + "output: run.h5\n"
        text = text.replace("analyze:", "  - extractor: residual\n    sites: [resid_pre]\n    layers: [0]\n"
                                        "  - extractor: logit_lens\nanalyze:", 1)
        with open(exp, "w") as f:
            f.write(text)
        out = os.path.join(self.dir, "inf.h5")
        r = run("run", exp, "--model", "m=" + folder, "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr + r.stdout)
        analyses = [line.split("metric: ")[1] if "name:" not in nxt else nxt.split("name: ")[1]
                    for line, nxt in zip(NONFINITE_ANALYSES.splitlines(), NONFINITE_ANALYSES.splitlines()[1:] + [""])
                    if "metric:" in line]
        for name in analyses:
            with self.subTest(name):
                self.assertIn(f"analyze: {name}: done", r.stdout)
                self.assertRegex(r.stdout, rf"warning: analyze {name}: m/blocks\.\d\.\S+: .*NaN or infinite values")
        q, resid = "m/blocks.0.attn.hook_q", "m/blocks.0.hook_resid_pre"
        with h5py.File(out, "r") as f:
            res = f["results"]
            self.assertTrue(np.isnan(res[f"rsa/{q}~blocks.0.attn.hook_k"].attrs["r"]))
            self.assertTrue(np.isnan(res[f"cka/{q}~blocks.0.attn.hook_k"].attrs["cka"]))
            self.assertTrue(np.isnan(res[f"cka/{resid}~blocks.0.attn.hook_q"].attrs["cka"]))
            for hook in (q, resid):
                self.assertTrue(np.isnan(res[f"effective_dimensionality/{hook}"].attrs["participation_ratio"]))
                self.assertTrue(np.isnan(res[f"effective_dimensionality/{hook}/explained_variance"][:]).all())
                self.assertTrue(np.isnan(res[f"mutual_information/{hook}/mi_label"][:]).all())
            self.assertTrue(np.isnan(res[f"mutual_information/{q}~blocks.0.attn.hook_k"].attrs["mi_binned"]))
            for hook in (q, resid):
                for name in ("selectivity", "selectivity_difference"):  # no p-value of a NaN index
                    self.assertTrue(np.isnan(res[f"{name}/{hook}"].attrs["index"]))
                    self.assertTrue(np.isnan(res[f"{name}/{hook}"].attrs.get("p_value", np.nan)))
            self.assertTrue(np.isnan(res["logit_lens/m/entropy"][:]).all())


if __name__ == "__main__":
    unittest.main()
