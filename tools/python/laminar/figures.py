"""The figures of a run: each plot_* function takes an open RunFile and returns a matplotlib
Figure (save it with .savefig(path); PNG and SVG both work), or None when the run has nothing
to draw for it."""
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
from matplotlib.lines import Line2D

SIGNIFICANT = 0.05  # p-values below are drawn as filled markers, above as hollow ones


def _category_blocks(stimuli):
    """(category, first row, one past the last row) of each run of equal categories."""
    blocks, start = [], 0
    cats = list(stimuli["category"])
    for i in range(1, len(cats) + 1):
        if i == len(cats) or cats[i] != cats[start]:
            blocks.append((cats[start], start, i))
            start = i
    return blocks


def _upper(matrix):
    return matrix[np.triu_indices(matrix.shape[0], 1)]


def _pair_masks(stimuli):
    """Upper-triangle masks of the pairs of different words of one category, and of the pairs of
    different categories; the pairs of one word's contexts are neither (as the metrics count them)."""
    cats, words = np.asarray(stimuli["category"]), np.asarray(stimuli["word"])
    same_category = _upper(cats[:, None] == cats[None, :])
    return same_category & ~_upper(words[:, None] == words[None, :]), ~same_category


def _short(hook):
    """"blocks.5.attn.hook_q" -> "L5 q" for titles and legends."""
    parts = hook.split(".")
    site = hook.rsplit("hook_", 1)[-1]
    return f"L{parts[1]} {site}" if len(parts) > 1 and parts[0] == "blocks" else hook


def _default_hooks(run, analysis, model):
    """The seed's panels: every site at the deepest layer the analysis has for the model."""
    table = run.table(analysis)
    table = table[table["model"] == model]
    if table.empty:
        return []
    if "layer" in table and table["layer"].notna().any():
        table = table[table["layer"] == table["layer"].max()]
    return list(table["hook"])[:4]


def plot_similarity(run, analysis="cosine", model=None, hooks=None, shared_scale=True):
    """Similarity-matrix heatmaps, one panel per hook side by side (the seed's Q and K panels),
    words on both axes, category blocks outlined; one colour scale for all panels, or each its
    own (shared_scale=False, as the seed drew them)."""
    model = model or run.table(analysis)["model"].iloc[0]
    hooks = hooks or _default_hooks(run, analysis, model)
    if not hooks:
        return None
    stimuli = run.stimuli()
    matrices = [run.matrix(analysis, model, h) for h in hooks]
    finite = np.concatenate([_upper(m.to_numpy())[np.isfinite(_upper(m.to_numpy()))] for m in matrices])
    if finite.size == 0:  # NaN everywhere (zero or non-finite activations): an empty scale
        finite = np.array([0.0, 1.0])
    n = len(stimuli)
    size = max(4.0, min(9.0, 0.16 * n + 2))
    fig, axes = plt.subplots(1, len(hooks), figsize=(size * len(hooks) + 1, size), squeeze=False)
    for ax, hook, m in zip(axes[0], hooks, matrices):
        values = m.to_numpy()
        off = _upper(values)
        off = off[np.isfinite(off)]
        lo, hi = (finite.min(), finite.max()) if shared_scale or off.size == 0 else (off.min(), off.max())
        image = ax.imshow(values, vmin=lo, vmax=hi, cmap="viridis", interpolation="nearest")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        if n <= 80:
            ax.set_xticks(range(n), m.columns, rotation=90, fontsize=7)
            ax.set_yticks(range(n), m.index, fontsize=7)
        for category, first, last in _category_blocks(stimuli):
            ax.add_patch(plt.Rectangle((first - 0.5, first - 0.5), last - first, last - first,
                                       fill=False, edgecolor="white", linewidth=1.5))
        ax.set_title(f"{model}  {_short(hook)}  ({run.file['results'][analysis].attrs.get('metric', analysis)})")
    fig.tight_layout()
    return fig


