package main

import (
	"context"
	"os"
	"path/filepath"

	"github.com/quiremail/quire/bench/internal/benchkit"
	"testing"
	"time"
)

// cassandra returns the test node, failing when the run requires one.
func cassandra(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("QUIRE_TEST_CASSANDRA")
	if addr == "" {
		if os.Getenv("QUIRE_REQUIRE_CASSANDRA") == "1" {
			t.Fatal("QUIRE_TEST_CASSANDRA is not set and QUIRE_REQUIRE_CASSANDRA=1: the checker needs a real Cassandra")
		}
		t.Skip("no QUIRE_TEST_CASSANDRA: the checker needs a real Cassandra (make test starts one)")
	}
	return addr
}

// TestShortRun is the checker's 60-second run in make test: three hosts,
// thirty clients, one host killed and restarted; no invariant may break.
func TestShortRun(t *testing.T) {
	addr := cassandra(t)
	o := options{hosts: 3, clients: 30, users: 3, duration: 60 * time.Second, kill: true, scenario: scenHostKill, quireBin: benchkit.BuildQuire(t),
		history: filepath.Join(t.TempDir(), "history"), seed: uint64(time.Now().UnixNano()), casAddr: addr}
	res, err := run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + res.summary())
	if len(res.violations) > 0 {
		t.Fatalf("invariants broken:\n%s", res.summary())
	}
	// A run that did nothing proves nothing.
	if res.ops < 1000 || res.tokens < 200 || res.killed == "" {
		t.Fatalf("too little happened: %d operations, %d messages checked, kill: %q", res.ops, res.tokens, res.killed)
	}
}

// TestBrokenAllocationIsCaught proves the checker can fail: with UIDs
// allocated without their lightweight transaction (run builds quire with
// the quirefaults tag for it), it must report violations.
func TestBrokenAllocationIsCaught(t *testing.T) {
	addr := cassandra(t)
	o := options{hosts: 3, clients: 12, users: 3, duration: 20 * time.Second, kill: false, brk: true, scenario: scenHostKill,
		history: filepath.Join(t.TempDir(), "history"), seed: uint64(time.Now().UnixNano()), casAddr: addr}
	res, err := run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.violations) == 0 {
		t.Fatalf("the checker found nothing wrong with a broken UID allocation:\n%s", res.summary())
	}
	t.Logf("caught, as it must be: %d violations, first: %s", len(res.violations), res.violations[0])
}

func TestParse(t *testing.T) {
	s := parseSelect([][]byte{[]byte("* 3 EXISTS"), []byte("* OK [UIDVALIDITY 7] x"), []byte("* OK [UIDNEXT 12] x"),
		[]byte("* OK [HIGHESTMODSEQ 99] x"), []byte("* VANISHED (EARLIER) 2:4,9"), []byte(`* 1 FETCH (UID 5 FLAGS (\Seen \Recent $a) MODSEQ (98))`)})
	if s.exists != 3 || s.uidValidity != 7 || s.uidNext != 12 || s.modSeq != 99 || len(s.vanished) != 4 || s.vanished[3] != 9 {
		t.Fatalf("%+v", s)
	}
	if len(s.changed) != 1 || s.changed[0] != (fetched{uid: 5, flags: `$a \Seen`, modSeq: 98}) {
		t.Fatalf("changed %+v", s.changed)
	}
	if uv, uid, ok := appendUID("OK [APPENDUID 7 13] done"); !ok || uv != 7 || uid != 13 {
		t.Fatal("APPENDUID")
	}
	if uv, uid, ok := copyUID("* OK [COPYUID 8 4 20] moved"); !ok || uv != 8 || uid != 20 {
		t.Fatal("COPYUID")
	}
	f, _ := parseFetch("* 2 FETCH (UID 9 FLAGS () BODY[HEADER.FIELDS (MESSAGE-ID)] {40}\r\nMessage-ID: <ck-a-1-2@checker>\r\n\r\n)")
	if f.msgID != "ck-a-1-2" {
		t.Fatalf("message id %q", f.msgID)
	}
}

// TestFallbackLog reads the fallback switches and probe waits out of a
// host's log as quire writes them (internal/store/cassandra/fallback.go).
func TestFallbackLog(t *testing.T) {
	f := filepath.Join(t.TempDir(), "serve.log")
	log := `time=2026-12-05T17:10:23.000Z level=WARN msg="cassandra: switching to fallback consistency" class=write from=LOCAL_QUORUM to=LOCAL_ONE err="x"
time=2026-12-05T17:10:23.100Z level=INFO msg="cassandra: primary consistency still unavailable" class=write consistency=LOCAL_QUORUM next_probe_in=100ms err="x"
time=2026-12-05T17:10:23.200Z level=WARN msg="cassandra: switching to fallback consistency" class=read from=LOCAL_QUORUM to=LOCAL_ONE err="x"
time=2026-12-05T17:10:23.300Z level=INFO msg="cassandra: primary consistency still unavailable" class=write consistency=LOCAL_QUORUM next_probe_in=200ms err="x"
time=2026-12-05T17:10:25.500Z level=WARN msg="cassandra: primary consistency restored" class=write consistency=LOCAL_QUORUM
`
	if err := os.WriteFile(f, []byte(log), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &benchkit.Target{LogFile: f}
	spans, open := degradedSpans(h)
	if len(spans) != 1 || spans[0] != 2500*time.Millisecond || open != 1 {
		t.Fatalf("spans %v, %d still open; want [2.5s] and 1 (the read class)", spans, open)
	}
	if w := probeWaits(h, "write"); len(w) != 2 || w[0] != "100ms" || w[1] != "200ms" {
		t.Fatalf("probe waits %q", w)
	}
}
