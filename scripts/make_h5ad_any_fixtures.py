#!/usr/bin/env python3
"""The "any AnnData, any schema" fixtures of cxg-obs, in tests/fixtures/h5ad/any/,
and what anndata says about each one (NAME.expected.json beside NAME.h5ad).

Two kinds of file:
- files written by others, pinned in SOURCES.csv by repository, commit, path
  and SHA-256: CELLxGENE's schema example files (chanzuckerberg/single-cell-curation,
  cellxgene_schema_cli/tests/fixtures/h5ads/, schema 2.0 to 7.x) and anndata's own
  archive files (scverse/anndata, tests/data/archives/, written by anndata 0.7.0,
  0.7.8 and 0.11.4). They are taken from a local clone (--git owner/name=GITDIR,
  read with `git --git-dir GITDIR show COMMIT:PATH`) or, without one, from
  raw.githubusercontent.com; either way the SHA-256 must match.
- files written here with the pinned anndata, one per layout cxg-obs must read:
  an AnnData without CELLxGENE's columns, schema 2's ethnicity columns with
  labels, is_primary_data as a categorical of 'True'/'False' whose category
  order inverts the codes and of 1/0, a damaged uns, and anndata < 0.7's
  compound obs table (shrunk from anndata 0.5.0's archive file: X dropped).

    python3 -m venv target/venv-h5ad
    target/venv-h5ad/bin/pip install -r scripts/h5ad-fixtures-requirements.txt
    target/venv-h5ad/bin/python scripts/make_h5ad_any_fixtures.py \\
        --git chanzuckerberg/single-cell-curation=/path/to/clone/.git \\
        --git scverse/anndata=/path/to/anndata/.git

Expected values come from anndata and pandas only (read_h5ad(backed="r"),
value_counts, nunique), never from cxg-obs. The author cell-type column is
cxg-obs's own rule (docs/obs.md), written again here independently.
"""

import argparse
import csv
import hashlib
import importlib.metadata
import json
import os
import re
import subprocess
import sys
import urllib.request
import warnings

import h5py
import numpy as np
import pandas as pd

OUT = "tests/fixtures/h5ad/any"
FACETS = [
    ("cell_type", "cell_type_ontology_term_id", "cell_type"),
    ("tissue", "tissue_ontology_term_id", "tissue"),
    ("disease", "disease_ontology_term_id", "disease"),
    ("assay", "assay_ontology_term_id", "assay"),
    ("sex", "sex_ontology_term_id", "sex"),
    ("development_stage", "development_stage_ontology_term_id", "development_stage"),
    ("self_reported_ethnicity", "self_reported_ethnicity_ontology_term_id", "self_reported_ethnicity"),
    ("suspension_type", "suspension_type", None),
    ("tissue_type", "tissue_type", None),
]
# schema 2.0's name of self-reported ethnicity
LEGACY = {"self_reported_ethnicity_ontology_term_id": ("ethnicity_ontology_term_id", "ethnicity")}
SCHEMA_EXTRA = {"is_primary_data", "donor_id", "organism_ontology_term_id", "organism",
                "ethnicity_ontology_term_id", "ethnicity", "observation_joinid"}
TRUE_WORDS = {"true", "1", "1.0", "yes", "t", "y"}
FALSE_WORDS = {"false", "0", "0.0", "no", "f", "n"}


def is_schema(c):
    if c in SCHEMA_EXTRA or c.startswith("genetic_ancestry_"):
        return True
    return any(c == ids or c == lab for _, ids, lab in FACETS)


def author_score(name):
    n = "".join(ch.lower() for ch in name if ch.isascii() and ch.isalnum())
    typed = any(w in n for w in ["celltype", "cellsubtype", "celllabel", "cellannotation"])
    authored = any(w in n for w in ["author", "original", "orig", "submitted"])
    if typed:
        return 3 if authored else 2
    return 1 if ("annotation" in n or n.startswith("annot")) else 0


