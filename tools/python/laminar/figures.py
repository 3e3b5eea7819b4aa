"""The figures of a run: each plot_* function takes an open RunFile and returns a matplotlib
Figure (save it with .savefig(path); PNG and SVG both work), or None when the run has nothing
to draw for it."""
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

from .findings import row_p

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
    tested = f", {row_p(r)}" if np.isfinite(r.get("p_value", np.nan)) else ""
    ax.set_title(f"{r['model']}: {_short(r['hook_a'])} ~ {_short(r['hook_b'])}\nr = {r['r']:.3f} "
                 f"({r.get('method', 'corr')}){tested}", fontsize=10)
    ax.set_xlabel(f"{measure} dissimilarity, {r['model_a']} {_short(r['hook_a'])}")
    ax.set_ylabel(f"{measure} dissimilarity, {r['model_b']} {_short(r['hook_b'])}")
    ax.legend(fontsize=8, markerscale=1.5)
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



LENS_ROWS = 40  # stimuli drawn in one page of the logit lens's token map (the report's table has them all)


def lens_row_labels(run):
    """A label per stimulus row that tells rows apart: the word, and with contexts kept its
    context ("moon \u00b7 c2")."""
    stimuli = run.stimuli()
    if "context" in stimuli and stimuli["context"].nunique() > 1:
        return [f"{w} \u00b7 c{int(c)}" for w, c in zip(stimuli["word"], stimuli["context"])]
    return list(stimuli["word"])


def plot_logit_lens(run, analysis="logit_lens", model=None, first=0, rows=LENS_ROWS):
    """The logit lens of one model (the first by default): left, the most probable token of
    stimuli first..first+rows at each layer (colour: its probability; each row labelled by word
    and context, the title says which rows of how many); right, per layer the mean entropy and
    mean KL divergence to the last layer (bits), and the median rank of the target on a log scale."""
    lens = run.logit_lens(analysis, model)
    model = model or lens["model"].iloc[0]
    lens = lens[lens["model"] == model]
    top = lens[lens["rank"] == 1]
    layers = sorted(top["layer"].unique())
    every = sorted(top["stimulus"].unique())
    stimuli = every[first:first + rows]
    if not stimuli:
        return None
    probs = top.pivot(index="stimulus", columns="layer", values="prob").loc[stimuli, layers]
    tokens = top.pivot(index="stimulus", columns="layer", values="token").loc[stimuli, layers]
    labels = lens_row_labels(run)

    fig, (left, right) = plt.subplots(1, 2, figsize=(4 + 0.7 * len(layers) + 5, 1.5 + 0.22 * len(stimuli)),
                                      gridspec_kw={"width_ratios": [0.7 * len(layers) + 2, 5]})
    image = left.imshow(probs.to_numpy(dtype=float), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    for (i, j), token in np.ndenumerate(tokens.to_numpy()):
        left.text(j, i, repr(token)[1:-1][:10], ha="center", va="center", fontsize=6,
                  color="white" if probs.iat[i, j] > 0.6 else "black")
    left.set_xticks(range(len(layers)), [str(l) for l in layers], fontsize=7)
    left.set_yticks(range(len(stimuli)), [labels[s] for s in stimuli], fontsize=7)
    left.set_xlabel("layer")
    shown = f"rows {first + 1}\u2013{first + len(stimuli)} of {len(every)}" if len(stimuli) < len(every) else f"all {len(every)} rows"
    left.set_title(f"{model}: most probable token per layer ({shown})", fontsize=9)
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
