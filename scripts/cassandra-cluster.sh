#!/usr/bin/env bash
# Run a multi-node Apache Cassandra 5.0 cluster on one machine, for the
# checker's node-loss scenarios (bench/checker -scenario, make
# check-cluster). Each node has its own loopback address, directory and
# local JMX port; the cluster is apart from scripts/cassandra.sh's node
# (another address, name and directory), which it never touches.
#
#   scripts/cassandra-cluster.sh start [N...]    start the nodes (default all), one after another
#   scripts/cassandra-cluster.sh stop [--wipe]   stop every node; --wipe deletes the cluster's dir
#   scripts/cassandra-cluster.sh status          one line per node; exit 0 if all serve CQL
#   scripts/cassandra-cluster.sh kill N          SIGKILL node N (a crash)
#   scripts/cassandra-cluster.sh pause N         SIGSTOP node N (a partition: alive, silent)
#   scripts/cassandra-cluster.sh resume N        SIGCONT node N
#   scripts/cassandra-cluster.sh nodetool N ARGS nodetool against node N (repair, status, ...)
#   scripts/cassandra-cluster.sh points          the CQL addresses, comma-separated
#
# Nodes are numbered from 1; node 1 is the seed.
#
# Environment (all optional):
#   CLUSTER_DCS="dc1 dc1 dc1"    data center of each node, in order: the
#                                count of words is the count of nodes
#                                ("dc1 dc1 dc2": two data centers, 2 + 1)
#   CLUSTER_NET=127.0.20         node N listens on $CLUSTER_NET.N
#   CLUSTER_PORT=9042            CQL port of every node
#   CLUSTER_STORAGE_PORT=7000    storage (gossip) port of every node
#   CLUSTER_JMX_BASE=17200       node N's JMX on 127.0.0.1:$((CLUSTER_JMX_BASE + N))
#   CLUSTER_HEAP=512M            -Xms/-Xmx of each node
#   CLUSTER_NAME=quire-cluster   cluster_name
#   CASSANDRA_START_TIMEOUT=180  seconds to wait for each node
#   CASSANDRA_VERSION, CASSANDRA_JAVA, QUIRE_CACHE  as for scripts/cassandra.sh
#   QUIRE_RUN=<repo>/.cache/run  node N's dir is $QUIRE_RUN/cassandra-cluster/nodeN
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONF_SRC="$ROOT/scripts/cassandra"

