"""Figures per layer: each returns a matplotlib Figure, or None when the run has nothing to draw.

    plot_profile(run)                     selectivity and RSA of every analysis, a panel per kind
    plot_profile(run, analysis="rsa")     one analysis: q~k apart from each q~hypothesis
    plot_cka_profile(run, "cka")          CKA per layer with its interval
    plot_dimensionality(run, "ed")        n80...n99, participation ratio and the shuffled control
    plot_mi_profile(run, "mi")            mutual information per layer, each estimator
    plot_prediction_profile(run, "enc")   encoding/decoding scores, ceiling band and chance line

Axes are robust: a value far outside the others (Tukey's fences at 3 IQR), or a selectivity
ratio marked ill-conditioned, is drawn at the axis's edge with its value written, so that one
set does not squash every other line.
"""
import textwrap

import h5py
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

from .findings import format_p
from .run_file import _walk

SIGNIFICANT = 0.05  # p-values below are drawn as filled markers, above as hollow ones
FENCE = 3.0  # Tukey's far-out fences: a value beyond 3 IQR of the quartiles ...
SQUASH = 3.0  # ... and 3 times the others' range away from them is drawn off scale
STYLES, MARKERS = ["-", "--", ":", "-."], ["o", "s", "^", "D"]


# --- robust axes ------------------------------------------------------------------------------
def outliers(values):
    """Which of `values` would squash the others: beyond Tukey's far-out fences (3 IQR beyond the
    quartiles) and, from the range of the rest, more than SQUASH times that range away (so that
    drawn on one axis the rest would share less than a quarter of it). None among fewer than 5
    finite values."""
    values = np.asarray(values, dtype=float)
    finite = values[np.isfinite(values)]
    if finite.size < 5:
        return np.zeros(values.shape, dtype=bool)
    q1, q3 = np.percentile(finite, [25, 75])
    with np.errstate(invalid="ignore"):
        far = (values < q1 - FENCE * (q3 - q1)) | (values > q3 + FENCE * (q3 - q1))
    rest = values[np.isfinite(values) & ~far]
    if not far.any() or rest.size == 0:
        return far
    low, high = rest.min(), rest.max()
    span = max(high - low, 1e-12 * max(1.0, abs(high)))
    with np.errstate(invalid="ignore"):
        return far & (np.maximum(low - values, values - high) > SQUASH * span)


def _set_limits(ax, inliers):
    """The axis's limits around the values it draws (not around the off-scale ones)."""
    inliers = np.asarray([v for v in inliers if np.isfinite(v)])
    if inliers.size:
        low, high = inliers.min(), inliers.max()
        pad = 0.08 * (high - low) if high > low else 0.05 * max(abs(high), 1e-3)
        ax.set_ylim(low - pad, high + pad)


def _mark_off_scale(ax, points, colour):
    """Values left out of the axis's limits: red-edged, with their value; beyond the limits, an
    arrow at that edge."""
    low, high = ax.get_ylim()
    pad = 0.04 * (high - low)
    for x, y in points:
        at, marker = (y, "o") if low <= y <= high else ((high - pad, "^") if y > high else (low + pad, "v"))
        ax.plot([x], [at], marker, color=colour, markersize=8, markeredgecolor="red", markeredgewidth=1.5)
        ax.annotate(f"{y:.3g}", (x, at), textcoords="offset points", xytext=(6, -3), fontsize=7, color="red")
    ax.set_ylim(low, high)


def _ill_conditioned(rows):
    """Which rows' selectivity ratio the metric marked ill-conditioned (a between-category mean
    near 0 or below: the ratio explodes or changes sign)."""
    flags = rows["ill_conditioned"] if "ill_conditioned" in rows else pd.Series(0, index=rows.index)
    return flags.fillna(0).to_numpy(dtype=float) > 0


def _x(run, rows, model, relative, column="layer"):
    """Layers, or relative depth (layer / (layers - 1)) where models of different depth share an axis."""
    layers = rows[column].to_numpy(dtype=float)
    n_layer = run.models().set_index("model")["n_layer"].get(model.split("~")[0], np.nan)
    return layers / max(n_layer - 1, 1) if relative and np.isfinite(n_layer) else layers


def _relative(run, x):
    depths = {int(d) for d in run.models()["n_layer"].dropna()}
    return x == "depth" or (x == "auto" and len(depths) > 1)


