#!/usr/bin/env bash
# make demo: the whole path with no network. Starts cxg-serve on a free
# loopback port over the committed sample snapshot (its H5AD files served
# by the server itself), runs the same Makefile pipeline with API_URL
# pointed at it into $DEMO (not data/): the harvest (with SELECT when one
# is given), the download of the selected files and their summaries; stops
# the server on every exit path, and says what it made. Without ontology
# files in $ONTOLOGY (make ontologies), the selection uses the subset in
# tests/fixtures/ontology, which holds every term of the sample.
set -euo pipefail
BIN=${BIN:-target/release}
SNAPSHOT=${SNAPSHOT:-tests/fixtures/sample}
ONTOLOGY=${ONTOLOGY:-}
DEMO=${DEMO:-demo}
JOBS=${JOBS:-8}
PRESET=${PRESET:-seed}

urlfile=$(mktemp)
server=""
cleanup() {
  local rc=$?
  if [ -n "$server" ]; then
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
  fi
  rm -f "$urlfile" "$urlfile.log"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

assets=()
[ -d "$SNAPSHOT/assets" ] && assets=(--local-assets)
"$BIN/cxg-serve" --port 0 --url-file "$urlfile" --lifetime 900 "${assets[@]}" "$SNAPSHOT" >/dev/null 2>"$urlfile.log" &
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
if [ -n "${SELECT:-}" ] && ! compgen -G "${ONTOLOGY:-/nonexistent}/*-ontology-*.json*" >/dev/null; then
  echo "demo: no ontology files in '${ONTOLOGY}' (make ontologies); selecting with the subset in tests/fixtures/ontology"
  ONTOLOGY="$PWD/tests/fixtures/ontology"
fi
onto=(ONTOLOGY="$ONTOLOGY")
targets=(stages)
[ ${#assets[@]} -gt 0 ] && targets+=(downloads)
make --no-print-directory "${targets[@]}" BIN="$BIN" API_URL="$url" DATA="$DEMO" JOBS="$JOBS" PRESET="$PRESET" "${onto[@]}" 2>"$DEMO.log" || {
  cat "$DEMO.log" >&2; rm -f "$DEMO.log"; exit 1; }
if [ ${#assets[@]} -gt 0 ]; then
  make --no-print-directory "$DEMO/obs.jsonl" "$DEMO/all_datasets_obs.csv" BIN="$BIN" DATA="$DEMO" "${onto[@]}" 2>>"$DEMO.log" || {
    cat "$DEMO.log" >&2; rm -f "$DEMO.log"; exit 1; }
fi
summary=$(grep 'cxg-h5ad: .* rows' "$DEMO.log" | tail -n1 || true)
dsummary=$(grep 'cxg-download: .* files:' "$DEMO.log" | tail -n1 || true)
osummary=$(grep 'cxg-obs: .* files:' "$DEMO.log" | tail -n1 || true)
rm -f "$DEMO.log"

echo "demo: made $DEMO/ from $SNAPSHOT with no network:"
echo "  collections: $(wc -l < "$DEMO/collections.jsonl")"
echo "  datasets:    $(wc -l < "$DEMO/datasets.jsonl")"
echo "  selected:    $(wc -l < "$DEMO/selected.jsonl")${SELECT:+ (SELECT=$SELECT)}"
echo "  CSV:         $DEMO/all_datasets.csv, $DEMO/all_datasets_h5ad.csv"
echo "  ${summary#cxg-h5ad: }"
if [ ${#assets[@]} -gt 0 ]; then
  echo "  downloads:   $DEMO/h5ad/ ($(ls "$DEMO/h5ad" | grep -c '\.h5ad$') H5AD files, manifest.csv)"
  echo "  ${dsummary#cxg-download: }"
  echo "  cells:       $DEMO/obs.jsonl, $DEMO/all_datasets_obs.csv"
  echo "  ${osummary#cxg-obs: }"
fi
make --no-print-directory report BIN="$BIN" DATA="$DEMO" >/dev/null 2>"$DEMO.log" || { cat "$DEMO.log" >&2; rm -f "$DEMO.log"; exit 1; }
rm -f "$DEMO.log"
echo "  report:      $DEMO/report.html (open it in a browser)"