def plot_histograms(run, analysis="cosine", model=None, hooks=None, bins=20):
    """Within- vs between-category similarities, one panel per hook (the seed's histogram figure)."""
    model = model or run.table(analysis)["model"].iloc[0]
    hooks = hooks or _default_hooks(run, analysis, model)
    if not hooks:
        return None
    within, between = _pair_masks(run.stimuli())
    fig, axes = plt.subplots(1, len(hooks), figsize=(5 * len(hooks), 3.6), squeeze=False)
    for ax, hook in zip(axes[0], hooks):
        values = _upper(run.matrix(analysis, model, hook).to_numpy())
        keep = np.isfinite(values)
        edges = np.histogram_bin_edges(values[keep], bins=bins)
        ax.hist(values[keep & within], bins=edges, alpha=0.6, density=True, label=f"within ({(keep & within).sum()})")
        ax.hist(values[keep & between], bins=edges, alpha=0.6, density=True, label=f"between ({(keep & between).sum()})")
        ax.set_xlabel("similarity")
        ax.set_ylabel("density")
        ax.set_title(f"{model}  {_short(hook)}")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_rsa_scatter(run, analysis="rsa", row=0):
    """One space's dissimilarities (its RDM over the words) against another's, within-category
    pairs coloured by category, with the RSA r (and p) of that row of the analysis's table."""
    table = run.table(analysis)
    if table.empty or "hook_b" not in table or not isinstance(table["hook_b"].iloc[row], str):
        return None  # a hypothesis or a noise ceiling: not two recorded spaces
    r = table.iloc[row]
    measure = r.get("rdm", "cosine")
    a = _upper(run.rdm(r["model_a"], r["hook_a"], measure).to_numpy())
    b = _upper(run.rdm(r["model_b"], r["hook_b"], measure).to_numpy())
    words = run.stimuli().drop_duplicates("word")
    cats = np.asarray(words["category"])
    iu = np.triu_indices(len(cats), 1)
    fig, ax = plt.subplots(figsize=(5.2, 5))
    between = cats[iu[0]] != cats[iu[1]]
    ax.scatter(a[between], b[between], s=8, c="lightgray", label="between")
    for category in dict.fromkeys(cats):
        mask = (cats[iu[0]] == category) & (cats[iu[1]] == category)
        ax.scatter(a[mask], b[mask], s=10, label=category)
    p = r.get("p_value", np.nan)
    ax.set_title(f"{r['model']}: r = {r['r']:.3f} ({r.get('method', 'corr')})" +
                 (f", p = {p:.2g}" if np.isfinite(p) else ""), fontsize=10)
    ax.set_xlabel(f"{measure} dissimilarity, {r['model_a']} {_short(r['hook_a'])}")
    ax.set_ylabel(f"{measure} dissimilarity, {r['model_b']} {_short(r['hook_b'])}")
    ax.legend(fontsize=8, markerscale=1.5)
    fig.tight_layout()
    return fig


def _profile_rows(run):
    """(panel, label, table) per line of the profile: selectivity index and RSA r per layer."""
    lines = []
    for name, metric in run.analyses().items():
        if metric not in ("selectivity", "rsa"):
            continue
        table = run.table(name)
        if table.empty or "layer" not in table:
            continue
        table = table[table["layer"].notna() & (table["layer"] >= 0)]
        if "head" in table:
            table = table[table["head"].isna()]
        value = "index" if metric == "selectivity" else "r"
        if value not in table:
            continue
        # within - between has another scale than the ratios (0, not 1, is no selectivity): its own panel
        panel = "selectivity_difference" if "difference" in set(table.get("variant", [])) else metric
        for (model, site), rows in table[table[value].notna()].groupby(["model", "site"], sort=False):
            lines.append((panel, f"{model} {site}" + ("" if name == metric else f" ({name})"), model, rows, value))
    return lines


PANELS = {"selectivity": ("selectivity index (within / between)", 1.0),
          "selectivity_difference": ("selectivity: within − between", 0.0),
          "rsa": ("RSA r", None)}  # panel: y label, reference line


def _ill_conditioned(rows):
    """Which rows' selectivity ratio the metric marked ill-conditioned (a between-category mean
    near 0 or below: the ratio explodes or changes sign)."""
    flags = rows["ill_conditioned"] if "ill_conditioned" in rows else pd.Series(0, index=rows.index)
    return flags.fillna(0).to_numpy(dtype=float) > 0


def _mark_off_scale(ax, points, colour):
    """Ill-conditioned values, left out of the axis's limits (one such value would squash every
    other line): red-edged, with their value; beyond the limits, an arrow at that edge."""
    low, high = ax.get_ylim()
    pad = 0.04 * (high - low)
    for x, y in points:
        at, marker = (y, "o") if low <= y <= high else ((high - pad, "^") if y > high else (low + pad, "v"))
        ax.plot([x], [at], marker, color=colour, markersize=8, markeredgecolor="red", markeredgewidth=1.5)
        ax.annotate(f"{y:.3g}", (x, at), textcoords="offset points", xytext=(6, -3), fontsize=7, color="red")
    ax.set_ylim(low, high)


