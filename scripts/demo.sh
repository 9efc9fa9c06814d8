#!/usr/bin/env bash
# make demo: the whole harvest with no network. Starts cxg-serve on a free
# loopback port over the committed sample snapshot, runs the same Makefile
# pipeline with API_URL pointed at it into $DEMO (not data/), stops the
# server on every exit path, and says what it made.
set -euo pipefail
BIN=${BIN:-target/release}
SNAPSHOT=${SNAPSHOT:-tests/fixtures/snapshot}
DEMO=${DEMO:-demo}
JOBS=${JOBS:-8}
PRESET=${PRESET:-seed}

urlfile=$(mktemp)
server=""
files_server=""
cleanup() {
  local rc=$?
  for p in $server $files_server; do
    kill "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  rm -f "$urlfile" "$urlfile.log" "$urlfile.files"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$BIN/cxg-serve" --port 0 --url-file "$urlfile" --lifetime 900 "$SNAPSHOT" >/dev/null 2>"$urlfile.log" &
server=$!
for _ in $(seq 100); do
  [ -s "$urlfile" ] && break
  kill -0 "$server" 2>/dev/null || { cat "$urlfile.log" >&2; echo "demo: cxg-serve did not start" >&2; exit 3; }
  sleep 0.05
done
[ -s "$urlfile" ] || { echo "demo: cxg-serve did not print its URL" >&2; exit 3; }
rm -f "$urlfile.log"
url=$(head -n1 "$urlfile")
echo "demo: serving $SNAPSHOT at $url"

# never remove /, the home folder or a folder holding this repository
d=$(realpath -m -- "$DEMO")
if [ -z "$DEMO" ] || [ "$d" = / ] || [ "$d" = "$(realpath -m -- "$HOME")" ] || case "$(pwd)/" in "$d"/*) true;; *) false;; esac; then
  echo "demo: refusing to use DEMO='$DEMO' ($d): it is /, your home folder or holds this repository" >&2; exit 2
fi
rm -rf -- "$DEMO"
mkdir -p -- "$(dirname -- "$DEMO")"
make stages BIN="$BIN" API_URL="$url" DATA="$DEMO" JOBS="$JOBS" PRESET="$PRESET" 2>"$DEMO.log" || {
  cat "$DEMO.log" >&2; rm -f "$DEMO.log"; exit 1; }
summary=$(grep 'cxg-h5ad: .* rows' "$DEMO.log" | tail -n1 || true)
rm -f "$DEMO.log"

echo "demo: made $DEMO/ from $SNAPSHOT with no network:"
echo "  collections: $(wc -l < "$DEMO/collections.jsonl")"
echo "  datasets:    $(wc -l < "$DEMO/datasets.jsonl")"
echo "  files:       $(wc -l < "$DEMO/collections.list") per-collection files in $DEMO/collections/"
echo "  CSV:         $DEMO/all_datasets.csv, $DEMO/all_datasets_h5ad.csv"
echo "  ${summary#cxg-h5ad: }"
make report BIN="$BIN" DATA="$DEMO" >/dev/null 2>"$DEMO.log" || { cat "$DEMO.log" >&2; rm -f "$DEMO.log"; exit 1; }
rm -f "$DEMO.log"
echo "  report:      $DEMO/report.html (open it in a browser)"

# A few downloads, offline: a small snapshot with file contents (cxg-gen
# --assets) served with its asset URLs pointing at the server itself
# (--local-assets), harvested and downloaded with 'make download'.
"$BIN/cxg-gen" --seed 11 --collections 3 --datasets 6 --assets "$DEMO/files-snapshot" 2>/dev/null
"$BIN/cxg-serve" --port 0 --url-file "$urlfile.files" --lifetime 900 --local-assets "$DEMO/files-snapshot" >/dev/null 2>&1 &
files_server=$!
for _ in $(seq 100); do [ -s "$urlfile.files" ] && break; sleep 0.05; done
[ -s "$urlfile.files" ] || { echo "demo: cxg-serve (files) did not start" >&2; exit 3; }
furl=$(head -n1 "$urlfile.files")
make stages downloads BIN="$BIN" API_URL="$furl" DATA="$DEMO/files" JOBS="$JOBS" PRESET="$PRESET" 2>"$DEMO.log" || {
  cat "$DEMO.log" >&2; rm -f "$DEMO.log"; exit 1; }
dsummary=$(grep 'cxg-download: .* files:' "$DEMO.log" | tail -n1 || true)
rm -f "$DEMO.log"
echo "  downloads:   $DEMO/files/h5ad/ ($(ls "$DEMO/files/h5ad" | grep -c '\.h5ad$') H5AD files, manifest.csv) from a snapshot with file contents"
echo "  ${dsummary#cxg-download: }"
make report BIN="$BIN" DATA="$DEMO/files" >/dev/null 2>"$DEMO.log" || { cat "$DEMO.log" >&2; rm -f "$DEMO.log"; exit 1; }
rm -f "$DEMO.log"
echo "  report:      $DEMO/files/report.html (with the downloads)"
