"""The report page and the reader for a study of a user's own (issue 27): two models of different
depth, contexts kept, hypotheses (one constant within categories) with noise ceilings, CKA,
effective dimensionality and the logit lens. Each analysis gets its figures and its sentence,
p-values are written one way, axes and intervals do not mislead, the page is cached like the
other stages, the reader's lookups say what exists, and headless Chromium sees every figure
load and no text overflow its box."""
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings

import h5py
import numpy as np

BIN = os.environ["LAMINAR_BIN"]
MAKE_MODEL = os.environ["LAMINAR_MAKE_MODEL"]
PYTHON_DIR = os.path.join(os.environ["LAMINAR_SOURCE"], "tools", "python")
CHROMIUM = os.environ.get("LAMINAR_CHROMIUM", "chromium")
PYTHON = "/usr/bin/python3"
sys.path.insert(0, PYTHON_DIR)
import laminar  # noqa: E402  (the reader under test, from tools/python)
from laminar import findings, profiles, rdm_figures  # noqa: E402

WORDS = {"space": ["galaxy", "comet", "moon", "star", "planet", "sun"],
         "fruit": ["pear", "grape", "apple", "lime", "peach", "cherry"],
         "interior": ["sofa", "lamp", "rug", "chair", "table", "door"]}

EXPERIMENT = """experiment: user-study
description: Two random models of different depth, contexts kept, hypotheses with a noise ceiling, CKA, ED and the logit lens
models:
  - {id: small, backend: gpt2, path: small}
  - {id: deep, backend: gpt2, path: deep}
stimuli:
  templates: ["The next word is {word}", "She looked at the {word} for a long time.", "He wrote the word {word} on the board."]
  contexts: keep
  position: word_last
  categories: %s
extract:
  - {extractor: attention, sites: [q, k], layers: all}
  - {extractor: residual, sites: [resid_post], layers: all}
  - {extractor: logit_lens, k: 5}
analyze:
  - metric: cosine
  - {metric: selectivity, permutations: 500}
  - metric: rsa
    name: hypotheses
    rdm: correlation
    hypotheses: {category: category, size: size.csv, edible: edible.csv}
    pairs: [[q, k], [q, "hypothesis:category"], [q, "hypothesis:size"], [q, "hypothesis:edible"]]
    noise_ceiling: true
    permutations: 500
    bootstrap: 100
  - {metric: rsa, name: across, pairs: [["small:resid_post", "deep:resid_post"]], permutations: 200}
  - {metric: cka, pairs: [[q, k]], grid: true, permutations: 200, bootstrap: 100}
  - {metric: effective_dimensionality, sites: [resid_post], shuffles: 10}
  - metric: logit_lens
output: run.h5
""" % json.dumps(WORDS)


def laminar_cli(*args, **kwargs):
    return subprocess.run([BIN, *args], capture_output=True, text=True, **kwargs)


def write_rdm(path, words, rdm):
    with open(path, "w") as f:
        f.write("," + ",".join(words) + "\n")
        for word, row in zip(words, rdm):
            f.write(word + "," + ",".join(f"{v:.6f}" for v in row) + "\n")


class ReportPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="laminar-report-")
        for name, layers, seed in (("small", 2, 1), ("deep", 4, 2)):
            subprocess.run([PYTHON, MAKE_MODEL, os.path.join(cls.dir, name), "--layers", str(layers), "--heads", "2",
                            "--width", "32", "--seed", str(seed)], check=True, capture_output=True)
        words = [w for ws in WORDS.values() for w in ws]
        size = np.random.default_rng(1).random(len(words))
        write_rdm(os.path.join(cls.dir, "size.csv"), words, np.abs(size[:, None] - size[None, :]))
        edible = np.array([w in WORDS["fruit"] for w in words], dtype=float)  # constant within each category
        write_rdm(os.path.join(cls.dir, "edible.csv"), words, np.abs(edible[:, None] - edible[None, :]))
        cls.yaml = os.path.join(cls.dir, "exp.yaml")
        with open(cls.yaml, "w") as f:
            f.write(EXPERIMENT)
        cls.first = laminar_cli("run", cls.yaml, cwd=cls.dir)
        assert cls.first.returncode == 0, cls.first.stderr
        cls.run_file = os.path.join(cls.dir, "run.h5")
        cls.page_dir = os.path.join(cls.dir, "run")
        with open(os.path.join(cls.page_dir, "index.html"), encoding="utf-8") as f:
            cls.page = f.read()
        cls.reader = laminar.open(cls.run_file)

    @classmethod
    def tearDownClass(cls):
        cls.reader.close()
        shutil.rmtree(cls.dir)

    def stems(self):
        return {os.path.splitext(f)[0] for f in os.listdir(os.path.join(self.page_dir, "figures"))}

    # --- 1. every analysis has figures of its own ------------------------------------------------
    def test_every_analysis_has_its_figures_and_section(self):
        expected = {"cosine-small-matrices", "cosine-deep-histograms", "selectivity-profile", "hypotheses-profile",
                    "hypotheses-small-rdms", "hypotheses-deep-mds", "hypotheses-scatter", "across-profile",
                    "across-small_deep-rdms", "cka-profile", "cka-grid", "effective_dimensionality-profile",
                    "logit_lens-small", "logit_lens-deep", "profile"}
        self.assertLessEqual(expected, self.stems())
        for name in self.reader.analyses():
            section = re.search(f"<section id='{name}'>(.*?)</section>", self.page, re.S)
            self.assertIsNotNone(section, name)
            self.assertIn("class='finding'", section.group(1), name)
            if name != "logit_lens":
                self.assertRegex(section.group(1), f"<figure id='{name}-", name)
        # The logit lens's sets are not spaces: no metric analysed them by default.
        self.assertFalse(self.reader.table("selectivity")["site"].str.startswith("lens_").any())
        self.assertNotIn("No described results", self.page)

    def test_profiles_have_an_axis_per_pair_kind_and_draw_the_table(self):
        fig = profiles.plot_profile(self.reader, analysis="hypotheses")
        labels = [ax.get_ylabel() for ax in fig.axes]
        self.assertEqual(labels, ["RSA r between spaces", "RSA r with hypothesis category",
                                  "RSA r with hypothesis edible", "RSA r with hypothesis size"])
        table = self.reader.table("hypotheses")
        n_layer = {"small": 2, "deep": 4}
        for ax in fig.axes:
            for line in ax.get_lines():
                if line.get_label().startswith("_") or " " not in line.get_label():
                    continue
                model, site = line.get_label().split(" ")[:2]
                rows = table[(table["model"] == model) & (table["site"] == site)].sort_values("layer")
                np.testing.assert_allclose(line.get_xdata(), rows["layer"] / (n_layer[model] - 1))  # relative depth
                np.testing.assert_allclose(line.get_ydata(), rows["r"], atol=1e-12)
        # CKA: the value its interval is of (the unbiased CKA), its table's numbers.
        fig = profiles.plot_cka_profile(self.reader, "cka", x="layer")
        cka = self.reader.table("cka")
        deep = next(l for l in fig.axes[0].get_lines() if l.get_label() == "deep q~k: cka_unbiased")
        np.testing.assert_allclose(deep.get_ydata(), cka[cka["model"] == "deep"].sort_values("layer")["cka_unbiased"])
        # Effective dimensionality: a panel per model, n95 and the participation ratio per layer.
        fig = profiles.plot_dimensionality(self.reader, "effective_dimensionality")
        ed = self.reader.table("effective_dimensionality")
        self.assertEqual([ax.get_title() for ax in fig.axes[:2]], ["small resid_post", "deep resid_post"])
        line = next(l for l in fig.axes[1].get_lines() if l.get_label() == "participation ratio")
        np.testing.assert_allclose(line.get_ydata(), ed[ed["model"] == "deep"]["participation_ratio"])

    def test_hypothesis_rdms_beside_the_model_rdm_and_their_mds(self):
        panels = rdm_figures.rdm_panels(self.reader, "hypotheses", "deep")
        titles = [t for t, _ in panels]
        self.assertEqual(titles, ["deep L3 q (correlation)", "deep L3 k (correlation)", "hypothesis category",
                                  "hypothesis size", "hypothesis edible"])
        words = [w for ws in WORDS.values() for w in ws]
        size = np.random.default_rng(1).random(len(words))
        np.testing.assert_allclose(dict(panels)["hypothesis size"].to_numpy(), np.abs(size[:, None] - size[None, :]), atol=1e-6)
        fig = rdm_figures.plot_rdms(self.reader, "hypotheses", "deep")
        drawn = fig.axes[0].get_images()[0].get_array()
        np.testing.assert_allclose(drawn, self.reader.rdm("deep", "blocks.3.attn.hook_q", "correlation").to_numpy(), atol=1e-12)
        # Classical MDS recovers points from their squared distances (up to rotation and sign).
        points = np.random.default_rng(3).normal(size=(12, 2))
        d2 = ((points[:, None] - points[None, :]) ** 2).sum(-1)
        xy = rdm_figures.classical_mds(d2)
        np.testing.assert_allclose(((xy[:, None] - xy[None, :]) ** 2).sum(-1), d2, atol=1e-9)

    def test_logit_lens_rows_are_all_labelled_with_word_and_context(self):
        section = re.search("<section id='logit_lens'>(.*?)</section>", self.page, re.S).group(1)
        self.assertIn("all 54 rows (18 words \u00d7 3 contexts)", section)
        for model in ("small", "deep"):
            table = re.search(f"{model}: all 54 rows.*?<tbody>(.*?)</tbody>", section, re.S).group(1)
            labels = re.findall(r"<tr><td title='[^']*'>([^<]*)</td>", table)
            self.assertEqual(len(labels), 54)
            self.assertEqual(len(set(labels)), 54)
            self.assertEqual(labels[:2], ["galaxy \u00b7 c0", "galaxy \u00b7 c1"])

    # --- 2. one sentence per analysis, p-values one way ---------------------------------------------
    def test_each_analysis_opens_with_its_finding(self):
        sentences = dict(re.findall(r"<section id='([^']+)'>.*?<p class='finding'>([^<]*)</p>", self.page, re.S))
        self.assertEqual(set(sentences), set(self.reader.analyses()))
        table = self.reader.table("selectivity")
        best = table.sort_values(["p_value", "index"], ascending=[True, False]).iloc[0]
        self.assertTrue(sentences["selectivity"].startswith(f"{best['site']} at layer {best['layer']} of {best['model']}"))
        self.assertIn(f"index {best['index']:.4g}", sentences["selectivity"])
        n = (table["p_value_corrected"] < 0.05).sum()
        self.assertIn(f"{n} of {len(table)} sets p &lt; 0.05 after correction", sentences["selectivity"])
        hyp = self.reader.table("hypotheses")
        qk = hyp[hyp["site"] == "q~k"]
        self.assertIn(f"q~k: r up to {qk['r'].max():.3g}", sentences["hypotheses"].replace("&lt;", "<"))
        self.assertIn(f"{(self.reader.table('cka')['cka']).max():.3g}", sentences["cka"])

    def test_a_sentence_without_tests_claims_none(self):
        class Untested:  # an analysis run with permutations: 0
            def analyses(self):
                return {"s": "selectivity", "r": "rsa"}
        import pandas as pd
        nan = float("nan")
        table = pd.DataFrame({"model": ["m", "m"], "site": ["q", "k"], "layer": [1, 1], "index": [1.2, 1.1],
                              "p_value": [nan, nan], "r": [0.5, 0.4]})
        self.assertEqual(findings.finding(Untested(), "s", table),
                         "q at layer 1 of m has the highest selectivity index, 1.2 (not tested: no permutations).")
        sentence = findings.finding(Untested(), "r", table.assign(site=["q~k", "q~k"]))
        self.assertEqual(sentence, "q~k: r up to 0.5 (m, layer 1, not tested).")

    def test_p_values_are_written_one_way(self):
        self.assertEqual(findings.format_p(1 / 10001, 10000), "p < 0.0001")
        self.assertEqual(findings.format_p(1 / 501, 500), "p < 0.002")
        self.assertEqual(findings.format_p(0.0359281, 500), "p = 0.036")
        self.assertEqual(findings.format_p(1 / 501, 500, exact=True), "p = 0.0020")  # two significant digits
        self.assertEqual(findings.format_p(0.06), "p = 0.060")
        self.assertEqual(findings.format_p(float("nan")), "not tested")
        # No p-value of the page written as a raw float: every p cell is the tables' form.
        for cell in re.findall(r"<td class='g-main'>([^<]*)</td>", self.page):
            self.assertNotRegex(cell, r"^9\.99")
        p_cells = re.findall(r"<td class='g-main'>(&lt; 0\.00[0-9]+)</td>", self.page)
        self.assertTrue(p_cells)  # the q~k rows: none of 500 relabellings beat them
        self.assertNotIn("p = 0.0020", self.page)

    # --- 3. robust axes, tables that fit, flagged intervals -------------------------------------------
    def test_an_outlier_set_is_marked_not_allowed_to_squash_the_others(self):
        path = os.path.join(self.dir, "outlier.h5")
        shutil.copy(self.run_file, path)
        with h5py.File(path, "a") as f:
            f["results/selectivity/deep/blocks.1.attn.hook_q"].attrs["index"] = -45.0
        with laminar.open(path) as run:
            ax = profiles.plot_profile(run, analysis="selectivity").axes[0]
            low, high = ax.get_ylim()
            table = run.table("selectivity")
            others = table["index"][table["index"] > -45]
            self.assertTrue(low <= others.min() and others.max() <= high and low > -10, (low, high))
            self.assertIn("-45", [t.get_text() for t in ax.texts])
        # A moderate value among few is no outlier: nothing is hidden that does not squash the rest.
        self.assertFalse(profiles.outliers([0.03, 0.1, 0.05, 0.11, -0.13, 0.05]).any())
        self.assertEqual(list(profiles.outliers([1.0, 1.1, 0.9, 1.05, 0.95, -45.0])), [False] * 5 + [True])

    def test_an_interval_that_excludes_its_estimate_is_flagged_with_the_reason(self):
        path = os.path.join(self.dir, "interval.h5")
        shutil.copy(self.run_file, path)
        with h5py.File(path, "a") as f:  # (the CLI refuses a file changed after laminar sealed it: Python draws it)
            g = f["results/cka/deep/blocks.2.attn.hook_q~blocks.2.attn.hook_k"]
            g.attrs["ci_low"] = g.attrs["cka_unbiased"] + 0.05
            g.attrs["ci_high"] = g.attrs["cka_unbiased"] + 0.3
        page = os.path.join(self.dir, "interval-page")
        from laminar.report import write_report
        write_report(path, page)
        with open(os.path.join(page, "index.html"), encoding="utf-8") as f:
            text = f.read()
        notes = re.findall(r"<td class='g-main note'>([^<]+)</td>", text)
        self.assertEqual(len(notes), 1)
        self.assertIn("jackknife interval is centred on the bias-corrected value", notes[0])

    def test_wide_tables_scroll_and_column_groups_are_selectable(self):
        section = re.search("<section id='hypotheses'>(.*?)</section>", self.page, re.S).group(1)
        self.assertIn("<div class='scroll'>", section)
        for group in ("pairs", "categories", "details"):
            self.assertIn(f"class='t-{group}'", section)
        header = re.search("<thead><tr>(.*?)</tr></thead>", section).group(1)
        self.assertIn("<th class='g-main'>noise_ceiling_low</th>", header)  # on the page's first view
        self.assertIn("<th class='g-categories'>categories/space/r</th>", header)

    # --- 4. the report is cached ----------------------------------------------------------------
    def test_a_rerun_with_nothing_changed_redraws_nothing(self):
        page = os.path.join(self.page_dir, "index.html")
        figures = os.path.join(self.page_dir, "figures")

        def times():
            return {name: os.stat(os.path.join(figures, name)).st_mtime_ns for name in os.listdir(figures)}
        before, drawn = os.stat(page).st_mtime_ns, times()
        r = laminar_cli("run", self.yaml, cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("(up to date: nothing changed since it was drawn", r.stdout)
        self.assertEqual((os.stat(page).st_mtime_ns, times()), (before, drawn))  # not one file written again
        # A figure removed by hand: the page is drawn again.
        os.remove(os.path.join(self.page_dir, "figures", "cka-grid.svg"))
        r = laminar_cli("run", self.yaml, cwd=self.dir)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("up to date: nothing changed", r.stdout)
        self.assertTrue(os.path.exists(os.path.join(self.page_dir, "figures", "cka-grid.svg")))
        # `laminar report` redraws on demand.
        before = os.stat(page).st_mtime_ns
        r = laminar_cli("report", self.run_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertGreater(os.stat(page).st_mtime_ns, before)

    # --- 5. reader and CLI ----------------------------------------------------------------------------
    def test_noise_ceilings_sit_on_the_rows_they_bound(self):
        table = self.reader.table("hypotheses")
        self.assertTrue(table["r"].notna().all())  # no row of a ceiling alone
        with h5py.File(self.run_file, "r") as f:
            for row in table.itertuples():
                space = f[f"results/hypotheses/{row.model_a}/{row.hook_a}"].attrs
                self.assertEqual(row.noise_ceiling_low, space["noise_ceiling_low"])
                if isinstance(row.hook_b, str):  # q~k: k's own ceiling as noise_ceiling_*_b
                    other = f[f"results/hypotheses/{row.model_b}/{row.hook_b}"].attrs
                    self.assertEqual(row.noise_ceiling_high_b, other["noise_ceiling_high"])
        csv = laminar_cli("inspect", self.run_file, "--table", "hypotheses", "--format", "csv").stdout
        self.assertEqual(csv.splitlines()[0].split(","), list(table.columns))
        self.assertEqual(len(csv.splitlines()) - 1, len(table))

    def test_inspect_columns_and_where_say_what_exists(self):
        r = laminar_cli("inspect", self.run_file, "--table", "hypotheses", "--columns", "model,layer,r,categories/*/r",
                        "--format", "csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.splitlines()[0], "model,layer,r,categories/space/r,categories/fruit/r,categories/interior/r")
        r = laminar_cli("inspect", self.run_file, "--table", "cka", "--columns", "layer,cka*,cka", "--format", "csv")
        self.assertEqual(r.stdout.splitlines()[0], "layer,cka,cka_unbiased")  # named twice: printed once
        r = laminar_cli("inspect", self.run_file, "--table", "hypotheses", "--columns", "model,rr")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--columns: no column 'rr' (columns: model, hook, layer", r.stderr)
        r = laminar_cli("inspect", self.run_file, "--table", "across", "--where", "layer=7")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("note: --where layer=7: no row matches; 'layer' holds 0, 1", r.stderr)
        self.assertTrue(self.reader.table("across", where={"layer": "1"}).equals(self.reader.table("across", where={"layer": 1})))
        self.assertEqual(len(self.reader.table("across", where={"layer": [0, 1]})), 2)
        with self.assertRaisesRegex(TypeError, "where expects"):
            self.reader.table("across", where="layer=1")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            self.assertTrue(self.reader.table("across", where={"layer": 7}).empty)
        self.assertIn("'layer' holds 0, 1", str(caught[0].message))
        # A column only the pair sides have: said, in the CLI and in the reader.
        with h5py.File(os.path.join(self.dir, "sides.h5"), "w") as dst, h5py.File(self.run_file, "r") as src:
            for name in src:
                src.copy(src[name], dst, name=name)
            for key, value in src.attrs.items():
                dst.attrs[key] = value
            dst.attrs["laminar_version"] = "0.1.0"  # unsealed, as laminar 0.1 wrote them: the CLI reads it
            for g in dst["results/across/small~deep"].values():
                del g.attrs["layer"]
        r = laminar_cli("inspect", os.path.join(self.dir, "sides.h5"), "--table", "across", "--where", "layer=1")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no column 'layer'; a pair's sides have layer_a and layer_b (e.g. --where layer_a=1)", r.stderr)
        with laminar.open(os.path.join(self.dir, "sides.h5")) as run:
            with self.assertRaisesRegex(KeyError, "a pair's sides have layer_a and layer_b"):
                run.table("across", where={"layer": 1})

    def test_a_hypothesis_constant_within_categories_is_not_compared_within_them(self):
        table = self.reader.table("hypotheses")
        for kind in ("hypothesis:edible", "hypothesis:category"):
            rows = table[table["site"] == f"q~{kind}"]
            self.assertEqual(len(rows), 6)
            self.assertTrue(rows["categories/space/r"].isna().all())  # not computed: no NaN row of its own
        with h5py.File(self.run_file, "r") as f:
            self.assertNotIn("categories", f["results/hypotheses/deep/blocks.1.attn.hook_q~hypothesis:edible"])
            self.assertIn("categories", f["results/hypotheses/deep/blocks.1.attn.hook_q~hypothesis:size"])
            notes = [w for w in f["results/hypotheses"].attrs["warnings"].splitlines() if "constant within" in w]
        self.assertEqual(notes, ["hypotheses.edible: constant within every category: within-category RSA against it is not "
                                 "computed there (a constant has no order to correlate with)"])

    # --- 6. the page as a person sees it -------------------------------------------------------------
    def test_chromium_sees_every_figure_load_and_no_text_overflow(self):
        check = os.path.join(self.page_dir, "check.html")
        with open(check, "w", encoding="utf-8") as f:
            f.write(self.page + """<script>window.addEventListener("load", () => {
  const imgs = [...document.images];
  const body = document.body.getBoundingClientRect();
  // Text in a box wider than the box, outside the boxes that scroll (wide tables do, inside theirs).
  const over = [...document.querySelectorAll("p, h1, h2, h3, figcaption, summary, pre, nav, label, figure, .tbl")]
    .filter(e => !e.closest(".scroll") && (e.scrollWidth > e.clientWidth + 1 || e.getBoundingClientRect().right > body.right + 1))
    .map(e => e.tagName + ":" + e.textContent.slice(0, 40));
  const out = document.createElement("pre");
  out.id = "verdict";
  out.textContent = JSON.stringify({images: imgs.length, broken: imgs.filter(i => !i.complete || i.naturalWidth === 0).length,
    over: over, findings: document.querySelectorAll("p.finding").length,
    scrolls: [...document.querySelectorAll(".scroll")].filter(s => s.getBoundingClientRect().right > body.right + 1).length});
  document.body.appendChild(out);
});</script>""")
        r = subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1280,900",
                            "--virtual-time-budget=15000", "--dump-dom", "file://" + check],
                           capture_output=True, text=True, timeout=180)
        m = re.search(r'<pre id="verdict">(.*?)</pre>', r.stdout, re.S)
        self.assertIsNotNone(m, r.stderr[-2000:])
        verdict = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
        self.assertEqual(verdict["images"], self.page.count("<figure id="))
        self.assertEqual(verdict["broken"], 0)
        self.assertEqual(verdict["over"], [])
        self.assertEqual(verdict["scrolls"], 0)
        self.assertEqual(verdict["findings"], len(self.reader.analyses()))


if __name__ == "__main__":
    unittest.main()
