#!/usr/bin/env python3
"""What cxg-obs's cell filter must keep on the committed H5AD fixtures, written
again here in pandas over anndata's obs (never from cxg-obs):
tests/fixtures/h5ad/filters.expected.json, read by tests/obs_cells.rs.

The filter, as docs/obs.md states it: values of one option OR'ed, options
AND'ed, an --exclude-* value removes the cells it matches; a term matches itself
and its descendants (the guide files' `ancestors`); an id of several terms
joined by commas matches by each; --normal is disease PATO:0000461, --primary
is_primary_data true (read by its category values); ages from the HsapDv and
MmusDv stages (their labels and descriptions, else their descendants'; prenatal
stages before birth), a stage partly outside the bounds or of no known age
counted apart (kept with --keep-unknown-age); a column the filter needs that
the file lacks makes every count null. The organism of schema 6+ files is in
uns.

    python3 -m venv /tmp/venv-h5ad
    /tmp/venv-h5ad/bin/pip install -r scripts/h5ad-fixtures-requirements.txt
    make ontologies      # the pinned guide files, in ~/.cache/cxg/ontology
    /tmp/venv-h5ad/bin/python scripts/make_obs_filter_expectations.py ~/.cache/cxg/ontology

For make bench (scripts/bench_obs.sh), the same filter on any file, its terms
and stage ages resolved first (not timed) and then applied with anndata + pandas:

    python scripts/make_obs_filter_expectations.py ~/.cache/cxg/ontology --resolve r.json -- --normal --tissue lung
    python scripts/make_obs_filter_expectations.py --count big.h5ad r.json
"""

import glob
import importlib.metadata
import json
import math
import os
import re
import subprocess
import sys
import warnings

import h5py
import pandas as pd

sys.path.insert(0, os.path.dirname(__file__))
from make_h5ad_any_fixtures import FACETS, LEGACY, read, truth  # noqa: E402

OUT = "tests/fixtures/h5ad/filters.expected.json"
# (option, obs column, ontologies) of the facets the cases use
OPTIONS = {
    "organism": ("organism_ontology_term_id", "organism", ["NCBITaxon"]),
    "tissue": ("tissue_ontology_term_id", "tissue", ["UBERON", "CL"]),
    "disease": ("disease_ontology_term_id", "disease", ["MONDO", "PATO"]),
    "cell-type": ("cell_type_ontology_term_id", "cell_type", ["CL"]),
    "assay": ("assay_ontology_term_id", "assay", ["EFO"]),
    "sex": ("sex_ontology_term_id", "sex", ["PATO"]),
    "self-reported-ethnicity": ("self_reported_ethnicity_ontology_term_id", "self_reported_ethnicity", ["HANCESTRO"]),
    "suspension-type": ("suspension_type", None, []),
}
CASES = [
    ["--normal", "--primary"],
    ["--tissue", "lung"],
    ["--min-age", "18"],
    ["--min-age", "18", "--keep-unknown-age"],
    ["--tissue", "lung", "--normal", "--primary", "--min-age", "18"],
    ["--exclude-sex", "female", "--max-age", "65"],
    ["--cell-type", "CL:0000084", "--cell-type", "monocyte", "--exclude-disease", "COVID-19"],
    ["--self-reported-ethnicity", "HANCESTRO:0005"],
    ["--organism", "NCBITaxon:9606", "--exact", "--suspension-type", "cell"],
]
UNITS = {"year": 1.0, "month": 1 / 12, "week": 7 / 365.25, "day": 1 / 365.25}
UNIT = r"(year|month|week|day)s?"


def load(folder, name):
    path = glob.glob(os.path.join(folder, f"{name}-ontology-*.json*"))[0]
    raw = subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout if path.endswith(".zst") \
        else open(path, "rb").read()
    return json.loads(raw)


class Terms:
    def __init__(self, folder):
        self.folder, self.files = folder, {}

    def get(self, name):
        if name not in self.files:
            self.files[name] = load(self.folder, name)
        return self.files[name]

    def resolve(self, value, names, exact):
        if exact and re.fullmatch(r"[A-Za-z]+:\w+", value):
            return {value}  # the id alone (NCBITaxon is 844 MB of JSON)
        for name in names:
            terms = self.get(name)
            hit = value if value in terms else next(
                (k for k, t in terms.items() if not t.get("deprecated") and t.get("label", "").lower() == value.lower()), None)
            if hit:
                if exact:
                    return {hit}
                return {hit} | {k for k, t in terms.items() if hit in t.get("ancestors", {})}
        raise SystemExit(f"{value}: not a term of {names}")