VERSION="${CASSANDRA_VERSION:-5.0.9}"
read -ra DCS <<<"${CLUSTER_DCS:-dc1 dc1 dc1}"
NET="${CLUSTER_NET:-127.0.20}"
PORT="${CLUSTER_PORT:-9042}"
STORAGE_PORT="${CLUSTER_STORAGE_PORT:-7000}"
JMX_BASE="${CLUSTER_JMX_BASE:-17200}"
HEAP="${CLUSTER_HEAP:-512M}"
NAME="${CLUSTER_NAME:-quire-cluster}"
TIMEOUT="${CASSANDRA_START_TIMEOUT:-180}"
CACHE="${QUIRE_CACHE:-${HOME:-/tmp}/.cache/quire}"
LIB="$CACHE/cassandra-$VERSION/lib"
DIR="${QUIRE_RUN:-$ROOT/.cache/run}/cassandra-cluster"
N=${#DCS[@]}

log() { echo "cassandra-cluster.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=lib/jvm.sh
. "$ROOT/scripts/lib/jvm.sh"
# shellcheck source=lib/cassandra-node.sh
. "$ROOT/scripts/lib/cassandra-node.sh"

((N >= 1 && N <= 9)) || die "CLUSTER_DCS names $N nodes: want 1 to 9"
[[ $NET =~ ^127\.[0-9]+\.[0-9]+$ ]] || die "CLUSTER_NET must be a 127.x.y prefix (loopback), got '$NET'"
for v in "$PORT" "$STORAGE_PORT" "$JMX_BASE"; do
  [[ $v =~ ^[0-9]+$ ]] || die "ports must be numbers, got '$v'"
done

addr() { echo "$NET.$1"; }
node_dir() { echo "$DIR/node$1"; }
jmx_port() { echo $((JMX_BASE + $1)); }

# node_pid I prints node I's pid if it runs.
node_pid() { PIDFILE="$(node_dir "$1")/cassandra.pid" live_pid CassandraDaemon; }

# token I: node I's token, evenly spaced over Murmur3's range.
token() { echo $((-9223372036854775807 - 1 + ($1 - 1) * (9223372036854775807 / N * 2))); }

check_node() {
  [[ $1 =~ ^[0-9]+$ ]] && (($1 >= 1 && $1 <= N)) || die "no node '$1' (nodes are 1 to $N)"
}

write_config() {
  local i=$1 node
  node="$(node_dir "$i")"
  mkdir -p "$node/conf/triggers" "$node/data" "$node/logs"
  sed -e "s/@CLUSTER_NAME@/$NAME/" \
      -e "s/@INITIAL_TOKEN@/$(token "$i")/" \
      -e "s/@SEEDS@/$(addr 1):$STORAGE_PORT/" \
      -e "s/@ADDRESS@/$(addr "$i")/g" \
      -e "s/@STORAGE_PORT@/$STORAGE_PORT/g" \
      -e "s/@NATIVE_PORT@/$PORT/g" \
      "$CONF_SRC/cluster.yaml.in" >"$node/conf/cassandra.yaml"
  printf 'dc=%s\nrack=rack1\n' "${DCS[$((i - 1))]}" >"$node/conf/cassandra-rackdc.properties"
  cp "$CONF_SRC/logback.xml" "$node/conf/logback.xml"
}

# start_node I starts node I (if it is not running) and waits until it
# serves CQL.
start_node() {
  local i=$1 node pid java t0=$SECONDS
  node="$(node_dir "$i")"
  if pid="$(node_pid "$i")"; then
    grep -q '^State:.*(stopped)' "/proc/$pid/status" 2>/dev/null && kill -CONT "$pid"
  else
    port_open "$PORT" "$(addr "$i")" && die "$(addr "$i"):$PORT is already in use by another process"
    port_open "$(jmx_port "$i")" && die "JMX port 127.0.0.1:$(jmx_port "$i") is already in use (set CLUSTER_JMX_BASE)"
    java="$(find_java17 "${CASSANDRA_JAVA:-}" CASSANDRA_JAVA)"
    write_config "$i"
    # A node's first start joins with its token at once (auto_bootstrap is
    # off: a fresh cluster has nothing to stream); the short ring delay
    # keeps a start within seconds. C1 alone (TieredStopAtLevel=1) spends
    # far less CPU at start on a shared machine, for slower steady state.
    # Local JMX is for nodetool.
    cassandra_jvm_args "$node" "$HEAP" \
      -XX:TieredStopAtLevel=1 \
      -Dcassandra.ring_delay_ms=3000 \
      -Dcassandra.skip_wait_for_gossip_to_settle=0 \
      "-Dcassandra.jmx.local.port=$(jmx_port "$i")"
    log "starting node $i (${DCS[$((i - 1))]}) on $(addr "$i"):$PORT (dir $node)"
    pid="$(cassandra_launch "$node" "$java")"
  fi
  cassandra_wait "$node" "$pid" "$(addr "$i")" "$PORT" "$TIMEOUT"
  log "node $i ready in $((SECONDS - t0))s (pid $pid, $(rss "$pid") MiB resident)"
}

rss() { awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$1/status" 2>/dev/null || echo "?"; }

cmd_start() {
  local i t0=$SECONDS
  maven_fetch "cassandra-all $VERSION" "$CONF_SRC/pom.xml" "$LIB" "$LIB/.fetch-complete" \
    "cassandra-all-$VERSION.jar" -Dcassandra.version="$VERSION"
  if (($# == 0)); then set -- $(seq 1 "$N"); fi
  for i in "$@"; do check_node "$i"; done
  # One at a time: Cassandra does not allow two nodes to join at once.
  for i in "$@"; do start_node "$i"; done
  log "started in $((SECONDS - t0))s"
  echo "QUIRE_TEST_CLUSTER=$(cmd_points)"
}

cmd_stop() {
  # Every node dir there is, whatever CLUSTER_DCS says now.
  cassandra_stop_all "$DIR" "$@"
}

cmd_status() {
  local i pid up=0 state
  for ((i = 1; i <= N; i++)); do
    if pid="$(node_pid "$i")"; then
      state=running
      grep -q '^State:.*(stopped)' "/proc/$pid/status" 2>/dev/null && state=paused
      if [[ $state == running ]] && port_open "$PORT" "$(addr "$i")"; then
        up=$((up + 1))
        state=serving
      fi
      echo "node $i ${DCS[$((i - 1))]} $(addr "$i"):$PORT $state (pid $pid, $(rss "$pid") MiB resident)"
    else
      echo "node $i ${DCS[$((i - 1))]} $(addr "$i"):$PORT down"
    fi
  done
  ((up == N))
}

signal_node() {
  local sig=$1 i=$2 pid
  check_node "$i"
  pid="$(node_pid "$i")" || die "node $i is not running"
  kill "-$sig" "$pid"
  if [[ $sig == KILL ]]; then
    while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    rm -f "$(node_dir "$i")/cassandra.pid"
  fi
  log "node $i (pid $pid): SIG$sig"
}

cmd_nodetool() {
  local i=$1 java
  check_node "$i"
  shift
  java="$(find_java17 "${CASSANDRA_JAVA:-}" CASSANDRA_JAVA)"
  # The server's --add-exports and --add-opens, which the tool needs too.
  local opens=() line words
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line == --add-* ]] || continue
    read -ra words <<<"$line"
    opens+=("${words[@]}")
  done <"$CONF_SRC/jvm17-server.options"
  "$java" -Xmx128m "${opens[@]}" -Dlogback.configurationFile=file://"$CONF_SRC"/logback.xml \
    -Dcassandra.logdir="$DIR/nodetool" -cp "$LIB/*" \
    org.apache.cassandra.tools.NodeTool -h 127.0.0.1 -p "$(jmx_port "$i")" "$@"
}

cmd_points() {
  local i out=()
  for ((i = 1; i <= N; i++)); do out+=("$(addr "$i"):$PORT"); done
  (IFS=,; echo "${out[*]}")
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  status) cmd_status ;;
  kill) signal_node KILL "${2:-}" ;;
  pause) signal_node STOP "${2:-}" ;;
  resume) signal_node CONT "${2:-}" ;;
  nodetool) shift; [[ $# -ge 1 ]] || die "usage: $0 nodetool N ARGS"; cmd_nodetool "$@" ;;
  points) cmd_points ;;
  *) echo "usage: $0 start [N...]|stop [--wipe]|status|kill N|pause N|resume N|nodetool N ARGS|points" >&2; exit 2 ;;
esac