def _legend(ax, extra):
    """The legend beside the axes, its long labels wrapped (a 60-character model id must not
    squeeze the plot); returns its rows."""
    handles, labels = ax.get_legend_handles_labels()
    for handle, label in extra:
        handles.append(handle)
        labels.append(label)
    labels = [textwrap.fill(label, 64) for label in labels]
    ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
    return sum(label.count("\n") + 1 for label in labels)


def tested_p(rows):
    """The p-values a figure marks: corrected where the analysis corrected them (as the page's
    sentences count them), else as they are."""
    for column in ("p_value_corrected", "p_value"):
        if column in rows and rows[column].notna().any():
            return rows[column].to_numpy(float)
    return np.full(len(rows), np.nan)


SIGNIFICANCE_KEY = [(Line2D([], [], marker="o", color="gray", linestyle=""), f"p < {SIGNIFICANT} (corrected where corrected)"),
                    (Line2D([], [], marker="o", color="gray", markerfacecolor="white", linestyle=""),
                     f"p \u2265 {SIGNIFICANT} (or not computed)")]
OFF_SCALE_KEY = (Line2D([], [], marker="^", color="gray", markeredgecolor="red", linestyle=""),
                 "off scale: an outlier or an ill-conditioned ratio (value written)")


# --- selectivity and RSA -------------------------------------------------------------------------
def pair_kind(site):
    """"q~k" -> "spaces", "q~hypothesis:size" -> "hypothesis:size": what a pair compares with."""
    other = str(site).split("~", 1)[-1]
    return other if "~" in str(site) and other.startswith("hypothesis:") else "spaces"


def _panel_label(panel):
    if panel == "selectivity":
        return "selectivity index (within / between)", 1.0
    if panel == "selectivity_difference":
        return "selectivity: within \u2212 between", 0.0
    kind = panel.split(" ", 1)[1]
    return ("RSA r between spaces" if kind == "spaces" else f"RSA r with {kind.replace(':', ' ')}"), None


def _profile_rows(run, analysis=None):
    """(panel, label, model, rows, value) per line: the selectivity index and the RSA r per layer,
    RSA in a panel per pair kind (spaces with spaces apart from each hypothesis)."""
    lines = []
    for name, metric in run.analyses().items():
        if metric not in ("selectivity", "rsa") or (analysis is not None and name != analysis):
            continue
        table = run.table(name)
        value = "index" if metric == "selectivity" else "r"
        if table.empty or "layer" not in table or value not in table:
            continue
        table = table[table["layer"].notna() & (table["layer"] >= 0) & table[value].notna()]
        if "head" in table:
            table = table[table["head"].isna()]
        suffix = "" if name == metric or analysis is not None else f" ({name})"
        for (model, site), rows in table.groupby(["model", "site"], sort=False):
            if metric == "selectivity":  # within - between has another scale (0, not 1, is none)
                panel = "selectivity_difference" if "difference" in set(rows.get("variant", [])) else "selectivity"
            else:
                panel = "rsa " + pair_kind(site)
            lines.append((panel, f"{model} {site}{suffix}", model, rows.sort_values("layer"), value))
    return lines