def own_span(label, desc):
    d, lab = desc.lower(), label.lower()
    m = re.search(rf"over (\d+) ?(?:{UNIT})? and (?:is )?under (\d+) {UNIT}", d)
    if m:
        a, ua, b, ub = m.groups()
        return (int(a) * UNITS[ua or ub], int(b) * UNITS[ub])
    m = re.search(rf"the first (\d+) {UNIT}", d)
    if m:
        return (0.0, int(m.group(1)) * UNITS[m.group(2)])
    m = re.search(rf"birth.*?until (\d+) {UNIT}", d)
    if m:
        return (0.0, int(m.group(1)) * UNITS[m.group(2)])
    m = re.search(rf"(?<![\d-])(\d+)[- ]{UNIT}-old", lab)
    if m:
        n, u = int(m.group(1)), UNITS[m.group(2)]
        return (n * u, math.inf if "and over" in lab else (n + 1) * u)
    m = re.search(rf"over (\d+) {UNIT}", d) or re.search(r"over (\d+)\.?$", d)
    if m:
        return (int(m.group(1)) * UNITS[m.group(2) if m.lastindex > 1 else "year"], math.inf)
    return None


def spans(terms):
    pre = {k for k, t in terms.items() if t.get("label") == "prenatal stage"}
    own = {}
    for k, t in terms.items():
        if k in pre or pre & set(t.get("ancestors", {})):
            own[k] = (-1.0, 0.0)
        else:
            s = own_span(t.get("label", ""), t.get("description", ""))
            if s:
                own[k] = s
    out = dict(own)
    for k, t in terms.items():
        if k not in own:
            below = [own[d] for d, u in terms.items() if k in u.get("ancestors", {}) and d in own]
            if below:
                out[k] = (min(s[0] for s in below), max(s[1] for s in below))
    for k, t in terms.items():
        if t.get("deprecated") and t.get("replaced_by") in out:
            out[k] = out[t["replaced_by"]]
    return out


def judge(span, lo, hi):
    if span is None:
        return "unknown"
    verdict = "in"
    if lo is not None:
        if span[1] <= lo:
            return "out"
        if span[0] < lo:
            verdict = "unknown"
    if hi is not None:
        if span[0] >= hi:
            return "out"
        if span[1] > hi:
            verdict = "unknown"
    return verdict


def parse(case):
    f = {"inc": {}, "exc": {}, "normal": False, "primary": False, "min": None, "max": None,
         "keep_unknown": False, "exact": "--exact" in case}
    i = 0
    while i < len(case):
        o = case[i]
        if o in ("--normal", "--primary", "--keep-unknown-age", "--exact"):
            f[{"--keep-unknown-age": "keep_unknown", "--exact": "exact"}.get(o, o[2:])] = True
        elif o in ("--min-age", "--max-age"):
            f[o[2:5]] = float(case[i + 1])
            i += 1
        else:
            kind, name = ("exc", o[len("--exclude-"):]) if o.startswith("--exclude-") else ("inc", o[2:])
            f[kind].setdefault(name, []).append(case[i + 1])
            i += 1
        i += 1
    return f


def ids_match(value, ids):
    if pd.isna(value):
        return False
    v = str(value)
    return v in ids or any(p.strip() in ids for p in v.split(","))


def column(obs, uns, col):
    if col not in obs.columns and col in LEGACY and LEGACY[col][0] in obs.columns:
        col = LEGACY[col][0]
    if col in obs.columns:
        return obs[col]
    if col in uns:  # schema 6+: one organism for every cell, in uns
        return pd.Series([str(uns[col])] * obs.shape[0], index=obs.index)
    return None