def _noise_ceilings(run):
    """(label, model, rows) per model and site whose RSA noise ceiling was computed."""
    out = []
    for name, metric in run.analyses().items():
        table = run.table(name) if metric == "rsa" else pd.DataFrame()
        if "noise_ceiling_low" not in table:
            continue
        # A space's own ceiling (its <hook> group), not the copies beside each pair's r_subjects.
        table = table[table["noise_ceiling_low"].notna() & table["layer"].notna() & ~table["site"].astype(str).str.contains("~")]
        for (model, site), rows in table.groupby(["model", "site"], sort=False):
            out.append((f"noise ceiling {model} {site}" + ("" if name == metric else f" ({name})") + ", bounds r per context",
                        model, rows))
    return out


def plot_profile(run, x="auto"):
    """The laminar profile: selectivity and RSA per layer, one line per model and site, the RSA's
    bootstrap CI as a band, filled markers where p < 0.05. x: "layer", "depth" (layer / (layers
    - 1)) or "auto" (depth when the models differ in depth)."""
    lines = _profile_rows(run)
    if not lines:
        return None
    models = run.models().set_index("model")
    depths = {int(d) for d in models["n_layer"].dropna()}
    relative = x == "depth" or (x == "auto" and len(depths) > 1)
    panels = [p for p in PANELS if any(line[0] == p for line in lines)]
    # A colour per model, a line style and a marker per site: twelve lines stay told apart, and
    # so do sites recorded at a single layer (points without a line).
    colours = {m: plt.cm.tab10(i % 10) for i, m in enumerate(dict.fromkeys(line[2] for line in lines))}
    styles, markers = ["-", "--", ":", "-."], ["o", "s", "^", "D"]
    fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3.6 * len(panels)), squeeze=False, sharex=True)
    legend_rows = 0
    for ax, panel in zip(axes[:, 0], panels):
        off_scale = []  # (colour, [(x, y), ...]) of ill-conditioned values
        per_context = False  # whether r_subjects was drawn (one legend entry says what the crosses are)
        trusted = np.concatenate([~_ill_conditioned(line[3]) for line in lines if line[0] == panel])
        sites = list(dict.fromkeys(line[1].split(" ")[1] for line in lines if line[0] == panel))
        for metric, label, model, rows, value in (line for line in lines if line[0] == panel):
            rows = rows.sort_values("layer")
            layers = rows["layer"].to_numpy(dtype=float)
            n_layer = models["n_layer"].get(model.split("~")[0], np.nan)  # a pair of models: the first one's depth
            xs = layers / max(n_layer - 1, 1) if relative and np.isfinite(n_layer) else layers
            ys = rows[value].to_numpy(dtype=float)
            ill = _ill_conditioned(rows) & trusted.any()  # (all of them ill-conditioned: drawn as they are)
            if ill.any():  # drawn apart (below), the line broken there
                off_scale.append((colours[model], list(zip(xs[ill], ys[ill]))))
                ys = np.where(ill, np.nan, ys)
            site_index = sites.index(label.split(" ")[1])
            style, marker = styles[site_index % len(styles)], markers[site_index % len(markers)]
            (line,) = ax.plot(xs, ys, style, marker=marker, markerfacecolor="white", color=colours[model], label=label)
            if {"ci_low", "ci_high"} <= set(rows):
                low, high = rows["ci_low"].to_numpy(float), rows["ci_high"].to_numpy(float)
                ax.fill_between(xs, low, high, color=line.get_color(), alpha=0.2, linewidth=0)
                ax.errorbar(xs, ys, yerr=[ys - low, high - ys], fmt="none", ecolor=line.get_color(), capsize=3,
                            linewidth=0.8)  # visible also where a profile has a single layer
            if "r_subjects" in rows and rows["r_subjects"].notna().any():
                # The ceiling bounds r over single-context RDMs, not r of the averaged RDMs: the
                # number on its scale is drawn beside r, so a line above the band is no paradox.
                ax.plot(xs, rows["r_subjects"].to_numpy(float), "x", color=line.get_color(), label="_r per context")
                per_context = True
            p = rows["p_value"].to_numpy(float) if "p_value" in rows else np.full(len(rows), np.nan)
            sig = p < SIGNIFICANT
            ax.plot(xs[sig], ys[sig], marker, color=line.get_color())  # filled: significant
        if panel == "rsa":  # where the data's own reliability caps r: lower to upper bound
            for index, (label, model, rows) in enumerate(_noise_ceilings(run)):
                rows = rows.sort_values("layer")
                n_layer = models["n_layer"].get(model, np.nan)
                layers = rows["layer"].to_numpy(dtype=float)
                xs = layers / max(n_layer - 1, 1) if relative and np.isfinite(n_layer) else layers
                low, high = rows["noise_ceiling_low"].to_numpy(float), rows["noise_ceiling_high"].to_numpy(float)
                if len(xs) == 1:  # one layer: a box around it, not a band of no width
                    width = 0.03 if relative else 0.3
                    xs, low, high = np.r_[xs - width, xs + width], np.r_[low, low], np.r_[high, high]
                colour = colours.get(model, "gray")
                ax.fill_between(xs, low, high, color=colour, alpha=0.25, linewidth=0, label=label)
                for bound in (low, high):  # edges in the site's line style: several ceilings stay told apart
                    ax.plot(xs, bound, styles[index % len(styles)], color=colour, linewidth=0.7, label="_")
        ylabel, reference = PANELS[panel]
        if reference is not None:
            ax.axhline(reference, color="gray", linewidth=0.8, linestyle=":")
        ax.set_ylabel(ylabel)
        for colour, points in off_scale:
            _mark_off_scale(ax, points, colour)
        handles, labels = ax.get_legend_handles_labels()
        handles += [Line2D([], [], marker="o", color="gray", linestyle=""),
                    Line2D([], [], marker="o", color="gray", markerfacecolor="white", linestyle="")]
        labels += [f"p < {SIGNIFICANT}", f"p \u2265 {SIGNIFICANT} (or not computed)"]
        if per_context:
            handles.append(Line2D([], [], marker="x", color="gray", linestyle=""))
            labels.append("r per context (r_subjects): the number the noise ceiling bounds")
        if off_scale:
            handles.append(Line2D([], [], marker="^", color="gray", markeredgecolor="red", linestyle=""))
            labels.append("ill-conditioned ratio, off scale (value written; see the warnings)")
        ax.legend(handles, labels, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1), borderaxespad=0)
        legend_rows = max(legend_rows, len(labels))
    axes[-1, 0].set_xlabel("relative depth (layer / (layers - 1))" if relative else "layer")
    # A panel as tall as its legend (8 pt rows, about 0.16 inch each): a long legend is not cut.
    fig.set_size_inches(10, len(panels) * max(3.6, 0.16 * legend_rows + 0.6))
    fig.tight_layout()
    return fig


