"""A laminar run file read with h5py: its stimuli, models, tables, matrices and activations."""
from collections import namedtuple

import json
import warnings

import h5py
import numpy as np
import pandas as pd

# The describing columns of a table come first, in this order (as `laminar inspect --table`).
KEY_COLUMNS = ["model", "hook", "layer", "site", "head",
               "model_a", "hook_a", "layer_a", "site_a", "head_a",
               "model_b", "hook_b", "layer_b", "site_b", "head_b"]

Activations = namedtuple("Activations", ["values", "stimuli"])


def open(path):  # noqa: A001 (the package's entry point: laminar.open)
    """Opens a run file for reading."""
    return RunFile(path)


def _text(value):
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def _children(group):
    """Names in creation order, as laminar wrote them (by name for files made elsewhere)."""
    try:
        if group.id.get_create_plist().get_link_creation_order():
            names = []
            group.id.links.iterate(lambda name: names.append(name.decode("utf-8")) and None,
                                   idx_type=h5py.h5.INDEX_CRT_ORDER)
            return names
    except (AttributeError, ValueError):
        pass
    return list(group.keys())


def _walk(group, path=""):
    """(relative path, object) of everything below `group`, depth first, in creation order."""
    for name in _children(group):
        child = group[name]
        relative = f"{path}/{name}" if path else name
        yield relative, child
        if isinstance(child, h5py.Group):
            yield from _walk(child, relative)


def _scalar_attributes(obj):
    """Scalar attributes (ints, floats, strings) by name, in name order."""
    out = {}
    for name in sorted(obj.attrs.keys()):
        value = obj.attrs[name]
        if isinstance(value, (bytes, str)):
            out[name] = _text(value)
        elif isinstance(value, (np.integer, int)) and not isinstance(value, bool):
            out[name] = int(value)
        elif isinstance(value, (np.floating, float)):
            out[name] = float(value)
    return out


