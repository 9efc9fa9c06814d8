#!/usr/bin/env python3
"""Write the small .h5ad fixtures that cxg-obs is tested against, and what
anndata itself says about each one.

Tooling only (the tests read the committed files and need no Python):

    python3.11 -m venv target/venv-h5ad
    target/venv-h5ad/bin/pip install -r scripts/h5ad-fixtures-requirements.txt
    target/venv-h5ad/bin/python scripts/make_h5ad_fixtures.py            # tests/fixtures/h5ad/
    target/venv-h5ad/bin/python scripts/make_h5ad_fixtures.py --bench 1000000 big.h5ad
    target/venv-h5ad/bin/python scripts/make_h5ad_fixtures.py --count big.h5ad   # anndata's summary
    target/venv-h5ad/bin/python scripts/make_h5ad_fixtures.py --sample DIR  # see make_sample_snapshot.sh

Every file is deterministic (fixed seeds). For each readable fixture
`NAME.h5ad`, `NAME.expected.json` holds the summary computed by anndata
(`read_h5ad(backed="r")` + pandas `value_counts`), independently of cxg-obs.
A second venv with anndata 0.8.0 (scripts/h5ad-fixtures-requirements-anndata08.txt,
in target/venv-anndata08) writes one fixture in the layout of 2022's files.
"""

import argparse
import importlib.metadata
import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pandas as pd

FACETS = [
    "cell_type",
    "tissue",
    "disease",
    "assay",
    "sex",
    "development_stage",
    "self_reported_ethnicity",
    "suspension_type",
    "tissue_type",
]
# facets without an ontology: the value is its own id and label
PLAIN = {"suspension_type", "tissue_type"}

VOCAB = {
    "cell_type": [
        ("CL:0000084", "T cell"),
        ("CL:0000236", "B cell"),
        ("CL:0000576", "monocyte"),
        ("CL:0000623", "natural killer cell"),
        ("CL:0000451", "dendritic cell"),
        ("CL:0000235", "macrophage"),
    ],
    "tissue": [
        ("UBERON:0000178", "blood"),
        ("UBERON:0002048", "lung"),
        ("UBERON:0000955", "brain"),
    ],
    "disease": [
        ("PATO:0000461", "normal"),
        ("MONDO:0100096", "COVID-19"),
        ("MONDO:0005148", "type 2 diabetes mellitus"),
    ],
    "assay": [
        ("EFO:0009922", "10x 3' v3"),
        ("EFO:0009899", "10x 3' v2"),
        ("EFO:0008913", "single-cell RNA sequencing"),
    ],
    "sex": [
        ("PATO:0000384", "male"),
        ("PATO:0000383", "female"),
        ("unknown", "unknown"),
    ],
    "development_stage": [
        ("HsapDv:0000087", "human adult stage"),
        ("HsapDv:0000258", "mature stage"),
        ("unknown", "unknown"),
    ],
    "self_reported_ethnicity": [
        ("HANCESTRO:0005", "European"),
        ("HANCESTRO:0014", "Hispanic or Latin American"),
        ("HANCESTRO:0005,HANCESTRO:0014", "European,Hispanic or Latin American"),
        ("unknown", "unknown"),
    ],
    "suspension_type": [("cell", "cell"), ("nucleus", "nucleus")],
    "tissue_type": [("tissue", "tissue"), ("organoid", "organoid")],
}


def id_column(facet):
    return facet if facet in PLAIN else f"{facet}_ontology_term_id"