def read(path):
    """obs, obsm keys and uns as anndata reads them; a file whose uns does
    not read has its obs and obsm read element by element."""
    import anndata as ad

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            a = ad.read_h5ad(path, backed="r")
            out = (a.obs.copy(), sorted(a.obsm.keys()), dict(a.uns), False)
            a.file.close()
            return out
        except Exception:  # a damaged uns: what else anndata can read
            with h5py.File(path, "r") as f:
                obs = ad.io.read_elem(f["obs"])
                uns = {}
                for k in f["uns"]:
                    try:
                        uns[k] = ad.io.read_elem(f["uns"][k])
                    except Exception:
                        pass
                return obs, sorted(f["obsm"].keys()), uns, True


def truth(col):
    """is_primary_data as booleans, by category values (never codes)."""
    if isinstance(col.dtype, pd.CategoricalDtype):
        words = {c: str(c).strip().lower() for c in col.cat.categories}
        assert all(w in TRUE_WORDS | FALSE_WORDS for w in words.values()), words
        return col.map(lambda v: None if pd.isna(v) else words[v] in TRUE_WORDS)
    return col


def summary(path):
    obs, obsm, uns, uns_damaged = read(path)
    missing_columns = []
    rec = {"n_cells": int(obs.shape[0]),
           "schema_version": str(uns["schema_version"]) if "schema_version" in uns else None,
           "title": str(uns["title"]) if "title" in uns else None,
           "uns_damaged": uns_damaged,
           "counts": {}, "labels": {}, "missing": {}}
    for facet, ids, lab in FACETS:
        if ids not in obs.columns and ids in LEGACY and LEGACY[ids][0] in obs.columns:
            ids_col, lab = LEGACY[ids]
        else:
            ids_col = ids
        if ids_col not in obs.columns:
            missing_columns.append(ids)
            for part in ("counts", "labels", "missing"):
                rec[part][facet] = None
            continue
        col = obs[ids_col]
        vc = col.value_counts(dropna=True)
        items = sorted(((str(k), int(v)) for k, v in vc.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))
        rec["counts"][facet] = dict(items)
        if lab is None:
            rec["labels"][facet] = {k: k for k, _ in items}
        elif lab not in obs.columns:
            rec["labels"][facet] = {k: "" for k, _ in items}
        else:
            pairs = pd.DataFrame({"id": col.astype(str).where(col.notna()), "label": obs[lab].astype(object)}).dropna()
            first = pairs.groupby("id")["label"].agg(lambda s: sorted(s.value_counts().items(), key=lambda kv: (-kv[1], str(kv[0])))[0][0])
            rec["labels"][facet] = {k: str(first[k]) for k, _ in items}
        rec["missing"][facet] = int(col.isna().sum())
    if "disease_ontology_term_id" in obs.columns:
        rec["normal_cell_count"] = int((obs["disease_ontology_term_id"] == "PATO:0000461").sum())
    else:
        rec["normal_cell_count"] = None
    if "donor_id" in obs.columns:
        rec["donor_count"] = int(obs["donor_id"].nunique())
    else:
        rec["donor_count"] = None
        missing_columns.append("donor_id")
    if "is_primary_data" in obs.columns:
        rec["primary_cell_count"] = int((truth(obs["is_primary_data"]) == True).sum())  # noqa: E712
    else:
        rec["primary_cell_count"] = None
        missing_columns.append("is_primary_data")
    rec["missing_columns"] = missing_columns
    rec["obsm"] = obsm
    extra = [c for c in obs.columns if not is_schema(c)]
    rec["extra_columns"] = {c: int(obs[c].nunique()) for c in extra}
    best = None
    for c in extra:
        s = author_score(c)
        categorical = isinstance(obs[c].dtype, pd.CategoricalDtype) or obs[c].dtype == object
        if s > 0 and categorical and (best is None or s > best[0]):
            best = (s, c)
    rec["author_cell_type_column"] = best[1] if best else None
    return rec


