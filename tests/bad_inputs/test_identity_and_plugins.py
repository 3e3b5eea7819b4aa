"""Hostile probe, second round (issue 22): the identity of a model's weights, broken plugins,
non-finite activations, too little memory. As test_bad_inputs: exit code and message asserted,
0 ok, 1 runtime failure, 2 usage or experiment-file error; never a signal."""
import os
import subprocess
import unittest

from test_bad_inputs import BIN, Case, digest, run

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


if __name__ == "__main__":
    unittest.main()
