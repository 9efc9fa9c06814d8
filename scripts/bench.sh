#!/usr/bin/env bash
# make bench: measure the harvest against jq and against one call per
# dataset, on two generated snapshots ("today" and "10x"), and print one
# markdown table (also written to $OUT/results.md). Not part of make test.
#
# Each CPU stage runs against its jq equivalent on the same input;
# cxg-h5ad runs in index mode, --per-dataset -j 16 and -j 1 against
# cxg-serve with LATENCY_MS per request; cxg-diff compares the snapshot with
# itself and with a copy where most datasets were revised; the whole
# Makefile pipeline runs end to end. Every command runs RUNS times: median
# wall time, spread (max - min), peak RSS and median CPU time (user +
# system, from /usr/bin/time, when installed). On a shared machine the CPU
# time is the steadier figure: the CPU stages give ratios for both.
#
# Settings (environment): BIN (release binaries), OUT (bench-out),
# RUNS (3), LATENCY_MS (50), TODAY ("400 2500"), TENX ("4000 25000"),
# SLOW_J1 (0: -j 1 only on "today"; 1: on both, ~rows x latency each).
set -euo pipefail
BIN=${BIN:-target/release}
OUT=${OUT:-bench-out}
RUNS=${RUNS:-3}
LATENCY_MS=${LATENCY_MS:-50}
TODAY=${TODAY:-"400 2500"}
TENX=${TENX:-"4000 25000"}
SLOW_J1=${SLOW_J1:-0}
BIN=$(cd "$BIN" && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
ROOT=$(pwd)
have_jq=1; command -v jq >/dev/null || { have_jq=0; echo "bench: jq not installed, reference columns will be empty" >&2; }
have_time=1; [ -x /usr/bin/time ] || { have_time=0; echo "bench: /usr/bin/time not installed, no peak RSS" >&2; }

servers=()
cleanup() { for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# serve DIR -> sets $url and $log
serve() {
  local dir=$1 urlfile
  urlfile=$(mktemp); log=$(mktemp)
  "$BIN/cxg-serve" --port 0 --url-file "$urlfile" --latency-ms "$LATENCY_MS" --lifetime 7200 --log "$log" "$dir" >/dev/null 2>&1 &
  servers+=($!)
  for _ in $(seq 200); do [ -s "$urlfile" ] && break; sleep 0.05; done
  url=$(head -n1 "$urlfile"); rm -f "$urlfile"
}

# measure CMD -> sets $med $spread $rss (KB) $cpu (s) over $runs runs (default RUNS)
measure() {
  local cmd=$1 runs=${2:-$RUNS} t0 t1 ts=() rs=() cs=() tf
  tf=$(mktemp)
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N)
    if [ "$have_time" = 1 ]; then
      /usr/bin/time -f "%M %U %S" -o "$tf" bash -c "$cmd" >/dev/null 2>>"$OUT/stderr.log"
      read -r m u s < <(tail -n1 "$tf")
      rs+=("$m"); cs+=("$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.3f", u + s}')")
    else
      bash -c "$cmd" >/dev/null 2>>"$OUT/stderr.log"
    fi
    t1=$(date +%s%N)
    ts+=("$(( (t1 - t0) / 1000000 ))")
  done
  rm -f "$tf"
  local sorted
  sorted=$(printf '%s\n' "${ts[@]}" | sort -n)
  med=$(echo "$sorted" | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]/1000}')
  spread=$(echo "$sorted" | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.3f", (hi-lo)/1000}')
  if [ "${#rs[@]}" -gt 0 ]; then
    rss=$(printf '%s\n' "${rs[@]}" | sort -n | tail -n1)
    cpu=$(printf '%s\n' "${cs[@]}" | sort -n | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]}')
  else
    rss=""; cpu=""
  fi
}

