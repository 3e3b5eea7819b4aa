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

import h5py
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from . import figures, findings, profiles, rdm_figures
from .run_file import RunFile

# The numbers a reader looks for first, in this order, where an analysis has them.
HEADLINE = ["index", "r", "score", "score_normalized", "ceiling", "accuracy", "balanced_accuracy", "chance", "cka", "cka_unbiased", "cka_rbf", "mi_binned", "mi_equal_frequency", "mi_ksg", "n80", "n90",
            "n95", "n99", "participation_ratio", "shuffled_n95_mean", "p_value", "p_value_corrected", "ci_of", "ci_low", "ci_high",
            "r_subjects", "noise_ceiling_low", "noise_ceiling_high", "mean_within", "mean_between", "ill_conditioned", "n_pairs", "n"]
MAX_ROWS = 5000  # rows of a table on the page (it scrolls in its box); `laminar inspect --table` has them all
KEYS = ["model", "hook", "layer", "site", "head"]
PAIR_SIDES = ["model_a", "hook_a", "layer_a", "site_a", "head_a", "model_b", "hook_b", "layer_b", "site_b", "head_b"]

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 2em; }
h1, h2, h3, p, li, figcaption, summary, label { overflow-wrap: anywhere; }
.finding { font-size: 1.05em; background: #f3f7fb; border-left: 4px solid #4a7db5; padding: 0.5em 0.8em; }
.scroll { overflow: auto; max-height: 30em; max-width: 100%; border: 1px solid #eee; margin: 0.3em 0; }
table { border-collapse: collapse; font-size: 0.85em; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; position: sticky; top: 0; } td:first-child, th:first-child { text-align: left; }
td.note { color: #a15c00; white-space: normal; min-width: 24em; text-align: left; }
.groups { font-size: 0.85em; color: #555; } .groups label { margin-right: 1em; cursor: pointer; }
.tbl input { display: none; } .groups label::before { content: "\\2610  "; }
.t-pairs:checked ~ .groups label.l-pairs::before, .t-categories:checked ~ .groups label.l-categories::before,
.t-details:checked ~ .groups label.l-details::before { content: "\\2611  "; }
.tbl .g-pairs, .tbl .g-categories, .tbl .g-details { display: none; }
.tbl .t-pairs:checked ~ .scroll .g-pairs, .tbl .t-categories:checked ~ .scroll .g-categories,
.tbl .t-details:checked ~ .scroll .g-details { display: table-cell; }
figure { margin: 1em 0; } figure img { max-width: 100%; box-sizing: border-box; border: 1px solid #eee; }
figcaption { font-size: 0.85em; color: #555; } code, pre { background: #f6f6f6; padding: 2px 4px; }
pre { white-space: pre-wrap; overflow-wrap: anywhere; }
.warning { color: #a15c00; } .muted { color: #777; font-size: 0.9em; }
.lens td { text-align: center; font-family: monospace; }
"""


def _safe(stem):
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in stem)


def _table_html(frame):
    return frame.to_html(index=False, border=0, na_rep="", float_format=lambda v: f"{v:.4g}", escape=True)


# --- what each analysis draws --------------------------------------------------------------------
def _section_figures(run, name, metric):
    """(file stem, caption, draw) of each figure of one analysis, drawn by _draw()."""
    table = run.table(name) if metric != "logit_lens" else pd.DataFrame()
    models = list(dict.fromkeys(table["model"])) if "model" in table else []
    out = []
    if metric in ("cosine", "correlation"):
        for model in models:
            hooks = figures._default_hooks(run, name, model)
            label = ", ".join(figures._short(h) for h in hooks)
            out.append((f"{name}-{model}-matrices", f"{metric} similarity matrices of {model} ({label}); white squares: "
                        "categories; one colour scale", figures.plot_similarity, (name, model, hooks)))
            out.append((f"{name}-{model}-histograms", f"within- vs between-category {metric} similarities of {model} ({label})",
                        figures.plot_histograms, (name, model, hooks)))
    intervals = "ci_low" in table and table["ci_low"].notna().any()
    filled = "filled: p < 0.05" + (" after correction" if "p_value_corrected" in table else "")
    if metric in ("selectivity", "rsa"):
        out.append((f"{name}-profile", f"{name} per layer, a panel per kind of comparison ({filled}"
                    + ("; band and bars: bootstrap CI" if intervals else "")
                    + ("; shaded: the first space's noise ceiling" if "noise_ceiling_low" in table else "") + ")",
                    profiles.plot_profile, ("auto", name)))
    if metric == "rsa":
        for model in dict.fromkeys(table.loc[table["hook_a"].notna(), "model"] if "hook_a" in table else []):
            out.append((f"{name}-{model}-rdms", f"the RDMs {name} compared for {model} at its deepest layer, beside the "
                        "hypotheses they were compared with (each its own colour scale; white squares: categories)",
                        rdm_figures.plot_rdms, (name, model)))
            out.append((f"{name}-{model}-mds", f"classical MDS of each RDM of {name} for {model}: the words in two dimensions",
                        rdm_figures.plot_mds, (name, model)))
        spaces = [i for i in range(len(table)) if "hook_b" in table and isinstance(table["hook_b"].iloc[i], str)
                  and ("head" not in table or np.isnan(table["head"].iloc[i]))]  # whole layers, not heads
        for row in spaces[-1:]:  # the deepest comparison of two spaces (the seed's block-5 q~k)
            r = table.iloc[row]
            out.append((f"{name}-scatter", f"{r['model']} {figures._short(r['hook_a'])} vs {figures._short(r['hook_b'])}: "
                        "one point per pair of words", figures.plot_rsa_scatter, (name, row)))
        out.append((f"{name}-grid", "RSA grids: layer x layer where layers were compared, model x model where models were",
                    figures.plot_rsa_grid, (name,)))
    if metric == "cka":
        out.append((f"{name}-profile", "CKA per layer: " + ("the value its interval is of, with the interval; linear CKA "
                    "dotted; " if intervals else "linear CKA; ") + filled, profiles.plot_cka_profile, (name,)))
        out.append((f"{name}-grid", "CKA grids: layer x layer (linear, biased)", figures.plot_rsa_grid, (name,)))
    if metric == "effective_dimensionality":
        out.append((f"{name}-profile", "components reaching each share of the variance per layer, the shuffled control "
                    "(dashed) and the participation ratio", profiles.plot_dimensionality, (name,)))
    if metric == "mutual_information":
        out.append((f"{name}-profile", "mutual information per layer, each estimator (filled: the tested one, p < 0.05)",
                    profiles.plot_mi_profile, (name,)))
    if metric in ("encoding", "decoding"):
        ceiling = ", noise ceiling" if "ceiling" in table and table["ceiling"].notna().any() else ""
        out.append((f"{name}-profile", f"{metric} per layer: held-out {'r (median over targets)' if metric == 'encoding' else 'accuracy'}"
                    f"{ceiling if metric == 'encoding' else ', chance'} and the permutation null",
                    profiles.plot_prediction_profile, (name,)))
    if metric in figures.HEAD_VALUES:
        out.append((f"{name}-heads", f"{metric} per layer and head ({figures.HEAD_VALUES[metric]})", figures.plot_head_map, (name,)))
    if metric == "logit_lens":
        for model in run.file["results"][name]:
            out.append((f"{name}-{model}", f"logit lens of {model}: the most probable token per layer (the first "
                        f"{figures.LENS_ROWS} rows; the table below has every row), and per layer the entropy, the KL "
                        "divergence to the last layer and the target's rank", figures.plot_logit_lens, (name, model)))
    return out


def _draw(stem, caption, draw, args, run, out_dir):
    """The figure's HTML (embedded PNG; PNG and SVG files beside the page), "" when there is
    nothing to draw, or a warning line when drawing failed: one figure does not cost the page."""
    try:
        fig = draw(run, *args)
    except Exception as error:  # noqa: BLE001 (reported on the page and on stderr)
        print(f"report: figure {stem} not drawn: {type(error).__name__}: {error}", file=sys.stderr)
        return f"<p class='warning'>{html.escape(caption)}: not drawn ({html.escape(type(error).__name__)}: {html.escape(str(error))})</p>"
    if fig is None:
        return ""
    stem = _safe(stem)
    png = io.BytesIO()
    fig.savefig(png, format="png", dpi=110)
    with open(os.path.join(out_dir, "figures", stem + ".png"), "wb") as f:
        f.write(png.getvalue())
    fig.savefig(os.path.join(out_dir, "figures", stem + ".svg"))
    plt.close(fig)
    data = base64.b64encode(png.getvalue()).decode()
    return (f"<figure id='{stem}'><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
            f"<figcaption>{html.escape(caption)} (<a href='figures/{stem}.png'>PNG</a>, "
            f"<a href='figures/{stem}.svg'>SVG</a>)</figcaption></figure>")


# --- tables ----------------------------------------------------------------------------------------
def _group(column, headline):
    if column in KEYS or column in headline or column == "note":
        return "main"
    if column in PAIR_SIDES:
        return "pairs"
    return "categories" if column.startswith("categories/") else "details"


def cell_text(frame, row, column):
    """A cell as the page writes it: p-values as findings.p_text (with the row's permutations and
    exactness), other numbers to 4 significant digits, empty for NaN."""
    value = frame.at[row, column]
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "" if value is None or np.isnan(value) else str(value)
    if column.rsplit("/", 1)[-1] in ("p_value", "p_value_corrected"):
        prefix = column.rsplit("/", 1)[0] + "/" if "/" in column else ""
        used = frame.at[row, prefix + "n_permutations_used"] if prefix + "n_permutations_used" in frame else None
        exact = frame.at[row, prefix + "exact"] if prefix + "exact" in frame else 0
        used = int(used) if used is not None and np.isfinite(used) else None
        return findings.p_text(float(value), used if column.endswith("p_value") else None, bool(exact == 1))
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}"
    return str(value)


def headline_columns(table):
    """The numbers a reader looks for first (HEADLINE's, in its order); for a metric with other
    names, its first numeric columns."""
    headline = [c for c in HEADLINE if c in table]
    return headline or [c for c in table.columns if c not in KEYS and pd.api.types.is_numeric_dtype(table[c])][:8]


def _results_table(run, name, uid):
    """The analysis's table as the page shows it: every row (scrolling in its box), the headline
    columns first, p-values written as the page writes them, a note where an interval excludes
    its estimate, and the pair sides, per-category and other columns behind check boxes."""
    table = run.table(name)
    headline = headline_columns(table)
    notes = findings.interval_notes(table)
    if notes.astype(bool).any():
        table = table.assign(note=notes)
        headline.append("note")
    columns = [c for c in KEYS if c in table] + headline + [c for c in table.columns if c not in KEYS and c not in headline]
    shown = table.head(MAX_ROWS).reset_index(drop=True)
    groups = {c: _group(c, headline) for c in columns}
    present = [g for g in ("pairs", "categories", "details") if g in groups.values()]
    labels = {"pairs": "pair sides (model_a, hook_a, ...)", "categories": "per category", "details": "all other columns"}
    parts = ["<div class='tbl'>"]
    for g in present:
        parts.append(f"<input type='checkbox' class='t-{g}' id='{uid}-{g}'>")
    if present:
        parts.append("<span class='groups'>show: " + "".join(f"<label for='{uid}-{g}' class='l-{g}'>{labels[g]} "
                     f"({sum(v == g for v in groups.values())})</label>" for g in present) + "</span>")
    parts.append("<div class='scroll'><table><thead><tr>" +
                 "".join(f"<th class='g-{groups[c]}'>{html.escape(c)}</th>" for c in columns) + "</tr></thead><tbody>")
    for i in range(len(shown)):
        parts.append("<tr>" + "".join(f"<td class='g-{groups[c]}{' note' if c == 'note' else ''}'>"
                                      f"{html.escape(cell_text(shown, i, c))}</td>" for c in columns) + "</tr>")
    parts.append("</tbody></table></div></div>")
    count = f"{len(table)} rows" if len(shown) == len(table) else f"{len(shown)} of {len(table)} rows"
    parts.append(f"<p class='muted'>{count}, {len(columns)} columns; all of them: <code>laminar inspect "
                 f"{html.escape(run.path)} --table {html.escape(name)} [--columns a,b,c] [--format csv]</code></p>")
    return "".join(parts)


def _warnings(run, name):
    """The analysis's warnings, one line per message: the same message about many sets is said
    once with how many and which (the first few)."""
    warnings = run.file["results"][name].attrs.get("warnings")
    if warnings is None:
        return ""
    by_message = {}
    for line in str(warnings if isinstance(warnings, str) else warnings.decode()).splitlines():
        where, sep, message = line.partition(": ")
        if not sep or " " in where:  # not "<path>: message"
            where, message = "", line
        by_message.setdefault(message, []).append(where)
    parts = []
    for message, places in by_message.items():
        places = [p for p in places if p]
        at = "" if not places else f" ({places[0]})" if len(places) == 1 else \
            f" ({len(places)} sets: {', '.join(places[:3])}{', ...' if len(places) > 3 else ''})"
        parts.append(f"<p class='warning'>warning: {html.escape(message)}{html.escape(at)}</p>")
    return "".join(parts)


def _lens_table(run, name, model):
    """Every row of the logit lens of `model`: its word and context, and per layer the most
    probable token, shaded by its probability (the prompt's text on hover)."""
    lens = run.logit_lens(name, model)
    top = lens[lens["rank"] == 1]
    layers = sorted(top["layer"].unique())
    tokens = top.pivot(index="stimulus", columns="layer", values="token")
    probs = top.pivot(index="stimulus", columns="layer", values="prob")
    labels = figures.lens_row_labels(run)
    stimuli = run.stimuli()
    texts = stimuli["text"] if "text" in stimuli else stimuli["word"]
    rows = ["<div class='scroll'><table class='lens'><thead><tr><th>row (word \u00b7 context)</th>" +
            "".join(f"<th>L{int(layer)}</th>" for layer in layers) + "</tr></thead><tbody>"]
    for s in tokens.index:
        cells = "".join(f"<td style='background: rgba(49,130,189,{0.85 * float(probs.at[s, layer]):.2f})' "
                        f"title='p = {float(probs.at[s, layer]):.3f}'>{html.escape(repr(str(tokens.at[s, layer]))[1:-1][:14])}</td>"
                        for layer in layers)
        rows.append(f"<tr><td title='{html.escape(str(texts.iloc[s]))}'>{html.escape(labels[s])}</td>{cells}</tr>")
    rows.append("</tbody></table></div>")
    contexts = f" ({stimuli['word'].nunique()} words \u00d7 {stimuli['context'].nunique()} contexts)" \
        if "context" in stimuli and stimuli["context"].nunique() > 1 else ""
    return (f"<p class='muted'>{model}: all {len(tokens)} rows{contexts}, the most probable token per layer "
            "(shade: its probability; hover a row for its prompt).</p>" + "".join(rows))


# --- the page --------------------------------------------------------------------------------------
def _versions(run):
    rows = [("laminar (wrote the run file)", run.attributes.get("laminar_version", "?"))]
    for part in str(run.attributes.get("libraries", "")).split(";"):  # "HDF5 1.10.8; Armadillo 11.4.2; ..."
        name, _, value = part.strip().partition(" ")
        if name:
            rows.append((name + " (laminar)", value))
    rows += [("Python", sys.version.split()[0]), ("numpy", np.__version__), ("pandas", pd.__version__),
             ("h5py", h5py.__version__), ("HDF5 (h5py)", h5py.version.hdf5_version), ("matplotlib", matplotlib.__version__)]
    return rows


def _analysis_section(run, name, metric, out_dir, uid):
    parts = [f"<section id='{_safe(name)}'><h2>{html.escape(name)} <span class='muted'>({html.escape(metric)})</span></h2>"]
    table = run.table(name) if metric != "logit_lens" else None
    if table is not None and table.empty:  # results of laminar 0.1, whose groups did not say what they describe
        parts.append("<p class='warning'>No described results (written by laminar "
                     f"{html.escape(str(run.attributes.get('laminar_version', '?')))}); <code>laminar run</code> "
                     "on the experiment analyses them again with this version.</p></section>")
        return "".join(parts)
    try:
        sentence = findings.finding(run, name, table)
    except Exception as error:  # noqa: BLE001 (the numbers are still on the page)
        sentence = f"(no sentence: {type(error).__name__}: {error})"
    parts.append(f"<p class='finding'>{html.escape(sentence)}</p>")
    parts.append(_warnings(run, name))
    if table is not None:
        parts.append(_results_table(run, name, uid))
    for stem, caption, draw, args in _section_figures(run, name, metric):
        parts.append(_draw(stem, caption, draw, args, run, out_dir))
    if metric == "logit_lens":
        for model in run.file["results"][name]:
            parts.append(_lens_table(run, name, model))
    parts.append("</section>")
    return "".join(parts)


def write_report(path, out_dir, key=""):
    """Writes out_dir/index.html and out_dir/figures/; returns the page's path. `key` (what the
    page was drawn from, laminar's stage cache) is kept in the page's head."""
    os.makedirs(os.path.join(out_dir, "figures"), exist_ok=True)
    with RunFile(path) as run:
        parts = [f"<!doctype html><html><head><meta charset='utf-8'><meta name='generator' content='laminar'>"
                 f"<meta name='laminar-report-key' content='{html.escape(key)}'>"
                 f"<title>{html.escape(run.experiment)} - laminar</title><style>{STYLE}</style></head><body>"]
        parts.append(f"<h1>{html.escape(run.experiment)}</h1>")
        if run.description:
            parts.append(f"<p>{html.escape(run.description)}</p>")
        attrs = run.attributes
        parts.append(f"<p class='muted'>Run file <code>{html.escape(os.path.abspath(path))}</code>, created "
                     f"{html.escape(str(attrs.get('created', '?')))}, updated {html.escape(str(attrs.get('updated', '?')))}.</p>")
        analyses = run.analyses()
        parts.append("<nav><p>" + " \u00b7 ".join(f"<a href='#{_safe(n)}'>{html.escape(n)}</a>" for n in analyses) + "</p></nav>")
        parts.append("<h2>Models</h2>" + _table_html(run.models()))
        if any(m in ("selectivity", "rsa") for m in analyses.values()):  # the overview; each analysis has its own too
            parts.append("<h2>Profile</h2>")
            parts.append(_draw("profile", "laminar profile: selectivity and RSA of every analysis per layer (filled: "
                               "p < 0.05; band and bars: bootstrap CI)", profiles.plot_profile, (), run, out_dir))
        for i, (name, metric) in enumerate(analyses.items()):
            parts.append(_analysis_section(run, name, metric, out_dir, f"t{i}"))

        stimuli = run.stimuli().reset_index()
        parts.append(f"<h2>Stimuli</h2><details><summary>{len(stimuli)} stimuli in "
                     f"{len(run.categories())} categories: {html.escape(', '.join(run.categories()))}</summary>"
                     "<div class='scroll'>" + _table_html(stimuli) + "</div></details>")
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
    parser.add_argument("--key", default="", help="what the page is drawn from (laminar's report cache keeps it in the page)")
    args = parser.parse_args(argv)
    matplotlib.use("Agg")  # files only, no display (imported from a notebook, the notebook's backend stays)
    out = args.out or os.path.splitext(args.run)[0]
    try:
        print(write_report(args.run, out, args.key))
    except OSError as error:  # a full disk, a folder it may not write: said in one line, not a traceback
        if error.errno is None:  # not the system's (h5py's errors are OSError too)
            raise
        where = f"{error.filename}: " if error.filename else ""
        print(f"laminar report: cannot write the report into {out}: {where}{error.strerror or error}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
