"""What each analysis found, in words: one sentence per analysis from its numbers, and the one
way p-values are written on the page, in its tables and in its figures.

    finding(run, "selectivity")   # "q at layer 3 of gpt2 is category-selective: index 1.018, ..."
    format_p(0.0001, 9999)         # "p < 0.0002": no relabelling beat the observed value
"""
import math

import numpy as np
import pandas as pd

ALPHA = 0.05


def _ceil2(x):
    """x rounded up to two significant digits: a bound stays a bound."""
    digits = 1 - math.floor(math.log10(x))
    return math.ceil(x * 10 ** digits - 1e-9) / 10 ** digits


def _g(x):
    """Two significant digits, trailing zeros kept (0.060, 0.50): every p-value reads alike."""
    return f"{x:#.2g}".rstrip(".") if x >= 1e-4 else f"{x:.1e}"


def _bound(x):
    return f"{x:.2g}" if x >= 1e-4 else f"{x:.1e}"


def p_text(p, permutations=None, exact=False):
    """A p-value as the tables write it: "< 0.0002" when no relabelling of `permutations` beat the
    observed value (p = 1/(permutations + 1), its smallest), else two significant digits."""
    if p is None or not np.isfinite(p):
        return "not tested"
    if permutations and not exact and p <= 1.0 / (permutations + 1) * (1 + 1e-9):
        return f"< {_bound(_ceil2(1.0 / (permutations + 1)))}"
    return _g(p)


def format_p(p, permutations=None, exact=False):
    """A p-value as the page's sentences and the figures write it: "p < 0.0002" or "p = 0.036"."""
    text = p_text(p, permutations, exact)
    return text if text == "not tested" else "p " + (text if text.startswith("<") else "= " + text)


def row_p(row, column="p_value"):
    """format_p of a table row's p-value, with the permutations the row used."""
    used = row.get("n_permutations_used", row.get("permutations"))
    used = int(used) if used is not None and np.isfinite(used) else None
    return format_p(row.get(column, np.nan), used, bool(row.get("exact", 0) or 0))


def _significant(table):
    """Rows p < ALPHA after the analysis's correction where it made one, else as they are."""
    column = "p_value_corrected" if "p_value_corrected" in table and table["p_value_corrected"].notna().any() else "p_value"
    if column not in table:
        return None, column
    return (table[column] < ALPHA).sum(), column


def _tested(row):
    """" (Holm-corrected 0.036)" after a p-value, where the analysis corrected it."""
    if "p_value_corrected" not in row or not np.isfinite(row.get("p_value_corrected", np.nan)):
        return ""
    correction = str(row.get("correction", "holm") or "holm")
    name = {"holm": "Holm", "bonferroni": "Bonferroni", "fdr_bh": "BH", "bh": "BH"}.get(correction, correction)
    return f" ({name}-corrected {_g(row['p_value_corrected'])})"


def _where(row, run=None):
    """"q at layer 3 of gpt2" for a row of a table."""
    site = str(row.get("site", row.get("hook", "")))
    layer = row.get("layer")
    at = f" at layer {int(layer)}" if layer is not None and pd.notna(layer) else ""
    head = row.get("head")
    if head is not None and pd.notna(head):
        at = f" head {int(head)}{at}"
    return f"{site}{at} of {row.get('model', '?')}"


def _count(table, what):
    """"; 6 of 6 sets p < 0.05 after correction", or "" where nothing was tested."""
    n, column = _significant(table)
    if n is None or table[column].isna().all():
        return ""
    after = " after correction" if column == "p_value_corrected" else ""
    return f"; {n} of {len(table)} {what} p < {ALPHA}{after}"


def _spaces(table):
    """The rows of the compared spaces and pairs: not a space's own noise-ceiling row."""
    if "r" in table:
        table = table[table["r"].notna()]
    return table


