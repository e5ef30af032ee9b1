#!/usr/bin/env bash
# Runs a private Dovecot 2.3 (Debian's packages) as the reference peer for
# Quire's benchmarks, beside anything else on the machine: its own base_dir,
# state_dir, instance name, log and maildirs under $DOVECOT_DIR. The system
# dovecot service is never touched.
#
#   scripts/dovecot.sh start    install if missing, write the config, start, wait for LMTP
#   scripts/dovecot.sh stop     stop this instance
#   scripts/dovecot.sh status   exit 0 when this instance's LMTP port answers
#   scripts/dovecot.sh clean    stop, then delete the maildirs and state
#
# Environment (defaults): DOVECOT_DIR (run/dovecot in the repo),
# DOVECOT_LMTP_PORT (12424), DOVECOT_IMAP_PORT (12143), DOVECOT_POP3_PORT
# (12110), DOVECOT_USERS (20 users user1..N@bench.test), DOVECOT_PASSWORD (bench),
# DOVECOT_FTS ("" or "xapian": full-text search with Debian's dovecot-fts-xapian,
# substrings of 3 characters and more, indexed by `doveadm index`; see bench/search),
# DOVECOT_CONF_EXTRA (configuration files appended to the generated one, e.g.
# scripts/dovecot/large-mailbox.conf), DOVECOT_PASS_SCHEME ("" stores
# {PLAIN} passwords; "default" hashes them with `doveadm pw`'s default
# scheme; any other value with `doveadm pw -s` that scheme, e.g. ARGON2ID;
# see bench/login).
set -euo pipefail
cd "$(dirname "$0")/.."

DIR="${DOVECOT_DIR:-$PWD/run/dovecot}"
LMTP_PORT="${DOVECOT_LMTP_PORT:-12424}"
IMAP_PORT="${DOVECOT_IMAP_PORT:-12143}"
POP3_PORT="${DOVECOT_POP3_PORT:-12110}"
USERS="${DOVECOT_USERS:-20}"
PASSWORD="${DOVECOT_PASSWORD:-bench}"
FTS="${DOVECOT_FTS:-}"
EXTRA="${DOVECOT_CONF_EXTRA:-}"
SCHEME="${DOVECOT_PASS_SCHEME:-}"
CONF="$DIR/dovecot.conf"

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

install() {
  local xapian=true
  [ "$FTS" = xapian ] && ! [ -e /usr/lib/dovecot/modules/lib21_fts_xapian_plugin.so ] && xapian=false
  command -v dovecot >/dev/null && [ -x /usr/lib/dovecot/lmtp ] && [ -x /usr/lib/dovecot/imap ] &&
    [ -x /usr/lib/dovecot/pop3 ] && $xapian && return 0
  local pkgs="dovecot-lmtpd dovecot-imapd dovecot-pop3d"
  [ "$FTS" = xapian ] && pkgs="$pkgs dovecot-fts-xapian"
  echo "dovecot: installing $pkgs" >&2
  export DEBIAN_FRONTEND=noninteractive
  # shellcheck disable=SC2086
  apt-get install -y -q $pkgs >&2 || { apt-get update -q >&2 && apt-get install -y -q $pkgs >&2; }
}

configure() {
  mkdir -p "$DIR/mail" "$DIR/state"
  sed -e "s|@DIR@|$DIR|g" -e "s|@INSTANCE@|quire-bench-dovecot|g" \
      -e "s|@LMTP_PORT@|$LMTP_PORT|g" -e "s|@IMAP_PORT@|$IMAP_PORT|g" -e "s|@POP3_PORT@|$POP3_PORT|g" \
      scripts/dovecot/dovecot.conf.in >"$CONF"
  case "$FTS" in
    "") ;;
    xapian) cat scripts/dovecot/fts-xapian.conf >>"$CONF" ;;
    *) echo "dovecot: DOVECOT_FTS=$FTS: want \"\" or \"xapian\"" >&2; return 1 ;;
  esac
  for f in $EXTRA; do
    [ -f "$f" ] || { echo "dovecot: DOVECOT_CONF_EXTRA: no file $f" >&2; return 1; }
    cat "$f" >>"$CONF"
  done
  : >"$DIR/users"
  local hash
  for i in $(seq 1 "$USERS"); do
    case "$SCHEME" in
      "") hash="{PLAIN}$PASSWORD" ;;
      default) hash="$(doveadm pw -p "$PASSWORD")" ;;
      *) hash="$(doveadm pw -s "$SCHEME" -p "$PASSWORD")" ;;
    esac
    echo "user$i@bench.test:$hash::::::" >>"$DIR/users"
  done
  chmod 0644 "$DIR/users"
  chown nobody:nogroup "$DIR/mail"
}

start() {
  if port_open "$LMTP_PORT"; then
    if [ -f "$DIR/base/master.pid" ]; then echo "dovecot: already running (LMTP 127.0.0.1:$LMTP_PORT)"; return 0; fi
    echo "dovecot: port $LMTP_PORT is taken by something else" >&2; return 1
  fi
  install
  configure
  dovecot -c "$CONF"
  for _ in $(seq 1 100); do
    if port_open "$LMTP_PORT"; then
      echo "dovecot: LMTP 127.0.0.1:$LMTP_PORT, IMAP :$IMAP_PORT, POP3 :$POP3_PORT, dir $DIR"
      return 0
    fi
    sleep 0.1
  done
  echo "dovecot: LMTP port $LMTP_PORT did not open in 10 s; log:" >&2
  tail -n 30 "$DIR/dovecot.log" >&2 || true
  stop || true
  return 1
}

stop() {
  local pidfile="$DIR/base/master.pid"
  [ -f "$pidfile" ] || { echo "dovecot: not running"; return 0; }
  local pid; pid="$(cat "$pidfile")"
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do
    kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; echo "dovecot: stopped"; return 0; }
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$pidfile"
  echo "dovecot: killed"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) port_open "$LMTP_PORT" && [ -f "$DIR/base/master.pid" ] && echo "dovecot: running (LMTP 127.0.0.1:$LMTP_PORT)" ;;
  clean) stop; rm -rf "$DIR" ;;
  *) echo "usage: $0 start|stop|status|clean" >&2; exit 2 ;;
esac