def make_obs(n, seed, n_cell_types=None, n_donors=20, donor_categories=None, missing=0.0):
    """A CELLxGENE-like obs table of n cells. Unused categories are kept
    (donor_categories > n_donors), as pandas does after subsetting."""
    rng = np.random.default_rng(seed)
    cols = {}
    for facet in FACETS:
        vocab = list(VOCAB[facet])
        if facet == "cell_type" and n_cell_types:
            vocab = [(f"CL:{9000000 + i:07d}", f"synthetic cell type {i}") for i in range(n_cell_types)]
        k = len(vocab)
        if facet == "tissue_type":
            # an exact tie, to pin the order of equal counts
            pick = np.arange(n) % 2
        else:
            w = rng.random(k) + 0.05
            pick = rng.choice(k, size=n, p=w / w.sum())
        ids = [vocab[i][0] for i in range(k)]
        labels = [vocab[i][1] for i in range(k)]
        id_codes = pick.astype(np.int64)
        if missing and facet == "cell_type":
            id_codes = np.where(rng.random(n) < missing, -1, id_codes)
        cols[id_column(facet)] = pd.Categorical.from_codes(id_codes, categories=ids)
        if facet not in PLAIN:
            # labels are categoricals of their own (different category order)
            order = sorted(set(labels))
            lab_of_id = np.array([order.index(labels[i]) for i in range(k)])
            lab_codes = np.where(id_codes >= 0, lab_of_id[np.maximum(id_codes, 0)], -1)
            cols[facet] = pd.Categorical.from_codes(lab_codes, categories=order)
    ndc = donor_categories or n_donors
    donors = [f"donor_{i:05d}" for i in range(ndc)]
    used = rng.choice(ndc, size=n_donors, replace=False)
    cols["donor_id"] = pd.Categorical.from_codes(rng.choice(used, size=n), categories=donors)
    cols["is_primary_data"] = rng.random(n) < 0.7
    cols["n_genes"] = rng.integers(200, 5000, size=n).astype(np.int32)
    cols["author_cell_type"] = pd.Categorical(rng.choice(["a", "b", "c"], size=n))
    obs = pd.DataFrame(cols, index=[f"cell_{i:07d}" for i in range(n)])
    return obs


def make_adata(obs, n_genes=20, seed=0, dataset_version_id=None, nnz_per_cell=3):
    import anndata as ad
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    n = obs.shape[0]
    indptr = np.arange(0, (n + 1) * nnz_per_cell, nnz_per_cell, dtype=np.int64)
    indices = rng.integers(0, n_genes, size=n * nnz_per_cell).astype(np.int32)
    indices = np.sort(indices.reshape(n, nnz_per_cell), axis=1).ravel()
    data = rng.random(n * nnz_per_cell).astype(np.float32)
    X = sp.csr_matrix((data, indices, indptr), shape=(n, n_genes))
    var = pd.DataFrame(index=[f"ENSG{i:011d}" for i in range(n_genes)])
    uns = {"schema_version": "5.2.0", "title": "cxg-obs fixture"}
    if dataset_version_id:
        uns["dataset_version_id"] = dataset_version_id
    return ad.AnnData(X=X, obs=obs, var=var, uns=uns)


def summary(path, dataset_version_id):
    """What anndata says: the expected record for cxg-obs."""
    import anndata as ad

    a = ad.read_h5ad(path, backed="r")
    obs = a.obs
    rec = {
        "dataset_version_id": dataset_version_id,
        "schema_version": a.uns.get("schema_version"),
        "n_cells": int(a.n_obs),
        "normal_cell_count": int((obs["disease_ontology_term_id"] == "PATO:0000461").sum()),
        "primary_cell_count": int(obs["is_primary_data"].sum()),  # NA is not true
        "donor_count": int(obs["donor_id"].nunique()),
        "counts": {},
        "labels": {},
        "missing": {},
    }
    for facet in FACETS:
        col = obs[id_column(facet)]
        vc = col.value_counts(dropna=True)
        items = sorted(((str(k), int(v)) for k, v in vc.items() if v > 0), key=lambda kv: (-kv[1], kv[0]))
        rec["counts"][facet] = dict(items)
        if facet in PLAIN:
            rec["labels"][facet] = {k: k for k, _ in items}
        elif facet not in obs.columns:  # ids only: no labels
            rec["labels"][facet] = {k: "" for k, _ in items}
        else:
            pairs = pd.DataFrame({"id": col.astype(object), "label": obs[facet].astype(object)}).dropna()
            first = pairs.groupby("id")["label"].agg(lambda s: s.value_counts().index[0])
            rec["labels"][facet] = {k: str(first[k]) for k, _ in items}
        rec["missing"][facet] = int(col.isna().sum())
    if hasattr(a, "file"):
        a.file.close()
    return rec


