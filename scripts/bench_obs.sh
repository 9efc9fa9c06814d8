#!/usr/bin/env bash
# make bench (part 2): cxg-obs against anndata on one generated H5AD of
# CELLS cells (default 1,000,000; made once by scripts/make_h5ad_fixtures.py
# and kept in $OUT/obs/, never committed). The reference is what a Python
# user runs: anndata read_h5ad(backed="r") + pandas value_counts per facet.
# Both run RUNS times on a warm page cache: median wall time, spread and
# peak RSS (/usr/bin/time). Prints a markdown table, also written to
# $OUT/obs.md. Not part of make test.
#
# The Python side lives in a venv (target/venv-h5ad, made here from the
# pinned scripts/h5ad-fixtures-requirements.txt when absent; PYTHON picks
# the interpreter, default python3.11). Without Python the benchmark says
# so and stops.
#
# Then the cell filter (issue 23): four facets and an age bound (FILTER), by
# cxg-obs against the same filter in anndata + pandas
# (scripts/make_obs_filter_expectations.py --count; its term sets and stage
# ages resolved beforehand, not timed: a Python user has them at hand). Needs
# the ontology folder of `make ontologies` (ONTOLOGY); without it that part
# says so and is skipped.
#
# Settings (environment): BIN (target/release), OUT (bench-out), RUNS (3),
# CELLS (1000000), PYTHON (python3.11), VENV (target/venv-h5ad), ONTOLOGY
# ($CXG_ONTOLOGY, else ~/.cache/cxg/ontology), FILTER (the options).
set -euo pipefail
BIN=${BIN:-target/release}
OUT=${OUT:-bench-out}
RUNS=${RUNS:-3}
CELLS=${CELLS:-1000000}
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-target/venv-h5ad}
BIN=$(cd "$BIN" && pwd)
mkdir -p "$OUT/obs"
OUT=$(cd "$OUT" && pwd)

if [ ! -x "$VENV/bin/python" ]; then
  command -v "$PYTHON" >/dev/null || { echo "bench-obs: skipped: $PYTHON is not installed (set PYTHON=...)" >&2; exit 0; }
  echo "bench-obs: creating $VENV from scripts/h5ad-fixtures-requirements.txt" >&2
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q -r scripts/h5ad-fixtures-requirements.txt
fi
PY="$VENV/bin/python"

file="$OUT/obs/cells-$CELLS.h5ad"
if [ ! -s "$file" ]; then
  echo "bench-obs: writing $file ($CELLS cells)" >&2
  "$PY" scripts/make_h5ad_fixtures.py --bench "$CELLS" "$file.tmp"
  mv "$file.tmp" "$file"
fi

# measure and mb
# shellcheck source=scripts/bench_measure.sh
. scripts/bench_measure.sh
MEASURE_LOG="$OUT/obs/stderr.log"

# the same answers first
ours=$(echo "$file" | "$BIN/cxg-obs" -q | jq -c '{n_cells, normal_cell_count, primary_cell_count, donor_count, cell_types: (.counts.cell_type | length)}' 2>/dev/null || true)
ref=$("$PY" scripts/make_h5ad_fixtures.py --count "$file" 2>/dev/null)
if [ -n "$ours" ] && [ "$ours" != "$ref" ]; then
  echo "bench-obs: cxg-obs and anndata disagree on $file:" >&2
  echo "  cxg-obs: $ours" >&2; echo "  anndata: $ref" >&2; exit 1
fi