def _matches(series, value):
    """Which rows `where={column: value}` keeps: equal (a number given as text compared as a
    number, as `inspect --where` does), any of a list, or empty for None/NaN (whole-layer rows
    where others are per head)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return series.isna()
    if isinstance(value, (list, tuple, set)):
        return series.isin(list(value))
    if isinstance(value, str) and pd.api.types.is_numeric_dtype(series):
        try:
            value = float(value)
        except ValueError:
            pass
    return series == value


NOISE_CEILING = ["noise_ceiling_low", "noise_ceiling_high", "noise_ceiling_subjects", "noise_ceiling_rdm"]


def _join_noise_ceilings(records, seen):
    """rsa's noise ceilings on the rows they bound: a space's own ceiling row (its <hook> group:
    bounds, no r) is joined onto the pairs it is side a of (noise_ceiling_low/high, there already
    when rsa wrote them) or side b of (noise_ceiling_low_b/high_b), and left out as a row of its
    own when some pair took it (as `laminar inspect --table` does: result_table.cpp)."""
    ceilings = {(r["model"], r["hook"]): i for i, r in enumerate(records)
                if "noise_ceiling_low" in r and "r" not in r and "hook_a" not in r}
    if not ceilings:
        return records
    joined = set()
    for record in records:
        if "hook_a" not in record:
            continue
        for side in ("_a", "_b"):
            at = ceilings.get((record.get("model" + side), record.get("hook" + side)))
            if at is None:
                continue
            joined.add(at)
            for name in NOISE_CEILING:
                column = name if side == "_a" else name + "_b"
                if name in records[at] and column not in record:
                    record[column] = records[at][name]
                    if column not in seen:
                        seen.append(column)
    return [r for i, r in enumerate(records) if i not in joined]


class RunFile:
    """A run file opened read-only. Use as a context manager or call close()."""

    def __init__(self, path):
        self.path = path
        self.file = h5py.File(path, "r")
        self._tables = {}  # analysis -> its table: the file is read-only, the report asks often
        self._rdms = {}  # (model, hook, measure) -> its RDM, likewise

    def close(self):
        self.file.close()

    def _repr_html_(self):
        """In a notebook: the experiment, its models, and each analysis's sentence and table."""
        from .display import run_html
        return run_html(self)

    def figure(self, analysis, which=None):
        """The report page's figure of `analysis` as a matplotlib Figure (the first it draws, or the
        one whose name ends in `which`: "profile", "grid", "matrices", "mds", ...)."""
        from .display import figure
        return figure(self, analysis, which)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # --- what the run is -----------------------------------------------------------------
    @property
    def attributes(self):
        """The root attributes: experiment, laminar_version, spec (the YAML text), created, ..."""
        return {k: _text(v) if isinstance(v, (bytes, str)) else v for k, v in self.file.attrs.items()}

    @property
    def experiment(self):
        return self.attributes.get("experiment", "")

    @property
    def description(self):
        """The experiment file's `description:` (read from the stored spec)."""
        import yaml
        try:
            spec = yaml.safe_load(self.attributes.get("spec", "")) or {}
        except yaml.YAMLError:
            return ""
        return spec.get("description", "") if isinstance(spec, dict) else ""

    def models(self):
        """One row per model: id, backend, architecture, n_layer, fingerprint, path, hooks recorded,
        and for a model named by its Hub name the cache snapshot's commit (`hub_commit`)."""
        rows = []
        if "activations" in self.file:
            for model in _children(self.file["activations"]):
                group = self.file["activations"][model]
                attrs = _scalar_attributes(group)
                rows.append({"model": model, "backend": attrs.get("backend"), "architecture": attrs.get("architecture"),
                             "n_layer": attrs.get("n_layer"), "fingerprint": attrs.get("model_fingerprint"),
                             "path": attrs.get("path"), "hooks": len(group), "hub_commit": attrs.get("hub_commit")})
        frame = pd.DataFrame(rows, columns=["model", "backend", "architecture", "n_layer", "fingerprint", "path", "hooks",
                                            "hub_commit"])
        return frame if frame["hub_commit"].notna().any() else frame.drop(columns="hub_commit")

    def hooks(self, model):
        return _children(self.file["activations"][model])

    def analyses(self):
        """Analysis name -> metric plugin name."""
        if "results" not in self.file:
            return {}
        return {name: _text(self.file["results"][name].attrs.get("metric", name)) for name in _children(self.file["results"])}

    def commands(self):
        """The command lines that completed the stages, stage by stage."""
        out = {}
        if "stages" in self.file:
            for path, obj in _walk(self.file["stages"]):
                if "command" in obj.attrs:
                    out[path] = _text(obj.attrs["command"])
        return out

    # --- data --------------------------------------------------------------------------------
    def stimuli(self):
        """One row per analysed stimulus: word, category and, when the row is one prompt, its
        context, text, the analysed token and the word's tokens; when it averages a word's
        contexts (`contexts: mean`), how many (their prompts: `prompts()`)."""
        s = self.file["stimuli"]
        frame = pd.DataFrame({
            "word": [_text(w) for w in s["word"][()]],
            "category": [_text(c) for c in s["category"][()]],
        })
        if "prompts" in s:
            frame["n_contexts"] = s["n_contexts"][()].astype(int)
        else:
            frame = frame.join(self._prompt_columns(s))
        frame.index.name = "stimulus"
        return frame

    def prompts(self):
        """One row per prompt run: its word, category, context, text and tokens, and the analysed
        row (`stimulus`) it belongs to."""
        s = self.file["stimuli"]
        if "prompts" not in s:
            frame = self.stimuli()
            frame.insert(0, "stimulus", frame.index)
            return frame.reset_index(drop=True)
        rows = s["prompts"]["row"][()].astype(int)
        words = [_text(w) for w in s["word"][()]]
        categories = [_text(c) for c in s["category"][()]]
        frame = pd.DataFrame({"stimulus": rows, "word": [words[r] for r in rows],
                              "category": [categories[r] for r in rows]})
        return frame.join(self._prompt_columns(s["prompts"]))

    @staticmethod
    def _prompt_columns(group):
        n = len(group["text"])
        return pd.DataFrame({
            # laminar 0.2 and before: one context per word, not recorded
            "context": group["context"][()].astype(int) if "context" in group else np.zeros(n, dtype=int),
            "text": [_text(t) for t in group["text"][()]],
            "position": group["position"][()].astype(int),
            "word_begin": group["word_begin"][()].astype(int),
            "word_end": group["word_end"][()].astype(int),
            "n_tokens": [len(ids) for ids in group["token_ids"][()]],
        })

    def categories(self):
        return [_text(c) for c in self.file["stimuli"]["category_names"][()]]

    def activations(self, model, hook):
        """The recorded [stimuli x width] float32 array and the stimuli its rows belong to. A set
        per token (`positions: all`) has a row per token of each prompt: its frame then has a row
        per token, with the stimulus it belongs to and its index in the prompt (`token`)."""
        dataset = self.file["activations"][model][hook]
        stimuli = self.stimuli()
        if _text(dataset.attrs.get("rows", "stimuli")) == "tokens":
            lengths = self.file["stimuli"]["by_model"][model]["prompt_lengths"][()].astype(int)
            stimuli = stimuli.loc[np.repeat(stimuli.index, lengths)].reset_index()
            stimuli.insert(1, "token", np.concatenate([np.arange(n) for n in lengths]))
        return Activations(dataset[()], stimuli)

    def table(self, analysis, where=None):
        """The analysis's results as `laminar inspect RUN --table ANALYSIS` prints them: one row per
        model and hook (or pair), every scalar result a column; `where`: {"layer": 5, ...}."""
        if analysis not in self._tables:
            self._tables[analysis] = self._read_table(analysis)
        frame = self._tables[analysis].copy()
        if where is not None and not isinstance(where, dict):
            raise TypeError(f"where expects {{column: value}}, e.g. {{'layer': 5}} (got {where!r})")
        for column, value in (where or {}).items():
            sides = f"; a pair's sides have {column}_a and {column}_b" if f"{column}_a" in frame else ""
            if column not in frame:
                raise KeyError(f"analysis '{analysis}' has no column '{column}'{sides} (columns: {', '.join(frame.columns)})")
            before = frame
            frame = frame[_matches(frame[column], value)]
            if frame.empty and not before.empty:  # said, so that an empty answer is not taken for "none"
                held = ", ".join(str(v) for v in before[column].dropna().unique()[:12])
                empty = before[column].isna().sum()
                warnings.warn(f"{analysis}: no row has {column} = {value!r}; '{column}' holds {held or 'nothing'}"
                              + (f" and is empty in {empty} of {len(before)} rows{sides}" if empty else ""), stacklevel=2)
        return frame.reset_index(drop=True)

    def _read_table(self, analysis):
        if "results" not in self.file or analysis not in self.file["results"]:
            raise KeyError(f"no analysis '{analysis}' in {self.path} (analyses: {', '.join(self.analyses()) or 'none'})")
        root = self.file["results"][analysis]
        seen, records = [], []
        for _, group in _walk(root):
            if not isinstance(group, h5py.Group) or "model" not in group.attrs or "hook" not in group.attrs:
                continue
            record = {}

            def add(prefix, obj):
                for name, value in _scalar_attributes(obj).items():
                    if prefix + name not in seen:
                        seen.append(prefix + name)
                    record[prefix + name] = value
            add("", group)
            for sub, obj in _walk(group):
                if isinstance(obj, h5py.Group):
                    add(sub + "/", obj)
            records.append(record)
        records = _join_noise_ceilings(records, seen)
        columns = [c for c in KEY_COLUMNS if c in seen] + [c for c in seen if c not in KEY_COLUMNS]
        return pd.DataFrame(records, columns=columns)

    def per_target(self, analysis="encoding"):
        """An encoding analysis's numbers per target, one row per model, hook and target: its
        held-out `r`, the median `alpha` its folds chose, and its `ceiling` where one was given."""
        if analysis not in self.analyses():
            raise KeyError(f"no analysis '{analysis}' in {self.path} (analyses: {', '.join(self.analyses()) or 'none'})")
        records = []
        for _, group in _walk(self.file["results"][analysis]):
            if not isinstance(group, h5py.Group) or "r" not in group or "targets" not in group.attrs:
                continue
            names = json.loads(_text(group.attrs["targets"]))
            columns = {"r": group["r"][()], "alpha": np.median(group["alpha"][()], axis=0)}
            if "ceiling" in group:
                columns["ceiling"] = group["ceiling"][()]
            for j, target in enumerate(names):
                records.append({"model": _text(group.attrs["model"]), "hook": _text(group.attrs["hook"]),
                                "layer": group.attrs.get("layer"), "site": _text(group.attrs.get("site", "")),
                                "target": target, **{k: float(v[j]) for k, v in columns.items()}})
        if not records:
            raise KeyError(f"analysis '{analysis}' has no per-target results (an encoding analysis has them)")
        return pd.DataFrame(records)

    def matrix(self, analysis, model, hook, name="matrix"):
        """A result dataset as a DataFrame whose index and columns are the words, categories or
        layers its `rows` and `columns` attributes name (a path in the file, or a dataset beside
        it). `rsa` grids: `run.matrix("rsa", "a~b", "resid_post", "grid")`."""
        dataset = self._result_dataset(analysis, model, hook, name)
        values = dataset[()]

        def labels(axis):
            where = dataset.attrs.get(axis)
            if where is None:
                return None
            labels = (self.file if _text(where).startswith("/") else dataset.parent)[_text(where)][()]
            return [v if isinstance(v, (int, np.integer)) else _text(v) for v in labels]
        if values.ndim == 1:
            return pd.Series(values, index=labels("rows"), name=name)
        return pd.DataFrame(values, index=labels("rows"), columns=labels("columns"))

    def _result_dataset(self, analysis, model, hook, name):
        """/results/ANALYSIS/MODEL/HOOK/NAME, or a KeyError that names what was asked and what exists."""
        analyses = self.analyses()
        if analysis not in analyses:
            raise KeyError(f"no analysis '{analysis}' in {self.path} (analyses: {', '.join(analyses) or 'none'})")
        what = f"analysis '{analysis}' ({analyses[analysis]})"
        group = self.file["results"][analysis]
        for key, kind in ((model, "model"), (hook, "hook or pair")):
            if key not in group or not isinstance(group[key], h5py.Group):
                have = [k for k in _children(group) if isinstance(group[k], h5py.Group)]
                raise KeyError(f"{what} has no {kind} '{key}'" + (f" under '{group.name}'" if kind != "model" else "") +
                               f"; it has: {', '.join(have) or 'none'}")
            group = group[key]
        datasets = [k for k in _children(group) if isinstance(group[k], h5py.Dataset)]
        if name in datasets:
            return group[name]
        numbers = list(_scalar_attributes(group))
        if not datasets:
            raise KeyError(f"{what} has no matrices at {model}/{hook}; it has: {', '.join(numbers)} "
                           f"(numbers: run.table('{analysis}'))")
        raise KeyError(f"{what} has no dataset '{name}' at {model}/{hook}; it has: {', '.join(datasets)}")

    def rdm(self, model, hook, measure="cosine"):
        """The words' RDM computed here from the activations, as the rsa metric (and rsatoolbox's
        calc_rdm) defines it: a word's pattern is the mean of its rows; "euclidean" (squared, over
        the number of dimensions), "correlation" (1 - Pearson), "cosine" (1 - cosine), or
        "crossnobis" (leave one context out, contexts kept)."""
        key = (model, hook, measure)
        if key not in self._rdms:  # the report draws each RDM twice (heatmap and MDS)
            self._rdms[key] = self._compute_rdm(model, hook, measure)
        return self._rdms[key].copy()

    def _compute_rdm(self, model, hook, measure):
        x = self.file["activations"][model][hook][()].astype(np.float64)
        stimuli = self.stimuli()
        words = list(dict.fromkeys(stimuli["word"]))
        of_row = np.array([words.index(w) for w in stimuli["word"]])
        contexts = stimuli["context"].to_numpy() if "context" in stimuli else np.zeros(len(x), dtype=int)

        def means(rows):
            return np.array([x[rows & (of_row == i)].mean(axis=0) for i in range(len(words))])
        everything = np.ones(len(x), dtype=bool)
        if measure == "crossnobis":
            folds = np.unique(contexts)
            d = np.zeros((len(words), len(words)))
            for fold in folds:
                a, b = means(contexts != fold), means(contexts == fold)
                k = a @ b.T
                d += (np.diag(k)[:, None] + np.diag(k)[None, :] - k - k.T) / x.shape[1]
            d /= len(folds)
        elif measure == "euclidean":
            m = means(everything)
            sq = np.sum(m ** 2, axis=1)
            d = (sq[:, None] + sq[None, :] - 2 * m @ m.T) / x.shape[1]
        elif measure in ("cosine", "correlation"):
            m = means(everything)
            if measure == "correlation":
                m = m - m.mean(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                m = m / np.linalg.norm(m, axis=1, keepdims=True)
            d = 1 - m @ m.T
        else:
            raise ValueError(f"unknown RDM measure '{measure}' (euclidean, correlation, cosine, crossnobis)")
        np.fill_diagonal(d, 0)
        return pd.DataFrame(d, index=words, columns=words)

    def tokens(self, model, ids):
        """The texts of token ids of `model` (its vocabulary as recorded at extraction; a byte
        that is part of a character reads as U+FFFD)."""
        group = self.file["stimuli"]["by_model"][model]
        data, offsets = group["vocabulary_bytes"][()].tobytes(), group["vocabulary_offsets"][()]
        return [data[offsets[i]:offsets[i + 1]].decode("utf-8", errors="replace") for i in np.ravel(ids).astype(int)]

    def logit_lens(self, analysis="logit_lens", model=None):
        """The logit lens as a tidy table: one row per stimulus, layer and top token (rank 1..k),
        with the token's id, text and probability, and per stimulus and layer the entropy, the
        KL divergences KL(layer ‖ last) and KL(last ‖ layer) and the target's rank and probability."""
        root = self.file["results"][analysis]
        words = list(self.stimuli()["word"])
        frames = []
        for name in ([model] if model else list(root)):
            g = root[name]
            ids, probs = g["top_ids"][()].astype(int), g["top_probs"][()]
            n, layers, k = ids.shape
            layer_ids = g["top_ids_columns"][()]
            i, l, r = np.meshgrid(np.arange(n), np.arange(layers), np.arange(k), indexing="ij")
            frame = pd.DataFrame({"model": name, "stimulus": i.ravel(), "word": [words[x] for x in i.ravel()],
                                  "layer": layer_ids[l.ravel()], "rank": r.ravel() + 1, "token_id": ids.ravel(),
                                  "token": self.tokens(name, ids.ravel()), "prob": probs.ravel()})
            for stat in ("entropy", "kl_to_final", "kl_from_final", "target_rank", "target_prob", "top_logit_z"):
                if stat in g:
                    frame[stat] = g[stat][()][i.ravel(), l.ravel()]
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def grids(self, analysis):
        """(path, dataset) of each layer x layer grid an rsa analysis computed (`grid: true`),
        path as "<models>/<sites>/grid" under the analysis."""
        root = self.file["results"][analysis]
        return [(path, obj) for path, obj in _walk(root)
                if isinstance(obj, h5py.Dataset) and path.endswith("/grid")]

    def similarity(self, model, hook, measure="cosine"):
        """The stimuli's similarity matrix computed here from the activations (cosine or
        correlation, as the metrics define them), labelled by word."""
        x = self.file["activations"][model][hook][()].astype(np.float64)
        if measure == "correlation":
            x = x - x.mean(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            x = x / np.linalg.norm(x, axis=1, keepdims=True)
        words = list(self.stimuli()["word"])
        return pd.DataFrame(x @ x.T, index=words, columns=words)

