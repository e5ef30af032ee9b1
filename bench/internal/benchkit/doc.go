// Package benchkit is what Quire's benchmarks under bench/ share: starting
// the targets (quire serve on its embedded store or on Cassandra, and the
// private Dovecot of scripts/dovecot.sh), the shared message corpus, a small
// LMTP client to fill mailboxes, latency statistics and the facts every
// report prints (machine, load average, commit, command line).
//
// Invariants: every server it starts listens on 127.0.0.1 and is stopped by
// the Cleanups it was registered with, also after Ctrl-C (subprocesses run
// in their own process group, so the terminal's signal reaches only the
// benchmark, which then stops them). Benchmarks treat Quire as a black box:
// nothing here imports Quire's internal packages.
package benchkit
