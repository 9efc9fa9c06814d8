#!/usr/bin/env python3
"""Write the small .h5ad fixtures that cxg-subset is tested against
(tests/fixtures/subset/), deterministic (fixed seeds), with the pinned
anndata of scripts/h5ad-fixtures-requirements.txt (`make anndata-venv`):

    .venv-anndata/bin/python scripts/make_subset_fixtures.py tests/fixtures/subset

Tooling only: the tests read the committed files; cxg-subset never runs Python.

- csr.h5ad: CSR float32 X; raw (CSR float32 X, its own var); two layers
  (CSR int32 counts, dense float64); obsm (float64 and float32 arrays, a
  dataframe); obsp (CSR float32 and CSC float64); obs with categorical
  (one category used by a single cell, one with missing values), string,
  bool, nullable integer, nullable boolean, int and float columns; var with
  columns; varm; varp; uns with a string, a number, an array, a list of
  strings, a nested dict and colors of two obs columns; gzip as CELLxGENE writes it.
- csc.h5ad: CSC float64 X, obsm, no raw, no compression.
- dense.h5ad: dense int32 X (counts), a dense obsp, gzip level 1.
- no_x.h5ad: csc.h5ad without its X (a damaged input).
"""

import os
import sys

import shutil

import anndata as ad
import h5py
import numpy as np
import pandas as pd
import scipy.sparse as sp


def obs_table(rng, n):
    ct = np.array(["B cell", "T cell", "neuron", "rare"])[rng.integers(0, 3, n)]
    ct[n // 2] = "rare"  # a category one cell uses: gone when that cell is
    donor = pd.Categorical(rng.choice(["d1", "d2", "d3"], n))
    donor[::7] = np.nan  # missing values: code -1
    nullable_int = pd.array(rng.integers(0, 100, n), dtype="Int64")
    nullable_int[::5] = pd.NA
    nullable_bool = pd.array(rng.integers(0, 2, n).astype(bool), dtype="boolean")
    nullable_bool[::6] = pd.NA
    return pd.DataFrame(
        {
            "cell_type": pd.Categorical(ct, categories=["B cell", "T cell", "neuron", "rare", "unused"]),
            "donor_id": donor,
            "note": [f"cell note {i} é" for i in range(n)],
            "is_primary_data": rng.integers(0, 2, n).astype(bool),
            "n_genes": rng.integers(100, 5000, n).astype(np.int32),
            "score": rng.random(n),
            "nullable_int": nullable_int,
            "nullable_bool": nullable_bool,
        },
        index=[f"cell-{i:04d}" for i in range(n)],
    )


def var_table(n):
    return pd.DataFrame(
        {
            "feature_name": pd.Categorical([f"GENE{i}" for i in range(n)]),
            "feature_is_filtered": np.arange(n) % 3 == 0,
        },
        index=[f"ENSG{i:011d}" for i in range(n)],
    )


def csr_fixture(rng, path):
    n, g = 60, 25
    x = sp.random(n, g, density=0.2, format="csr", dtype=np.float32, random_state=rng)
    counts = sp.csr_matrix((rng.random((n, g)) < 0.2) * rng.integers(1, 50, (n, g)), dtype=np.int32)
    a = ad.AnnData(X=x, obs=obs_table(rng, n), var=var_table(g))
    a.raw = ad.AnnData(X=x.copy(), var=var_table(g).assign(raw_only=np.arange(g)))
    a.layers["counts"] = counts
    a.layers["dense"] = rng.random((n, g))
    a.obsm["X_umap"] = rng.random((n, 2))
    a.obsm["X_pca"] = rng.random((n, 5)).astype(np.float32)
    a.obsm["meta"] = pd.DataFrame({"u": rng.random(n)}, index=a.obs_names)
    a.obsp["connectivities"] = sp.random(n, n, density=0.1, format="csr", dtype=np.float32, random_state=rng)
    a.obsp["distances"] = sp.random(n, n, density=0.1, format="csc", dtype=np.float64, random_state=rng)
    a.varm["PCs"] = rng.random((g, 3))
    a.varp["corr"] = rng.random((g, g))
    a.uns["title"] = "A subset fixture"
    a.uns["schema_version"] = "5.2.0"
    a.uns["n"] = 42
    a.uns["weights"] = np.arange(4, dtype=np.float64)
    a.uns["batch_condition"] = np.array(["donor_id", "assay"], dtype=object)
    a.uns["nested"] = {"key": "value", "pi": 3.5}
    # anndata subsets a column's colors with its categories, and drops
    # colors whose count is not the number of categories
    a.uns["cell_type_colors"] = np.array(["#000001", "#000002", "#000003", "#000004", "#000005"], dtype=object)
    a.uns["donor_id_colors"] = np.array(["#000001"], dtype=object)
    a.write_h5ad(path, compression="gzip")


def csc_fixture(rng, path):
    n, g = 40, 12
    x = sp.random(n, g, density=0.3, format="csc", dtype=np.float64, random_state=rng)
    a = ad.AnnData(X=x, obs=obs_table(rng, n), var=var_table(g))
    a.obsm["X_umap"] = rng.random((n, 2))
    a.write_h5ad(path)


def dense_fixture(rng, path):
    n, g = 30, 10
    a = ad.AnnData(X=rng.integers(0, 20, (n, g)).astype(np.int32), obs=obs_table(rng, n), var=var_table(g))
    a.obsp["dense_graph"] = rng.random((n, n)).astype(np.float32)
    a.write_h5ad(path, compression="gzip", compression_opts=1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/subset"
    os.makedirs(out, exist_ok=True)
    csr_fixture(np.random.default_rng(1), os.path.join(out, "csr.h5ad"))
    csc_fixture(np.random.default_rng(2), os.path.join(out, "csc.h5ad"))
    dense_fixture(np.random.default_rng(3), os.path.join(out, "dense.h5ad"))
    shutil.copy(os.path.join(out, "csc.h5ad"), os.path.join(out, "no_x.h5ad"))
    with h5py.File(os.path.join(out, "no_x.h5ad"), "a") as f:
        del f["X"]


if __name__ == "__main__":
    main()