mb() { [ -n "$1" ] && awk -v k="$1" 'BEGIN {printf "%.0f MB", k/1024}' || echo "n/a"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.1f× faster", b/a; else print "" }'; }
# cratio OURS REF OURS_CPU REF_CPU: the wall-time ratio, then the CPU-time one
cratio() {
  local w; w=$(ratio "$1" "$2")
  # /usr/bin/time counts CPU in 10 ms steps: below that no CPU ratio is given
  [ -n "$w" ] && [ -n "$3" ] && w="$w$(awk -v a="$3" -v b="$4" 'BEGIN { if (a > 0 && b > 0) printf " (CPU %.1f×)", b/a }')"
  echo "$w"
}

# results, by "stage|snapshot": our cell, the reference cell, the ratio, our seconds
declare -A OURS REF RATIO SECS NAME
stages=()
sizes=()
row() { # key name snapshot ours ref ratio seconds
  [[ " ${stages[*]} " == *" $1 "* ]] || stages+=("$1")
  NAME[$1]=$2; OURS[$1|$3]=$4; REF[$1|$3]=$5; RATIO[$1|$3]=$6; SECS[$1|$3]=$7
  echo "  $2 [$3]: $4 | $5 | $6" >&2
}

JQ_DATASETS='.[] | . as $c | (.datasets // [])[] | . + {collection: ($c | del(.datasets))}'
# the jq program of docs/jq.md for the default CSV columns
JQ_CSV=$(awk '/^jq -r .\[\(\.collection\.collection_url/{f=1} f{print} /@csv. datasets\.jsonl/{exit}' "$ROOT/docs/jq.md" \
  | sed -e "1s/^jq -r '//" -e "s/' datasets\.jsonl.*$//")

# cxg-select: a three-facet selection with descendants against the jq
# program given the same expanded id lists, and the time to load UBERON,
# MONDO, EFO and CL. Uses the real release files in data/ontology (make
# ontologies) when present, else the small fixture subset.
ONTO_DIR=${ONTO_DIR:-}
if [ -z "$ONTO_DIR" ]; then
  if compgen -G "$ROOT/data/ontology/UBERON-ontology-*.json*" >/dev/null; then ONTO_DIR="$ROOT/data/ontology"
  else ONTO_DIR="$ROOT/tests/fixtures/ontology"; fi
fi
# descendants ROOT_ID NAME: the id and every id whose ancestors hold it, as a jq object {id: true}
descendants() {
  local f; f=$(compgen -G "$ONTO_DIR/$2-ontology-*.json*" | head -n1)
  case "$f" in *.zst) zstd -dc "$f" ;; *) cat "$f" ;; esac \
    | jq -c --arg r "$1" '[to_entries[] | select(.key == $r or (.value.ancestors | has($r))) | {(.key): true}] | add'
}
bench_select() {
  local label=$1 work=$2 ours ours_s ours_rss ref ref_s ref_rss n1 n2
  local sel="'$BIN/cxg-select' --ontology '$ONTO_DIR' --tissue lung --disease normal --disease cancer --assay '10x technology'"
  # the indexes are built once (make ontologies does it), then read by every run
  "$BIN/cxg-select" --ontology "$ONTO_DIR" --prepare 2>>"$OUT/stderr.log"
  measure "$sel '$work/datasets.jsonl'"; ours=$med; ours_s=$spread; ours_rss=$rss
  ref=""
  if [ $have_jq = 1 ] && command -v zstd >/dev/null; then
    [ -f "$OUT/sel-ids.json" ] || jq -n -c --argjson t "$(descendants UBERON:0002048 UBERON)" \
      --argjson d "$( (descendants PATO:0000461 PATO; descendants MONDO:0004992 MONDO) | jq -s -c add)" \
      --argjson a "$(descendants EFO:0008995 EFO)" '{t: $t, d: $d, a: $a}' > "$OUT/sel-ids.json"
    local prog='$ids[0] as $s | select(any(.tissue[]?; $s.t[.ontology_term_id] // false) and any(.disease[]?; $s.d[.ontology_term_id] // false) and any(.assay[]?; $s.a[.ontology_term_id] // false))'
    measure "jq -c --slurpfile ids '$OUT/sel-ids.json' '$prog' '$work/datasets.jsonl'"; ref=$med; ref_s=$spread; ref_rss=$rss
    n1=$(bash -c "$sel '$work/datasets.jsonl'" 2>/dev/null | wc -l)
    n2=$(jq -c --slurpfile ids "$OUT/sel-ids.json" "$prog" "$work/datasets.jsonl" | wc -l)
    [ "$n1" = "$n2" ] || echo "bench: cxg-select kept $n1 records, the jq program $n2" >&2
  fi
  row select "cxg-select, 3 facets with descendants ($(basename "$ONTO_DIR")), vs jq given the expanded ids" "$label" "${ours} s ±${ours_s} · $(mb "$ours_rss")" "${ref:+$ref s ±$ref_s · $(mb "$ref_rss")}" "$(ratio "$ours" "${ref:-0}")" "$ours"
  # loading UBERON, MONDO, EFO and CL alone (a folder of links to those four)
  local four="$OUT/onto4" n
  rm -rf "$four"; mkdir -p "$four"
  for n in UBERON MONDO EFO CL; do
    for f in "$ONTO_DIR/$n"-ontology-*.json*; do [ -e "$f" ] && ln -sf "$f" "$four/"; done
  done
  measure "rm -rf '$four/.index' && '$BIN/cxg-select' --ontology '$four' --prepare"; ours=$med; ours_s=$spread; ours_rss=$rss
  row ontoindex "cxg-select: index UBERON, MONDO, EFO and CL ($(basename "$ONTO_DIR"); once, on first use or by make ontologies)" "$label" "${ours} s ±${ours_s} · $(mb "$ours_rss")" "" "" "$ours"
  measure "'$BIN/cxg-select' --ontology '$four' --tissue lung --disease cancer --assay EFO:0010183 --cell-type CL:0000084 < /dev/null"; ours=$med; ours_s=$spread; ours_rss=$rss
  row ontoload "cxg-select: load UBERON, MONDO, EFO and CL ($(basename "$ONTO_DIR"), from their indexes; whole run on no input)" "$label" "${ours} s ±${ours_s} · $(mb "$ours_rss")" "" "" "$ours"
  if compgen -G "$ONTO_DIR/NCBITaxon-ontology-*.json*" >/dev/null; then
    measure "'$BIN/cxg-select' --ontology '$ONTO_DIR' --organism 'Homo sapiens' --organism 'Mus musculus' < /dev/null"; ours=$med; ours_s=$spread; ours_rss=$rss
    row taxload "cxg-select: load NCBITaxon (1.26 M taxa, from its index; whole run on no input)" "$label" "${ours} s ±${ours_s} · $(mb "$ours_rss")" "" "" "$ours"
  fi
}

