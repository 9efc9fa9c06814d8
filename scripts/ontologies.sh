#!/usr/bin/env bash
# make ontologies: download the cellxgene-ontology-guide files pinned in
# $PINS (a tag and "SHA256  FILE" lines) into $DIR, verifying each file's
# SHA-256 before it is renamed into place. A file already present with the
# pinned hash is kept; other versions of a pinned ontology are removed (one
# version per ontology, as cxg-select requires). With zstd installed, each
# file is also decompressed beside itself (cxg-select reads plain JSON
# faster). Writes $DIR/SHA256SUMS (pinned and decompressed) and $DIR/RELEASE.
# Exit 2: bad pin file or a hash mismatch; 3: a download failed.
set -euo pipefail
PINS=${PINS:-scripts/ontologies.pin}
DIR=${DIR:-data/ontology}
ONTOLOGY_URL=${ONTOLOGY_URL:-https://raw.githubusercontent.com/chanzuckerberg/cellxgene-ontology-guide}
CURL=${CURL:-curl}
say() { echo "ontologies: $*" >&2; }

[ -r "$PINS" ] || { say "cannot read the pin file '$PINS'"; exit 2; }
tag=$(awk '$1 == "tag" { print $2 }' "$PINS")
case "$tag" in
  ''|*[!A-Za-z0-9._-]*) say "$PINS: no valid 'tag NAME' line"; exit 2 ;;
esac
hashes=() files=()
n=0
while read -r hash file rest; do
  n=$((n + 1))
  case "$hash" in ''|'#'*|tag) continue ;; esac
  if [[ ! $hash =~ ^[0-9a-f]{64}$ ]] || [[ ! $file =~ ^[A-Za-z0-9]+-ontology-[A-Za-z0-9._-]+\.json(\.zst)?$ ]] || [ -n "$rest" ]; then
    say "$PINS: line $n: expected 'SHA256  <NAME>-ontology-<VERSION>.json[.zst]'"; exit 2
  fi
  hashes+=("$hash") files+=("$file")
done < "$PINS"
[ "${#files[@]}" -gt 0 ] || { say "$PINS: no files pinned"; exit 2; }

mkdir -p "$DIR"
tmp=""
trap 'if [ -n "$tmp" ]; then rm -f "$tmp"; fi' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
sha() { sha256sum < "$1" | cut -d' ' -f1; }

for i in "${!files[@]}"; do
  file=${files[$i]} want=${hashes[$i]}
  dest="$DIR/$file"
  if [ -f "$dest" ] && [ "$(sha "$dest")" = "$want" ]; then
    say "$file: present, SHA-256 verified"
  else
    url="$ONTOLOGY_URL/$tag/ontology-assets/$file"
    tmp="$DIR/.$file.$$.tmp"
    if ! "$CURL" -fsSL --retry 3 --connect-timeout 30 -o "$tmp" "$url"; then
      say "cannot download $url"
      exit 3
    fi
    got=$(sha "$tmp")
    if [ "$got" != "$want" ]; then
      say "$file: SHA-256 $got, but $PINS pins $want: the download was not kept"
      exit 2
    fi
    mv "$tmp" "$dest"
    tmp=""
    say "$file: downloaded, SHA-256 verified"
  fi
  # the plain JSON beside it, when zstd is installed: cxg-select reads it
  # about twice as fast as the .zst (which it reads too)
  json="${dest%.zst}"
  if [ "$json" != "$dest" ] && command -v zstd >/dev/null && { [ ! -f "$json" ] || [ "$dest" -nt "$json" ]; }; then
    tmp="$DIR/.$(basename "$json").$$.tmp"
    zstd -dqf "$dest" -o "$tmp" || { say "$file: zstd could not decompress it"; exit 2; }
    mv "$tmp" "$json"
    tmp=""
  fi
  # other versions of the same ontology would make cxg-select refuse the folder
  name=${file%%-ontology-*}
  for old in "$DIR/$name"-ontology-*.json "$DIR/$name"-ontology-*.json.zst; do
    if [ -e "$old" ] && [ "${old%.zst}" != "${dest%.zst}" ]; then
      rm -f "$old"
      say "removed $(basename "$old") (another version of $name)"
    fi
  done
done

# the pinned hashes, and those of the decompressed files (derived from them)
{
  for i in "${!files[@]}"; do
    printf '%s  %s\n' "${hashes[$i]}" "${files[$i]}"
    json="${files[$i]%.zst}"
    if [ "$json" != "${files[$i]}" ] && [ -f "$DIR/$json" ]; then printf '%s  %s\n' "$(sha "$DIR/$json")" "$json"; fi
  done
} > "$DIR/.SHA256SUMS.tmp" && mv "$DIR/.SHA256SUMS.tmp" "$DIR/SHA256SUMS"
printf '%s\n' "$tag" > "$DIR/.RELEASE.tmp" && mv "$DIR/.RELEASE.tmp" "$DIR/RELEASE"
say "${#files[@]} files of $tag in $DIR"
