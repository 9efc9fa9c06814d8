#!/usr/bin/env python3
"""Check a subset H5AD against anndata: `anndata.read_h5ad(OUT)` must equal
`anndata.read_h5ad(IN)[mask].copy()` on every element (values, dtypes,
sparse formats and their arrays, categories, index, uns), apart from the one
`uns` key cxg-subset adds (checked to be there). Tests only, run from the
pinned venv (`make anndata-venv`):

    .venv-anndata/bin/python scripts/check_subset.py IN OUT KEEP

KEEP: the kept cells as comma-separated positions, `all`, `none`, or
`expr:EXPR`, a pandas expression over the source's obs columns (the cells
a cxg-subset filter should keep, computed here independently).
Exit 0 and `ok` when equal; otherwise exit 1 and each difference on stderr.
"""

import sys

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp

OURS = "cxg_subset"
errors = []


def fail(path, why):
    errors.append(f"{path}: {why}")


def same_array(path, a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype:
        return fail(path, f"dtype {a.dtype} != {b.dtype}")
    if a.shape != b.shape:
        return fail(path, f"shape {a.shape} != {b.shape}")
    if a.dtype.kind == "f":
        ok = np.array_equal(a, b, equal_nan=True)
    else:
        ok = np.array_equal(a, b)
    if not ok:
        fail(path, "values differ")


def same(path, a, b):
    if sp.issparse(a) or sp.issparse(b):
        if type(a) is not type(b):
            return fail(path, f"{type(a).__name__} != {type(b).__name__}")
        if a.shape != b.shape:
            return fail(path, f"shape {a.shape} != {b.shape}")
        for part in ("data", "indices", "indptr"):
            same_array(f"{path}.{part}", getattr(a, part), getattr(b, part))
    elif isinstance(a, pd.DataFrame):
        if not isinstance(b, pd.DataFrame):
            return fail(path, f"DataFrame != {type(b).__name__}")
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=True)
        except AssertionError as e:
            fail(path, str(e).replace("\n", " "))
    elif isinstance(a, dict):
        if not isinstance(b, dict):
            return fail(path, f"dict != {type(b).__name__}")
        if sorted(a) != sorted(b):
            return fail(path, f"keys {sorted(a)} != {sorted(b)}")
        for k in a:
            same(f"{path}/{k}", a[k], b[k])
    elif isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        same_array(path, a, b)
    else:
        if type(a) is not type(b) or a != b:
            fail(path, f"{a!r} ({type(a).__name__}) != {b!r} ({type(b).__name__})")


def same_storage(src, out):
    """Each dataset is compressed as in the source: the same filter,
    level and shuffle; but string arrays (written contiguous: HDF5 never
    compresses their heap) and LZF (written as gzip 4)."""
    with h5py.File(src, "r") as a, h5py.File(out, "r") as b:
        def visit(name, obj):
            if not isinstance(obj, h5py.Dataset) or name not in a:
                return
            s = a[name]
            if s.dtype.kind in "OS" or s.compression == "lzf":
                return
            want = (s.compression, s.compression_opts, s.shuffle, s.chunks is not None)
            got = (obj.compression, obj.compression_opts, obj.shuffle, obj.chunks is not None)
            if want != got:
                fail(name, f"stored {got} (compression, level, shuffle, chunked), the source {want}")
        b.visititems(visit)


def main():
    src, out, keep = sys.argv[1], sys.argv[2], sys.argv[3]
    full = ad.read_h5ad(src)
    if keep == "all":
        mask = np.ones(full.n_obs, dtype=bool)
    elif keep == "none":
        mask = np.zeros(full.n_obs, dtype=bool)
    elif keep.startswith("expr:"):
        mask = pd.array(full.obs.eval(keep[5:])).to_numpy(dtype=bool, na_value=False)
    else:
        mask = np.zeros(full.n_obs, dtype=bool)
        mask[[int(i) for i in keep.split(",")]] = True
    want = full[mask].copy()
    got = ad.read_h5ad(out)
    uns = dict(got.uns)
    if OURS not in uns:
        fail("uns", f"no '{OURS}' key")
    uns.pop(OURS, None)
    same("shape", want.shape, got.shape)
    same("obs_names", want.obs_names.to_numpy(), got.obs_names.to_numpy())
    same("var_names", want.var_names.to_numpy(), got.var_names.to_numpy())
    same("obs", want.obs, got.obs)
    same("var", want.var, got.var)
    same("X", want.X, got.X)
    for name in ("layers", "obsm", "obsp", "varm", "varp"):
        same(name, dict(getattr(want, name)), dict(getattr(got, name)))
    same("uns", dict(want.uns), uns)
    if (want.raw is None) != (got.raw is None):
        fail("raw", f"{want.raw is None} != {got.raw is None}")
    elif want.raw is not None:
        same("raw/X", want.raw.X, got.raw.X)
        same("raw/var", want.raw.var, got.raw.var)
        same("raw/varm", dict(want.raw.varm), dict(got.raw.varm))
    same_storage(src, out)
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        sys.exit(1)
    print("ok")


if __name__ == "__main__":
    main()
