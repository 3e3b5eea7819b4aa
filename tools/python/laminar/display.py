"""A run as a notebook shows it (RunFile._repr_html_), and the report's figure of an analysis
(RunFile.figure)."""
import html

import pandas as pd

ROWS = 12  # rows of each analysis's table in the notebook; run.table(name) has them all


def run_html(run):
    """The experiment, its models, and per analysis its sentence and the first rows of its headline table."""
    from . import findings, report  # (they import the reader: imported when drawn)
    parts = [f"<h3>{html.escape(run.experiment)}</h3>"]
    if run.description:
        parts.append(f"<p>{html.escape(run.description)}</p>")
    parts.append(f"<p><code>{html.escape(run.path)}</code></p>")
    models = run.models()
    parts.append(models[[c for c in ("model", "architecture", "n_layer", "fingerprint", "hub_commit") if c in models]]
                 .to_html(index=False, border=0))
    for name, metric in run.analyses().items():
        parts.append(f"<h4>{html.escape(name)} <small>({html.escape(metric)})</small></h4>")
        try:
            parts.append(f"<p>{html.escape(findings.finding(run, name))}</p>")
        except Exception as error:  # noqa: BLE001 (the table still shows)
            parts.append(f"<p>(no sentence: {html.escape(type(error).__name__)}: {html.escape(str(error))})</p>")
        if metric == "logit_lens":
            continue
        table = run.table(name)
        first = table.head(ROWS)
        columns = [c for c in report.KEYS if c in table] + report.headline_columns(table)
        shown = pd.DataFrame({c: [report.cell_text(first, i, c) for i in range(len(first))] for c in columns})
        parts.append(shown.to_html(index=False, border=0))
        if len(table) > ROWS:
            parts.append(f"<p><small>{ROWS} of {len(table)} rows: run.table({name!r})</small></p>")
    return "".join(parts)


def figure(run, analysis, which=None):
    """The report page's figure of `analysis` (a matplotlib Figure): the first it draws, or the one
    whose name ends in `which` ("profile", "grid", "matrices", "mds", ...)."""
    from . import report
    metric = run.analyses().get(analysis)
    if metric is None:
        raise KeyError(f"no analysis '{analysis}' in {run.path} (analyses: {', '.join(run.analyses()) or 'none'})")
    candidates = report._section_figures(run, analysis, metric)
    if which is not None:
        candidates = [c for c in candidates if c[0].endswith(which)]
    for stem, caption, draw, args in candidates:
        fig = draw(run, *args)
        if fig is not None:
            import matplotlib.pyplot as plt
            plt.close(fig)  # returned, not kept by pyplot: a notebook shows it once, as the cell's value
            return fig
    names = [c[0] for c in report._section_figures(run, analysis, metric)]
    raise KeyError(f"analysis '{analysis}' ({metric}) has no figure" + (f" named *{which}" if which else "") +
                   f"; its figures: {', '.join(names) or 'none'}")