def plot_profile(run, x="auto", analysis=None):
    """The laminar profile: selectivity and RSA per layer, a line per model and site, a panel per
    kind (selectivity; RSA between spaces; RSA with each hypothesis), filled markers where p <
    0.05, the bootstrap interval as a band, and on RSA panels the first space's noise ceiling
    (where computed) beside r per context, the number it bounds. x: "layer", "depth" (layer /
    (layers - 1)) or "auto" (depth when the models differ in depth). analysis: one analysis only."""
    lines = _profile_rows(run, analysis)
    if not lines:
        return None
    relative = _relative(run, x)
    panels = list(dict.fromkeys(line[0] for line in lines))
    panels.sort(key=lambda p: (not p.startswith("selectivity"), p != "rsa spaces", p))
    colours = {m: plt.cm.tab10(i % 10) for i, m in enumerate(dict.fromkeys(line[2] for line in lines))}
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3.6 * len(panels)), squeeze=False, sharex=True)
    legend_rows = 0
    for ax, panel in zip(axes[:, 0], panels):
        mine = [line for line in lines if line[0] == panel]
        values = np.concatenate([rows[value].to_numpy(dtype=float) for _, _, _, rows, value in mine])
        ill_all = np.concatenate([_ill_conditioned(rows) for _, _, _, rows, _ in mine])
        far = outliers(np.where(ill_all, np.nan, values))
        drawn, off_scale, extra, ceilings = [], [], [], set()
        sites = list(dict.fromkeys(label.split(" ")[1] for _, label, _, _, _ in mine))
        at = 0
        for _, label, model, rows, value in mine:
            xs, ys = _x(run, rows, model, relative), rows[value].to_numpy(dtype=float)
            off = (ill_all[at:at + len(rows)] & (~ill_all).any()) | far[at:at + len(rows)]
            at += len(rows)
            if off.any():  # drawn apart (below), the line broken there
                off_scale.append((colours[model], list(zip(xs[off], ys[off]))))
                ys = np.where(off, np.nan, ys)
            index = sites.index(label.split(" ")[1])
            style, marker = STYLES[index % len(STYLES)], MARKERS[index % len(MARKERS)]
            (line,) = ax.plot(xs, ys, style, marker=marker, markerfacecolor="white", color=colours[model], label=label)
            drawn.extend(ys)
            if {"ci_low", "ci_high"} <= set(rows):
                low, high = rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float)
                low, high = np.where(off, np.nan, low), np.where(off, np.nan, high)
                ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
                ax.errorbar(xs, ys, yerr=[ys - low, high - ys], fmt="none", ecolor=line.get_color(), capsize=3, linewidth=0.8)
                drawn.extend(low)
                drawn.extend(high)
            p = tested_p(rows)
            ax.plot(xs[p < SIGNIFICANT], ys[p < SIGNIFICANT], marker, color=line.get_color())  # filled: significant
            if "noise_ceiling_low" in rows and rows["noise_ceiling_low"].notna().any():
                suffix = label[len(f"{model} {rows['site'].iloc[0]}"):]  # " (analysis)" on the overview
                space = f"{model.split('~')[0]} {str(rows['site'].iloc[0]).split('~')[0]}{suffix}"
                # The ceiling bounds r over single-context RDMs, not r of the averaged RDMs: the
                # number on its scale is drawn beside r, so a line above the band is no paradox.
                if "r_subjects" in rows:
                    ax.plot(xs, rows["r_subjects"].to_numpy(float), "x", color=line.get_color(), label="_r per context")
                    drawn.extend(rows["r_subjects"])
                if space not in ceilings:
                    ceilings.add(space)
                    low, high = rows["noise_ceiling_low"].to_numpy(float), rows["noise_ceiling_high"].to_numpy(float)
                    bx = xs
                    if len(xs) == 1:  # one layer: a box around it, not a band of no width
                        width = 0.03 if relative else 0.3
                        bx, low, high = np.r_[xs - width, xs + width], np.r_[low, low], np.r_[high, high]
                    ax.fill_between(bx, low, high, color=colours[model], alpha=0.15, linewidth=0,
                                    hatch="//" if len(ceilings) > 1 else None, label=f"noise ceiling of {space}")
                    drawn.extend(low)
                    drawn.extend(high)
        ylabel, reference = _panel_label(panel)
        if reference is not None:
            ax.axhline(reference, color="gray", linewidth=0.8, linestyle=":")
            drawn.append(reference)
        ax.set_ylabel(ylabel)
        _set_limits(ax, drawn)
        for colour, points in off_scale:
            _mark_off_scale(ax, points, colour)
        extra = list(SIGNIFICANCE_KEY)
        if ceilings:
            extra.append((Line2D([], [], marker="x", color="gray", linestyle=""),
                          "r per context (r_subjects): the number the noise ceiling bounds"))
        if off_scale:
            extra.append(OFF_SCALE_KEY)
        legend_rows = max(legend_rows, _legend(ax, extra))
    axes[-1, 0].set_xlabel("relative depth (layer / (layers - 1))" if relative else "layer")
    # A panel as tall as its legend (8 pt rows, about 0.16 inch each): a long legend is not cut.
    fig.set_size_inches(10, len(panels) * max(3.6, 0.16 * legend_rows + 0.6))
    fig.tight_layout()
    return fig


