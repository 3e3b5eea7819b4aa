"""Results people can see and use (issue 9): described result groups, `inspect --table` in every
format against the Python reader (two implementations of one table), the reader against h5py
and numpy, the figures, the report page opened in headless Chromium, progress and --quiet."""
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np
import pandas as pd

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
PYTHON_DIR = os.path.join(os.environ["LAMINAR_SOURCE"], "tools", "python")
CHROMIUM = os.environ.get("LAMINAR_CHROMIUM", "chromium")
PYTHON = "/usr/bin/python3"
sys.path.insert(0, PYTHON_DIR)
import laminar  # noqa: E402  (the reader under test, from tools/python)

EXPERIMENT = """experiment: results
description: Q and K at two layers of a small random GPT-2, for the results tests
models:
  - id: m
    backend: gpt2
    path: model
stimuli:
  template: "The next word is {word}"
  categories:
    space: [galaxy, comet, moon, star]
    fruit: [pear, grape, apple, lime]
    interior: [sofa, lamp, rug]
extract:
  - extractor: attention
    sites: [q, k]
    layers: [0, 1]
analyze:
  - metric: cosine
    histogram: {bins: 10}
  - metric: selectivity
    permutations: 200
  - metric: rsa
    pairs: [[q, k]]
    permutations: 200
    bootstrap: 100
  - metric: rsa
    name: rsa_grid
    pairs: [[blocks.0.attn.hook_q, k], [blocks.1.attn.hook_q, k]]
    permutations: 0
    bootstrap: 0
output: run.h5
"""


def laminar_cli(*args, **kwargs):
    return subprocess.run([BIN, *args], capture_output=True, text=True, **kwargs)


