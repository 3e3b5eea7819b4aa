"""The RDMs an rsa analysis compared, side by side, and an MDS of each.

    rdm_panels(run, "rsa", "gpt2")   [(title, RDM DataFrame over the words)]: the spaces of the
                                     deepest layer and the hypotheses they were compared with
    plot_rdms(run, "rsa", "gpt2")    their heatmaps, one colour scale per RDM, categories outlined
    plot_mds(run, "rsa", "gpt2")     classical MDS of each: the words in two dimensions
"""
import textwrap

import numpy as np
import pandas as pd
import matplotlib.pyplot as plt

from .figures import _category_blocks, _short

LABELLED_WORDS = 60  # words named beside their point in an MDS up to this many


def hypothesis_rdm(run, analysis, name):
    """The RDM of hypothesis `name` as the analysis stored it (rsa writes hypotheses/<name> up to
    1,000 words), else the category model computed here (0 within a category, 1 between); None
    for a file's hypothesis that was not stored."""
    words = run.stimuli().drop_duplicates("word")
    group = run.file["results"][analysis]
    if "hypotheses" in group and name in group["hypotheses"]:
        return pd.DataFrame(group["hypotheses"][name][()], index=list(words["word"]), columns=list(words["word"]))
    if name == "category":
        cats = words["category"].to_numpy()
        return pd.DataFrame((cats[:, None] != cats[None, :]).astype(float), index=list(words["word"]), columns=list(words["word"]))
    return None


def rdm_panels(run, analysis, model):
    """(title, RDM) of what `analysis` compared for `model` (a model, or "a~b" across models) at
    its deepest layer: each space's RDM (the analysis's `rdm` measure, computed here from the
    activations), then each hypothesis's."""
    table = run.table(analysis)
    if "hook_a" not in table:
        return []
    table = table[(table["model"] == model) & table["hook_a"].notna()]
    if "head" in table:  # whole layers: a head's RDM is drawn by asking for it
        table = table[table["head"].isna()]
    if table.empty:
        return []
    if "layer_a" in table and table["layer_a"].notna().any():
        table = table[table["layer_a"] == table["layer_a"].max()]
    measure = str(table["rdm"].iloc[0]) if "rdm" in table else "cosine"
    panels, seen = [], set()
    for row in table.itertuples():
        sides = [(row.model_a, row.hook_a)]
        if isinstance(getattr(row, "hook_b", None), str):
            sides.append((row.model_b, row.hook_b))
        for m, hook in sides:
            if (m, hook) not in seen:
                seen.add((m, hook))
                panels.append((f"{m} {_short(hook)} ({measure})", run.rdm(m, hook, measure)))
    for name in dict.fromkeys(table["hypothesis"].dropna() if "hypothesis" in table else []):
        rdm = hypothesis_rdm(run, analysis, name)
        if rdm is not None:
            panels.append((f"hypothesis {name}", rdm))
    return panels


def plot_rdms(run, analysis, model):
    """The RDMs rdm_panels() gives, as heatmaps side by side (each its own colour scale:
    hypotheses and spaces have different units), categories outlined."""
    panels = rdm_panels(run, analysis, model)
    if not panels:
        return None
    words = run.stimuli().drop_duplicates("word").reset_index(drop=True)
    n = len(words)
    size = max(3.2, min(6.0, 0.12 * n + 2))
    fig, axes = plt.subplots(1, len(panels), figsize=(size * len(panels) + 0.8, size), squeeze=False)
    for ax, (title, rdm) in zip(axes[0], panels):
        image = ax.imshow(rdm.to_numpy(dtype=float), cmap="viridis", interpolation="nearest")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
        if n <= 40:
            ax.set_xticks(range(n), rdm.columns, rotation=90, fontsize=6)
            ax.set_yticks(range(n), rdm.index, fontsize=6)
        else:
            ax.set_xticks([])
            ax.set_yticks([])
        for _, first, last in _category_blocks(words):
            ax.add_patch(plt.Rectangle((first - 0.5, first - 0.5), last - first, last - first, fill=False,
                                       edgecolor="white", linewidth=1.2))
        ax.set_title(textwrap.fill(title, 28), fontsize=8)
    fig.tight_layout()
    return fig


def classical_mds(rdm, dims=2):
    """Classical (Torgerson) MDS of an RDM read as squared distances, as euclidean, cosine,
    correlation and crossnobis RDMs are (up to a factor): the top eigenvectors of -1/2 J D J
    scaled by the square roots of their eigenvalues (negative ones as 0), each axis's sign fixed
    so that its largest coordinate is positive (the same picture on every machine). rsatoolbox
    draws sklearn's SMACOF MDS, which starts from a random point; this one has no start."""
    d = np.asarray(rdm, dtype=float)
    n = d.shape[0]
    j = np.eye(n) - 1.0 / n
    b = -0.5 * j @ np.nan_to_num(d) @ j
    values, vectors = np.linalg.eigh((b + b.T) / 2)
    order = np.argsort(values)[::-1][:dims]
    coords = vectors[:, order] * np.sqrt(np.clip(values[order], 0, None))
    for k in range(coords.shape[1]):
        if coords[np.argmax(np.abs(coords[:, k])), k] < 0:
            coords[:, k] = -coords[:, k]
    return coords


def plot_mds(run, analysis, model):
    """An MDS of each RDM rdm_panels() gives: the words in two dimensions, coloured by category,
    named where there are at most LABELLED_WORDS."""
    panels = rdm_panels(run, analysis, model)
    if not panels:
        return None
    words = run.stimuli().drop_duplicates("word").reset_index(drop=True)
    categories = list(dict.fromkeys(words["category"]))
    colours = {c: plt.cm.tab10(i % 10) for i, c in enumerate(categories)}
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels) + 1.6, 4.2), squeeze=False)
    for ax, (title, rdm) in zip(axes[0], panels):
        xy = classical_mds(rdm.to_numpy())
        for c in categories:
            mask = (words["category"] == c).to_numpy()
            ax.scatter(xy[mask, 0], xy[mask, 1], s=18, color=colours[c], label=c)
        if len(words) <= LABELLED_WORDS:
            for (x, y), w in zip(xy, words["word"]):
                ax.annotate(w, (x, y), fontsize=6, xytext=(2, 2), textcoords="offset points", color="#444")
        ax.set_title(textwrap.fill(title, 28), fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_aspect("equal", adjustable="datalim")
    axes[0, -1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1), borderaxespad=0)
    fig.tight_layout()
    return fig