def to_anndata07_layout(src, dest):
    import shutil


    shutil.copy(src, dest)
    with h5py.File(dest, "r+") as f:
        obs = f["obs"]
        obs.attrs["encoding-version"] = "0.1.0"
        cats = obs.create_group("__categories")
        for name in list(obs.keys()):
            g = obs[name]
            if isinstance(g, h5py.Group) and g.attrs.get("encoding-type") == "categorical":
                codes, values = g["codes"][...], g["categories"][...]
                del obs[name]
                cats.create_dataset(name, data=values, dtype=h5py.string_dtype())
                d = obs.create_dataset(name, data=codes, compression="gzip")
                d.attrs["categories"] = cats[name].ref


def check_layout(path, want_compression, primary="bool"):

    with h5py.File(path, "r") as f:
        codes = f["obs/cell_type_ontology_term_id/codes"]
        assert codes.compression == want_compression, (path, codes.compression)
        prim = f["obs/is_primary_data"]
        if primary == "bool":
            assert prim.dtype == np.bool_, prim.dtype  # h5py's bool: an enum over int8
        else:
            assert prim.attrs["encoding-type"] == primary, dict(prim.attrs)
        return {
            "codes": {k: str(f[f"obs/{k}/codes"].dtype) for k in ["cell_type_ontology_term_id", "donor_id", "assay_ontology_term_id"] if f"obs/{k}/codes" in f},
            "encoding": f.attrs.get("encoding-version", "none"),
        }


def refilter(f, name, filter_id):
    """Store dataset `name` as one chunk marked with `filter_id`, a filter
    h5py lacks (the bytes are written raw, as if that filter had made them)."""
    old = f[name]
    values, attrs = old[...], dict(old.attrs)
    del f[name]
    d = f.create_dataset(name, shape=values.shape, dtype=values.dtype, chunks=values.shape,
                         compression=filter_id, allow_unknown_filter=True)
    d.id.write_direct_chunk((0,) * values.ndim, values.tobytes())
    for k, v in attrs.items():
        d.attrs[k] = v


def widen_codes(path, name, dtype):
    """Rewrite one codes dataset with a wider integer type (same values, attrs, gzip)."""

    with h5py.File(path, "r+") as f:
        old = f[name]
        values, attrs = old[...].astype(dtype), dict(old.attrs)
        del f[name]
        new = f.create_dataset(name, data=values, compression="gzip")
        for k, v in attrs.items():
            new.attrs[k] = v


def with_user_block(src, dest, size=512):
    """src copied (layout and filters as they are) into a new file whose
    first `size` bytes are a user block of text."""
    with h5py.File(src, "r") as s, h5py.File(dest, "w", userblock_size=size) as d:
        for k, v in s.attrs.items():
            d.attrs[k] = v
        for k in s:
            s.copy(s[k], d, name=k)
    with open(dest, "r+b") as fh:
        fh.write(b"a user block: not HDF5\n".ljust(size, b"\0"))


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(value, fh, indent=1, ensure_ascii=False)
        fh.write("\n")


def write_anndata08(path):
    """Run inside the anndata 0.8.0 venv: write the 2022-style fixture."""
    import anndata as ad

    assert ad.__version__.startswith("0.8."), ad.__version__
    obs = make_obs(1500, seed=8, missing=0.02)
    make_adata(obs, seed=8).write_h5ad(path, compression="gzip")


