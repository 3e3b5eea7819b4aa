"""Layer x layer grids across models of different depth (issue 10, item 5): `grid: true` stores
every layer of one model against every layer of the other, checked against numpy; the Python
reader labels the grid with the layers."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np
from scipy import stats

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
PYTHON = "/usr/bin/python3"
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools", "python"))
import laminar  # noqa: E402


def rdm(x):
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    d = 1 - u @ u.T
    return d[np.triu_indices(len(d), 1)]


class Grid(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-grid-")
        for name, layers, seed in (("a", "2", "11"), ("b", "3", "12")):
            subprocess.run([PYTHON, MAKE_MODEL, os.path.join(cls.dir, name), "--layers", layers, "--heads", "2",
                            "--width", "32", "--seed", seed], check=True, capture_output=True)
        with open(os.path.join(cls.dir, "grid.yaml"), "w") as f:
            f.write("""experiment: grid
models:
  - {id: small, backend: gpt2, path: a}
  - {id: deeper, backend: gpt2, path: b}
stimuli:
  template: "The next word is {word}"
  categories:
    space: [galaxy, comet, moon, star]
    fruit: [pear, grape, apple, lime]
extract:
  - {extractor: residual, layers: all}
  - {extractor: attention, sites: [q, k], layers: all}
analyze:
  - metric: rsa
    pairs: [["small:resid_post", "deeper:resid_post"], [q, k]]
    method: spearman
    grid: true
    align: relative_depth
    permutations: 0
    bootstrap: 0
output: grid.h5
""")
        r = subprocess.run([BIN, "run", os.path.join(cls.dir, "grid.yaml"), "--quiet"], capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        cls.path = os.path.join(cls.dir, "grid.h5")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir)

    def test_every_layer_against_every_layer_across_models_and_sites(self):
        with h5py.File(self.path) as f:
            for model_group, site, (ma, mb), (sa, sb), (na, nb) in [
                    ("small~deeper", "resid_post", ("small", "deeper"), ("resid_post", "resid_post"), (2, 3)),
                    ("small", "q~k", ("small", "small"), ("q", "k"), (2, 2)),
                    ("deeper", "q~k", ("deeper", "deeper"), ("q", "k"), (3, 3))]:
                g = f[f"results/rsa/{model_group}/{site}"]
                grid = g["grid"][()]
                self.assertEqual(grid.shape, (na, nb))
                self.assertEqual(list(g["grid_rows"][()]), list(range(na)))
                self.assertEqual(list(g["grid_columns"][()]), list(range(nb)))
                self.assertEqual((g.attrs["model_a"], g.attrs["model_b"]), (ma, mb))
                hook = {"resid_post": "blocks.{}.hook_resid_post", "q": "blocks.{}.attn.hook_q", "k": "blocks.{}.attn.hook_k"}
                for i in range(na):
                    for j in range(nb):
                        a = f[f"activations/{ma}/{hook[sa].format(i)}"][()].astype(np.float64)
                        b = f[f"activations/{mb}/{hook[sb].format(j)}"][()].astype(np.float64)
                        self.assertAlmostEqual(grid[i, j], stats.spearmanr(rdm(a), rdm(b))[0], delta=1e-12)
            # The aligned pairs are there too, and the grid's diagonal cells equal them.
            pair = f["results/rsa/small~deeper/blocks.1.hook_resid_post~blocks.2.hook_resid_post"]
            self.assertAlmostEqual(pair.attrs["r"], f["results/rsa/small~deeper/resid_post/grid"][1, 2], delta=1e-15)

    def test_the_reader_labels_the_grid_with_layers_and_tables_leave_it_out(self):
        run = laminar.open(self.path)
        grid = run.matrix("rsa", "small~deeper", "resid_post", "grid")
        self.assertEqual(list(grid.index), [0, 1])
        self.assertEqual(list(grid.columns), [0, 1, 2])
        table = run.table("rsa")
        self.assertNotIn("resid_post", set(table["hook"]))
        self.assertTrue(table["hook"].str.contains("~").all())


    def test_the_grid_figure_draws_the_stored_grids(self):
        run = laminar.open(self.path)
        fig = laminar.plot_rsa_grid(run, "rsa")
        images = [ax.get_images()[0].get_array() for ax in fig.axes if ax.get_images()]
        with h5py.File(self.path) as f:
            stored = [f["results/rsa/" + path][()] for path in ("small~deeper/resid_post/grid", "small/q~k/grid", "deeper/q~k/grid")]
        self.assertEqual(len(images), 3)
        for image, grid in zip(images, stored):
            np.testing.assert_array_equal(np.asarray(image), grid)


if __name__ == "__main__":
    unittest.main()
