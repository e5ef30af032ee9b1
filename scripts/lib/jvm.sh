# Shared by scripts/cassandra.sh and scripts/opensearch.sh: find Java 17,
# manage the node process (its pid in $PIDFILE),
# and fetch a Java program's runtime jars with Maven into a cache.
# The sourcing script defines log and die.

# find_java17 OVERRIDE HINT prints a Java 17 binary: OVERRIDE if set, then
# $JAVA_HOME, Debian's JVM directories and PATH. HINT names the variable
# to set when none is found.
find_java17() {
  local j
  for j in "$1" "${JAVA_HOME:+$JAVA_HOME/bin/java}" \
           /usr/lib/jvm/java-17-openjdk-*/bin/java /usr/lib/jvm/*17*/bin/java \
           "$(command -v java || true)"; do
    [[ -n $j && -x $j ]] || continue
    if "$j" -version 2>&1 | head -1 | grep -q '"17[."]'; then echo "$j"; return 0; fi
  done
  die "no Java 17 found (set $2 or JAVA_HOME)"
}

# maven_fetch WHAT POM LIB MARKER REQUIRED_GLOB [-Dname=value ...] copies
# the runtime dependencies of POM into LIB, atomically, unless MARKER shows
# an earlier fetch completed. REQUIRED_GLOB (relative to LIB) must match
# afterwards.
maven_fetch() {
  local what=$1 pom=$2 lib=$3 marker=$4 required=$5
  shift 5
  if [[ -f $marker ]]; then
    log "$what already in $lib"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (Maven 3.8+ is needed to fetch $what)"
  mkdir -p "$(dirname "$lib")"
  local tmp="$lib.tmp.$$" t0=$SECONDS
  rm -rf "$tmp"
  trap 'rm -rf "$tmp"' EXIT
  log "fetching $what and its runtime dependencies into $lib ..."
  # Name the plugin version: Maven 3.8's default is old. Maven 3.8 prints
  # stray color-reset escapes even with -q; drop them.
  mvn -B -q -Dstyle.color=never -f "$pom" "$@" \
    org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" 2>&1 | sed 's/\x1b\[0m//g' >&2 ||
    die "maven could not fetch $what"
  compgen -G "$tmp/$required" >/dev/null || die "$required missing after fetching $what"
  rm -rf "$lib"
  mv "$tmp" "$lib"
  trap - EXIT
  date -u +%FT%TZ >"$marker"
  log "fetched $(ls "$lib"/*.jar | wc -l) jars in $((SECONDS - t0))s"
}

# port_open PORT [HOST] succeeds when something accepts on HOST:PORT
# (HOST defaults to 127.0.0.1).
port_open() { timeout 2 bash -c "exec 3<>/dev/tcp/${2:-127.0.0.1}/$1" 2>/dev/null; }

# live_pid MAIN_CLASS prints the pid in $PIDFILE if it is a live JVM
# running MAIN_CLASS (a pid file left by a dead node names nothing).
live_pid() {
  local pid
  [[ -s $PIDFILE ]] || return 1
  pid="$(<"$PIDFILE")"
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  grep -qa "$1" "/proc/$pid/cmdline" 2>/dev/null || return 1
  echo "$pid"
}

# kill_node PID GRACE sends TERM, then KILL after GRACE seconds, and
# removes $PIDFILE.
kill_node() {
  local pid=$1 grace=$2 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "pid $pid still alive after ${grace}s, sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 20; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
  fi
  rm -f "$PIDFILE"
}