def _grids(run, table, analysis):
    """(title, row label, column label, DataFrame of r) of each grid the table holds: layer x layer
    per pair of models and sites (where layers were compared with each other), and model x model
    per pair of sites and relative depth (where models were compared with each other)."""
    out = []
    for path, dataset in run.grids(analysis):  # computed with grid: true
        g = dataset.parent
        frame = run.matrix(analysis, *path.split("/")[:2], "grid")
        out.append((f"{g.attrs['model_a']} {g.attrs['site_a']} ~ {g.attrs['model_b']} {g.attrs['site_b']}",
                    f"{g.attrs['model_a']} {g.attrs['site_a']}: layer", f"{g.attrs['model_b']} {g.attrs['site_b']}: layer", frame))
    if out or not {"layer_a", "layer_b", "r"} <= set(table):
        return out
    table = table[table["layer_a"].notna() & table["layer_b"].notna()]
    for (ma, sa, mb, sb), rows in table.groupby(["model_a", "site_a", "model_b", "site_b"], sort=False):
        # A grid when layers were compared with several others (not one pair per layer).
        if rows["layer_a"].nunique() > 1 and rows.groupby("layer_a")["layer_b"].nunique().max() > 1:
            grid = rows.pivot_table(index="layer_a", columns="layer_b", values="r")
            out.append((f"{ma} {sa} ~ {mb} {sb}", f"{ma} {sa}: layer", f"{mb} {sb}: layer", grid))
    across = table[table["model_a"] != table["model_b"]]  # (hypotheses have no layer_b: left out above)
    if across["model_a"].nunique() + across["model_b"].nunique() > 2:
        depth = run.models().set_index("model")["n_layer"]
        across = across.assign(depth=[round(row.layer_a / max(depth.get(row.model_a, 2) - 1, 1), 2)
                                      for row in across.itertuples()])
        for (sa, sb, d), rows in across.groupby(["site_a", "site_b", "depth"], sort=False):
            models = list(dict.fromkeys(list(rows["model_a"]) + list(rows["model_b"])))
            grid = np.full((len(models), len(models)), np.nan)  # the diagonal (r = 1) left out of the scale
            for row in rows.itertuples():
                i, j = models.index(row.model_a), models.index(row.model_b)
                grid[i, j] = grid[j, i] = row.r
            out.append((f"{sa} ~ {sb} at relative depth {d:.2f}", "model", "model",
                        pd.DataFrame(grid, index=models, columns=models)))
    return out


