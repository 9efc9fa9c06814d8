#!/usr/bin/env bash
# make bench (download part), or make bench-download alone: cxg-download
# against cxg-serve on 127.0.0.1 serving files made by cxg-gen --assets.
#   1. one 1 GiB file, against `curl -o` (aim: within 1.25x of curl's time)
#   2. SMALL (200) small files with LATENCY_MS (50) per request at -j 8,
#      against the floor files x latency / 8
#   3. a run interrupted (SIGTERM) part-way through the 1 GiB file, then
#      rerun: the bytes transferred twice
# Peak RSS from /usr/bin/time. Prints a markdown table, also written to
# $OUT/download.md. Not part of make test.
set -euo pipefail
BIN=${BIN:-target/release}
OUT=${OUT:-bench-out}
RUNS=${RUNS:-3}
LATENCY_MS=${LATENCY_MS:-50}
SMALL=${SMALL:-200}
BIG=${BIG:-1073741824}
BIN=$(cd "$BIN" && pwd)
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
command -v curl >/dev/null || { echo "bench-download: curl is not installed" >&2; exit 2; }
have_time=1; [ -x /usr/bin/time ] || { have_time=0; echo "bench-download: /usr/bin/time not installed, no peak RSS" >&2; }

servers=()
cleanup() { for p in "${servers[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

# serve DIR [cxg-serve options] -> sets $url (API) and $base (server root), $log
serve() {
  local dir=$1 urlfile; shift
  urlfile=$(mktemp); log=$(mktemp)
  "$BIN/cxg-serve" --port 0 --url-file "$urlfile" --local-assets --lifetime 3600 --log "$log" "$@" "$dir" >/dev/null 2>&1 &
  servers+=($!)
  for _ in $(seq 200); do [ -s "$urlfile" ] && break; sleep 0.05; done
  url=$(head -n1 "$urlfile"); rm -f "$urlfile"
  base=${url%/curation/v1}
}

# measure CMD [runs] -> $med (s), $spread (s), $rss (KB), $cpu (median user+sys s);
# CMD may exit 0 or 1
measure() {
  local cmd=$1 runs=${2:-$RUNS} t0 t1 ts=() rs=() cs=() tf rc
  tf=$(mktemp)
  for _ in $(seq "$runs"); do
    t0=$(date +%s%N)
    rc=0
    if [ "$have_time" = 1 ]; then
      /usr/bin/time -f "%M %U %S" -o "$tf" bash -c "$cmd" >/dev/null 2>>"$OUT/download-stderr.log" || rc=$?
      rs+=("$(tail -n1 "$tf" | cut -d' ' -f1)")
      cs+=("$(tail -n1 "$tf" | awk '{printf "%.2f", $2 + $3}')")
    else
      bash -c "$cmd" >/dev/null 2>>"$OUT/download-stderr.log" || rc=$?
    fi
    t1=$(date +%s%N)
    [ "$rc" -le 1 ] || { echo "bench-download: '$cmd' failed ($rc); see $OUT/download-stderr.log" >&2; exit 1; }
    ts+=("$(( (t1 - t0) / 1000000 ))")
  done
  rm -f "$tf"
  local sorted
  sorted=$(printf '%s\n' "${ts[@]}" | sort -n)
  med=$(echo "$sorted" | awk '{a[NR]=$1} END {printf "%.3f", a[int((NR+1)/2)]/1000}')
  spread=$(echo "$sorted" | awk 'NR==1{lo=$1} {hi=$1} END {printf "%.3f", (hi-lo)/1000}')
  rss=""; cpu="n/a"
  [ "${#rs[@]}" -eq 0 ] || rss=$(printf '%s\n' "${rs[@]}" | sort -n | tail -n1)
  [ "${#cs[@]}" -eq 0 ] || cpu=$(printf '%s\n' "${cs[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)] " s CPU"}')
}
mb() { [ -n "$1" ] && awk -v k="$1" 'BEGIN {printf "%.0f MB", k/1024}' || echo "n/a"; }

: > "$OUT/download-stderr.log"
load0=$(cut -d' ' -f1 /proc/loadavg)
rows=()

# 1. one big file vs curl -o
big="$OUT/dl-big"
if [ ! -f "$big/assets.done" ]; then
  rm -rf "$big"
  "$BIN/cxg-gen" --collections 1 --datasets 1 --assets --asset-bytes "$BIG" "$big" 2>/dev/null
  touch "$big/assets.done"
fi
serve "$big"
"$BIN/cxg-fetch" --api-url "$url" datasets > "$OUT/dl-big.json"
name=$(ls "$big/assets" | grep '\.h5ad$')
work="$OUT/dl-work"; rm -rf "$work"; mkdir -p "$work"
echo "bench-download: 1 file of $BIG bytes over loopback" >&2
measure "rm -f '$work/curl.h5ad' && curl -sS -o '$work/curl.h5ad' '$base/assets/$name'"
c_med=$med; c_sp=$spread; c_rss=$rss; c_cpu=$cpu
cmp -s "$work/curl.h5ad" "$big/assets/$name" || { echo "bench-download: curl's copy differs" >&2; exit 1; }
# what it takes to get curl's copy to the same point: a SHA-256 and the ETag's MD5
measure "rm -f '$work/curl.h5ad' && curl -sS -o '$work/curl.h5ad' '$base/assets/$name' && sha256sum '$work/curl.h5ad' && md5sum '$work/curl.h5ad'"
ch_med=$med; ch_cpu=$cpu
rm -f "$work/curl.h5ad"
measure "rm -rf '$work/h5ad' && '$BIN/cxg-download' -q --dir '$work/h5ad' '$OUT/dl-big.json'"
o_med=$med; o_sp=$spread; o_rss=$rss; o_cpu=$cpu
cmp -s "$work/h5ad/$name" "$big/assets/$name" || { echo "bench-download: our copy differs" >&2; exit 1; }
rows+=("| 1 file of $(awk -v b="$BIG" 'BEGIN {printf "%.2f GiB", b/1073741824}') over loopback (SHA-256 + MD5 multipart ETag check + fsync) | ${o_med} s ±${o_sp} · ${o_cpu} · $(mb "$o_rss") | \`curl -o\`: ${c_med} s ±${c_sp} · ${c_cpu} · $(mb "$c_rss"); \`curl -o && sha256sum && md5sum\`: ${ch_med} s · ${ch_cpu} | $(awk -v a="$o_med" -v b="$c_med" -v c="$ch_med" 'BEGIN {printf "%.2f× curl -o; %.2f× curl + sums", a/b, a/c}') |")

# 3. interrupted part-way (SIGTERM: a background job of a script ignores
#    SIGINT), then rerun: bytes transferred twice
rm -rf "$work/h5ad"
serve "$big" --rate 200000000
"$BIN/cxg-fetch" --api-url "$url" datasets > "$OUT/dl-big-slow.json"
"$BIN/cxg-download" -q --dir "$work/h5ad" "$OUT/dl-big-slow.json" >/dev/null 2>&1 &
pid=$!
part="$work/h5ad/$name.part"
for _ in $(seq 2000); do
  [ "$(stat -c %s "$part" 2>/dev/null || echo 0)" -ge $((BIG * 2 / 5)) ] && break
  sleep 0.01
done
kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
kept=$(stat -c %s "$part")
"$BIN/cxg-download" --dir "$work/h5ad" "$OUT/dl-big-slow.json" > "$work/m.csv" 2> "$work/rerun.err"
moved=$(grep -o '[0-9]* bytes transferred' "$work/rerun.err" | cut -d' ' -f1)
again=$(( moved - (BIG - kept) ))
cmp -s "$work/h5ad/$name" "$big/assets/$name" || { echo "bench-download: resumed copy differs" >&2; exit 1; }
grep -q ',resumed,' "$work/m.csv" || { echo "bench-download: the rerun did not resume" >&2; exit 1; }
rows+=("| interrupted (SIGTERM) after $kept of $BIG bytes, then rerun | rerun transferred $moved bytes | the rest: $((BIG - kept)) bytes | $again bytes transferred twice |")
rm -rf "$work/h5ad"

# 2. many small files with latency
small="$OUT/dl-small"
[ -f "$small/collections.json" ] || "$BIN/cxg-gen" --seed 8 --collections 20 --datasets "$SMALL" --assets "$small" 2>/dev/null
serve "$small" --latency-ms "$LATENCY_MS"
"$BIN/cxg-fetch" --api-url "$url" datasets > "$OUT/dl-small.json"
nfiles=$(ls "$small/assets" | grep -c '\.h5ad$')
bytes=$(cat "$small"/assets/*.h5ad | wc -c)
echo "bench-download: $nfiles small files, ${LATENCY_MS} ms latency, -j 8" >&2
measure "rm -rf '$work/small' && '$BIN/cxg-download' -q -j 8 --dir '$work/small' '$OUT/dl-small.json'"
floor=$(awk -v n="$nfiles" -v l="$LATENCY_MS" 'BEGIN {printf "%.2f", n*l/1000/8}')
rows+=("| $nfiles files ($(mb $((bytes / 1024))) in all), ${LATENCY_MS} ms latency, -j 8 | ${med} s ±${spread} · ${cpu} · $(mb "$rss") | floor files×latency÷8 = ${floor} s | $(awk -v a="$med" -v b="$floor" 'BEGIN {printf "%.2f× the floor", a/b}') |")
rm -rf "$work"

{
  echo "Measured by \`make bench\` (scripts/bench-download.sh) on $(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m); $RUNS runs each (median wall time ± spread · median CPU time, user + sys · peak RSS); load average $load0 at the start; $(curl --version | head -n1 | cut -d' ' -f1-2)."
  echo
  echo "| download | cxg-download | reference | ratio |"
  echo "|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} > "$OUT/download.md"
cat "$OUT/download.md"
