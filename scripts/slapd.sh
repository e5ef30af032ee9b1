#!/usr/bin/env bash
# Run a throwaway OpenLDAP slapd (Debian's package) for Quire's tests, on
# 127.0.0.1, with its own configuration, schema and data under
# $QUIRE_RUN/slapd; the system's slapd instance, if any, is not touched.
#
#   scripts/slapd.sh start          start in the background, wait until ready
#   scripts/slapd.sh stop [--wipe]  stop; --wipe also deletes its directory
#   scripts/slapd.sh status         exit 0 if up, 1 if not
#   scripts/slapd.sh env            print QUIRE_TEST_LDAP=... lines for a running one
#
# It listens on ldap://127.0.0.1:PORT (StartTLS offered) and
# ldaps://127.0.0.1:PORT+1.
#
# The directory (scripts/slapd/): suffix dc=quire,dc=test, root
# cn=admin,dc=quire,dc=test (password quire-test-admin) with which tests add
# their own entries under ou=people, ou=groups, and the search account
# cn=quire,dc=quire,dc=test (password quire-search). The schema
# scripts/slapd/quire.schema adds mailHost, mailAlternateAddress,
# mailQuota, mailMessageQuota and mailUserStatus (class quireMailUser).
# StartTLS and ldaps:// use a certificate made at first start, signed by a
# CA whose certificate is $QUIRE_RUN/slapd/ca.pem (QUIRE_TEST_LDAP_CA).
#
# Environment (all optional):
#   SLAPD_PORT             ldap:// port, ldaps:// is the next (default: the
#                          first free pair from 38900)
#   SLAPD_START_TIMEOUT=30 seconds to wait for readiness
#   QUIRE_RUN=<repo>/.cache/run
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/scripts/slapd"
NODE="${QUIRE_RUN:-$ROOT/.cache/run}/slapd"
PIDFILE="$NODE/slapd.pid"
PORTFILE="$NODE/ldap.port"
LOG="$NODE/slapd.log"
TIMEOUT="${SLAPD_START_TIMEOUT:-30}"
SLAPD="${SLAPD:-/usr/sbin/slapd}"

