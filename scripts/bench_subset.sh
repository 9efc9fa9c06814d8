#!/usr/bin/env bash
# make bench (part 3): cxg-subset against anndata on a generated H5AD of
# CELLS cells with NNZ values of X per cell (1 M cells x 100 values: about
# 0.8 GB; made once by scripts/make_h5ad_fixtures.py --bench, kept in
# $OUT/subset/, never committed), subset to about a tenth of its cells (FILTER;
# PANDAS is the same choice as a pandas expression for the reference). The
# reference is what a Python user runs (scripts/subset_reference.py):
# anndata read_h5ad + mask + write_h5ad(gzip), and the same from
# read_h5ad(backed="r"). RUNS rounds of the four in turn, warm page cache: median wall
# time, spread, median CPU time and peak RSS (/usr/bin/time). Prints a
# markdown table, also written to $OUT/subset.md. Not part of make test.
#
# Settings (environment): BIN (target/release), OUT (bench-out), RUNS (3),
# CELLS (1000000), NNZ (100), PYTHON (python3.11), VENV (target/venv-h5ad), ONTOLOGY
# ($CXG_ONTOLOGY, else ~/.cache/cxg/ontology), FILTER and PANDAS.
set -euo pipefail
BIN=${BIN:-target/release}
OUT=${OUT:-bench-out}
RUNS=${RUNS:-3}
CELLS=${CELLS:-1000000}
NNZ=${NNZ:-100}
PYTHON=${PYTHON:-python3.11}
VENV=${VENV:-target/venv-h5ad}
ONTOLOGY=${ONTOLOGY:-${CXG_ONTOLOGY:-${XDG_CACHE_HOME:-$HOME/.cache}/cxg/ontology}}
FILTER=${FILTER:---tissue UBERON:0002048 --sex PATO:0000383}
# (a default with quotes in it is assigned apart: ${X:-word} removes them)
same_cells="tissue_ontology_term_id == 'UBERON:0002048' and sex_ontology_term_id == 'PATO:0000383'"
PANDAS=${PANDAS:-$same_cells}
BIN=$(cd "$BIN" && pwd)
mkdir -p "$OUT/subset"
OUT=$(cd "$OUT" && pwd)

if [ ! -x "$VENV/bin/python" ]; then
  command -v "$PYTHON" >/dev/null || { echo "bench-subset: skipped: $PYTHON is not installed (set PYTHON=...)" >&2; exit 0; }
  echo "bench-subset: creating $VENV from scripts/h5ad-fixtures-requirements.txt" >&2
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/pip" install -q -r scripts/h5ad-fixtures-requirements.txt
fi
PY="$VENV/bin/python"
if ! ls "$ONTOLOGY"/PATO-ontology-*.json* >/dev/null 2>&1; then
  echo "bench-subset: skipped: no ontology files in $ONTOLOGY (make ontologies)" >&2
  exit 0
fi

file="$OUT/subset/cells-$CELLS-x$NNZ.h5ad"
if [ ! -s "$file" ]; then
  echo "bench-subset: writing $file ($CELLS cells, $NNZ values each)" >&2
  "$PY" scripts/make_h5ad_fixtures.py --bench "$CELLS" "$file.tmp" --nnz "$NNZ"
  mv "$file.tmp" "$file"
fi

# measure and mb
# shellcheck source=scripts/bench_measure.sh
. scripts/bench_measure.sh
MEASURE_LOG="$OUT/subset/stderr.log"
MEASURE_RESET="rm -rf '$OUT/subset/out' && mkdir -p '$OUT/subset/out'"

# the same cells first
rm -rf "$OUT/subset/out" && mkdir -p "$OUT/subset/out"
# shellcheck disable=SC2086 # FILTER is a list of options
kept=$(echo "$file" | "$BIN/cxg-subset" -q --ontology "$ONTOLOGY" $FILTER --out-dir "$OUT/subset/out" | awk -F, 'NR==2 {print $4}')
ref=$("$PY" scripts/subset_reference.py memory "$file" "$OUT/subset/reference.h5ad" "$PANDAS")
if [ "$kept" != "$ref" ]; then
  echo "bench-subset: cxg-subset kept $kept cells, anndata + pandas $ref ($FILTER / $PANDAS)" >&2
  exit 1