# --- CKA, effective dimensionality, mutual information ----------------------------------------------
def _per_layer(run, analysis, value):
    table = run.table(analysis)
    if value not in table or "layer" not in table:
        return None
    table = table[table["layer"].notna() & table[value].notna()]
    if "head" in table:
        table = table[table["head"].isna()]
    return None if table.empty else table


def plot_cka_profile(run, analysis="cka", x="auto"):
    """CKA per layer, a line per model and pair of sites: the value the interval is of (ci_of,
    the unbiased CKA for the jackknife) with its interval as a band, linear CKA (biased) dotted;
    filled where p < 0.05. An interval that does not contain its estimate is marked (red ring)."""
    table = _per_layer(run, analysis, "cka")
    if table is None:
        return None
    relative = _relative(run, x)
    fig, ax = plt.subplots(figsize=(10, 3.8))
    drawn, flagged = [], False
    for index, ((model, site), rows) in enumerate(table.groupby(["model", "site"], sort=False)):
        rows = rows.sort_values("layer")
        xs = _x(run, rows, model, relative)
        of = rows["ci_of"].iloc[0] if "ci_of" in rows and isinstance(rows["ci_of"].iloc[0], str) else "cka"
        ys = rows[of].to_numpy(float)
        (line,) = ax.plot(xs, ys, "-", marker=MARKERS[index % 4], markerfacecolor="white", label=f"{model} {site}: {of}")
        if of != "cka":
            ax.plot(xs, rows["cka"].to_numpy(float), ":", color=line.get_color(), label=f"{model} {site}: cka (linear, biased)")
            drawn.extend(rows["cka"])
        drawn.extend(ys)
        if {"ci_low", "ci_high"} <= set(rows):
            low, high = rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float)
            ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.18, linewidth=0)
            drawn.extend(low)
            drawn.extend(high)
            outside = (ys < low) | (ys > high)
            if outside.any():
                flagged = True
                ax.plot(xs[outside], ys[outside], "o", markersize=11, markerfacecolor="none", markeredgecolor="red")
        p = tested_p(rows)
        ax.plot(xs[p < SIGNIFICANT], ys[p < SIGNIFICANT], MARKERS[index % 4], color=line.get_color())
    extra = list(SIGNIFICANCE_KEY)
    if flagged:
        extra.append((Line2D([], [], marker="o", markerfacecolor="none", markeredgecolor="red", linestyle=""),
                      "interval excludes its estimate (see the table's note)"))
    _set_limits(ax, drawn)
    ax.set_ylabel("CKA")
    ax.set_xlabel("relative depth (layer / (layers - 1))" if relative else "layer")
    _legend(ax, extra)
    fig.tight_layout()
    return fig


def plot_dimensionality(run, analysis="effective_dimensionality"):
    """Effective dimensionality per layer, a panel per model and site: the components that reach
    each share of the variance (n80...n99), the shuffled control's mean (dashed; each dimension
    permuted across stimuli apart), and the participation ratio (black, dotted)."""
    table = _per_layer(run, analysis, "participation_ratio")
    if table is None:
        return None
    groups = list(table.groupby(["model", "site"], sort=False))
    fig, axes = plt.subplots(1, len(groups), figsize=(max(5.5, 4.2 * len(groups)), 3.8), squeeze=False)
    for ax, ((model, site), rows) in zip(axes[0], groups):
        rows = rows.sort_values("layer")
        xs = rows["layer"].to_numpy(float)
        for i, column in enumerate(c for c in ("n80", "n90", "n95", "n99") if c in rows):
            (line,) = ax.plot(xs, rows[column], "-o", markersize=4, label=f"{column[1:]}% of the variance")
            if f"shuffled_{column}_mean" in rows:
                ax.plot(xs, rows[f"shuffled_{column}_mean"], "--", color=line.get_color(), linewidth=0.9,
                        label="_" if i else "shuffled control (dashed)")
        ax.plot(xs, rows["participation_ratio"], ":", color="black", marker="s", markersize=4, label="participation ratio")
        ax.set_title(f"{model} {site}", fontsize=9)
        ax.set_xlabel("layer")
        ax.set_xticks(xs, [str(int(v)) for v in xs], fontsize=7)
        ax.set_ylabel("dimensions")
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    fig.tight_layout()
    return fig


