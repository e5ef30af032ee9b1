#!/usr/bin/env bash
# Run two Apache Cassandra 5.0 nodes that require a password and TLS from
# clients, for the tests of Quire's authentication and TLS to Cassandra
# (internal/store/cassandra/security_test.go). Each node is a cluster of
# its own, with its own users, so the two stand for keyspaces that live in
# different clusters. They are apart from scripts/cassandra.sh's node and
# scripts/cassandra-cluster.sh's (other addresses, names and directories),
# which they never touch.
#
#   scripts/cassandra-secure.sh start          start both, wait until ready
#   scripts/cassandra-secure.sh stop [--wipe]  stop; --wipe also deletes their dir
#   scripts/cassandra-secure.sh status         exit 0 if both serve
#   scripts/cassandra-secure.sh env            the QUIRE_TEST_* lines for running ones
#
# Node 1 listens on $SECURE_NET.1 and asks for TLS; node 2 on $SECURE_NET.2
# asks for TLS and a client certificate. Both have PasswordAuthenticator
# with the default superuser cassandra/cassandra, with which tests make
# their own roles. At first start the script makes a CA, each node's
# certificate (subjectAltName IP:<its address>) and a client certificate,
# under $DIR/certs: ca.pem, client.pem and client.key are what a client
# needs (QUIRE_TEST_CASSANDRA_SECURE_CERTS).
#
# Environment (all optional):
#   SECURE_NET=127.0.21          node N listens on $SECURE_NET.N
#   SECURE_PORT=9042             CQL port of both
#   SECURE_STORAGE_PORT=7000     storage port of both (on their own address)
#   SECURE_HEAP=512M             -Xms/-Xmx of each node
#   CASSANDRA_START_TIMEOUT=180  seconds to wait for each node
#   CASSANDRA_VERSION, CASSANDRA_JAVA, QUIRE_CACHE  as for scripts/cassandra.sh
#   QUIRE_RUN=<repo>/.cache/run  node N's dir is $QUIRE_RUN/cassandra-secure/nodeN
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONF_SRC="$ROOT/scripts/cassandra"

VERSION="${CASSANDRA_VERSION:-5.0.9}"
NET="${SECURE_NET:-127.0.21}"
PORT="${SECURE_PORT:-9042}"
STORAGE_PORT="${SECURE_STORAGE_PORT:-7000}"
HEAP="${SECURE_HEAP:-512M}"
TIMEOUT="${CASSANDRA_START_TIMEOUT:-180}"
CACHE="${QUIRE_CACHE:-${HOME:-/tmp}/.cache/quire}"
LIB="$CACHE/cassandra-$VERSION/lib"
DIR="${QUIRE_RUN:-$ROOT/.cache/run}/cassandra-secure"
CERTS="$DIR/certs"
N=2