fi
outsize=$(du -m "$OUT"/subset/out/*.h5ad | cut -f1)

# as `make subset` runs it: from cxg-download's manifest (a file written
# after the H5AD), whose sha256 is then used for uns instead of hashing the
# source again (hashed here once, not timed)
manifest="$OUT/subset/manifest.csv"
sha=$(sha256sum "$file" | cut -d' ' -f1)
printf 'dataset_id,dataset_version_id,url,path,bytes,sha256,status\nd,v,u,%s,%s,%s,ok\n' \
  "$file" "$(stat -c %s "$file")" "$sha" > "$manifest"
# the four in turn, RUNS rounds (see measure_rounds)
measure_rounds \
  "echo '$file' | '$BIN/cxg-subset' -q --ontology '$ONTOLOGY' $FILTER --out-dir '$OUT/subset/out'" \
  "'$BIN/cxg-subset' -q --ontology '$ONTOLOGY' $FILTER --out-dir '$OUT/subset/out' '$manifest'" \
  "'$PY' scripts/subset_reference.py memory '$file' '$OUT/subset/out/ref.h5ad' \"$PANDAS\"" \
  "'$PY' scripts/subset_reference.py backed '$file' '$OUT/subset/out/ref.h5ad' \"$PANDAS\""
s_med=${MEDS[0]}; s_sp=${SPREADS[0]}; s_rss=${RSSS[0]}; s_cpu=${CPUS[0]}
f_med=${MEDS[1]}; f_sp=${SPREADS[1]}; f_rss=${RSSS[1]}; f_cpu=${CPUS[1]}
m_med=${MEDS[2]}; m_sp=${SPREADS[2]}; m_rss=${RSSS[2]}; m_cpu=${CPUS[2]}
b_med=${MEDS[3]}; b_sp=${SPREADS[3]}; b_rss=${RSSS[3]}; b_cpu=${CPUS[3]}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0) printf "%.1f×", b/a; else print "n/a" }'; }
frac() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN {printf "%.1f%%", 100*a/b}' || echo "n/a"; }
size=$(du -m "$file" | cut -f1)
{
  echo "Measured by \`make bench\` (scripts/bench_subset.sh) on $(date -u +%F), $(nproc) cores, $(uname -m);"
  echo "$RUNS runs each, in turn, warm page cache (median wall time ± spread · median CPU time, user + sys · peak RSS); load average $(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo n/a) at the end."
  echo "File: $CELLS cells, $NNZ values of X each, ${size} MB, gzip, written by anndata $("$PY" -c 'import importlib.metadata as m; print(m.version("anndata"))'); \`$FILTER\` keeps $kept cells (${outsize} MB written)."
  echo
  echo "| what | wall time | CPU time | peak RSS |"
  echo "|---|---|---|---|"
  echo "| \`cxg-subset\` | ${s_med} s ±${s_sp} | ${s_cpu} s | $(mb "$s_rss") |"
  echo "| \`cxg-subset\` from cxg-download's manifest (its SHA-256 used) | ${f_med} s ±${f_sp} | ${f_cpu} s | $(mb "$f_rss") |"
  echo "| anndata \`read_h5ad\` + mask + \`write_h5ad\` (gzip) | ${m_med} s ±${m_sp} | ${m_cpu} s | $(mb "$m_rss") |"
  echo "| anndata \`read_h5ad(backed=\"r\")\` + mask + \`write_h5ad\` (gzip) | ${b_med} s ±${b_sp} | ${b_cpu} s | $(mb "$b_rss") |"
  echo "| cxg-subset vs anndata in memory | $(ratio "$s_med" "$m_med") faster | $(ratio "$s_cpu" "$m_cpu") less CPU | $(frac "$s_rss" "$m_rss") of the memory |"
  echo "| cxg-subset vs anndata backed | $(ratio "$s_med" "$b_med") faster | $(ratio "$s_cpu" "$b_cpu") less CPU | $(frac "$s_rss" "$b_rss") of the memory |"
  echo "| cxg-subset from the manifest vs anndata in memory | $(ratio "$f_med" "$m_med") faster | $(ratio "$f_cpu" "$m_cpu") less CPU | $(frac "$f_rss" "$m_rss") of the memory |"
} | tee "$OUT/subset.md"