def plot_mi_profile(run, analysis="mutual_information", x="auto"):
    """Mutual information per layer (bits), a line per model, pair and estimator; filled where the
    tested estimator's p < 0.05."""
    table = run.table(analysis)
    estimators = [c for c in ("mi_binned", "mi_equal_frequency", "mi_ksg") if c in table]
    if not estimators or "layer" not in table:
        return None
    table = table[table["layer"].notna() & table[estimators].notna().any(axis=1)]
    if "head" in table:
        table = table[table["head"].isna()]
    if table.empty:
        return None
    relative = _relative(run, x)
    fig, ax = plt.subplots(figsize=(10, 3.8))
    for (model, site), rows in table.groupby(["model", "site"], sort=False):
        rows = rows.sort_values("layer")
        xs = _x(run, rows, model, relative)
        colour = None
        for i, column in enumerate(estimators):
            ys = rows[column].to_numpy(float)
            (line,) = ax.plot(xs, ys, STYLES[i % 4], marker=MARKERS[i % 4], markerfacecolor="white", color=colour,
                              label=f"{model} {site}: {column[3:]}")
            colour = line.get_color()
            tested = rows.get("estimator", pd.Series(dtype=object)).eq(column[3:]).to_numpy()
            p = tested_p(rows)
            sig = tested & (p < SIGNIFICANT)
            ax.plot(xs[sig], ys[sig], MARKERS[i % 4], color=colour)
    ax.set_ylabel("mutual information (bits)")
    ax.set_xlabel("relative depth (layer / (layers - 1))" if relative else "layer")
    _legend(ax, list(SIGNIFICANCE_KEY))
    fig.tight_layout()
    return fig


# --- encoding and decoding --------------------------------------------------------------------------
def plot_prediction_profile(run, analysis):
    """An encoding or decoding analysis per layer, a line per model and site: the held-out score
    (encoding: the median r over targets; decoding: accuracy), filled where p < 0.05; grey: the
    permutation null's mean +- 1.96 SD; encoding's noise ceiling (median and interquartile range
    of the targets' ceilings) and decoding's chance (the largest class's share) as dashed lines."""
    metric = run.analyses().get(analysis)
    table = run.table(analysis)
    value = {"encoding": "score", "decoding": "accuracy"}.get(metric)
    if value not in table or "layer" not in table or table["layer"].isna().all():
        return None
    fig, ax = plt.subplots(figsize=(7, 4))
    for (model, site), rows in table.sort_values("layer").groupby(["model", "site"], sort=False):
        x, y = rows["layer"].to_numpy(float), rows[value].to_numpy(float)
        line, = ax.plot(x, y, "-", label=f"{model} {site}")
        p = tested_p(rows)
        ax.scatter(x, y, s=30, edgecolors=line.get_color(), zorder=3,
                   facecolors=[line.get_color() if q < SIGNIFICANT else "white" for q in p])
        if "null_mean" in rows:
            mean, sd = rows["null_mean"].to_numpy(float), rows["null_sd"].to_numpy(float)
            ax.fill_between(x, mean - 1.96 * sd, mean + 1.96 * sd, color="grey", alpha=0.15, linewidth=0)
    if metric == "encoding":
        ceilings = [g["ceiling"][()] for _, g in _walk(run.file["results"][analysis])
                    if isinstance(g, h5py.Group) and "ceiling" in g]
        if ceilings:
            low, mid, high = np.nanpercentile(ceilings[0], [25, 50, 75])
            ax.axhspan(low, high, color="tab:green", alpha=0.12, linewidth=0)
            ax.axhline(mid, color="tab:green", linestyle="--", linewidth=1, label="noise ceiling (median, IQR)")
        ax.set_ylabel("held-out r, median over targets")
    else:
        ax.axhline(float(table["chance"].iloc[0]), color="black", linestyle="--", linewidth=1, label="chance (largest class)")
        ax.set_ylabel("held-out accuracy")
    ax.set_xlabel("layer")
    layers = sorted(table["layer"].dropna().unique())
    ax.set_xticks(layers, [str(int(l)) for l in layers])
    ax.set_title(f"{analysis} ({metric}); filled: p < {SIGNIFICANT}; grey: null mean \u00b1 1.96 SD", fontsize=9)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


__all__ = ["plot_profile", "plot_cka_profile", "plot_dimensionality", "plot_mi_profile", "plot_prediction_profile",
           "outliers", "format_p"]
