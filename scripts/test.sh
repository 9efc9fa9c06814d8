#!/usr/bin/env bash
# make test: build the binaries the integration tests run, run every test,
# and end with one line totalling what ran ("N passed, N failed").
set -uo pipefail
CARGO=${CARGO:-cargo}
$CARGO build --locked --workspace --bins || exit $?
log=$(mktemp)
trap 'rm -f "$log"' EXIT
$CARGO test --locked --workspace 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
read -r passed failed ignored < <(awk '/^test result:/ {
    for (i = 1; i <= NF; i++) {
      if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i; if ($(i+1) ~ /^ignored/) g += $i
    } } END { print p+0, f+0, g+0 }' "$log")
echo
echo "tests: $passed passed, $failed failed, $ignored skipped"
exit "$rc"