def sha256(path):
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def fetch_real(rows, gits):
    for r in rows:
        dest = os.path.join(OUT, r["name"] + ".h5ad")
        if not (os.path.exists(dest) and sha256(dest) == r["sha256"]):
            if r["repository"] in gits:
                data = subprocess.run(["git", "--git-dir", gits[r["repository"]], "show",
                                       f"{r['commit']}:{r['path']}"], check=True, capture_output=True).stdout
            else:
                url = f"https://raw.githubusercontent.com/{r['repository']}/{r['commit']}/{r['path']}"
                data = urllib.request.urlopen(url).read()
            with open(dest, "wb") as fh:
                fh.write(data)
        assert sha256(dest) == r["sha256"], (dest, sha256(dest), r["sha256"])
        assert os.path.getsize(dest) == int(r["bytes"]), dest


def base_obs(n, seed):
    rng = np.random.default_rng(seed)
    return rng, pd.DataFrame(index=[f"cell_{i:05d}" for i in range(n)])


def adata(obs, seed, obsm=("X_umap",), uns=None):
    import anndata as ad
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    n = obs.shape[0]
    X = sp.random(n, 10, density=0.2, format="csr", random_state=seed, dtype=np.float32)
    a = ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(10)]), uns=uns or {})
    for k in obsm:
        a.obsm[k] = rng.random((n, 2)).astype(np.float32)
    return a


def cxg_columns(obs, rng, ethnicity="self_reported_ethnicity"):
    n = obs.shape[0]
    pick = lambda vals: pd.Categorical(rng.choice(vals, size=n))  # noqa: E731
    obs["cell_type_ontology_term_id"] = pick(["CL:0000084", "CL:0000236", "CL:0000576"])
    obs["disease_ontology_term_id"] = pick(["PATO:0000461", "MONDO:0100096"])
    obs[f"{ethnicity}_ontology_term_id"] = pick(["HANCESTRO:0005", "HANCESTRO:0014", "unknown"])
    names = {"HANCESTRO:0005": "European", "HANCESTRO:0014": "Hispanic or Latin American", "unknown": "unknown"}
    obs[ethnicity] = pd.Categorical(obs[f"{ethnicity}_ontology_term_id"].map(names).astype(str))
    obs["donor_id"] = pick([f"d{i}" for i in range(7)])


