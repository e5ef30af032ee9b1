#!/usr/bin/env bash
# make check-cluster: the checker's node-loss scenarios (bench/checker
# -scenario) on a fresh three-node Cassandra cluster of
# scripts/cassandra-cluster.sh, which this starts and always stops.
#
#   scripts/check-cluster.sh [SCENARIO...]   default: node-kill partition two-down
#
# Environment: CHECK_CLUSTER_DURATION (default 60s), CHECK_CLUSTER_CLIENTS
# (default 12), QUIRE_KEEP_CLUSTER=1 leaves the cluster running, and the
# variables of scripts/cassandra-cluster.sh. Every scenario runs even if
# one fails; the exit status is 1 if any failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
CLUSTER=scripts/cassandra-cluster.sh
DURATION="${CHECK_CLUSTER_DURATION:-60s}"
CLIENTS="${CHECK_CLUSTER_CLIENTS:-12}"
if (($# == 0)); then set -- node-kill partition two-down; fi

stop_cluster() { [[ -n ${QUIRE_KEEP_CLUSTER:-} ]] || "$CLUSTER" stop --wipe || true; }
trap stop_cluster EXIT

# A fresh cluster: a scenario's restarts must not meet an earlier run's
# half-finished state.
"$CLUSTER" stop --wipe
points="$("$CLUSTER" start | sed -n 's/^QUIRE_TEST_CLUSTER=//p')"
[[ -n $points ]] || { echo "check-cluster: the cluster did not start" >&2; exit 1; }
"$CLUSTER" status

failed=()
for s in "$@"; do
  echo "check-cluster: scenario $s" >&2
  if ! QUIRE_TEST_CLUSTER="$points" go run ./bench/checker -scenario "$s" -duration "$DURATION" -clients "$CLIENTS"; then
    failed+=("$s")
  fi
  # A failed restart may leave a node down: the next scenario needs all.
  "$CLUSTER" start >/dev/null
done
if ((${#failed[@]} > 0)); then
  echo "check-cluster: FAILED: ${failed[*]}" >&2
  exit 1
fi
echo "check-cluster: all passed: $*" >&2
