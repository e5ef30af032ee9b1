#!/usr/bin/env bash
# Run a single-node Apache Cassandra 5.0 for Quire's tests, without Docker.
#
#   scripts/cassandra.sh fetch          download cassandra-all + deps (cached)
#   scripts/cassandra.sh start          start in the background, wait until ready
#   scripts/cassandra.sh stop [--wipe]  stop; --wipe also deletes the node's dir
#   scripts/cassandra.sh status         exit 0 if up, 1 if not
#
# Environment (all optional):
#   CASSANDRA_PORT=9042           CQL port (storage port is always 7000)
#   CASSANDRA_HEAP=1G             -Xms/-Xmx
#   CASSANDRA_START_TIMEOUT=180   seconds to wait for readiness
#   CASSANDRA_VERSION=5.0.9       cassandra-all version
#   CASSANDRA_JAVA                java binary (default: a Java 17 one)
#   QUIRE_CACHE=~/.cache/quire    jar cache (shared by all checkouts)
#   QUIRE_RUN=<repo>/.cache/run   node dir is $QUIRE_RUN/cassandra
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONF_SRC="$ROOT/scripts/cassandra"

VERSION="${CASSANDRA_VERSION:-5.0.9}"
PORT="${CASSANDRA_PORT:-9042}"
STORAGE_PORT=7000
HEAP="${CASSANDRA_HEAP:-1G}"
TIMEOUT="${CASSANDRA_START_TIMEOUT:-180}"
CACHE="${QUIRE_CACHE:-${HOME:-/tmp}/.cache/quire}"
LIB="$CACHE/cassandra-$VERSION/lib"
MARKER="$LIB/.fetch-complete"
NODE="${QUIRE_RUN:-$ROOT/.cache/run}/cassandra"
PIDFILE="$NODE/cassandra.pid"
PORTFILE="$NODE/cql.port"
LOGDIR="$NODE/logs"

log() { echo "cassandra.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=lib/jvm.sh
. "$ROOT/scripts/lib/jvm.sh"
# shellcheck source=lib/cassandra-node.sh
. "$ROOT/scripts/lib/cassandra-node.sh"

[[ $PORT =~ ^[0-9]+$ ]] || die "CASSANDRA_PORT must be a number, got '$PORT'"


# The port the running node was started with (CASSANDRA_PORT may differ now).
running_port() { if [[ -s $PORTFILE ]]; then cat "$PORTFILE"; else echo "$PORT"; fi; }

# Cassandra 5.0 runs on 11 and 17; the options file here is for 17.
find_java() { find_java17 "${CASSANDRA_JAVA:-}" CASSANDRA_JAVA; }

cmd_fetch() {
  maven_fetch "cassandra-all $VERSION" "$CONF_SRC/pom.xml" "$LIB" "$MARKER" \
    "cassandra-all-$VERSION.jar" -Dcassandra.version="$VERSION"
  compgen -G "$LIB/jamm-*.jar" >/dev/null || die "jamm jar missing in $LIB"
}

write_config() {
  mkdir -p "$NODE/conf/triggers" "$NODE/data" "$LOGDIR"
  sed -e "s/@CLUSTER_NAME@/quire-test/" \
      -e "s/@STORAGE_PORT@/$STORAGE_PORT/g" \
      -e "s/@NATIVE_PORT@/$PORT/g" \
      "$CONF_SRC/cassandra.yaml.in" >"$NODE/conf/cassandra.yaml"
  cp "$CONF_SRC/logback.xml" "$NODE/conf/logback.xml"
}

jvm_args() {
  # Fast single-node start for tests.
  cassandra_jvm_args "$NODE" "$HEAP" \
    -Dcassandra.skip_wait_for_gossip_to_settle=0 \
    -Dcassandra.load_ring_state=false \
    -Dcassandra.unsafesystem=true
}

ready_line() {
  echo "cassandra running on 127.0.0.1:$1 (pid $2)"
  echo "QUIRE_TEST_CASSANDRA=127.0.0.1:$1"
}

cmd_start() {
  local pid t0=$SECONDS java i
  if pid="$(live_pid CassandraDaemon)"; then
    PORT="$(running_port)"
    if port_open "$PORT"; then
      echo "cassandra already running"
      ready_line "$PORT" "$pid"
      return 0
    fi
    log "cassandra (pid $pid) is starting; waiting for it"
  else
    rm -f "$PIDFILE"
    port_open "$PORT" && die "127.0.0.1:$PORT is already in use by another process (set CASSANDRA_PORT)"
    port_open "$STORAGE_PORT" && die "storage port 127.0.0.1:$STORAGE_PORT is already in use by another process"
    cmd_fetch
    java="$(find_java)"
    write_config
    echo "$PORT" >"$PORTFILE"
    jvm_args
    log "starting cassandra $VERSION on 127.0.0.1:$PORT (node dir $NODE)"
    pid="$(cassandra_launch "$NODE" "$java")"
  fi

  cassandra_wait "$NODE" "$pid" 127.0.0.1 "$PORT" "$TIMEOUT"
  log "ready in $((SECONDS - t0))s"
  ready_line "$PORT" "$pid"
}

cmd_stop() {
  local wipe=0 pid
  case "${1:-}" in
    "") ;;
    --wipe) wipe=1 ;;
    *) die "usage: $0 stop [--wipe]" ;;
  esac
  if pid="$(live_pid CassandraDaemon)"; then
    log "stopping cassandra (pid $pid)"
    kill_node "$pid" 20
  else
    log "cassandra not running"
    rm -f "$PIDFILE"
  fi
  if ((wipe)); then
    log "wiping $NODE"
    rm -rf "$NODE"
  fi
}

cmd_status() {
  local pid port
  port="$(running_port)"
  if pid="$(live_pid CassandraDaemon)"; then
    if port_open "$port"; then
      echo "cassandra running on 127.0.0.1:$port (pid $pid)"
      return 0
    fi
    echo "cassandra starting (pid $pid), CQL port $port not open yet"
    return 1
  fi
  echo "cassandra not running"
  return 1
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) shift; cmd_stop "$@" ;;
  status) cmd_status ;;
  *) echo "usage: $0 fetch|start|stop [--wipe]|status" >&2; exit 2 ;;
esac
