# Shared by scripts/cassandra.sh (one node), scripts/cassandra-cluster.sh
# (several) and scripts/cassandra-secure.sh (two that require a password
# and TLS): the JVM command line of one Cassandra node, its start in the
# background, the wait until it serves CQL and the stop. The sourcing script defines
# log and die and sources lib/jvm.sh; CONF_SRC is scripts/cassandra and LIB
# the jar directory.

# cassandra_jvm_args NODE HEAP [-Dname=value ...] sets ARGS to the java
# arguments of the node whose directory is NODE (conf/, data/, logs/ and
# its pid file cassandra.pid), with HEAP for -Xms and -Xmx; the extra
# arguments go before the main class.
cassandra_jvm_args() {
  local node=$1 heap=$2 line words jamm
  shift 2
  ARGS=()
  while IFS= read -r line || [[ -n $line ]]; do
    [[ $line == -* ]] || continue
    read -ra words <<<"$line"
    ARGS+=("${words[@]}")
  done <"$CONF_SRC/jvm17-server.options"
  jamm="$(compgen -G "$LIB/jamm-*.jar" | head -1)"
  ARGS+=(
    "-Xms$heap" "-Xmx$heap"
    "-XX:HeapDumpPath=$node"
    -XX:+ExitOnOutOfMemoryError
    "-javaagent:$jamm"
    -Dcassandra-foreground=yes
    "-Dcassandra-pidfile=$node/cassandra.pid"
    "-Dcassandra.config=file://$node/conf/cassandra.yaml"
    "-Dcassandra.storagedir=$node/data"
    "-Dcassandra.logdir=$node/logs"
    "-Dcassandra.triggers_dir=$node/conf/triggers"
    "-Dlogback.configurationFile=file://$node/conf/logback.xml"
    "$@"
    -cp "$node/conf:$LIB/*"
    org.apache.cassandra.service.CassandraDaemon
  )
}

# cassandra_launch NODE JAVA starts the node with ARGS in its own session,
# so that it outlives the shell that started it, and prints its pid. The
# inner bash writes its pid, then execs java under that same pid.
cassandra_launch() {
  local node=$1 java=$2 pid i
  rm -f "$node/cassandra.pid"
  [[ -f $node/logs/system.log ]] && mv -f "$node/logs/system.log" "$node/logs/system.log.prev"
  # The redirections are the subshell's own, so that no descriptor of the
  # caller (a command substitution's pipe) stays open in the node.
  (cd "$node" && exec setsid bash -c 'echo $$ >"$0"; exec "$@"' "$node/cassandra.pid" "$java" "${ARGS[@]}") \
    </dev/null >"$node/logs/stdout.log" 2>&1 &
  for ((i = 0; i < 50; i++)); do
    PIDFILE="$node/cassandra.pid" live_pid CassandraDaemon && return 0
    sleep 0.1
  done
  cassandra_show_logs "$node"
  die "cassandra in $node did not start (no live pid)"
}

# cassandra_wait NODE PID HOST PORT TIMEOUT waits until the node logs
# "Startup complete" and accepts CQL on HOST:PORT. A node that exits, or
# is not ready in TIMEOUT seconds (then it is stopped), is fatal.
cassandra_wait() {
  local node=$1 pid=$2 host=$3 port=$4 timeout=$5 t0=$SECONDS
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      rm -f "$node/cassandra.pid"
      cassandra_show_logs "$node"
      die "cassandra exited during startup (see $node/logs)"
    fi
    if grep -q 'Startup complete' "$node/logs/system.log" 2>/dev/null && port_open "$port" "$host"; then
      return 0
    fi
    if ((SECONDS - t0 >= timeout)); then
      cassandra_show_logs "$node"
      log "stopping pid $pid"
      PIDFILE="$node/cassandra.pid" kill_node "$pid" 20
      die "cassandra on $host:$port not ready within ${timeout}s (set CASSANDRA_START_TIMEOUT to wait longer)"
    fi
    sleep 1
  done
}

# cassandra_stop_all DIR [--wipe] stops the node of each DIR/node* that
# runs; --wipe then deletes DIR.
cassandra_stop_all() {
  local dir=$1 wipe=0 node pid
  case "${2:-}" in
    "") ;;
    --wipe) wipe=1 ;;
    *) die "usage: $0 stop [--wipe]" ;;
  esac
  for node in "$dir"/node*; do
    [[ -d $node ]] || continue
    if pid="$(PIDFILE="$node/cassandra.pid" live_pid CassandraDaemon)"; then
      log "stopping $(basename "$node") (pid $pid)"
      kill -CONT "$pid" 2>/dev/null || true # a paused node cannot handle TERM
      PIDFILE="$node/cassandra.pid" kill_node "$pid" 20
    fi
  done
  if ((wipe)); then
    log "wiping $dir"
    rm -rf "$dir"
  fi
}

cassandra_show_logs() {
  local f
  for f in "$1/logs/system.log" "$1/logs/stdout.log"; do
    [[ -s $f ]] || continue
    echo "----- last 50 lines of $f -----" >&2
    tail -n 50 "$f" >&2
  done
}