def written(out):
    """The layouts written here; returns {name: note}."""
    made = {}
    # a study's own file: no CELLxGENE column at all
    rng, obs = base_obs(400, 11)
    obs["louvain"] = pd.Categorical(rng.choice([str(i) for i in range(9)], size=400))
    obs["cell_type_original"] = pd.Categorical(rng.choice(["T", "B", "NK", "Mono"], size=400))
    obs["leiden_annotation"] = pd.Categorical(rng.choice(["a", "b"], size=400))
    obs["n_counts"] = rng.integers(500, 600, size=400).astype(np.float32)
    obs.loc[obs.index[::9], "n_counts"] = np.nan
    obs["passed_qc"] = rng.random(400) < 0.5
    obs["batch_size"] = pd.array(rng.integers(0, 4, size=400), dtype="Int64")
    obs.loc[obs.index[::5], "batch_size"] = pd.NA
    obs["sample"] = rng.choice(["s1", "s2", "s3"], size=400).astype(object)
    adata(obs, 11, obsm=("X_pca", "X_umap", "X_tsne")).write_h5ad(os.path.join(out, "study_own.h5ad"),
                                                                 compression="gzip", convert_strings_to_categoricals=False)
    made["study_own"] = "no CELLxGENE column; float with NaN, bool, nullable Int64, plain strings"
    # schema 2: ethnicity ids and labels, no donor_id / suspension_type / tissue_type
    rng, obs = base_obs(300, 12)
    cxg_columns(obs, rng, ethnicity="ethnicity")
    obs = obs.drop(columns=["donor_id"])
    obs["is_primary_data"] = rng.random(300) < 0.6
    obs["author_cell_type"] = pd.Categorical(rng.choice(["x", "y", "z"], size=300))
    adata(obs, 12, uns={"schema_version": "2.0.0", "title": "schema 2 layout"}).write_h5ad(
        os.path.join(out, "schema2_ethnicity.h5ad"), compression="gzip")
    made["schema2_ethnicity"] = "ethnicity_ontology_term_id + ethnicity"
    # is_primary_data as categorical strings, categories ['True', 'False']:
    # code 0 is True, so a reader of codes inverts it
    for name, cats in [("bool_true_false", ["True", "False"]), ("bool_one_zero", [1, 0])]:
        rng, obs = base_obs(250, 13)
        cxg_columns(obs, rng)
        codes = (rng.random(250) < 0.3).astype(np.int8)
        codes[::11] = -1
        obs["is_primary_data"] = pd.Categorical.from_codes(codes, categories=cats)
        adata(obs, 13, uns={"schema_version": "3.0.0", "title": name}).write_h5ad(os.path.join(out, f"{name}.h5ad"))
        made[name] = f"is_primary_data categorical of {cats}, some missing"
    # a damaged uns: schema_version stored with a filter nobody here decodes
    rng, obs = base_obs(200, 14)
    cxg_columns(obs, rng)
    obs["is_primary_data"] = rng.random(200) < 0.5
    p = os.path.join(out, "uns_damaged.h5ad")
    adata(obs, 14, uns={"schema_version": "5.0.0", "title": "damaged"}).write_h5ad(p, compression="gzip")
    with h5py.File(p, "r+") as f:
        del f["uns/schema_version"]
        d = f["uns"].create_dataset("schema_version", shape=(1,), dtype=h5py.string_dtype(), chunks=(1,),
                                    compression=32015, allow_unknown_filter=True)
        d.id.write_direct_chunk((0,), b"\x00" * 16)
    made["uns_damaged"] = "uns/schema_version with Zstandard (32015): unreadable"
    return made


def shrink_compound(src, dest):
    """anndata 0.5.0's archive file without X, raw and its uns other than
    the categories (the compound obs, var and obsm kept as written)."""
    with h5py.File(src, "r") as f, h5py.File(dest, "w") as g:
        for k in ["obs", "var", "obsm"]:
            f.copy(f[k], g, k)
        u = g.create_group("uns")
        for k in f["uns"]:
            if k.endswith("_categories"):
                f.copy(f["uns"][k], u, k)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--git", action="append", default=[], metavar="OWNER/NAME=GITDIR")
    a = ap.parse_args()
    gits = dict(g.split("=", 1) for g in a.git)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "SOURCES.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    fetch_real([r for r in rows if r["kind"] == "real"], gits)
    notes = {r["name"]: f"{r['repository']}@{r['commit'][:8]}:{r['path']}" for r in rows if r["kind"] == "real"}
    for r in rows:
        if r["kind"] == "shrunk":
            tmp = os.path.join(OUT, r["name"] + ".source.h5ad")
            fetch_real([dict(r, name=r["name"] + ".source")], gits)
            shrink_compound(tmp, os.path.join(OUT, r["name"] + ".h5ad"))
            os.remove(tmp)
            notes[r["name"]] = f"shrunk from {r['repository']}@{r['commit'][:8]}:{r['path']}"
    notes.update(written(OUT))
    for name, note in sorted(notes.items()):
        p = os.path.join(OUT, name + ".h5ad")
        rec = summary(p)
        rec["_source"] = note
        rec["_computed_by"] = {"anndata": importlib.metadata.version("anndata"),
                               "pandas": importlib.metadata.version("pandas")}
        with open(os.path.join(OUT, name + ".expected.json"), "w", encoding="utf-8") as fh:
            json.dump(rec, fh, indent=1, ensure_ascii=False)
            fh.write("\n")
        size = os.path.getsize(p)
        assert size < 1_000_000, (p, size)
        print(f"{name}\t{size}\t{rec['n_cells']} cells\tmissing {rec['missing_columns']}")


if __name__ == "__main__":
    main()