measure "echo '$file' | '$BIN/cxg-obs' -q"; o_med=$med; o_sp=$spread; o_rss=$rss; o_cpu=$cpu
measure "'$PY' scripts/make_h5ad_fixtures.py --count '$file'"; r_med=$med; r_sp=$spread; r_rss=$rss; r_cpu=$cpu
measure "'$PY' -c 'import anndata'"; i_med=$med; i_rss=$rss; i_cpu=$cpu
speed=$(awk -v a="$o_med" -v b="$r_med" 'BEGIN {printf "%.1f×", b/a}')
cpuspeed=$(awk -v a="$o_cpu" -v b="$r_cpu" 'BEGIN { if (a > 0) printf "%.1f×", b/a; else print "n/a" }')
memfrac=$( [ -n "$o_rss" ] && [ -n "$r_rss" ] && awk -v a="$o_rss" -v b="$r_rss" 'BEGIN {printf "%.1f%%", 100*a/b}' || echo "n/a")
size=$(du -m "$file" | cut -f1)
{
  echo "Measured by \`make bench\` (scripts/bench_obs.sh) on $(date -u +%F), $(nproc) cores, $(uname -m);"
  echo "$RUNS runs each, warm page cache (median wall time ± spread · median CPU time, user + sys · peak RSS); load average $(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo n/a) at the end."
  echo "File: $CELLS cells, ${size} MB, gzip, written by anndata $("$PY" -c 'import importlib.metadata as m; print(m.version("anndata"))')."
  echo "Both give $ref."
  echo
  echo "| what | wall time | CPU time | peak RSS |"
  echo "|---|---|---|---|"
  echo "| \`cxg-obs\` (all 9 facets, labels, scalars) | ${o_med} s ±${o_sp} | ${o_cpu} s | $(mb "$o_rss") |"
  echo "| anndata \`read_h5ad(backed=\"r\")\` + \`value_counts\` | ${r_med} s ±${r_sp} | ${r_cpu} s | $(mb "$r_rss") |"
  echo "| (of which: starting Python and importing anndata) | ${i_med} s | ${i_cpu} s | $(mb "$i_rss") |"
  echo "| cxg-obs vs anndata | ${speed} faster | ${cpuspeed} less | ${memfrac} of the memory |"
} | tee "$OUT/obs.md"

# ---- the cell filter: four facets and an age bound ----
ONTOLOGY=${ONTOLOGY:-${CXG_ONTOLOGY:-${XDG_CACHE_HOME:-$HOME/.cache}/cxg/ontology}}
FILTER=${FILTER:---tissue lung --disease normal --sex male --assay EFO:0009922 --min-age 18}
if ! ls "$ONTOLOGY"/HsapDv-ontology-*.json* >/dev/null 2>&1; then
  echo "bench-obs: the cell filter skipped: no ontology files in $ONTOLOGY (make ontologies)" >&2
  exit 0
fi
resolved="$OUT/obs/filter.resolved.json"
# shellcheck disable=SC2086 # FILTER is a list of options
"$PY" scripts/make_obs_filter_expectations.py "$ONTOLOGY" --resolve "$resolved" -- $FILTER
# shellcheck disable=SC2086
ours=$(echo "$file" | "$BIN/cxg-obs" -q --ontology "$ONTOLOGY" $FILTER \
  | jq -c '{filtered_cell_count, filtered_donor_count, age_unknown_cell_count}' 2>/dev/null || true)
ref=$("$PY" scripts/make_obs_filter_expectations.py --count "$file" "$resolved")
if [ -n "$ours" ] && [ "$ours" != "$ref" ]; then
  echo "bench-obs: cxg-obs and anndata + pandas disagree on the filter ($FILTER):" >&2
  echo "  cxg-obs: $ours" >&2; echo "  pandas:  $ref" >&2; exit 1
fi
measure "echo '$file' | '$BIN/cxg-obs' -q --ontology '$ONTOLOGY' $FILTER"; f_med=$med; f_sp=$spread; f_rss=$rss; f_cpu=$cpu
measure "'$PY' scripts/make_obs_filter_expectations.py --count '$file' '$resolved'"; p_med=$med; p_sp=$spread; p_rss=$rss; p_cpu=$cpu
fspeed=$(awk -v a="$f_med" -v b="$p_med" 'BEGIN {printf "%.1f×", b/a}')
fcpu=$(awk -v a="$f_cpu" -v b="$p_cpu" 'BEGIN { if (a > 0) printf "%.1f×", b/a; else print "n/a" }')
fmem=$( [ -n "$f_rss" ] && [ -n "$p_rss" ] && awk -v a="$f_rss" -v b="$p_rss" 'BEGIN {printf "%.1f%%", 100*a/b}' || echo "n/a")
{
  echo
  echo "The cell filter \`$FILTER\` (terms and ages from $(cat "$ONTOLOGY/RELEASE" 2>/dev/null || echo "$ONTOLOGY")); both give $ref."
  echo
  echo "| what | wall time | CPU time | peak RSS |"
  echo "|---|---|---|---|"
  echo "| \`cxg-obs\` with the filter (summary and kept cells) | ${f_med} s ±${f_sp} | ${f_cpu} s | $(mb "$f_rss") |"
  echo "| anndata + pandas, the same filter (terms resolved beforehand) | ${p_med} s ±${p_sp} | ${p_cpu} s | $(mb "$p_rss") |"
  echo "| cxg-obs vs anndata + pandas | ${fspeed} faster | ${fcpu} less | ${fmem} of the memory |"
} | tee -a "$OUT/obs.md"