def plot_rsa_grid(run, analysis="rsa"):
    """RSA grids where computed: layer x layer per pair of models and sites (pairs that name a hook
    compare it with every layer), and model x model (pairs across models, by relative depth);
    None where the analysis compared only layer with same layer within each model."""
    grids = _grids(run, run.table(analysis), analysis)
    if not grids:
        return None
    fig, axes = plt.subplots(1, len(grids), figsize=(5 * len(grids), 4.4), squeeze=False)
    for ax, (title, ylabel, xlabel, grid) in zip(axes[0], grids):
        image = ax.imshow(grid.to_numpy(dtype=float), origin="lower", cmap="magma", aspect="auto")
        ax.set_xticks(range(len(grid.columns)), [str(c) for c in grid.columns], fontsize=7,
                      rotation=90 if xlabel == "model" else 0)
        ax.set_yticks(range(len(grid.index)), [str(i) for i in grid.index], fontsize=7)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=9)
        fig.colorbar(image, ax=ax, label="CKA" if run.analyses().get(analysis) == "cka" else "RSA r")
        if grid.size <= 144:  # small enough to read each r
            for (i, j), r in np.ndenumerate(grid.to_numpy(dtype=float)):
                if np.isfinite(r):
                    ax.text(j, i, f"{r:.2f}", ha="center", va="center", fontsize=7, color="gray")
    fig.tight_layout()
    return fig


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
        p = rows["p_value"].to_numpy(float) if "p_value" in rows else np.full(len(rows), np.nan)
        ax.scatter(x, y, s=30, edgecolors=line.get_color(), zorder=3,
                   facecolors=[line.get_color() if q < SIGNIFICANT else "white" for q in p])
        if "null_mean" in rows:
            mean, sd = rows["null_mean"].to_numpy(float), rows["null_sd"].to_numpy(float)
            ax.fill_between(x, mean - 1.96 * sd, mean + 1.96 * sd, color="grey", alpha=0.15, linewidth=0)
    if metric == "encoding":
        group = run.file["results"][analysis]
        ceilings = [g["ceiling"][()] for _, g in _walk_groups(group) if "ceiling" in g]
        if ceilings:
            c = ceilings[0]
            low, mid, high = np.nanpercentile(c, [25, 50, 75])
            ax.axhspan(low, high, color="tab:green", alpha=0.12, linewidth=0)
            ax.axhline(mid, color="tab:green", linestyle="--", linewidth=1, label="noise ceiling (median, IQR)")
        ax.set_ylabel("held-out r, median over targets")
    else:
        ax.axhline(float(table["chance"].iloc[0]), color="black", linestyle="--", linewidth=1, label="chance (largest class)")
        ax.set_ylabel("held-out accuracy")
    ax.set_xlabel("layer")
    ax.set_title(f"{analysis} ({metric}); filled: p < {SIGNIFICANT}; grey: null mean +- 1.96 SD")
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _walk_groups(group):
    """Every subgroup under `group` (depth first), with its path."""
    out = []
    group.visititems(lambda name, obj: out.append((name, obj)) if hasattr(obj, "keys") else None)
    return out


# The value a per-head map shows for each metric.
HEAD_VALUES = {"selectivity": "index", "rsa": "r", "cka": "cka", "mutual_information": "mi_binned"}


def head_table(run, analysis):
    """With `heads: separate`: the analysis's value as a layer x head table per model and site
    ({(model, site): DataFrame}); empty where the analysis has no per-head results."""
    metric = run.analyses().get(analysis)
    table = run.table(analysis)
    value = HEAD_VALUES.get(metric)
    if value not in table or "head" not in table:
        return {}
    table = table[table["head"].notna() & table[value].notna()]
    return {(model, site): rows.pivot_table(index="layer", columns="head", values=value)
            for (model, site), rows in table.groupby(["model", "site"], sort=False)}