bench_size() {
  local label=$1 ncol=$2 nds=$3 snap="$OUT/snap-$1" work="$OUT/work-$1"
  echo "bench: $label ($ncol collections, $nds datasets)" >&2
  [ -f "$snap/collections.json" ] || "$BIN/cxg-gen" --seed 42 --collections "$ncol" --datasets "$nds" --unindexed $((nds / 100)) "$snap" 2>/dev/null
  rm -rf "$work"; mkdir -p "$work"
  local cj="$snap/collections.json" size
  size=$(du -m "$cj" | cut -f1)
  "$BIN/cxg-datasets" "$cj" > "$work/datasets.jsonl"
  "$BIN/cxg-tocsv" "$work/datasets.jsonl" > "$work/all.csv"

  local ours ours_rss ref ref_rss
  measure "'$BIN/cxg-split' '$cj'"; ours=$med; ours_s=$spread; ours_rss=$rss; ours_cpu=$cpu
  if [ $have_jq = 1 ]; then measure "jq -c '.[]' '$cj'"; ref=$med; ref_s=$spread; ref_rss=$rss; ref_cpu=$cpu; else ref=""; fi
  sizes+=("$label: $ncol collections, $nds datasets, ${size} MB list")
  row split "cxg-split vs \`jq -c '.[]'\`" "$label" "${ours} s ±${ours_s} · $(mb "$ours_rss") · CPU ${ours_cpu} s" "${ref:+$ref s ±$ref_s · $(mb "$ref_rss") · CPU ${ref_cpu} s}" "$(cratio "$ours" "${ref:-0}" "$ours_cpu" "${ref_cpu:-0}")" "$ours"

  measure "'$BIN/cxg-datasets' '$cj'"; ours=$med; ours_s=$spread; ours_rss=$rss; ours_cpu=$cpu
  if [ $have_jq = 1 ]; then measure "jq -c '$JQ_DATASETS' '$cj'"; ref=$med; ref_s=$spread; ref_rss=$rss; ref_cpu=$cpu; else ref=""; fi
  row datasets "cxg-datasets vs its jq program" "$label" "${ours} s ±${ours_s} · $(mb "$ours_rss") · CPU ${ours_cpu} s" "${ref:+$ref s ±$ref_s · $(mb "$ref_rss") · CPU ${ref_cpu} s}" "$(cratio "$ours" "${ref:-0}" "$ours_cpu" "${ref_cpu:-0}")" "$ours"

  measure "'$BIN/cxg-tocsv' '$work/datasets.jsonl'"; ours=$med; ours_s=$spread; ours_rss=$rss; ours_cpu=$cpu
  if [ $have_jq = 1 ]; then printf '%s' "$JQ_CSV" > "$work/csv.jq"; measure "jq -r -f '$work/csv.jq' '$work/datasets.jsonl'"; ref=$med; ref_s=$spread; ref_rss=$rss; ref_cpu=$cpu; else ref=""; fi
  row tocsv "cxg-tocsv vs the jq @csv program of docs/jq.md" "$label" "${ours} s ±${ours_s} · $(mb "$ours_rss") · CPU ${ours_cpu} s" "${ref:+$ref s ±$ref_s · $(mb "$ref_rss") · CPU ${ref_cpu} s}" "$(cratio "$ours" "${ref:-0}" "$ours_cpu" "${ref_cpu:-0}")" "$ours"

  bench_select "$label" "$work"

  serve "$snap"
  local before after reqs
  before=$(wc -l < "$log")
  measure "'$BIN/cxg-h5ad' --quiet --api-url '$url' '$work/all.csv'"; ours=$med; ours_s=$spread; ours_rss=$rss
  after=$(wc -l < "$log"); reqs=$(( (after - before) / RUNS ))
  row index "cxg-h5ad, index mode" "$label" "${ours} s ±${ours_s} · $(mb "$ours_rss") · $reqs requests" "" "" "$ours"

  before=$(wc -l < "$log")
  measure "'$BIN/cxg-h5ad' --quiet --per-dataset -j 16 --api-url '$url' '$work/all.csv'" 1; ours=$med; ours_rss=$rss
  after=$(wc -l < "$log"); reqs=$(( after - before ))
  local ideal; ideal=$(awk -v n="$nds" -v l="$LATENCY_MS" 'BEGIN {printf "%.1f", n*l/1000/16}')
  row j16 "cxg-h5ad --per-dataset -j 16" "$label" "${ours} s · $(mb "$ours_rss") · $reqs requests" "rows×latency÷16 = ${ideal} s" "" "$ours"

  if [ "$label" = today ] || [ "$SLOW_J1" = 1 ]; then
    before=$(wc -l < "$log")
    measure "'$BIN/cxg-h5ad' --quiet --per-dataset -j 1 --api-url '$url' '$work/all.csv'" 1; ours=$med; ours_rss=$rss
    after=$(wc -l < "$log"); reqs=$(( after - before ))
    ideal=$(awk -v n="$nds" -v l="$LATENCY_MS" 'BEGIN {printf "%.1f", n*l/1000}')
    row j1 "cxg-h5ad --per-dataset -j 1 (the old script's way, without its sleeps)" "$label" "${ours} s · $(mb "$ours_rss") · $reqs requests" "rows×latency = ${ideal} s" "" "$ours"
  else
    ideal=$(awk -v n="$nds" -v l="$LATENCY_MS" 'BEGIN {printf "%.0f", n*l/1000}')
    row j1 "cxg-h5ad --per-dataset -j 1 (the old script's way, without its sleeps)" "$label" "not run (SLOW_J1=1)" "rows×latency = ${ideal} s" "" ""
  fi

  # cxg-diff: the snapshot against itself, and against a copy where most
  # datasets were revised (new dataset_version_id, cell counts changed)
  local next="$work/next" ix
  ix=$(ls "$snap"/datasets.json)
  mkdir -p "$next"; cp "$snap/collections.json" "$next/"
  sed -e 's/"dataset_version_id":"[0-9a-e]/"dataset_version_id":"f/g' -e 's/"cell_count":1/"cell_count":2/g' "$ix" > "$next/datasets.json"
  local ixmb; ixmb=$(du -m "$ix" | cut -f1)
  measure "'$BIN/cxg-diff' -q '$snap' '$snap'"; ours=$med; ours_s=$spread; ours_rss=$rss; ours_cpu=$cpu
  row diffsame "cxg-diff, a snapshot against itself (index + list)" "$label" "${ours} s ±${ours_s} · $(mb "$ours_rss") · CPU ${ours_cpu} s · ${ixmb} MB index" "" "" "$ours"
  measure "'$BIN/cxg-diff' -q '$snap' '$next'"; ours=$med; ours_s=$spread; ours_rss=$rss; ours_cpu=$cpu
  local changed; changed=$("$BIN/cxg-diff" -q "$snap" "$next" | wc -l)
  row diff "cxg-diff, against a copy with most datasets revised" "$label" "${ours} s ±${ours_s} · $(mb "$ours_rss") · CPU ${ours_cpu} s · $changed changes" "" "" "$ours"

  before=$(wc -l < "$log")
  measure "rm -rf '$work/data' && make -C '$ROOT' --no-print-directory stages BIN='$BIN' CARGO_BUILD=true API_URL='$url' DATA='$work/data'"; ours=$med; ours_s=$spread; ours_rss=$rss
  after=$(wc -l < "$log"); reqs=$(( (after - before) / RUNS ))
  row pipeline "the whole \`make\` pipeline, end to end" "$label" "${ours} s ±${ours_s} · $(mb "$ours_rss") · $reqs requests" "" "" "$ours"

  # cxg-report: the page of the harvest the pipeline just made (issue 25:
  # the 10x catalogue in under a second, the page under 5 MB)
  measure "'$BIN/cxg-report' '$work/data' -o '$work/report.html'"; ours=$med; ours_s=$spread; ours_rss=$rss; ours_cpu=$cpu
  local page; page=$(awk -v b="$(wc -c < "$work/report.html")" 'BEGIN {printf "%.2f", b / 1000000}')
  row report "cxg-report, the page of that harvest (target: under 1 s and 5 MB at 10x)" "$label" "${ours} s ±${ours_s} · $(mb "$ours_rss") · CPU ${ours_cpu} s · ${page} MB page" "" "" "$ours"
}

