#!/usr/bin/env bash
# tests/fixtures/sample: the small catalogue the README's examples and
# `make demo` harvest offline. cxg-gen makes three collections of ten
# datasets (the ids, collections and every other field); then the pinned
# fixture script says what each dataset is (human lung, lung parenchyma and
# alveolus of lung, lung adenocarcinoma, other tissues, mouse: the table
# SAMPLE in scripts/make_h5ad_fixtures.py), writes its H5AD with an obs
# that agrees with its record (cells, organisms, tissues, diseases, assays,
# cell types, donors, primary data), its ETag (the file's MD5), and puts
# that file's size in every record that names it. Run from the repository
# root after `make build`, with the venv of make_h5ad_fixtures.py:
#   python3.11 -m venv target/venv-h5ad
#   target/venv-h5ad/bin/pip install -r scripts/h5ad-fixtures-requirements.txt
# The result is committed.
set -euo pipefail
export LC_ALL=C
BIN=${BIN:-target/release}
PY=${PY:-target/venv-h5ad/bin/python}
out=tests/fixtures/sample

rm -rf "$out"
"$BIN/cxg-gen" --seed 3 --collections 3 --datasets 10 --assets "$out"
"$PY" scripts/make_h5ad_fixtures.py --sample "$out"