def fixtures(out):
    import anndata as ad

    os.makedirs(out, exist_ok=True)
    made = {}

    # 1. gzip categoricals, -1 codes, bool enum; named by its dataset_version_id
    dvid = "0a3e8f5c-1b2d-4e6f-8a9b-0c1d2e3f4a5b"
    p = os.path.join(out, f"{dvid}.h5ad")
    make_adata(make_obs(2000, seed=1, missing=0.05), seed=1).write_h5ad(p, compression="gzip")
    made[p] = (dvid, check_layout(p, "gzip"))

    # 1b. fixture 1 behind a user block of 512 bytes, which HDF5 skips:
    #     every address in the file counts from the superblock after it
    p = os.path.join(out, "user_block.h5ad")
    with_user_block(os.path.join(out, f"{dvid}.h5ad"), p)
    made[p] = ("user_block", check_layout(p, "gzip"))

    # 2. int16 codes (200 cell types; 400 donor categories, 25 used) and, as
    #    some writers store them, int32 codes (rewritten with h5py: pandas
    #    would need > 32,767 categories, a file over 1 MB); the id comes from
    #    uns, not the file name
    dvid2 = "7c1e2a44-9d0b-4f3e-b6a1-5e8d2c9f0b77"
    p = os.path.join(out, "wide_codes.h5ad")
    obs = make_obs(3000, seed=2, n_cell_types=200, n_donors=25, donor_categories=400)
    make_adata(obs, seed=2, dataset_version_id=dvid2).write_h5ad(p, compression="gzip")
    widen_codes(p, "obs/assay_ontology_term_id/codes", np.int32)
    made[p] = (dvid2, check_layout(p, "gzip"))
    lay = made[p][1]["codes"]
    assert lay == {"cell_type_ontology_term_id": "int16", "donor_id": "int16", "assay_ontology_term_id": "int32"}, lay

    # 3. uncompressed; is_primary_data as pandas' nullable boolean (an
    #    anndata "nullable-boolean" group, some values missing) and donor_id
    #    as plain strings (not a categorical)
    p = os.path.join(out, "plain.h5ad")
    obs = make_obs(500, seed=3)
    prim = pd.array(obs["is_primary_data"].to_numpy(), dtype="boolean")
    prim[::7] = pd.NA
    obs["is_primary_data"] = prim
    obs["donor_id"] = obs["donor_id"].astype(str).astype(object)
    make_adata(obs, seed=3).write_h5ad(p, convert_strings_to_categoricals=False)
    with h5py.File(p, "r+") as f:
        # anndata writes False under the mask; other writers may not: put
        # True there, so that a reader ignoring the mask counts too many
        v, m = f["obs/is_primary_data/values"], f["obs/is_primary_data/mask"][...]
        v[...] = v[...] | m
    made[p] = ("plain", check_layout(p, None, primary="nullable-boolean"))
    with h5py.File(p, "r") as f:
        assert f["obs/donor_id"].attrs["encoding-type"] == "string-array"

    # 3b. LZF, which h5py has and hdf5-reader lacks (cxg-obs brings its own)
    p = os.path.join(out, "lzf.h5ad")
    make_adata(make_obs(3000, seed=5, missing=0.01), seed=5).write_h5ad(p, compression="lzf")
    made[p] = ("lzf", check_layout(p, "lzf"))

    # 4. a file written by anndata 0.8.0, when its venv is there
    p = os.path.join(out, "anndata08.h5ad")
    py08 = os.path.join("target", "venv-anndata08", "bin", "python")
    if os.path.exists(py08):
        subprocess.run([py08, __file__, "--write-anndata08", p], check=True)
        made[p] = ("anndata08", check_layout(p, "gzip"))
    else:
        print(f"note: {py08} absent: anndata08.h5ad not (re)written", file=sys.stderr)
        if os.path.exists(p):
            made[p] = ("anndata08", check_layout(p, "gzip"))

    # 3c. ids without their label columns (a file before CELLxGENE's ingest)
    p = os.path.join(out, "ids_only.h5ad")
    obs = make_obs(400, seed=9)
    obs = obs.drop(columns=[f for f in FACETS if f not in PLAIN])
    make_adata(obs, seed=9).write_h5ad(p, compression="gzip")
    made[p] = ("ids_only", check_layout(p, "gzip"))

    # 3d. X that no reader here can decode (Zstandard chunks): cxg-obs
    #     never reads X, so this file must summarise like any other
    p = os.path.join(out, "x_unreadable.h5ad")
    make_adata(make_obs(600, seed=10), seed=10).write_h5ad(p, compression="gzip")
    with h5py.File(p, "r+") as f:
        refilter(f, "X/data", 32015)
    made[p] = ("x_unreadable", check_layout(p, "gzip"))

    # 4b. anndata 0.7's layout (obs encoding-version 0.1.0: codes datasets
    #     whose categories live in obs/__categories), converted from 4 with
    #     h5py; anndata still reads it
    src = os.path.join(out, "anndata08.h5ad")
    if os.path.exists(src):
        p = os.path.join(out, "anndata07_layout.h5ad")
        to_anndata07_layout(src, p)
        made[p] = ("anndata07_layout", {"codes": "datasets + __categories", "encoding": "0.1.0"})

    for path, (dv, layout) in made.items():
        rec = summary(path, dv)
        rec["_written_by"] = {
            "anndata": "0.8.0" if "anndata08" in path else importlib.metadata.version("anndata"),
            "layout": {"codes": layout["codes"], "encoding": str(layout["encoding"])},
        }
        write_json(path[: -len(".h5ad")] + ".expected.json", rec)

    # Files cxg-obs must refuse, one record each (no expected counts):
    # 5. a column stored with a filter neither has (Zstandard, id 32015; the
    #    chunk is written raw, as hdf5plugin would have compressed it)
    p = os.path.join(out, "zstd.h5ad")
    make_adata(make_obs(300, seed=7), seed=7).write_h5ad(p, compression="gzip")
    with h5py.File(p, "r+") as f:
        refilter(f, "obs/cell_type_ontology_term_id/codes", 32015)
    # 6. no donor_id column
    p = os.path.join(out, "missing_column.h5ad")
    obs = make_obs(300, seed=6).drop(columns=["donor_id"])
    make_adata(obs, seed=6).write_h5ad(p, compression="gzip")
    # 7. the first 40% of fixture 1 (as an interrupted download leaves it)
    src = os.path.join(out, f"{dvid}.h5ad")
    with open(src, "rb") as fh:
        data = fh.read()
    with open(os.path.join(out, "truncated.h5ad"), "wb") as fh:
        fh.write(data[: len(data) * 2 // 5])
    # 8b. HDF5, but not AnnData (no obs group)
    with h5py.File(os.path.join(out, "not_anndata.h5ad"), "w") as f:
        f.create_dataset("x", data=np.arange(10))
    # 8. not HDF5 at all (an HTML error page saved as the file)
    with open(os.path.join(out, "not_hdf5.h5ad"), "w") as fh:
        fh.write("<html><body>403 Forbidden</body></html>\n")

    write_manifest(out, dvid, dvid2)

    for name in sorted(os.listdir(out)):
        size = os.path.getsize(os.path.join(out, name))
        assert size < 1_000_000, (name, size)
        print(f"{name}\t{size}")


def write_manifest(out, dvid, dvid2):
    """A manifest as cxg-download writes it: paths relative to its folder,
    one failed download (skipped by cxg-obs)."""
    import hashlib

    rows = [
        ("5e1c7f0a-2b3d-4c5e-8f6a-7b8c9d0e1f2a", dvid, f"{dvid}.h5ad", "downloaded"),
        ("3b9d2e71-6c4a-4f8b-9e0d-1a2b3c4d5e6f", dvid2, "wide_codes.h5ad", "verified"),
        ("9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", "c4d3e2f1-a0b9-4c8d-9e7f-6a5b4c3d2e1f", "", "failed"),
        ("1d2c3b4a-5f6e-4d7c-8b9a-0f1e2d3c4b5a", "8e7f6a5b-4c3d-4e2f-9a1b-0c9d8e7f6a5b", "anndata08.h5ad", "downloaded"),
        ("2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d", "6b5a4c3d-2e1f-4a0b-8c9d-7e6f5a4b3c2d", "plain.h5ad", "cached"),
    ]
    with open(os.path.join(out, "manifest.csv"), "w", newline="") as fh:
        fh.write("dataset_id,dataset_version_id,url,path,bytes,sha256,status\n")
        for did, dv, path, status in rows:
            size = sha = ""
            if path:
                data = open(os.path.join(out, path), "rb").read()
                size, sha = str(len(data)), hashlib.sha256(data).hexdigest()
            url = f"https://datasets.cellxgene.cziscience.com/{dv}.h5ad"
            fh.write(f"{did},{dv},{url},{path},{size},{sha},{status}\n")


# The sample catalogue (tests/fixtures/sample): what each dataset of the
# snapshot cxg-gen made is, in the order of its datasets.json. Terms are
# the real ones (ids and labels of the pinned ontology release) and all in
# tests/fixtures/ontology, so that selections give the same answer with
# that cut as with the whole files. Fields: title, organism, tissues
# (id, label, tissue_type), diseases, assays, cell types, cells, donors,
# primary ("all", "none" or "some"), sexes, suspension type.
HUMAN = ("NCBITaxon:9606", "Homo sapiens")
MOUSE = ("NCBITaxon:10090", "Mus musculus")
T = {
    "lung": ("UBERON:0002048", "lung"),
    "parenchyma": ("UBERON:0008946", "lung parenchyma"),
    "alveolus": ("UBERON:0002299", "alveolus of lung"),
    "brain": ("UBERON:0000955", "brain"),
    "blood": ("UBERON:0000178", "blood"),
    "skin": ("UBERON:0002097", "skin of body"),
    "marrow": ("UBERON:0002371", "bone marrow"),
    "liver": ("UBERON:0002107", "liver"),
    "normal": ("PATO:0000461", "normal"),
    "luad": ("MONDO:0005061", "lung adenocarcinoma"),
    "covid": ("MONDO:0100096", "COVID-19"),
    "alzheimer": ("MONDO:0004975", "Alzheimer disease"),
    "v3": ("EFO:0009922", "10x 3' v3"),
    "v2": ("EFO:0009899", "10x 3' v2"),
    "smartseq2": ("EFO:0008931", "Smart-seq2"),
    "multiome": ("EFO:0030059", "10x multiome"),
    "T": ("CL:0000084", "T cell"),
    "B": ("CL:0000236", "B cell"),
    "mac": ("CL:0000235", "macrophage"),
    "neuron": ("CL:0000540", "neuron"),
    "hep": ("CL:0000182", "hepatocyte"),
    "female": ("PATO:0000383", "female"),
    "male": ("PATO:0000384", "male"),
}
SAMPLE = [
    ("Human lung, healthy donors", HUMAN, [("lung", "tissue")], ["normal"], ["v3"], ["T", "mac", "B"], 900, 4, "all", ["female", "male"], "cell"),
    ("Human lung parenchyma", HUMAN, [("parenchyma", "tissue")], ["normal"], ["v2"], ["mac", "T"], 600, 3, "all", ["male"], "nucleus"),
    ("Alveoli of human lung", HUMAN, [("alveolus", "tissue")], ["normal"], ["smartseq2"], ["mac"], 300, 2, "none", ["female"], "cell"),
    ("Human lung adenocarcinoma", HUMAN, [("lung", "tissue")], ["luad"], ["v3"], ["T", "B", "mac"], 800, 5, "some", ["female", "male"], "cell"),
    ("Human brain, Alzheimer disease and controls", HUMAN, [("brain", "tissue")], ["alzheimer", "normal"], ["multiome"], ["neuron"], 500, 4, "all", ["female", "male"], "nucleus"),
    ("Human blood in COVID-19", HUMAN, [("blood", "tissue")], ["covid", "normal"], ["v3", "v2"], ["T", "B"], 700, 6, "some", ["female", "male"], "cell"),
    ("Human skin", HUMAN, [("skin", "tissue")], ["normal"], ["v2"], ["T", "mac"], 400, 2, "all", ["male"], "cell"),
    ("Mouse lung", MOUSE, [("lung", "tissue")], ["normal"], ["v2"], ["mac", "B"], 450, 3, "all", ["female", "male"], "cell"),
    ("Mouse bone marrow", MOUSE, [("marrow", "tissue")], ["normal"], ["smartseq2"], ["B"], 250, 2, "all", ["male"], "cell"),
    ("Mouse liver organoids", MOUSE, [("liver", "organoid")], ["normal"], ["v3"], ["hep", "mac"], 350, 2, "all", ["female"], "cell"),
]
STAGE = {HUMAN: ("HsapDv:0000087", "adult stage"), MOUSE: ("MmusDv:0000062", "2-month-old stage")}
ETHNICITY = {HUMAN: ("HANCESTRO:0005", "European"), MOUSE: ("na", "na")}


def spread(rng, k, n):
    """n codes over k values, each value used at least once."""
    codes = np.concatenate([np.arange(k), rng.integers(0, k, size=n - k)])
    rng.shuffle(codes)
    return codes


def sample_obs(i, spec):
    """The obs table of sample dataset i, and its record's fields."""
    title, org, tissues, diseases, assays, cts, n, n_donors, primary, sexes, susp = spec
    rng = np.random.default_rng(100 + i)
    cols, rec = {}, {}

    def facet(name, terms, field=None):
        codes = spread(rng, len(terms), n)
        ids = [t[0] for t in terms]
        cols[f"{name}_ontology_term_id"] = pd.Categorical.from_codes(codes, categories=ids)
        cols[name] = pd.Categorical.from_codes(codes, categories=[t[1] for t in terms])
        rec[field or name] = [{"label": lab, "ontology_term_id": tid} for tid, lab in terms]
        return codes

    facet("organism", [org])
    tcodes = facet("tissue", [T[k] for k, _ in tissues])
    types = [tt for _, tt in tissues]
    cols["tissue_type"] = pd.Categorical([types[c] for c in tcodes])
    for e, (_, tt) in zip(rec["tissue"], tissues):
        e["tissue_type"] = tt
    facet("disease", [T[k] for k in diseases])
    facet("assay", [T[k] for k in assays])
    facet("cell_type", [T[k] for k in cts])
    facet("sex", [T[k] for k in sexes])
    facet("development_stage", [STAGE[org]])
    facet("self_reported_ethnicity", [ETHNICITY[org]])
    cols["suspension_type"] = pd.Categorical([susp] * n)
    donors = [f"D{i}-{k}" for k in range(n_donors)]
    cols["donor_id"] = pd.Categorical.from_codes(spread(rng, n_donors, n), categories=donors)
    prim = {"all": np.ones(n, bool), "none": np.zeros(n, bool)}.get(primary)
    if prim is None:
        prim = rng.random(n) < 0.6
        prim[:2] = [True, False]
    cols["is_primary_data"] = prim
    obs = pd.DataFrame(cols, index=[f"cell_{k:05d}" for k in range(n)])
    rec.update({
        "title": title,
        "cell_count": n,
        "primary_cell_count": int(prim.sum()),
        "is_primary_data": sorted({bool(x) for x in prim}, reverse=True),
        "donor_id": donors,
        "suspension_type": [susp],
        "schema_version": "5.2.0",
    })
    return obs, rec


def set_fields(value, did, fields):
    """Every object of `value` that is dataset `did`: the keys it has set
    from `fields` (a preview in collections.json has fewer keys)."""
    if isinstance(value, list):
        for v in value:
            set_fields(v, did, fields)
    elif isinstance(value, dict):
        if value.get("dataset_id") == did:
            for k, v in fields.items():
                if k in value:
                    value[k] = v
        for v in value.values():
            set_fields(v, did, fields)


def h5ad_asset(rec):
    (a,) = [a for a in rec["assets"] if a["filetype"] == "H5AD"]
    return a


def sample(out):
    """Make the snapshot cxg-gen wrote in `out` the sample catalogue: each
    dataset's record says what its H5AD (written here) holds."""
    import hashlib

    index = json.load(open(os.path.join(out, "datasets.json"), encoding="utf-8"))
    assert len(index) == len(SAMPLE), (len(index), len(SAMPLE))
    files = [os.path.join(d, f) for d, _, fs in os.walk(out) for f in fs if f.endswith(".json")]
    docs = {f: json.load(open(f, encoding="utf-8")) for f in files}
    for i, (rec, spec) in enumerate(zip(index, SAMPLE)):
        obs, fields = sample_obs(i, spec)
        url = h5ad_asset(rec)["url"]
        path = os.path.join(out, "assets", url.rsplit("/", 1)[1])
        adata = make_adata(obs, n_genes=100, seed=100 + i, nnz_per_cell=12)
        adata.uns["title"] = spec[0]
        # both layouts CELLxGENE serves: gzip chunks and contiguous
        adata.write_h5ad(path, compression="gzip" if i % 2 == 0 else None)
        data = open(path, "rb").read()
        with open(path + ".etag", "w") as fh:
            fh.write('"%s"' % hashlib.md5(data).hexdigest())
        for doc in docs.values():
            set_fields(doc, rec["dataset_id"], fields)
            for a in find_assets(doc, url):
                a["filesize"] = len(data)
        check_sample(path, fields)
    for f, doc in docs.items():
        with open(f, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(doc, separators=(",", ":"), ensure_ascii=False))


def find_assets(value, url):
    """The asset objects of `value` with this url."""
    if isinstance(value, list):
        for v in value:
            yield from find_assets(v, url)
    elif isinstance(value, dict):
        if value.get("url") == url and "filesize" in value:
            yield value
        for v in value.values():
            yield from find_assets(v, url)


def check_sample(path, rec):
    """What anndata reads back agrees with the record."""
    import anndata as ad

    obs = ad.read_h5ad(path, backed="r").obs
    assert len(obs) == rec["cell_count"]
    assert int(obs["is_primary_data"].sum()) == rec["primary_cell_count"]
    assert sorted(obs["donor_id"].unique()) == sorted(rec["donor_id"])
    for f in ["organism", "tissue", "disease", "assay", "cell_type", "sex", "development_stage", "self_reported_ethnicity"]:
        got = set(obs[f"{f}_ontology_term_id"].astype(str))
        assert got == {t["ontology_term_id"] for t in rec[f]}, (path, f, got)


def bench_file(n, path, nnz_per_cell=10):
    """A file of n cells shaped like a CELLxGENE one: gzip, ~1,000 donors,
    600 cell types, a sparse X of 2,000 genes (that cxg-obs never reads;
    cxg-subset's benchmark asks for more values per cell, --nnz)."""
    obs = make_obs(n, seed=42, n_cell_types=600, n_donors=1000, missing=0.001)
    rng = np.random.default_rng(43)
    # more columns, as real files carry (anndata reads them all)
    for i in range(10):
        obs[f"qc_metric_{i}"] = rng.random(n).astype(np.float32)
    make_adata(obs, n_genes=2000, seed=42, nnz_per_cell=nnz_per_cell).write_h5ad(path, compression="gzip")


def count(path):
    """The reference for the benchmark, done as a Python user would: anndata
    backed mode (obs is loaded, X is not) and pandas value_counts per facet;
    prints the scalars so that the benchmark can compare them."""
    import anndata as ad

    a = ad.read_h5ad(path, backed="r")
    obs = a.obs
    counts = {}
    for facet in FACETS:
        col = id_column(facet)
        vc = obs[col].value_counts(dropna=True)
        counts[facet] = {str(k): int(v) for k, v in vc.items() if v > 0}
        if facet not in PLAIN:
            obs.groupby(col, observed=True)[facet].first()
    print(json.dumps({
        "n_cells": int(a.n_obs),
        "normal_cell_count": int((obs["disease_ontology_term_id"] == "PATO:0000461").sum()),
        "primary_cell_count": int(obs["is_primary_data"].sum()),  # NA is not true
        "donor_count": int(obs["donor_id"].nunique()),
        "cell_types": len(counts["cell_type"]),
    }, separators=(",", ":")))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="tests/fixtures/h5ad")
    ap.add_argument("--bench", nargs=2, metavar=("CELLS", "PATH"))
    ap.add_argument("--nnz", type=int, default=10, help="with --bench: values of X per cell")
    ap.add_argument("--count", metavar="PATH")
    ap.add_argument("--write-anndata08", metavar="PATH")
    ap.add_argument("--sample", metavar="DIR", help="make the snapshot cxg-gen wrote in DIR the sample catalogue")
    a = ap.parse_args()
    if a.sample:
        sample(a.sample)
    elif a.write_anndata08:
        write_anndata08(a.write_anndata08)
    elif a.bench:
        bench_file(int(a.bench[0]), a.bench[1], a.nnz)
    elif a.count:
        count(a.count)
    else:
        fixtures(a.out)


if __name__ == "__main__":
    main()
