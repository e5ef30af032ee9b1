#!/usr/bin/env bash
# Runs every Go test. Backends that need a real server get one: Cassandra at
# QUIRE_TEST_CASSANDRA, OpenSearch at QUIRE_TEST_OPENSEARCH, OpenLDAP at
# QUIRE_TEST_LDAP (with QUIRE_TEST_LDAP_CA) and the Cassandra nodes that
# require a password and TLS at QUIRE_TEST_CASSANDRA_SECURE (with
# QUIRE_TEST_CASSANDRA_SECURE_CERTS), or servers this script starts (and,
# unless QUIRE_KEEP_<NAME>=1, stops) itself.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh

started=""
if [ -z "${QUIRE_TEST_CASSANDRA:-}" ]; then
  if scripts/cassandra.sh status >/dev/null 2>&1; then
    echo "test: using the Cassandra node that is already running"
  elif (exec 3<>"/dev/tcp/127.0.0.1/${CASSANDRA_PORT:-9042}") 2>/dev/null; then
    echo "test: a node of another checkout listens on 127.0.0.1:${CASSANDRA_PORT:-9042}; using it"
  else
    scripts/cassandra.sh start
    started=1
  fi
  export QUIRE_TEST_CASSANDRA="127.0.0.1:${CASSANDRA_PORT:-9042}"
fi
os_started=""
if [ -z "${QUIRE_TEST_OPENSEARCH:-}" ]; then
  if scripts/opensearch.sh status >/dev/null 2>&1; then
    echo "test: using the OpenSearch node that is already running"
  else
    scripts/opensearch.sh start >/dev/null
    os_started=1
  fi
  export QUIRE_TEST_OPENSEARCH="http://127.0.0.1:${OPENSEARCH_PORT:-9200}"
fi
ldap_started=""
if [ -z "${QUIRE_TEST_LDAP:-}" ]; then
  if scripts/slapd.sh status >/dev/null 2>&1; then
    echo "test: using the slapd that is already running"
  else
    scripts/slapd.sh start >/dev/null
    ldap_started=1
  fi
  eval "$(scripts/slapd.sh env)"
  export QUIRE_TEST_LDAP QUIRE_TEST_LDAPS QUIRE_TEST_LDAP_CA
fi
# The two nodes that require a password and TLS (the security tests of
# internal/store/cassandra).
secure_started=""
if [ -z "${QUIRE_TEST_CASSANDRA_SECURE:-}" ]; then
  if scripts/cassandra-secure.sh status >/dev/null 2>&1; then
    echo "test: using the secured Cassandra nodes that are already running"
  else
    scripts/cassandra-secure.sh start >/dev/null
    secure_started=1
  fi
  eval "$(scripts/cassandra-secure.sh env)"
  export QUIRE_TEST_CASSANDRA_SECURE QUIRE_TEST_CASSANDRA_SECURE_CERTS
fi
cleanup() {
  if [ -n "$secure_started" ] && [ -z "${QUIRE_KEEP_CASSANDRA_SECURE:-}" ]; then scripts/cassandra-secure.sh stop || true; fi
  if [ -n "$ldap_started" ] && [ -z "${QUIRE_KEEP_SLAPD:-}" ]; then scripts/slapd.sh stop || true; fi
  if [ -n "$started" ] && [ -z "${QUIRE_KEEP_CASSANDRA:-}" ]; then scripts/cassandra.sh stop || true; fi
  if [ -n "$os_started" ] && [ -z "${QUIRE_KEEP_OPENSEARCH:-}" ]; then scripts/opensearch.sh stop || true; fi
}
trap cleanup EXIT

# Tests that need a backend must fail, not skip, when it is missing.
export QUIRE_REQUIRE_CASSANDRA=1 QUIRE_REQUIRE_OPENSEARCH=1 QUIRE_REQUIRE_CLIENTS=1 QUIRE_REQUIRE_LDAP=1 QUIRE_REQUIRE_CASSANDRA_SECURE=1 QUIRE_REQUIRE_CHROMIUM=1
# The packages with concurrency (the store and its backends, the notifier,
# the indexer, the protocol servers and their accept loop, login, the
# metrics the sessions update, supervise, the LDAP directory, the proxy's
# sessions, LMTP fan-out and host probes) run under
# the race detector, and only there: it makes them 2-10x slower, and
# running them twice would cost more than it finds. Tests whose bounds
# hold only at uninstrumented speed run without it: two bound allocations
# (the heap of a large FETCH, the metrics' hot paths; the detector changes
# what allocates), the login-budget ones give a forced garbage collection
# 50 ms (login.hash_wait).
race='/internal/(store|notify|indexer|imapserver|pop3server|lmtpserver|netserve|login|supervise|metrics|proxy|directory/ldapdir)(/|$)'
unraced='^(TestFetchLargeMailboxStreams|TestHotPathsDoNotAllocate|TestLoginBusyPastDeadline|TestLoginBusySysTemp|TestLoginBusyUnavailable)$'
mapfile -t plain < <(go list ./... | grep -Ev "$race")
mapfile -t racy < <(go list ./... | grep -E "$race")
go test -count=1 -timeout 30m "${plain[@]}"
go test -count=1 -timeout 30m -run "$unraced" "${racy[@]}"
go test -race -count=1 -timeout 30m -skip "$unraced" "${racy[@]}"
# The fault-injection tests: they need the test-only fault switches, which
# only a build tagged quirefaults has (internal/store/cassandra/faults_on.go).
# Among them TestFaultConformance runs every conformance scenario under
# random faults of the path to the cluster, for QUIRE_FAULT_SEEDS seeds
# drawn at random (one here; a failure prints its seed, which
# QUIRE_FAULT_SEED=n runs again).
QUIRE_FAULT_SEEDS="${QUIRE_FAULT_SEEDS:-1}" \
  go test -count=1 -race -timeout 15m -tags quirefaults -run '^TestFault' ./internal/store/cassandra/
# The embedded store's: a wrong write order that its crash test must catch
# (internal/store/embedded/faults_on.go).
go test -count=1 -race -timeout 10m -tags quirefaults -run '^TestFault' ./internal/store/embedded/