log() { echo "cassandra-secure.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }
# shellcheck source=lib/jvm.sh
. "$ROOT/scripts/lib/jvm.sh"
# shellcheck source=lib/cassandra-node.sh
. "$ROOT/scripts/lib/cassandra-node.sh"

[[ $NET =~ ^127\.[0-9]+\.[0-9]+$ ]] || die "SECURE_NET must be a 127.x.y prefix (loopback), got '$NET'"
for v in "$PORT" "$STORAGE_PORT"; do
  [[ $v =~ ^[0-9]+$ ]] || die "ports must be numbers, got '$v'"
done

addr() { echo "$NET.$1"; }
node_dir() { echo "$DIR/node$1"; }
node_pid() { PIDFILE="$(node_dir "$1")/cassandra.pid" live_pid CassandraDaemon; }

# sign NAME SUBJECT EXT makes NAME.key and NAME.pem, signed by the CA,
# with the extensions EXT (openssl x509 -extfile lines).
sign() {
  local name=$1 subject=$2 ext=$3
  openssl req -newkey rsa:2048 -nodes -subj "$subject" \
    -keyout "$CERTS/$name.key" -out "$CERTS/$name.csr" 2>/dev/null
  printf '%s\n' "$ext" >"$CERTS/$name.ext"
  openssl x509 -req -in "$CERTS/$name.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca.key" -CAcreateserial \
    -days 3650 -extfile "$CERTS/$name.ext" -out "$CERTS/$name.pem" 2>/dev/null
  rm -f "$CERTS/$name.csr" "$CERTS/$name.ext"
  chmod 600 "$CERTS/$name.key"
}

# certs makes, once, a CA, a certificate per node naming its address and a
# client certificate. A node's keystore is its PKCS#8 key (what openssl
# writes) followed by its certificate.
certs() {
  local i
  [[ -s $CERTS/client.pem && -s $CERTS/node$N.keystore.pem ]] && return 0
  command -v openssl >/dev/null || die "openssl is needed for the test certificates: run scripts/deps.sh"
  rm -rf "$CERTS"
  mkdir -p "$CERTS"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Quire test Cassandra CA" \
    -keyout "$CERTS/ca.key" -out "$CERTS/ca.pem" 2>/dev/null
  chmod 600 "$CERTS/ca.key"
  for ((i = 1; i <= N; i++)); do
    sign "node$i" "/CN=$(addr "$i")" "subjectAltName=IP:$(addr "$i")
extendedKeyUsage=serverAuth"
    cat "$CERTS/node$i.key" "$CERTS/node$i.pem" >"$CERTS/node$i.keystore.pem"
    chmod 600 "$CERTS/node$i.keystore.pem"
  done
  sign client "/CN=quire" "extendedKeyUsage=clientAuth"
  log "made a CA and certificates in $CERTS"
}

write_config() {
  local i=$1 node client_auth=false
  node="$(node_dir "$i")"
  ((i == 2)) && client_auth=true
  mkdir -p "$node/conf/triggers" "$node/data" "$node/logs"
  sed -e "s/@CLUSTER_NAME@/quire-secure-$i/" \
      -e "s/@ADDRESS@/$(addr "$i")/g" \
      -e "s/@STORAGE_PORT@/$STORAGE_PORT/g" \
      -e "s/@NATIVE_PORT@/$PORT/g" \
      -e "s|@KEYSTORE@|$CERTS/node$i.keystore.pem|" \
      -e "s|@TRUSTSTORE@|$CERTS/ca.pem|" \
      -e "s/@CLIENT_AUTH@/$client_auth/" \
      "$CONF_SRC/secure.yaml.in" >"$node/conf/cassandra.yaml"
  cp "$CONF_SRC/logback.xml" "$node/conf/logback.xml"
}

# launch_node I starts node I unless it runs, and prints its pid.
launch_node() {
  local i=$1 node pid java
  node="$(node_dir "$i")"
  if pid="$(node_pid "$i")"; then
    echo "$pid"
    return 0
  fi
  port_open "$PORT" "$(addr "$i")" &&
    die "$(addr "$i"):$PORT is already in use by another process (another checkout's scripts/cassandra-secure.sh? stop it there, or set SECURE_NET)"
  java="$(find_java17 "${CASSANDRA_JAVA:-}" CASSANDRA_JAVA)"
  write_config "$i"
  # As scripts/cassandra-cluster.sh: C1 only, for a start that costs
  # little CPU on a shared machine. The default superuser is made at
  # once rather than after 10 s.
  cassandra_jvm_args "$node" "$HEAP" \
    -XX:TieredStopAtLevel=1 \
    -Dcassandra.skip_wait_for_gossip_to_settle=0 \
    -Dcassandra.load_ring_state=false \
    -Dcassandra.superuser_setup_delay_ms=0
  log "starting node $i on $(addr "$i"):$PORT (dir $node)"
  cassandra_launch "$node" "$java"
}

# wait_superuser I waits until node I has made the default superuser,
# which it logs once, at its first start (the marker remembers it).
wait_superuser() {
  local i=$1 node t0=$SECONDS
  node="$(node_dir "$i")"
  [[ -f $node/superuser.made ]] && return 0
  until grep -q "Created default superuser role" "$node/logs/system.log" 2>/dev/null; do
    ((SECONDS - t0 < TIMEOUT)) || die "node $i made no default superuser within ${TIMEOUT}s (see $node/logs)"
    sleep 0.5
  done
  touch "$node/superuser.made"
}

env_lines() {
  echo "QUIRE_TEST_CASSANDRA_SECURE=$(addr 1):$PORT,$(addr 2):$PORT"
  echo "QUIRE_TEST_CASSANDRA_SECURE_CERTS=$CERTS"
}

rss() { awk '/^VmRSS:/ {print int($2 / 1024)}' "/proc/$1/status" 2>/dev/null || echo "?"; }

cmd_start() {
  local i t0=$SECONDS pids=()
  maven_fetch "cassandra-all $VERSION" "$CONF_SRC/pom.xml" "$LIB" "$LIB/.fetch-complete" \
    "cassandra-all-$VERSION.jar" -Dcassandra.version="$VERSION"
  certs
  # Both at once: they are clusters of their own, with nothing to join.
  for ((i = 1; i <= N; i++)); do pids+=("$(launch_node "$i")"); done
  for ((i = 1; i <= N; i++)); do
    cassandra_wait "$(node_dir "$i")" "${pids[$((i - 1))]}" "$(addr "$i")" "$PORT" "$TIMEOUT"
    wait_superuser "$i"
    log "node $i ready (pid ${pids[$((i - 1))]}, $(rss "${pids[$((i - 1))]}") MiB resident)"
  done
  log "ready in $((SECONDS - t0))s"
  env_lines
}

cmd_stop() {
  # Every node dir there is.
  cassandra_stop_all "$DIR" "$@"
}

cmd_status() {
  local i pid up=0
  for ((i = 1; i <= N; i++)); do
    if pid="$(node_pid "$i")" && port_open "$PORT" "$(addr "$i")"; then
      echo "node $i $(addr "$i"):$PORT serving (pid $pid, $(rss "$pid") MiB resident)"
      up=$((up + 1))
    else
      echo "node $i $(addr "$i"):$PORT down"
    fi
  done
  ((up == N))
}

case "${1:-}" in
  start) cmd_start ;;
  stop) shift; cmd_stop "$@" ;;
  status) cmd_status ;;
  env) cmd_status >/dev/null || die "not running (scripts/cassandra-secure.sh start)"; env_lines ;;
  *) echo "usage: $0 start|stop [--wipe]|status|env" >&2; exit 2 ;;
esac
