#!/usr/bin/env bash
# Runs every fuzz target in the module for a while each: scripts/fuzz.sh 30s
# (the seeds alone also run in every `make test`, as ordinary tests).
set -euo pipefail
cd "$(dirname "$0")/.."
time="${1:-20s}"
grep -rl --include='*_test.go' '^func Fuzz' internal cmd 2>/dev/null | while read -r f; do
  pkg="./$(dirname "$f")"
  grep -o '^func Fuzz[A-Za-z0-9_]*' "$f" | sed 's/^func //' | while read -r target; do
    echo "== $pkg $target ($time)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$time" -fuzzminimizetime 5s "$pkg"
  done
done