log() { echo "slapd.sh: $*" >&2; }
die() { log "ERROR: $*"; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

live_pid() {
  local pid
  [[ -s $PIDFILE ]] || return 1
  pid="$(cat "$PIDFILE")"
  kill -0 "$pid" 2>/dev/null && [[ "$(cat "/proc/$pid/comm" 2>/dev/null)" == slapd ]] || return 1
  echo "$pid"
}

env_lines() {
  echo "QUIRE_TEST_LDAP=ldap://127.0.0.1:$1"
  echo "QUIRE_TEST_LDAPS=ldaps://127.0.0.1:$(($1 + 1))"
  echo "QUIRE_TEST_LDAP_CA=$NODE/ca.pem"
}

# certs makes a CA and a server certificate for 127.0.0.1 and localhost.
certs() {
  [[ -s $NODE/server.pem && -s $NODE/ca.pem ]] && return 0
  command -v openssl >/dev/null || die "openssl is needed for the test certificates (apt-get install openssl)"
  openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=Quire test LDAP CA" \
    -keyout "$NODE/ca.key" -out "$NODE/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
    -keyout "$NODE/server.key" -out "$NODE/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$NODE/san.ext"
  openssl x509 -req -in "$NODE/server.csr" -CA "$NODE/ca.pem" -CAkey "$NODE/ca.key" -CAcreateserial \
    -days 3650 -extfile "$NODE/san.ext" -out "$NODE/server.pem" 2>/dev/null
  chmod 600 "$NODE/server.key" "$NODE/ca.key"
}

write_config() {
  mkdir -p "$NODE/data"
  cp "$SRC/quire.schema" "$NODE/quire.schema"
  sed -e "s|@NODE@|$NODE|g" "$SRC/slapd.conf.in" >"$NODE/slapd.conf"
  certs
  "${SLAPD%/*}/slaptest" -Q -u -f "$NODE/slapd.conf" || die "slaptest rejected $NODE/slapd.conf"
}

free_port() {
  local p
  if [[ -n ${SLAPD_PORT:-} ]]; then
    [[ $SLAPD_PORT =~ ^[0-9]+$ ]] || die "SLAPD_PORT must be a number, got '$SLAPD_PORT'"
    port_open "$SLAPD_PORT" && die "127.0.0.1:$SLAPD_PORT is already in use (set SLAPD_PORT)"
    port_open "$((SLAPD_PORT + 1))" && die "127.0.0.1:$((SLAPD_PORT + 1)) (ldaps) is already in use (set SLAPD_PORT)"
    echo "$SLAPD_PORT"
    return
  fi
  for ((p = 38900; p < 39000; p += 2)); do
    port_open "$p" || port_open "$((p + 1))" || { echo "$p"; return; }
  done
  die "no free pair of ports in 38900-38999 (set SLAPD_PORT)"
}

search_ok() {
  ldapsearch -x -LLL -H "ldap://127.0.0.1:$1" -D "cn=admin,dc=quire,dc=test" -w quire-test-admin \
    -b "" -s base namingContexts >/dev/null 2>&1
}

cmd_start() {
  local pid port t0=$SECONDS
  [[ -x $SLAPD ]] || die "$SLAPD is missing: run scripts/deps.sh (Debian packages slapd and ldap-utils)"
  command -v ldapsearch >/dev/null || die "ldapsearch is missing: run scripts/deps.sh (ldap-utils)"
  if pid="$(live_pid)"; then
    port="$(cat "$PORTFILE")"
    echo "slapd already running on 127.0.0.1:$port (pid $pid)"
    env_lines "$port"
    return 0
  fi
  rm -f "$PIDFILE"
  write_config
  port="$(free_port)"
  echo "$port" >"$PORTFILE"
  log "starting slapd on 127.0.0.1:$port and ldaps 127.0.0.1:$((port + 1)) (directory $NODE)"
  # -d 0: stay in the foreground (setsid detaches it from this shell);
  # the log goes to $LOG.
  (setsid "$SLAPD" -d 0 -f "$NODE/slapd.conf" -h "ldap://127.0.0.1:$port/ ldaps://127.0.0.1:$((port + 1))/" </dev/null >"$LOG" 2>&1 &)
  until search_ok "$port"; do
    if ((SECONDS - t0 >= TIMEOUT)); then
      tail -n 30 "$LOG" >&2 || true
      pid="$(live_pid)" && kill "$pid"
      die "slapd not ready within ${TIMEOUT}s (see $LOG)"
    fi
    sleep 0.2
  done
  if ! ldapsearch -x -LLL -H "ldap://127.0.0.1:$port" -D "cn=admin,dc=quire,dc=test" -w quire-test-admin \
    -b "dc=quire,dc=test" -s base dn >/dev/null 2>&1; then
    ldapadd -x -H "ldap://127.0.0.1:$port" -D "cn=admin,dc=quire,dc=test" -w quire-test-admin \
      -f "$SRC/base.ldif" >/dev/null || die "could not load $SRC/base.ldif"
  fi
  log "ready in $((SECONDS - t0))s"
  echo "slapd running on 127.0.0.1:$port (pid $(live_pid))"
  env_lines "$port"
}

cmd_stop() {
  local wipe=0 pid i
  case "${1:-}" in
    "") ;;
    --wipe) wipe=1 ;;
    *) die "usage: $0 stop [--wipe]" ;;
  esac
  if pid="$(live_pid)"; then
    log "stopping slapd (pid $pid)"
    kill "$pid"
    for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  else
    log "slapd not running"
  fi
  rm -f "$PIDFILE"
  if ((wipe)); then
    log "wiping $NODE"
    rm -rf "$NODE"
  fi
}

cmd_status() {
  local pid port
  if pid="$(live_pid)" && port="$(cat "$PORTFILE")" && search_ok "$port"; then
    echo "slapd running on 127.0.0.1:$port (pid $pid)"
    return 0
  fi
  echo "slapd not running"
  return 1
}

case "${1:-}" in
  start) cmd_start ;;
  stop) shift; cmd_stop "$@" ;;
  status) cmd_status ;;
  env) pid="$(live_pid)" || die "slapd not running"; env_lines "$(cat "$PORTFILE")" ;;
  *) echo "usage: $0 start|stop [--wipe]|status|env" >&2; exit 2 ;;
esac