def plot_head_map(run, analysis):
    """Per-head maps: each model's and site's value per layer (rows) and head (columns), a
    heatmap with one colour scale; None without per-head results."""
    maps = head_table(run, analysis)
    if not maps:
        return None
    values = np.concatenate([m.to_numpy(dtype=float).ravel() for m in maps.values()])
    low, high = np.nanmin(values), np.nanmax(values)
    fig, axes = plt.subplots(1, len(maps), figsize=(4.5 * len(maps), 4), squeeze=False)
    for ax, ((model, site), grid) in zip(axes[0], maps.items()):
        image = ax.imshow(grid.to_numpy(dtype=float), origin="lower", cmap="viridis", aspect="auto", vmin=low, vmax=high)
        ax.set_xticks(range(len(grid.columns)), [str(int(h)) for h in grid.columns], fontsize=7)
        ax.set_yticks(range(len(grid.index)), [str(int(l)) for l in grid.index], fontsize=7)
        ax.set_xlabel("head")
        ax.set_ylabel("layer")
        ax.set_title(f"{model} {site}", fontsize=9)
    fig.colorbar(image, ax=list(axes[0]), label=HEAD_VALUES[run.analyses()[analysis]])
    return fig



LENS_ROWS = 40  # stimuli drawn in the logit lens's token map (the table has them all)


def plot_logit_lens(run, analysis="logit_lens", model=None):
    """The logit lens of one model (the first by default): left, each stimulus's most probable
    token at each layer (colour: its probability; the first LENS_ROWS stimuli); right, per layer
    the mean entropy and mean KL divergence to the last layer (bits), and the median rank of the
    target on a log scale."""
    lens = run.logit_lens(analysis, model)
    model = model or lens["model"].iloc[0]
    lens = lens[lens["model"] == model]
    top = lens[lens["rank"] == 1]
    layers = sorted(top["layer"].unique())
    stimuli = sorted(top["stimulus"].unique())[:LENS_ROWS]
    probs = top.pivot(index="stimulus", columns="layer", values="prob").loc[stimuli, layers]
    tokens = top.pivot(index="stimulus", columns="layer", values="token").loc[stimuli, layers]
    words = top.drop_duplicates("stimulus").set_index("stimulus")["word"]

    fig, (left, right) = plt.subplots(1, 2, figsize=(4 + 0.7 * len(layers) + 5, 1.5 + 0.22 * len(stimuli)),
                                      gridspec_kw={"width_ratios": [0.7 * len(layers) + 2, 5]})
    image = left.imshow(probs.to_numpy(dtype=float), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for (i, j), token in np.ndenumerate(tokens.to_numpy()):
        left.text(j, i, repr(token)[1:-1][:10], ha="center", va="center", fontsize=6,
                  color="white" if probs.iat[i, j] > 0.6 else "black")
    left.set_xticks(range(len(layers)), [str(l) for l in layers], fontsize=7)
    left.set_yticks(range(len(stimuli)), [words[s] for s in stimuli], fontsize=7)
    left.set_xlabel("layer")
    left.set_title(f"{model}: most probable token per layer", fontsize=9)
    fig.colorbar(image, ax=left, label="probability", fraction=0.04)

    per_layer = top.groupby("layer")
    right.plot(layers, per_layer["entropy"].mean().loc[layers], "o-", label="entropy (bits)")
    right.plot(layers, per_layer["kl_to_final"].mean().loc[layers], "s-", label="KL to last layer (bits)")
    right.set_xticks(layers, [str(l) for l in layers], fontsize=7)
    right.set_xlabel("layer")
    right.set_ylabel("bits (mean over stimuli)")
    rank = right.twinx()
    rank.plot(layers, per_layer["target_rank"].median().loc[layers], "^--", color="C3", label="target rank (median)")
    rank.set_yscale("log")
    rank.set_ylabel("target rank (median, log)")
    handles = right.get_legend_handles_labels()[0] + rank.get_legend_handles_labels()[0]
    right.legend(handles, [h.get_label() for h in handles], fontsize=7)
    right.set_title("how close each layer is to the model's prediction", fontsize=9)
    fig.tight_layout()
    return fig
