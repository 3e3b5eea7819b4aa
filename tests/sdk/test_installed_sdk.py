"""The installed SDK (issue 24, item 1): `cmake --install` gives a prefix with bin/laminar, its
plugins, the Python package, the API headers and a CMake package; examples/metric_row_norm is
built out of tree against that prefix alone, loaded with LAMINAR_PLUGIN_PATH, run, and its
results read back. The build tree and the source tree are hidden (a tmpfs mounted over each in a
private mount namespace: `unshare -m`) while the installed laminar and the example's build run,
so anything that still reaches into them fails."""
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "bench"))
import synthetic_run  # noqa: E402

SOURCE = os.path.realpath(os.environ["LAMINAR_SOURCE"])
BUILD = os.path.realpath(os.environ["LAMINAR_BUILD_DIR"])
EXAMPLE = os.path.join(SOURCE, "examples", "metric_row_norm")

EXPERIMENT = """experiment: sdk
models: [{id: m, backend: gpt2, path: /nonexistent}]
stimuli: {template: "{word}", categories: {space: [a, b], fruit: [c, d]}}
analyze:
  - {metric: row_norm, name: norms}
  - {metric: cosine, name: cos, sites: [q]}
output: RUN
"""


def hidden(commands):
    """`commands` (a shell script) run with the build and source trees out of sight."""
    mounts = "".join(f"mount -t tmpfs none '{d}' && " for d in sorted({SOURCE, BUILD}, key=len, reverse=True))  # deepest first
    namespace = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    return subprocess.run(namespace + ["sh", "-ec", mounts + commands], capture_output=True, text=True, timeout=900)


