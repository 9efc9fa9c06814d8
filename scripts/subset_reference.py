#!/usr/bin/env python3
"""The reference for cxg-subset's benchmark (scripts/bench_subset.sh): what a
Python user runs to keep some cells of an H5AD, with the pinned anndata of
scripts/h5ad-fixtures-requirements.txt.

    python scripts/subset_reference.py memory IN OUT EXPR
    python scripts/subset_reference.py backed IN OUT EXPR

EXPR is a pandas query over the source's obs columns (the cells the
cxg-subset filter keeps). `memory`: read_h5ad, mask, copy, write_h5ad with
gzip (as CELLxGENE's files are). `backed`: read_h5ad(backed="r"), mask,
to_memory, write_h5ad with gzip. Prints the number of kept cells.
"""

import sys

import anndata as ad


def main():
    mode, src, out, expr = sys.argv[1:5]
    a = ad.read_h5ad(src, backed="r" if mode == "backed" else None)
    keep = a.obs.eval(expr).to_numpy(dtype=bool)
    sub = a[keep].to_memory() if mode == "backed" else a[keep].copy()
    sub.write_h5ad(out, compression="gzip")
    print(int(keep.sum()))


if __name__ == "__main__":
    main()