: > "$OUT/stderr.log"
read -r c d <<< "$TODAY"; bench_size today "$c" "$d"
read -r c d <<< "$TENX"; bench_size 10x "$c" "$d"

growth() { awk -v a="$1" -v b="$2" 'BEGIN { if (a > 0 && b > 0) printf "%.1f×", b/a }'; }
{
  echo "Measured by \`make bench\` on $(date -u +%Y-%m-%d), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m);"
  echo "$RUNS runs each (median wall time ± spread · peak RSS · median CPU time; per-dataset modes once), ${LATENCY_MS} ms latency per request; jq: $(jq --version 2>/dev/null || echo none); load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Snapshots: ${sizes[0]}; ${sizes[1]}. Growth is our time on 10x ÷ our time on today, for $(awk -v a="${TODAY#* }" -v b="${TENX#* }" 'BEGIN {printf "%.0f", b/a}')× the datasets."
  echo
  echo "| stage | today: ours | today: reference | today: ratio | 10x: ours | 10x: reference | 10x: ratio | growth |"
  echo "|---|---|---|---|---|---|---|---|"
  for k in "${stages[@]}"; do
    echo "| ${NAME[$k]} | ${OURS[$k|today]:-} | ${REF[$k|today]:-} | ${RATIO[$k|today]:-} | ${OURS[$k|10x]:-} | ${REF[$k|10x]:-} | ${RATIO[$k|10x]:-} | $(growth "${SECS[$k|today]:-0}" "${SECS[$k|10x]:-0}") |"
  done
} > "$OUT/results.md"
cat "$OUT/results.md"