class InstalledSdk(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-sdk-")
        assert not cls.dir.startswith((SOURCE + "/", BUILD + "/"))
        cls.prefix = os.path.join(cls.dir, "prefix")
        r = subprocess.run(["cmake", "--install", BUILD, "--prefix", cls.prefix], capture_output=True, text=True)
        assert r.returncode == 0, r.stdout + r.stderr
        cls.example = os.path.join(cls.dir, "metric_row_norm")
        shutil.copytree(EXAMPLE, cls.example)
        # Activations as `extract` would leave them (the analyses need no model).
        rng = np.random.default_rng(3)
        cls.q = rng.standard_normal((4, 8)).astype(np.float32)
        cls.run_file = os.path.join(cls.dir, "run.h5")
        synthetic_run.write(cls.run_file, ["a", "b", "c", "d"], ["space", "space", "fruit", "fruit"], ["space", "fruit"],
                            {"blocks.0.attn.hook_q": ("q", 0, cls.q)})
        cls.yaml = os.path.join(cls.dir, "sdk.yaml")
        with open(cls.yaml, "w") as f:
            f.write(EXPERIMENT.replace("RUN", cls.run_file))
        laminar = os.path.join(cls.prefix, "bin", "laminar")
        build = os.path.join(cls.dir, "build")
        cls.built = hidden(f"""
            test ! -e '{EXAMPLE}'
            cmake -S '{cls.example}' -B '{build}' -DCMAKE_PREFIX_PATH='{cls.prefix}' -DCMAKE_BUILD_TYPE=Release
            cmake --build '{build}'
        """)
        assert cls.built.returncode == 0, cls.built.stdout + cls.built.stderr
        os.environ["LAMINAR_PLUGIN_PATH"] = os.path.join(build, "plugins")  # (the hash names the plugins' versions)
        synthetic_run.stamp_as_extracted(cls.run_file, cls.yaml)
        cls.out = hidden(f"""
            export LAMINAR_PLUGIN_PATH='{build}/plugins'
            '{laminar}' --version
            '{laminar}' plugins
            '{laminar}' run '{cls.yaml}' --stage analyze --quiet
            '{laminar}' inspect '{cls.run_file}' --table norms --format csv
        """)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def test_the_example_builds_against_the_prefix_alone_and_its_results_read_back(self):
        self.assertEqual(self.out.returncode, 0, self.out.stdout + self.out.stderr)
        with h5py.File(self.run_file, "r") as f:
            g = f["results/norms/m/blocks.0.attn.hook_q"]
            np.testing.assert_allclose(g["norms"][()], np.linalg.norm(self.q.astype(np.float64), axis=1), rtol=1e-12)
            self.assertAlmostEqual(g.attrs["mean_norm"], np.linalg.norm(self.q.astype(np.float64), axis=1).mean(), places=12)
            self.assertEqual(f["results/norms"].attrs["metric"], "row_norm")
            self.assertEqual(f["results/norms"].attrs["plugin_version"], "1.0.0")
            # The installed laminar's own plugins ran beside it.
            self.assertIn("results/cos/m/blocks.0.attn.hook_q/matrix", f)
        self.assertIn("mean_norm", self.out.stdout)

    def test_plugins_and_python_come_from_the_prefix_and_the_plugin_path(self):
        self.assertEqual(self.out.returncode, 0, self.out.stderr)
        version = self.out.stdout
        self.assertIn(f"plugins:    {self.prefix}/lib/laminar/plugins (", version)
        self.assertIn(f"plugins:    {self.dir}/build/plugins (1)", version)
        self.assertIn(f"python:     {self.prefix}/share/laminar/python/laminar", version)
        listing = [line for line in version.splitlines() if "row_norm" in line or " cosine " in line]
        self.assertTrue(any(f"{self.dir}/build/plugins/laminar_metric_row_norm.so" in line for line in listing), version)
        self.assertTrue(any(f"{self.prefix}/lib/laminar/plugins/laminar_metric_cosine.so" in line for line in listing), version)

    def test_the_prefix_holds_the_api_headers_without_armadillo_and_the_python_package_as_in_the_tree(self):
        include = os.path.join(self.prefix, "include", "laminar")
        for header in ("metric.hpp", "team_work.hpp", "correction.hpp", "plugin.hpp"):
            self.assertTrue(os.path.exists(os.path.join(include, header)), header)
        for name in os.listdir(include):  # the API proper: laminar/analysis/ is the optional part
            if name.endswith(".hpp"):
                self.assertNotIn("#include <armadillo>", open(os.path.join(include, name)).read(), name)
        ours = os.path.join(SOURCE, "tools", "python", "laminar")
        theirs = os.path.join(self.prefix, "share", "laminar", "python", "laminar")
        py = sorted(n for n in os.listdir(ours) if n.endswith(".py"))
        self.assertTrue(py)
        match, mismatch, errors = filecmp.cmpfiles(ours, theirs, py, shallow=False)
        self.assertEqual((mismatch, errors), ([], []))
        # `pip install tools/python` gives the same files, under the version laminar says it is.
        source = os.path.join(self.dir, "python-source")
        shutil.copytree(os.path.dirname(ours), source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
        site = os.path.join(self.dir, "site")
        r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                            "--target", site, source], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        match, mismatch, errors = filecmp.cmpfiles(os.path.join(site, "laminar"), theirs, py, shallow=False)
        self.assertEqual((sorted(match), mismatch, errors), (py, [], []))
        version = self.out.stdout.split()[1]
        self.assertTrue(os.path.isdir(os.path.join(site, f"laminar-{version}.dist-info")), (version, os.listdir(site)))
        for config in ("laminarConfig.cmake", "laminarConfigVersion.cmake", "laminarTargets.cmake", "LaminarPlugin.cmake"):
            self.assertTrue(os.path.exists(os.path.join(self.prefix, "lib", "cmake", "laminar", config)), config)
        # Nothing installed points back into the trees it came from.
        for root, _, files in os.walk(os.path.join(self.prefix, "lib", "cmake")):
            for name in files:
                text = open(os.path.join(root, name)).read()
                self.assertNotIn(BUILD, text, name)
                self.assertNotIn(SOURCE + "/", text, name)


if __name__ == "__main__":
    unittest.main()
