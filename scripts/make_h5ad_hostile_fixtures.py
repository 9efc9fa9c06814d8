#!/usr/bin/env python3
"""Write the hostile .h5ad fixtures cxg-obs must refuse file by file (no
abort, no silent wrong answer). Tooling only; needs h5py and numpy (the
versions pinned in scripts/h5ad-fixtures-requirements.txt):

    target/venv-h5ad/bin/python scripts/make_h5ad_hostile_fixtures.py

- huge_claims.h5ad: a few KB whose obs/_index and codes declare 10**12 cells
  (chunked, only the first chunk stored). The test stretches a copy to 10 GB
  with a sparse set_len, as an attacker's `truncate -s 10G` would.
- codes_2d.h5ad: plain.h5ad with cell_type_ontology_term_id/codes reshaped
  to two columns (n/2 x 2): the same number of values, an unsupported layout.
- self_link_label.h5ad: plain.h5ad whose obs/cell_type is a soft link to
  itself (it never resolves).
"""

import os
import shutil

import h5py
import numpy as np

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures", "h5ad")


def huge(path):
    n = 10**12
    with h5py.File(path, "w") as f:
        obs = f.create_group("obs")
        obs.attrs["encoding-type"] = "dataframe"
        obs.attrs["encoding-version"] = "0.2.0"
        obs.attrs["_index"] = "_index"
        obs.attrs["column-order"] = np.array(["cell_type_ontology_term_id"], dtype=object)
        obs.create_dataset("_index", shape=(n,), dtype=h5py.string_dtype(), chunks=(1000,))
        col = obs.create_group("cell_type_ontology_term_id")
        col.attrs["encoding-type"] = "categorical"
        col.attrs["encoding-version"] = "0.2.0"
        col.attrs["ordered"] = False
        codes = col.create_dataset("codes", shape=(n,), dtype="i1", chunks=(1000,), compression="gzip")
        codes[:1000] = 0
        col.create_dataset("categories", data=np.array(["CL:0000001"], dtype=object), dtype=h5py.string_dtype())


def from_plain(path, change):
    shutil.copyfile(os.path.join(HERE, "plain.h5ad"), path)
    with h5py.File(path, "r+") as f:
        change(f)


def two_d(f):
    g = f["obs/cell_type_ontology_term_id"]
    codes = g["codes"][()]
    assert len(codes) % 2 == 0
    del g["codes"]
    g.create_dataset("codes", data=codes.reshape(len(codes) // 2, 2))


def self_link(f):
    del f["obs/cell_type"]
    f["obs/cell_type"] = h5py.SoftLink("/obs/cell_type")


if __name__ == "__main__":
    huge(os.path.join(HERE, "huge_claims.h5ad"))
    from_plain(os.path.join(HERE, "codes_2d.h5ad"), two_d)
    from_plain(os.path.join(HERE, "self_link_label.h5ad"), self_link)
