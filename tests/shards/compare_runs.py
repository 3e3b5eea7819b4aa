"""Compares two run files object by object: the same groups and datasets, equal values (bit for
bit: NaN equals NaN) and equal attributes, apart from when and by which command each stage ran."""
import h5py
import numpy as np

# Attributes that say when or how a file was written, not what it holds.
CIRCUMSTANCES = {"created", "updated", "completed", "command"}


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind in "fc" and b.dtype.kind in "fc":
        return a.shape == b.shape and np.array_equal(a, b, equal_nan=True)
    if a.dtype == object or b.dtype == object:
        return a.shape == b.shape and all(_same(x, y) for x, y in zip(a.ravel(), b.ravel()))
    return a.shape == b.shape and np.array_equal(a, b)


def differences(path_a, path_b):
    """Each difference as a line of text; empty when the two files hold the same."""
    out = []
    with h5py.File(path_a, "r") as a, h5py.File(path_b, "r") as b:
        names_a, names_b = [], []
        a.visit(names_a.append)
        b.visit(names_b.append)
        for name in sorted(set(names_a) ^ set(names_b)):
            out.append(f"/{name}: only in {path_a if name in names_a else path_b}")
        for name in ["."] + sorted(set(names_a) & set(names_b)):
            x, y = a[name], b[name]
            if isinstance(x, h5py.Dataset) != isinstance(y, h5py.Dataset):
                out.append(f"/{name}: a dataset in one file, a group in the other")
                continue
            if isinstance(x, h5py.Dataset):
                if x.dtype != y.dtype or not _same(x[()], y[()]):
                    out.append(f"/{name}: values differ")
            keys = (set(x.attrs) | set(y.attrs)) - CIRCUMSTANCES
            for key in sorted(keys):
                if key not in x.attrs or key not in y.attrs:
                    out.append(f"/{name}@{key}: only in one file")
                elif not _same(x.attrs[key], y.attrs[key]):
                    out.append(f"/{name}@{key}: {x.attrs[key]!r} vs {y.attrs[key]!r}")
    return out
