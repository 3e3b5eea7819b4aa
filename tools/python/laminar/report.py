"""The report page of a run file: DIR/index.html, one self-contained page (figures embedded),
and the figures as PNG and SVG files in DIR/figures/. Works from the run file alone.

    python3 -m laminar.report RUN.h5 --out DIR        (what `laminar report` runs)
"""
import argparse
import base64
import html
import io
import os
import sys

import matplotlib

matplotlib.use("Agg")  # files only, no display

import h5py  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from . import figures  # noqa: E402
from .run_file import RunFile  # noqa: E402

# The numbers a reader looks for first, in this order, where an analysis has them.
HEADLINE = ["index", "r", "score", "score_normalized", "ceiling", "accuracy", "balanced_accuracy", "chance", "cka", "cka_unbiased", "cka_rbf", "mi_binned", "mi_equal_frequency", "mi_ksg", "n80", "n90",
            "n95", "n99", "participation_ratio", "shuffled_n95_mean", "p_value", "p_value_corrected", "ci_of", "ci_low", "ci_high",
            "r_subjects", "noise_ceiling_low", "noise_ceiling_high", "mean_within", "mean_between", "ill_conditioned", "n_pairs", "n"]
MAX_ROWS = 60  # rows of a headline table shown on the page; `laminar inspect --table` has them all

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.5em 0; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: right; } th { background: #f4f4f4; }
td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; } code, pre { background: #f6f6f6; padding: 2px 4px; }
.warning { color: #a15c00; } .muted { color: #777; font-size: 0.9em; }
"""


def _figures(run):
    """(file stem, caption, Figure) of every figure the run has data for, and (stem, caption,
    error) of those that failed: one figure that cannot be drawn does not cost the page."""
    out, failed = [], []

    def add(stem, caption, draw, *args):
        try:
            out.append((stem, caption, draw(run, *args)))
        except Exception as error:  # noqa: BLE001 (reported on the page and on stderr)
            print(f"report: figure {stem} not drawn: {type(error).__name__}: {error}", file=sys.stderr)
            failed.append((stem, caption, f"{type(error).__name__}: {error}"))

    analyses = {name: metric for name, metric in run.analyses().items() if "model" in run.table(name)}
    for name, metric in analyses.items():
        if metric not in ("cosine", "correlation"):
            continue
        for model in dict.fromkeys(run.table(name)["model"]):
            hooks = figures._default_hooks(run, name, model)
            label = ", ".join(figures._short(h) for h in hooks)
            add(f"{name}-{model}-matrices", f"{metric} similarity matrices of {model} ({label}); "
                "white squares: categories; one colour scale", figures.plot_similarity, name, model, hooks)
            add(f"{name}-{model}-histograms", f"within- vs between-category {metric} similarities of {model} ({label})",
                figures.plot_histograms, name, model, hooks)
    for name, metric in analyses.items():
        if metric != "rsa":
            continue
        table = run.table(name)
        spaces = [i for i in range(len(table)) if "hook_b" in table and isinstance(table["hook_b"].iloc[i], str)]
        rows = spaces[-1:]  # the deepest comparison of two spaces (the seed's block-5 q~k), not of a hypothesis
        for row in rows:
            r = table.iloc[row]
            add(f"{name}-scatter-{row}", f"RSA: {r['model']} {figures._short(r['hook_a'])} vs "
                f"{figures._short(r['hook_b'])}, one point per pair of stimuli", figures.plot_rsa_scatter, name, row)
        add(f"{name}-grid", "RSA grids: layer x layer where layers were compared, model x model where models were", figures.plot_rsa_grid, name)
    for name, metric in analyses.items():
        if metric == "cka":
            add(f"{name}-grid", "CKA grids: layer x layer (linear, biased)", figures.plot_rsa_grid, name)
        if metric in ("encoding", "decoding"):
            add(f"{name}-profile", f"{metric} per layer: held-out {'r (median over targets)' if metric == 'encoding' else 'accuracy'}"
                f"{', noise ceiling' if metric == 'encoding' else ', chance'} and the permutation null", figures.plot_prediction_profile, name)
        if metric in figures.HEAD_VALUES:
            add(f"{name}-heads", f"{metric} per layer and head ({figures.HEAD_VALUES[metric]})", figures.plot_head_map, name)
    for name, metric in run.analyses().items():
        if metric == "logit_lens":
            for model in run.file["results"][name]:
                add(f"{name}-{model}", f"logit lens of {model}: the most probable token at each layer, and per layer the "
                    "entropy, the KL divergence to the last layer and the target's rank", figures.plot_logit_lens, name, model)
    add("profile", "laminar profile: selectivity and RSA per layer (filled: p < 0.05; band and bars: bootstrap CI)",
        figures.plot_profile)
    return [item for item in out if item[2] is not None], failed


def _safe(stem):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)


def _table_html(frame):
    return frame.to_html(index=False, border=0, na_rep="", float_format=lambda v: f"{v:.4g}", escape=True)


def _headline(run, name):
    table = run.table(name)
    keys = [c for c in ["model", "hook", "layer", "site", "head"] if c in table]
    values = [c for c in HEADLINE if c in table]
    if not values:  # a metric with other names: its numeric columns
        values = [c for c in table.columns if c not in keys and pd.api.types.is_numeric_dtype(table[c])][:8]
    return table[keys + values]


def _versions(run):
    rows = [("laminar (wrote the run file)", run.attributes.get("laminar_version", "?"))]
    for part in str(run.attributes.get("libraries", "")).split(";"):  # "HDF5 1.10.8; Armadillo 11.4.2; ..."
        name, _, value = part.strip().partition(" ")
        if name:
            rows.append((name + " (laminar)", value))
    rows += [("Python", sys.version.split()[0]), ("numpy", np.__version__), ("pandas", pd.__version__),
             ("h5py", h5py.__version__), ("HDF5 (h5py)", h5py.version.hdf5_version), ("matplotlib", matplotlib.__version__)]
    return rows


def write_report(path, out_dir):
    """Writes out_dir/index.html and out_dir/figures/; returns the page's path."""
    os.makedirs(os.path.join(out_dir, "figures"), exist_ok=True)
    with RunFile(path) as run:
        parts = [f"<!doctype html><html><head><meta charset='utf-8'><meta name='generator' content='laminar'><title>{html.escape(run.experiment)} - laminar</title>"
                 f"<style>{STYLE}</style></head><body>"]
        parts.append(f"<h1>{html.escape(run.experiment)}</h1>")
        if run.description:
            parts.append(f"<p>{html.escape(run.description)}</p>")
        attrs = run.attributes
        parts.append(f"<p class='muted'>Run file <code>{html.escape(os.path.abspath(path))}</code>, created "
                     f"{html.escape(str(attrs.get('created', '?')))}, updated {html.escape(str(attrs.get('updated', '?')))}.</p>")

        parts.append("<h2>Models</h2>" + _table_html(run.models()))

        parts.append("<h2>Results</h2>")
        for name, metric in run.analyses().items():
            table = _headline(run, name)
            parts.append(f"<h3>{html.escape(name)} <span class='muted'>({html.escape(metric)})</span></h3>")
            if table.empty:  # results of laminar 0.1, whose groups did not say what they describe
                parts.append("<p class='warning'>No described results (written by laminar "
                             f"{html.escape(str(attrs.get('laminar_version', '?')))}); <code>laminar run</code> "
                             "on the experiment analyses them again with this version.</p>")
                continue
            shown = table.head(MAX_ROWS)
            parts.append(_table_html(shown))
            if len(table) > len(shown):
                parts.append(f"<p class='muted'>{len(shown)} of {len(table)} rows; all of them: "
                             f"<code>laminar inspect {html.escape(path)} --table {html.escape(name)} --format csv</code></p>")
            warnings = run.file["results"][name].attrs.get("warnings")
            if warnings is not None:
                for w in str(warnings if isinstance(warnings, str) else warnings.decode()).splitlines():
                    parts.append(f"<p class='warning'>warning: {html.escape(w)}</p>")

        parts.append("<h2>Figures</h2>")
        drawn, failed = _figures(run)
        for stem, caption, error in failed:
            parts.append(f"<p class='warning'>{html.escape(caption)}: not drawn ({html.escape(error)})</p>")
        for stem, caption, fig in drawn:
            stem = _safe(stem)
            png = io.BytesIO()
            fig.savefig(png, format="png", dpi=110)
            with open(os.path.join(out_dir, "figures", stem + ".png"), "wb") as f:
                f.write(png.getvalue())
            fig.savefig(os.path.join(out_dir, "figures", stem + ".svg"))
            plt.close(fig)
            data = base64.b64encode(png.getvalue()).decode()
            parts.append(f"<figure id='{stem}'><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{html.escape(caption)} (<a href='figures/{stem}.png'>PNG</a>, "
                         f"<a href='figures/{stem}.svg'>SVG</a>)</figcaption></figure>")

        stimuli = run.stimuli().reset_index()
        parts.append(f"<h2>Stimuli</h2><details><summary>{len(stimuli)} stimuli in "
                     f"{len(run.categories())} categories: {html.escape(', '.join(run.categories()))}</summary>"
                     + _table_html(stimuli) + "</details>")

        parts.append("<h2>Reproduce</h2>")
        commands = run.commands()
        if commands:
            parts.append("<p>The commands that completed each stage:</p><pre>" +
                         html.escape("\n".join(dict.fromkeys(commands.values()))) + "</pre>")
        parts.append("<p>The experiment file as it was run:</p><pre>" + html.escape(str(attrs.get("spec", ""))) + "</pre>")
        parts.append("<h2>Versions</h2>" + _table_html(pd.DataFrame(_versions(run), columns=["software", "version"])))
        parts.append("</body></html>")
    page = os.path.join(out_dir, "index.html")
    try:
        with open(page + ".partial", "w", encoding="utf-8") as f:
            f.write("\n".join(parts))
        os.replace(page + ".partial", page)  # a page is either the old one or the new one, whole
    except BaseException:
        if os.path.exists(page + ".partial"):  # a full disk: no half page left beside the old one
            os.remove(page + ".partial")
        raise
    return page


def main(argv=None):
    parser = argparse.ArgumentParser(prog="laminar report", description=__doc__.split("\n\n")[0])
    parser.add_argument("run", help="the run file (HDF5)")
    parser.add_argument("--out", help="the folder to write (default: beside the run file, named after it)")
    args = parser.parse_args(argv)
    out = args.out or os.path.splitext(args.run)[0]
    try:
        print(write_report(args.run, out))
    except OSError as error:  # a full disk, a folder it may not write: said in one line, not a traceback
        if error.errno is None:  # not the system's (h5py's errors are OSError too)
            raise
        where = f"{error.filename}: " if error.filename else ""
        print(f"laminar report: cannot write the report into {out}: {where}{error.strerror or error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
