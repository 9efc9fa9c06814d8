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
- cxg_valid.h5ad: a file CELLxGENE's validator (cellxgene-schema 7.1.2)
  accepts: every required obs column, 40 GENCODE genes, raw counts, an
  embedding, title and organism in uns.
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


# the first 40 human genes of cellxgene-schema 7.1.2's GENCODE list
GENES = [
    "ENSG00000223972", "ENSG00000310526", "ENSG00000227232", "ENSG00000278267",
    "ENSG00000243485", "ENSG00000284332", "ENSG00000237613", "ENSG00000308361",
    "ENSG00000290826", "ENSG00000268020", "ENSG00000240361", "ENSG00000186092",
    "ENSG00000241860", "ENSG00000239945", "ENSG00000308314", "ENSG00000233750",
    "ENSG00000308579", "ENSG00000268903", "ENSG00000269981", "ENSG00000239906",
    "ENSG00000310528", "ENSG00000222623", "ENSG00000241599", "ENSG00000308415",
    "ENSG00000310527", "ENSG00000279928", "ENSG00000279457", "ENSG00000273874",
    "ENSG00000308625", "ENSG00000308544", "ENSG00000292994", "ENSG00000228463",
    "ENSG00000306775", "ENSG00000286448", "ENSG00000236679", "ENSG00000236601",
    "ENSG00000290385", "ENSG00000269732", "ENSG00000284733", "ENSG00000237094",
]


def cxg_valid_fixture(rng, path):
    n, g = 50, len(GENES)
    x = sp.csr_matrix(rng.poisson(1.0, (n, g)).astype(np.float32))
    cat = pd.Categorical
    obs = pd.DataFrame(
        {
            "assay_ontology_term_id": cat(["EFO:0009922"] * n),
            "cell_type_ontology_term_id": cat(rng.choice(["CL:0000066", "CL:0000236"], n)),
            "development_stage_ontology_term_id": cat(["unknown"] * n),
            "disease_ontology_term_id": cat(rng.choice(["PATO:0000461", "MONDO:0005015"], n)),
            "donor_id": cat(rng.choice(["d1", "d2"], n)),
            "is_primary_data": rng.random(n) < 0.5,
            "self_reported_ethnicity_ontology_term_id": cat(["unknown"] * n),
            "sex_ontology_term_id": cat(rng.choice(["PATO:0000383", "PATO:0000384"], n)),
            "suspension_type": cat(["cell"] * n),
            "tissue_ontology_term_id": cat(["UBERON:0002048"] * n),
            "tissue_type": cat(["tissue"] * n),
        },
        index=[f"c{i}" for i in range(n)],
    )
    var = pd.DataFrame({"feature_is_filtered": np.zeros(g, dtype=bool)}, index=GENES)
    a = ad.AnnData(X=x, obs=obs, var=var)
    a.obsm["X_umap"] = rng.random((n, 2))
    a.uns["title"] = "A CELLxGENE-valid subset fixture"
    a.uns["organism_ontology_term_id"] = "NCBITaxon:9606"
    a.write_h5ad(path, compression="gzip")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/subset"
    os.makedirs(out, exist_ok=True)
    csr_fixture(np.random.default_rng(1), os.path.join(out, "csr.h5ad"))
    csc_fixture(np.random.default_rng(2), os.path.join(out, "csc.h5ad"))
    dense_fixture(np.random.default_rng(3), os.path.join(out, "dense.h5ad"))
    cxg_valid_fixture(np.random.default_rng(7), os.path.join(out, "cxg_valid.h5ad"))
    shutil.copy(os.path.join(out, "csc.h5ad"), os.path.join(out, "no_x.h5ad"))
    with h5py.File(os.path.join(out, "no_x.h5ad"), "a") as f:
        del f["X"]


if __name__ == "__main__":
    main()