class Results(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-results-")
        subprocess.run([PYTHON, MAKE_MODEL, os.path.join(cls.dir, "model"), "--layers", "2", "--heads", "2",
                        "--width", "32", "--seed", "5"], check=True, capture_output=True)
        cls.yaml = os.path.join(cls.dir, "exp.yaml")
        with open(cls.yaml, "w") as f:
            f.write(EXPERIMENT)
        cls.run_file = os.path.join(cls.dir, "run.h5")
        env = dict(os.environ, LAMINAR_PROGRESS="lines")
        cls.result = laminar_cli("run", cls.yaml, "--verbose", env=env)
        assert cls.result.returncode == 0, cls.result.stderr
        cls.reader = laminar.open(cls.run_file)

    @classmethod
    def tearDownClass(cls):
        cls.reader.close()
        shutil.rmtree(cls.dir)

    # --- 1. tidy tables ------------------------------------------------------------------
    def test_every_result_group_says_what_it_describes(self):
        with h5py.File(self.run_file, "r") as f:
            acts = f["activations/m"]
            for name in ("cosine", "selectivity"):
                for hook in acts:
                    group = f[f"results/{name}/m/{hook}"]
                    self.assertEqual(group.attrs["model"], "m")
                    self.assertEqual(group.attrs["hook"], hook)
                    self.assertEqual(group.attrs["layer"], acts[hook].attrs["layer"])
                    self.assertEqual(group.attrs["site"], acts[hook].attrs["site"])
            pairs = f["results/rsa_grid/m"]
            self.assertEqual(len(pairs), 4)  # q of layers 0 and 1 against k of layers 0 and 1
            for leaf in pairs:
                group = pairs[leaf]
                a, b = leaf.split("~")
                self.assertEqual((group.attrs["hook_a"], group.attrs["hook_b"]), (a, b))
                self.assertEqual(group.attrs["layer_a"], acts[a].attrs["layer"])
                self.assertEqual(group.attrs["layer_b"], acts[b].attrs["layer"])
                self.assertEqual(group.attrs["site"], "q~k")
                self.assertEqual("layer" in group.attrs, acts[a].attrs["layer"] == acts[b].attrs["layer"])
            matrix = f["results/cosine/m/blocks.0.attn.hook_q/matrix"]
            self.assertEqual((matrix.attrs["rows"], matrix.attrs["columns"]), ("/stimuli/word", "/stimuli/word"))
            per = f["results/selectivity/m/blocks.0.attn.hook_q/per_category"]
            self.assertEqual(per.attrs["rows"], "/stimuli/category_names")

    def cli_table(self, analysis, fmt, *where):
        args = ["inspect", self.run_file, "--table", analysis, "--format", fmt]
        for w in where:
            args += ["--where", w]
        r = laminar_cli(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r.stdout

    def assertSameTable(self, cli, reader):
        self.assertEqual(list(cli.columns), list(reader.columns))
        self.assertEqual(len(cli), len(reader))
        for column in reader.columns:
            if pd.api.types.is_numeric_dtype(reader[column]):
                # The CLI prints the shortest text that reads back as the same double: exact.
                np.testing.assert_array_equal(cli[column].to_numpy(float), reader[column].to_numpy(float), err_msg=column)
            else:
                self.assertEqual(list(cli[column].fillna("")), list(reader[column].fillna("")), column)

    def test_inspect_table_equals_the_python_reader_in_every_format(self):
        for analysis in ("cosine", "selectivity", "rsa", "rsa_grid"):
            reader = self.reader.table(analysis)
            self.assertGreater(len(reader), 0)
            # round_trip: pandas' exact parser, for the CLI's shortest exact text of each double.
            self.assertSameTable(pd.read_csv(io.StringIO(self.cli_table(analysis, "csv")), float_precision="round_trip"),
                                 reader)
            self.assertSameTable(pd.read_csv(io.StringIO(self.cli_table(analysis, "tsv")), sep="\t", float_precision="round_trip"),
                                 reader)
            records = json.loads(self.cli_table(analysis, "json"))
            self.assertSameTable(pd.DataFrame(records, columns=list(records[0])).fillna(np.nan), reader)
            self.assertEqual(self.cli_table(analysis, "text").splitlines()[0].split(), list(reader.columns))
        table = self.reader.table("selectivity")
        self.assertEqual(list(table.columns[:4]), ["model", "hook", "layer", "site"])
        self.assertIn("categories/space/r", self.reader.table("rsa").columns)
        with h5py.File(self.run_file, "r") as f:  # the cells are the attributes, read here directly
            for _, row in table.iterrows():
                group = f[f"results/selectivity/{row['model']}/{row['hook']}"]
                self.assertEqual(row["index"], group.attrs["index"])
                self.assertEqual(row["p_value"], group.attrs["p_value"])

    def test_where_filters_rows(self):
        layer1 = pd.read_csv(io.StringIO(self.cli_table("selectivity", "csv", "layer=1")), float_precision="round_trip")
        self.assertEqual(list(layer1["layer"]), [1, 1])
        both = pd.read_csv(io.StringIO(self.cli_table("selectivity", "csv", "layer=1", "site=k")), float_precision="round_trip")
        self.assertEqual(list(both["hook"]), ["blocks.1.attn.hook_k"])
        self.assertSameTable(both, self.reader.table("selectivity", where={"layer": 1, "site": "k"}))
        r = laminar_cli("inspect", self.run_file, "--table", "selectivity", "--where", "depth=1")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--where depth=1: no column 'depth' (columns: model, hook, layer, site", r.stderr)
        r = laminar_cli("inspect", self.run_file, "--table", "nope")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no analysis 'nope' in the run file (analyses: cosine, selectivity, rsa, rsa_grid)", r.stderr)

    # --- 2. the Python reader --------------------------------------------------------------
    def test_reader_gives_labelled_data(self):
        stimuli = self.reader.stimuli()
        self.assertEqual(list(stimuli["word"]), ["galaxy", "comet", "moon", "star", "pear", "grape", "apple", "lime",
                                                 "sofa", "lamp", "rug"])
        self.assertEqual(stimuli["category"].iloc[-1], "interior")
        self.assertEqual(stimuli["text"].iloc[0], "The next word is galaxy")
        values, rows = self.reader.activations("m", "blocks.1.attn.hook_k")
        self.assertEqual(values.shape, (11, 32))
        self.assertEqual(list(rows["word"]), list(stimuli["word"]))
        matrix = self.reader.matrix("cosine", "m", "blocks.1.attn.hook_k")
        self.assertEqual(list(matrix.index), list(stimuli["word"]))
        self.assertEqual(list(matrix.columns), list(stimuli["word"]))
        # laminar's cosine matrix against numpy's, from the same activations.
        x = values.astype(np.float64)
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        np.testing.assert_allclose(matrix.to_numpy(), x @ x.T, atol=1e-6)
        np.testing.assert_allclose(self.reader.similarity("m", "blocks.1.attn.hook_k").to_numpy(), x @ x.T, atol=1e-12)
        per = self.reader.matrix("selectivity", "m", "blocks.1.attn.hook_k", "per_category")
        self.assertEqual(list(per.index), ["space", "fruit", "interior"])
        models = self.reader.models()
        self.assertEqual(models.loc[0, "n_layer"], 2)
        self.assertEqual(models.loc[0, "hooks"], 4)

    def test_reader_lookup_errors_name_what_exists(self):
        """Issue 27, item 5: a lookup that fails names what was asked and what there is."""
        cases = [(("rsa", "m", "blocks.1.attn.hook_q~blocks.1.attn.hook_k"),
                  "analysis 'rsa' (rsa) has no matrices at m/blocks.1.attn.hook_q~blocks.1.attn.hook_k; it has: "),
                 (("cosine", "m", "blocks.1.attn.hook_k", "nope"),
                  "analysis 'cosine' (cosine) has no dataset 'nope' at m/blocks.1.attn.hook_k; it has: matrix"),
                 (("cosine", "other", "blocks.1.attn.hook_k"), "analysis 'cosine' (cosine) has no model 'other'; it has: m"),
                 (("cosine", "m", "blocks.9.attn.hook_k"), "analysis 'cosine' (cosine) has no hook or pair 'blocks.9.attn.hook_k'"),
                 (("qk", "m", "x"), "no analysis 'qk' in ")]
        messages = []
        for args, message in cases:
            with self.subTest(args=args):
                with self.assertRaises(KeyError) as caught:
                    self.reader.matrix(*args)
                self.assertIn(message, caught.exception.args[0])
                messages.append(caught.exception.args[0])
        self.assertIn("p_value", messages[0])  # the rsa pair's numbers, named

    def test_pip_installs_the_reader_offline(self):
        source = os.path.join(self.dir, "python-source")
        shutil.copytree(PYTHON_DIR, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
        target = os.path.join(self.dir, "site")
        r = subprocess.run([PYTHON, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                            "--target", target, source], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([PYTHON, "-c", "import laminar; print(laminar.__file__); "
                            f"print(laminar.open({self.run_file!r}).table('rsa')['r'].iloc[0])"],
                           capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=target), cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(target), r.stdout)
        self.assertAlmostEqual(float(r.stdout.split()[1]), self.reader.table("rsa")["r"].iloc[0], places=12)

    # --- 3. figures ----------------------------------------------------------------------------
    def test_figures_draw_the_numbers_of_the_run(self):
        figures = {
            "similarity": laminar.plot_similarity(self.reader, "cosine", "m"),
            "histograms": laminar.plot_histograms(self.reader, "cosine", "m"),
            "scatter": laminar.plot_rsa_scatter(self.reader, "rsa", 1),
            "profile": laminar.plot_profile(self.reader),
            "grid": laminar.plot_rsa_grid(self.reader, "rsa_grid"),
        }
        self.assertIsNone(laminar.plot_rsa_grid(self.reader, "rsa"))  # layer-matched pairs only: no grid
        for name, fig in figures.items():
            self.assertIsNotNone(fig, name)
            png, svg = io.BytesIO(), io.StringIO()
            fig.savefig(png, format="png")
            fig.savefig(svg, format="svg")
            self.assertEqual(png.getvalue()[:8], b"\x89PNG\r\n\x1a\n", name)
            self.assertIn("<svg", svg.getvalue(), name)
        # The seed's panels: q and k of the deepest layer, words on the axes.
        axes = figures["similarity"].axes
        self.assertEqual([a.get_title().split("  ")[1] for a in axes if a.get_title()], ["L1 q", "L1 k"])
        self.assertEqual([t.get_text() for t in axes[0].get_yticklabels()][:2], ["galaxy", "comet"])
        # The scatter's title is the table's r, and that r is the Pearson r of what it plots.
        row = self.reader.table("rsa").iloc[1]
        self.assertIn(f"r = {row['r']:.3f}", figures["scatter"].axes[0].get_title())
        a = self.reader.rdm("m", row["hook_a"]).to_numpy()[np.triu_indices(11, 1)]
        b = self.reader.rdm("m", row["hook_b"]).to_numpy()[np.triu_indices(11, 1)]
        np.testing.assert_allclose(a, 1 - self.reader.similarity("m", row["hook_a"]).to_numpy()[np.triu_indices(11, 1)],
                                   atol=1e-12)
        self.assertAlmostEqual(np.corrcoef(a, b)[0, 1], row["r"], places=9)
        # The profile: one line per model and site, two layers each.
        lines = [ln for ln in figures["profile"].axes[0].get_lines() if not ln.get_label().startswith("_")]
        self.assertEqual(sorted(ln.get_label() for ln in lines), ["m k", "m q"])
        self.assertTrue(all(len(ln.get_xdata()) == 2 for ln in lines))
        # The grid: layer_a x layer_b.
        self.assertEqual(figures["grid"].axes[0].get_images()[0].get_array().shape, (2, 2))

    def test_one_ill_conditioned_selectivity_does_not_squash_the_profile(self):
        # A copy of the run whose q at layer 1 had a between-category mean near 0: -45.7, as seen on
        # random models, and flagged so by the metric (test_small_categories checks the flag).
        def profile(name, **attrs):
            path = os.path.join(self.dir, name)
            shutil.copy(self.run_file, path)
            with h5py.File(path, "a") as f:
                for key, value in attrs.items():
                    f["results/selectivity/m/blocks.1.attn.hook_q"].attrs[key] = value
            with laminar.open(path) as run:
                return laminar.plot_profile(run).axes[0]
        others = self.reader.table("selectivity").query("hook != 'blocks.1.attn.hook_q'")["index"].to_numpy()
        # Unflagged (before issue 21), the axis spans -45.7 and the other sets' values are one flat line.
        low, high = profile("unflagged.h5", index=-45.7).get_ylim()
        self.assertLessEqual(low, -45.7)
        ax = profile("ill.h5", index=-45.7, ill_conditioned=np.int64(1))
        low, high = ax.get_ylim()
        self.assertTrue(low <= others.min() and others.max() <= high)
        self.assertLess(high - low, 0.1 * (others.min() + 45.7))  # the others keep the axis
        q = next(ln for ln in ax.get_lines() if ln.get_label() == "m q")
        self.assertTrue(np.isnan(q.get_ydata()[1]) and np.isfinite(q.get_ydata()[0]))  # the line broken there
        marked = [ln for ln in ax.get_lines() if ln.get_markeredgecolor() == "red" and len(ln.get_xdata()) == 1]
        self.assertEqual(len(marked), 1)  # drawn apart, at the lower edge, with its value
        self.assertEqual(marked[0].get_xdata()[0], 1)
        self.assertTrue(low < marked[0].get_ydata()[0] < low + 0.1 * (high - low))
        self.assertIn("-45.7", [t.get_text() for t in ax.texts])
        # The difference variant has a panel of its own, around 0.
        with h5py.File(os.path.join(self.dir, "ill.h5"), "a") as f:
            for g in f["results/selectivity/m"].values():
                g.attrs["variant"] = "difference"
        with laminar.open(os.path.join(self.dir, "ill.h5")) as run:
            self.assertEqual(laminar.plot_profile(run).axes[0].get_ylabel(), "selectivity: within \u2212 between")

    # --- 4. the report page ---------------------------------------------------------------------
    def test_the_report_page_works_from_the_run_file_alone_and_every_figure_loads(self):
        alone = os.path.join(self.dir, "alone")
        os.makedirs(alone)
        run_file = os.path.join(alone, "copied.h5")
        shutil.copy(self.run_file, run_file)
        os.rename(os.path.join(self.dir, "model"), os.path.join(self.dir, "model-away"))
        try:
            r = laminar_cli("report", run_file, "--out", os.path.join(alone, "page"), cwd=alone)
        finally:
            os.rename(os.path.join(self.dir, "model-away"), os.path.join(self.dir, "model"))
        self.assertEqual(r.returncode, 0, r.stderr)
        page = os.path.join(alone, "page", "index.html")
        with open(page, encoding="utf-8") as f:
            text = f.read()
        for needle in ("<h1>results</h1>", "Q and K at two layers of a small random GPT-2",
                       self.reader.models().loc[0, "fingerprint"], " run " + self.yaml, "--verbose",
                       self.reader.attributes["laminar_version"], "galaxy", "matplotlib", "HDF5"):
            self.assertIn(needle, text)
        files = sorted(os.listdir(os.path.join(alone, "page", "figures")))
        stems = sorted({os.path.splitext(f)[0] for f in files})
        self.assertEqual(files, sorted([s + ".png" for s in stems] + [s + ".svg" for s in stems]))
        self.assertEqual(set(stems), {"cosine-m-matrices", "cosine-m-histograms", "selectivity-profile", "rsa-profile",
                                      "rsa-m-rdms", "rsa-m-mds", "rsa-scatter", "rsa_grid-profile", "rsa_grid-m-rdms",
                                      "rsa_grid-m-mds", "rsa_grid-scatter", "rsa_grid-grid", "profile"})
        # As a person sees it: headless Chromium loads the page; no image may be broken.
        check = os.path.join(alone, "page", "check.html")
        with open(check, "w", encoding="utf-8") as f:
            f.write(text + """<script>window.addEventListener("load", () => {
  const imgs = [...document.images];
  document.body.setAttribute("data-images", imgs.length);
  document.body.setAttribute("data-broken", imgs.filter(i => !i.complete || i.naturalWidth === 0).length);
  document.body.setAttribute("data-widths", imgs.map(i => i.naturalWidth).join(","));
});</script>""")
        r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
                            "--dump-dom", "file://" + check], capture_output=True, text=True, timeout=120)
        m = re.search(r'data-images="(\d+)" data-broken="(\d+)" data-widths="([\d,]*)"', r.stdout)
        self.assertIsNotNone(m, r.stderr[-2000:])
        self.assertEqual(int(m.group(1)), len(stems))
        self.assertEqual(int(m.group(2)), 0)
        self.assertTrue(all(int(w) > 200 for w in m.group(3).split(",")), m.group(3))

    def test_a_run_file_of_laminar_0_1_gets_a_page_that_says_what_is_missing(self):
        # Also: h5py copies every group (HDF5 1.10 crashed copying dense string attributes).
        legacy = os.path.join(self.dir, "legacy.h5")  # unsealed, no described result groups
        with h5py.File(self.run_file, "r") as src, h5py.File(legacy, "w") as dst:
            for name in src:
                src.copy(src[name], dst, name=name)
            for key, value in src.attrs.items():
                dst.attrs[key] = value
            dst.attrs["laminar_version"] = "0.1.0"
            described = []
            dst["results"].visititems(lambda path, obj: described.append(path) if "hook" in obj.attrs else None)
            for path in described:
                del dst["results"][path].attrs["model"], dst["results"][path].attrs["hook"]
        r = laminar_cli("report", legacy, "--out", os.path.join(self.dir, "legacy"))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(self.dir, "legacy", "index.html"), encoding="utf-8") as f:
            self.assertIn("No described results (written by laminar 0.1.0)", f.read())

    def test_run_writes_the_page_beside_the_run_file(self):
        self.assertTrue(os.path.exists(os.path.join(self.dir, "run", "index.html")))
        self.assertIn("report: " + os.path.join(self.dir, "run", "index.html"), self.result.stdout)

    # --- 5. progress -------------------------------------------------------------------------------
    def test_progress_lines_stage_times_and_quiet(self):
        self.assertIn("extract: m: 11/11 prompts", self.result.stderr)
        self.assertIn("analyze: selectivity: 4/4 spaces", self.result.stderr)
        self.assertRegex(self.result.stdout, r"extract: m: 11 prompts, 4 activation set\(s\) \(\d+\.\d s\)")
        self.assertRegex(self.result.stdout, r"analyze: rsa: done \(\d+\.\d s\)")
        r = laminar_cli("run", self.yaml, "--quiet", "--out", os.path.join(self.dir, "quiet.h5"),
                        env=dict(os.environ, LAMINAR_PROGRESS="lines"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")  # only warnings (here: bootstrap samples of a category of 3 or 4 words skipped)
        self.assertEqual([line for line in r.stdout.splitlines() if not line.startswith("warning: ")], [])
        r = laminar_cli("run", self.yaml, "--quiet", "--verbose")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--quiet and --verbose exclude each other", r.stderr)


if __name__ == "__main__":
    unittest.main()