def _selectivity(run, name, table):
    table = table[table["index"].notna()] if "index" in table else table
    if table.empty:
        return "No set has a selectivity index (see the warnings)."
    ranked = table.sort_values(["p_value", "index"], ascending=[True, False]) if "p_value" in table else \
        table.sort_values("index", ascending=False)
    best = ranked.iloc[0]
    n, column = _significant(table)
    if n is None or not np.isfinite(best.get(column, np.nan)):
        return f"{_where(best)} has the highest selectivity index, {best['index']:.4g} (not tested: no permutations)."
    verdict = "is category-selective" if best[column] < ALPHA else "is the most category-selective set, but not at p < 0.05"
    return f"{_where(best)} {verdict}: index {best['index']:.4g}, {row_p(best)}{_tested(best)}{_count(table, 'sets')}."


def _rsa(run, name, table):
    table = _spaces(table)
    if table.empty or "r" not in table:
        return "No comparison has an r (see the warnings)."
    parts = []
    for site, rows in table.groupby("site", sort=False):
        best = rows.loc[rows["r"].idxmax()]
        text = f"{site}: r up to {best['r']:.3g} ({best['model']}"
        text += f", layer {int(best['layer'])}" if "layer" in best and pd.notna(best["layer"]) else ""
        text += f", {row_p(best)}{_tested(best)}){_count(rows, 'comparisons')}"
        if "r_subjects" in rows and "noise_ceiling_low" in rows and pd.notna(best.get("noise_ceiling_low")):
            text += (f"; its r per context {best['r_subjects']:.3g} against a noise ceiling of "
                     f"[{best['noise_ceiling_low']:.3g}, {best['noise_ceiling_high']:.3g}]")
        parts.append(text)
    return "; ".join(parts) + "."


def _cka(run, name, table):
    if table.empty or "cka" not in table:
        return "No pair has a CKA (see the warnings)."
    parts = []
    for site, rows in table[table["cka"].notna()].groupby("site", sort=False):
        best = rows.loc[rows["cka"].idxmax()]
        parts.append(f"{site}: linear CKA {rows['cka'].min():.3g} to {rows['cka'].max():.3g}, highest for "
                     f"{_where(best)} ({row_p(best)}{_tested(best)}){_count(rows, 'pairs')}")
    return "; ".join(parts) + "."


def _dimensionality(run, name, table):
    threshold = next((t for t in ("n95", "n90", "n99", "n80") if t in table), None)
    if threshold is None or table.empty:
        return "No set has an effective dimensionality (see the warnings)."
    if "head" in table:  # whole layers: a head's set has another width
        table = table[table["head"].isna()]
    parts = []
    for (model, site), rows in table.groupby(["model", "site"], sort=False):
        rows = rows.sort_values("layer", kind="stable") if "layer" in rows else rows
        dims = f" of {int(rows['dims'].iloc[0])}" if "dims" in rows else ""
        text = f"{site} of {model}: {threshold[1:]}% of the variance in {_span(rows[threshold], 0)}{dims} dimensions"
        control = f"shuffled_{threshold}_mean"
        if control in rows:
            text += f" (shuffled control {_span(rows[control], 1)})"
        if "participation_ratio" in rows and len(rows) > 1:
            first, last = rows.iloc[0], rows.iloc[-1]
            text += (f", participation ratio {first['participation_ratio']:.3g} at layer {int(first['layer'])} to "
                     f"{last['participation_ratio']:.3g} at layer {int(last['layer'])}")
        parts.append(text)
    return "; ".join(parts) + "."


def _span(values, decimals):
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    fmt = f"{{:.{decimals}f}}"
    return fmt.format(low) if fmt.format(low) == fmt.format(high) else f"{fmt.format(low)}\u2013{fmt.format(high)}"


def _mutual_information(run, name, table):
    value = next((c for c in ("mi_binned", "mi_equal_frequency", "mi_ksg") if c in table), None)
    if value is None or table[value].isna().all():
        return "No pair has a mutual information (see the warnings)."
    best = table.loc[table[value].idxmax()]
    return (f"{value[3:].replace('_', '-')} mutual information is highest for {_where(best)}: "
            f"{best[value]:.3g} bits, {row_p(best)}{_tested(best)}{_count(table, 'pairs')}.")


