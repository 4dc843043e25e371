#!/usr/bin/env bash
# fuzz.sh: run every fuzz target in the module for FUZZTIME each (default 1m).
# Findings land in the package's testdata/fuzz/ and become regression seeds: fix
# the bug, keep the input.
set -euo pipefail
cd "$(dirname "$0")/.."
t=${FUZZTIME:-1m}
for pkg in $(go list ./...); do
  for f in $(go test -list '^Fuzz' "$pkg" 2>/dev/null | grep '^Fuzz' || true); do
    echo "== $pkg $f ($t)"
    go test "$pkg" -run '^$' -fuzz "^$f\$" -fuzztime "$t"
  done
done