def apply(path, f, terms, ages):
    obs, _, uns, _ = read(path)
    keep = pd.Series(True, index=obs.index)
    missing = []
    for kind in ("inc", "exc"):
        for name, values in f[kind].items():
            col_name, _, onts = OPTIONS[name]
            col = column(obs, uns, col_name)
            if col is None:
                missing.append(col_name)
                continue
            ids = set().union(*(terms.resolve(v, onts, f["exact"]) if onts else {v} for v in values))
            hit = col.map(lambda v: ids_match(v, ids)).astype(bool)
            keep &= hit if kind == "inc" else ~hit
    if f["normal"]:
        col = column(obs, uns, "disease_ontology_term_id")
        if col is None:
            missing.append("disease_ontology_term_id")
        else:
            keep &= (col == "PATO:0000461").fillna(False).astype(bool)
    if f["primary"]:
        if "is_primary_data" not in obs.columns:
            missing.append("is_primary_data")
        else:
            keep &= truth(obs["is_primary_data"]).map(lambda v: False if pd.isna(v) else bool(v)).astype(bool)
    unknown = 0
    if f["min"] is not None or f["max"] is not None:
        col = column(obs, uns, "development_stage_ontology_term_id")
        if col is None:
            missing.append("development_stage_ontology_term_id")
        else:
            v = col.map(lambda s: "unknown" if pd.isna(s) else judge(ages.get(str(s)), f["min"], f["max"]))
            unknown = int((keep & (v == "unknown")).sum())
            keep &= (v == "in") | ((v == "unknown") & f["keep_unknown"])
    if missing:
        return {"filtered_cell_count": None, "filtered_donor_count": None, "age_unknown_cell_count": None,
                "missing": sorted(set(missing))}
    kept = obs[keep.values]
    counts = {}
    for facet, ids, _ in FACETS:
        col = column(kept, {}, ids)
        if col is None:
            counts[facet] = None
            continue
        vc = col.value_counts(dropna=True)
        counts[facet] = dict(sorted(((str(k), int(n)) for k, n in vc.items() if n > 0), key=lambda kv: (-kv[1], kv[0])))
    return {"filtered_cell_count": int(keep.sum()),
            "filtered_donor_count": int(kept["donor_id"].nunique()) if "donor_id" in obs.columns else None,
            "age_unknown_cell_count": unknown,
            "filtered_counts": counts}


def readable(path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            read(path)
        return True
    except Exception:
        return False


class Resolved:
    """Terms resolved beforehand (--resolve), as Terms answers them."""

    def __init__(self, sets):
        self.sets = sets

    def resolve(self, value, names, exact):
        return set(self.sets[value])


def resolve_to(folder, out, case):
    """Write the filter `case` with its term sets and the stage ages."""
    terms, f = Terms(folder), parse(case)
    sets = {}
    for kind in ("inc", "exc"):
        for name, values in f[kind].items():
            onts = OPTIONS[name][2]
            for v in values:
                sets[v] = sorted(terms.resolve(v, onts, f["exact"]) if onts else {v})
    ages = {}
    if f["min"] is not None or f["max"] is not None:
        for name in ("HsapDv", "MmusDv"):
            ages.update(spans(terms.get(name)))
    with open(out, "w") as fh:
        json.dump({"options": case, "sets": sets, "ages": {k: [v[0], v[1] if v[1] != math.inf else None]
                                                          for k, v in ages.items()}}, fh)


def count(path, resolved):
    """The filter of `resolved` on one file: its counts, as JSON."""
    with open(resolved) as fh:
        r = json.load(fh)
    ages = {k: (v[0], math.inf if v[1] is None else v[1]) for k, v in r["ages"].items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = apply(path, parse(r["options"]), Resolved(r["sets"]), ages)
    print(json.dumps({k: got[k] for k in ("filtered_cell_count", "filtered_donor_count", "age_unknown_cell_count")},
                     separators=(",", ":")))


def main():
    if sys.argv[1] == "--count":
        return count(sys.argv[2], sys.argv[3])
    folder = sys.argv[1]
    if len(sys.argv) > 2 and sys.argv[2] == "--resolve":
        return resolve_to(folder, sys.argv[3], sys.argv[5:])
    terms = Terms(folder)
    ages = {}
    for name in ("HsapDv", "MmusDv"):
        ages.update(spans(terms.get(name)))
    paths = sorted(p for p in glob.glob("tests/fixtures/h5ad/*.h5ad") + glob.glob("tests/fixtures/h5ad/any/*.h5ad")
                   if readable(p))
    release = open(os.path.join(folder, "RELEASE")).read().strip()
    cases = []
    for case in CASES:
        f = parse(case)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            files = {os.path.relpath(p, "tests/fixtures/h5ad"): apply(p, f, terms, ages) for p in paths}
        cases.append({"options": case, "files": files})
    out = {"ontology_release": release,
           "written_by": f"scripts/make_obs_filter_expectations.py with anndata {importlib.metadata.version('anndata')}, "
                         f"pandas {pd.__version__}, h5py {h5py.__version__}",
           "cases": cases}
    with open(OUT, "w") as fh:
        json.dump(out, fh, indent=1, sort_keys=False)
        fh.write("\n")
    print(f"{OUT}: {len(cases)} cases x {len(paths)} files")


if __name__ == "__main__":
    main()