def _encoding(run, name, table):
    if "score" not in table or table["score"].isna().all():
        return "No set has an encoding score (see the warnings)."
    best = table.loc[table["score"].idxmax()]
    text = (f"{_where(best)} predicts the targets best: held-out r {best['score']:.3g} (median over targets), "
            f"{row_p(best)}{_tested(best)}")
    if "ceiling" in table and pd.notna(best.get("ceiling")):
        text += f", against a noise ceiling of {best['ceiling']:.3g}"
    return text + f"{_count(table, 'sets')}."


def _decoding(run, name, table):
    if "accuracy" not in table or table["accuracy"].isna().all():
        return "No set has a decoding accuracy (see the warnings)."
    best = table.loc[table["accuracy"].idxmax()]
    return (f"{_where(best)} decodes the labels best: accuracy {best['accuracy']:.3g} against chance "
            f"{best['chance']:.3g}, {row_p(best)}{_tested(best)}{_count(table, 'sets')}.")


def _similarity(run, name, table):
    if not {"mean_within", "mean_between"} <= set(table) or table.empty:
        return f"{len(table)} similarity matrices."
    gap = table["mean_within"] - table["mean_between"]
    best = table.loc[gap.idxmax()]
    above = int((gap > 0).sum())
    return (f"Words of one category are most alike in {_where(best)}: mean similarity within categories "
            f"{best['mean_within']:.3g}, between {best['mean_between']:.3g}; within exceeds between in {above} of "
            f"{len(table)} sets (the selectivity metric tests it).")


def _logit_lens(run, name, table):
    lens = run.logit_lens(name)
    top = lens[lens["rank"] == 1]
    parts = []
    for model, rows in top.groupby("model", sort=False):
        per_layer = rows.groupby("layer")
        layers = sorted(rows["layer"].unique())
        text = f"{model}: "
        if "target_rank" in rows:
            rank = per_layer["target_rank"].median()
            text += f"the target's median rank goes from {rank.loc[layers[0]]:.0f} at layer {layers[0]} to " \
                    f"{rank.loc[layers[-1]]:.0f} at layer {layers[-1]}"
        if "kl_to_final" in rows and len(layers) > 2:  # (the last layer's own is 0)
            kl = per_layer["kl_to_final"].mean()
            text += (f", the mean KL divergence to the last layer from {kl.loc[layers[0]]:.3g} bits at layer {layers[0]} "
                     f"to {kl.loc[layers[-2]]:.3g} at layer {layers[-2]}")
        parts.append(text)
    return "; ".join(parts) + "." if parts else "No logit-lens results."


FINDINGS = {"selectivity": _selectivity, "rsa": _rsa, "cka": _cka, "effective_dimensionality": _dimensionality,
            "mutual_information": _mutual_information, "encoding": _encoding, "decoding": _decoding,
            "cosine": _similarity, "correlation": _similarity, "logit_lens": _logit_lens}


def finding(run, analysis, table=None):
    """One sentence that states what `analysis` found, from its numbers."""
    metric = run.analyses().get(analysis, analysis)
    if table is None and metric != "logit_lens":
        table = run.table(analysis)
    describe = FINDINGS.get(metric)
    if describe is None:
        return f"{len(table)} result rows (metric {metric}: its table below)."
    return describe(run, analysis, table)


def interval_notes(table):
    """Per row, why its interval does not contain its estimate ("" where it does): the reader is
    told before drawing a wrong conclusion from it."""
    notes = pd.Series("", index=table.index, dtype=object)
    if not {"ci_low", "ci_high"} <= set(table):
        return notes
    for i, row in table.iterrows():
        of = row.get("ci_of") if isinstance(row.get("ci_of"), str) else ("r" if "r" in row else "index")
        estimate, low, high = row.get(of, np.nan), row["ci_low"], row["ci_high"]
        if not all(np.isfinite([estimate, low, high])) or low <= estimate <= high:
            continue
        if row.get("ci_method") == "jackknife":
            centre = (low + high) / 2
            notes[i] = (f"interval excludes {of} {estimate:.3g}: the jackknife interval is centred on the "
                        f"bias-corrected value {centre:.3g}, {abs(centre - estimate):.2g} from the estimate")
        else:
            notes[i] = (f"interval excludes {of} {estimate:.3g}: the bootstrap distribution is shifted from the "
                        "estimate (resampled words repeat), so its percentile interval misses it")
    return notes
