#!/usr/bin/env bash
# Installs the real clients the tests drive (Debian packages), when missing.
set -euo pipefail
need=()
command -v swaks >/dev/null 2>&1 || need+=(swaks)
command -v python3 >/dev/null 2>&1 || need+=(python3)
command -v mbsync >/dev/null 2>&1 || need+=(isync)
command -v fetchmail >/dev/null 2>&1 || need+=(fetchmail)
command -v node >/dev/null 2>&1 || need+=(nodejs npm)
# OpenLDAP for the LDAP directory's tests (scripts/slapd.sh runs its own).
[ -x /usr/sbin/slapd ] || need+=(slapd)
command -v ldapsearch >/dev/null 2>&1 || need+=(ldap-utils)
command -v openssl >/dev/null 2>&1 || need+=(openssl)
# Dovecot's IMAP server reads the Maildir "quire export" writes, and the
# import tests deliver to a Dovecot over LMTP (internal/backup, cmd/quire;
# isync's mbsync above syncs from it).
[ -x /usr/lib/dovecot/imap ] || need+=(dovecot-imapd)
[ -x /usr/lib/dovecot/lmtp ] || need+=(dovecot-lmtpd)
# systemd-analyze verify checks contrib/systemd's units (TestSystemdUnits).
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd)
# Headless Chromium renders GET /status (TestStatusPageChromium).
command -v chromium >/dev/null 2>&1 || need+=(chromium)

# The npm client imapflow, pinned in test/clients/package.json.
npm_clients() {
  [ -d test/clients/node_modules/imapflow ] && return 0
  echo "deps: installing test/clients (npm)"
  (cd test/clients && npm install --no-audit --no-fund --silent >/dev/null)
}
cd "$(dirname "$0")/.."
if [ ${#need[@]} -eq 0 ]; then
  npm_clients
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "deps: missing ${need[*]}; install them (apt-get install ${need[*]}) or run as root" >&2
  exit 1
fi
echo "deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# slapd's package would configure and start a system instance; the tests
# need none (scripts/slapd.sh runs its own on 127.0.0.1).
echo "slapd slapd/no_configuration boolean true" | debconf-set-selections
apt-get install -y -q "${need[@]}" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "${need[@]}" >/dev/null; }
npm_clients
