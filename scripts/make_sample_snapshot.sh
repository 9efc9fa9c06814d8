#!/usr/bin/env bash
# tests/fixtures/sample: the small catalogue the README's example harvests
# offline. cxg-gen makes two collections of five datasets with asset files;
# each asset is then replaced by one of the committed test H5ADs (so that
# cxg-obs has real cells to summarise), its ETag is that file's MD5, and
# every JSON file states the real size of each H5AD. Run from the
# repository root after `make build`; the result is committed.
set -euo pipefail
export LC_ALL=C
BIN=${BIN:-target/release}
out=tests/fixtures/sample
files=(plain lzf wide_codes anndata08 ids_only)

rm -rf "$out"
"$BIN/cxg-gen" --seed 3 --collections 2 --datasets 5 --assets "$out"
i=0
for a in "$out"/assets/*.h5ad; do
  name=$(basename "$a")
  cp "tests/fixtures/h5ad/${files[i]}.h5ad" "$a"
  printf '"%s"' "$(md5sum "$a" | cut -d' ' -f1)" > "$a.etag"
  size=$(stat -c %s "$a")
  # the records name the file by URL; only its filesize changes
  find "$out" -name '*.json' -exec sed -i \
    "s|\"filesize\":[0-9-]*,\"filetype\":\"H5AD\",\"url\":\"\([^\"]*/\)$name\"|\"filesize\":$size,\"filetype\":\"H5AD\",\"url\":\"\1$name\"|g" {} +
  i=$((i + 1))
done
