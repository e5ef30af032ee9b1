package cassandra

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/testkit"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestFallbackPolicy(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	f := newFallback("write", gocql.EachQuorum, gocql.LocalQuorum, 50*time.Millisecond, 400*time.Millisecond, clk.now, log)
	down := &gocql.RequestErrUnavailable{Consistency: gocql.EachQuorum, Required: 2, Alive: 1}

	expect := func(want gocql.Consistency, wantProbe bool) attempt {
		t.Helper()
		a := f.pick()
		if a.c != want || a.probe != wantProbe {
			t.Fatalf("pick = %v probe=%v, want %v probe=%v", a.c, a.probe, want, wantProbe)
		}
		return a
	}
	at := func(c gocql.Consistency) attempt { return attempt{c: c, at: clk.now()} }

	// Healthy: the primary, no probes.
	a := expect(gocql.EachQuorum, false)
	f.report(a, false, nil)
	clk.advance(time.Millisecond)
	// A failure for lack of replicas switches to the fallback, once.
	f.report(a, true, down)
	f.report(a, true, down) // a concurrent failure does not reset the wait
	if !f.degraded() || strings.Count(logs.String(), "switching to fallback") != 1 {
		t.Fatalf("not degraded once: %q", logs.String())
	}
	// A success at the primary that began before the switch says nothing
	// about now.
	f.report(a, false, nil)
	if !f.degraded() {
		t.Fatal("a success begun before the switch switched back")
	}
	expect(gocql.LocalQuorum, false)
	// The primary is probed after min, then min*2, min*4, capped at max.
	for _, wait := range []time.Duration{50, 100, 200, 400, 400} {
		clk.advance(wait*time.Millisecond - time.Millisecond)
		expect(gocql.LocalQuorum, false)
		clk.advance(time.Millisecond)
		a := expect(gocql.EachQuorum, true)
		// Only one probe at a time.
		expect(gocql.LocalQuorum, false)
		f.report(a, true, down)
		expect(gocql.LocalQuorum, false)
	}
	// Each failed probe is logged with the doubled wait until the next.
	for _, next := range []string{"100ms", "200ms", "400ms"} {
		if !strings.Contains(logs.String(), `primary consistency still unavailable" class=write consistency=EACH_QUORUM next_probe_in=`+next) {
			t.Fatalf("no failed probe logged with next_probe_in=%s: %q", next, logs.String())
		}
	}
	if n := strings.Count(logs.String(), "still unavailable"); n != 5 {
		t.Fatalf("%d failed probes logged, want 5: %q", n, logs.String())
	}
	// A probe that fails for another reason does not lengthen the wait.
	clk.advance(400 * time.Millisecond)
	a = expect(gocql.EachQuorum, true)
	f.report(a, false, errors.New("syntax error"))
	clk.advance(400 * time.Millisecond)
	a = expect(gocql.EachQuorum, true)
	// Fallback outcomes change nothing; neither does a refusal at the
	// primary outside the probe.
	f.report(at(gocql.LocalQuorum), true, down)
	f.report(at(gocql.EachQuorum), true, down)
	// A successful probe switches back.
	f.report(a, false, nil)
	if f.degraded() || !strings.Contains(logs.String(), "primary consistency restored") {
		t.Fatalf("not restored: %q", logs.String())
	}
	expect(gocql.EachQuorum, false)
	// A new outage starts again from min.
	f.report(at(gocql.EachQuorum), true, down)
	clk.advance(50 * time.Millisecond)
	expect(gocql.EachQuorum, true)
	// Any attempt at the primary begun after the switch (a write its
	// caller raised to the primary) that succeeds switches back too,
	// without waiting for the probe.
	clk.advance(time.Millisecond)
	f.report(at(gocql.EachQuorum), false, nil)
	if f.degraded() || strings.Count(logs.String(), "primary consistency restored") != 2 {
		t.Fatalf("a success at the primary after the switch did not switch back: %q", logs.String())
	}

	// Without a fallback level nothing ever switches.
	none := newFallback("read", gocql.LocalQuorum, gocql.Any, time.Millisecond, time.Second, clk.now, log)
	none.report(at(gocql.LocalQuorum), true, down)
	if a := none.pick(); a.c != gocql.LocalQuorum || a.probe || none.degraded() {
		t.Fatalf("class without fallback switched: %+v", a)
	}
}

// TestFallbackPerQuery: the read class tries every attempt at the primary;
// degraded follows the last outcomes, each change logged once.
func TestFallbackPerQuery(t *testing.T) {
	clk := &fakeClock{t: time.Unix(1000, 0)}
	var logs bytes.Buffer
	f := newPerQueryFallback("read", gocql.LocalQuorum, gocql.LocalOne, clk.now, slog.New(slog.NewTextHandler(&logs, nil)))
	down := &gocql.RequestErrUnavailable{Consistency: gocql.LocalQuorum, Required: 2, Alive: 1}
	early := f.pick()
	clk.advance(time.Millisecond)
	for range 3 {
		a := f.pick()
		if a.c != gocql.LocalQuorum || a.probe {
			t.Fatalf("pick = %+v, want LOCAL_QUORUM, no probe", a)
		}
		f.report(a, true, down)
		clk.advance(time.Hour) // no probe ever comes due
	}
	if !f.degraded() || strings.Count(logs.String(), "switching to fallback") != 1 {
		t.Fatalf("want degraded, switch logged once: %q", logs.String())
	}
	if a := f.pick(); a.c != gocql.LocalQuorum {
		t.Fatalf("degraded read class picked %v, want the primary first", a.c)
	}
	f.report(early, false, nil) // begun before the switch
	if !f.degraded() {
		t.Fatal("a read begun before the switch switched back")
	}
	f.report(f.pick(), false, nil)
	if f.degraded() || strings.Count(logs.String(), "primary consistency restored") != 1 {
		t.Fatalf("want restored once: %q", logs.String())
	}
}

// TestLacksReplicas: only the coordinator's "unavailable" switches a class
// to its fallback level; timeouts, Paxos timeouts among them, have an
// unknown outcome and must not (the node-kill scenario of bench/checker
// switched writes to LOCAL_ONE on "CAS operation timed out: received 2 of
// 3 required responses" while one node rejoined).
func TestLacksReplicas(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"unavailable", &gocql.RequestErrUnavailable{Consistency: gocql.LocalQuorum, Required: 2, Alive: 1}, true},
		{"unavailable at serial", &gocql.RequestErrUnavailable{Consistency: gocql.LocalSerial, Required: 2, Alive: 1}, true},
		{"wrapped unavailable", fmt.Errorf("batch: %w", &gocql.RequestErrUnavailable{Consistency: gocql.LocalQuorum}), true},
		{"CAS write timeout", &gocql.RequestErrWriteTimeout{Consistency: gocql.LocalSerial, Received: 1, BlockFor: 2, WriteType: "CAS"}, false},
		{"write timeout", &gocql.RequestErrWriteTimeout{Consistency: gocql.LocalQuorum, Received: 1, BlockFor: 2, WriteType: "SIMPLE"}, false},
		{"read timeout", &gocql.RequestErrReadTimeout{Consistency: gocql.LocalQuorum, Received: 1, BlockFor: 2}, false},
		{"CAS write unknown", &gocql.RequestErrCASWriteUnknown{Consistency: gocql.LocalSerial}, false},
		{"no response", gocql.ErrTimeoutNoResponse, false},
		{"deadline", context.DeadlineExceeded, false},
		{"no hosts", gocql.ErrNoConnections, false},
		{"overloaded", &gocql.RequestErrOverloaded{}, false},
		{"not found", gocql.ErrNotFound, false},
	} {
		if got := lacksReplicas(tc.err); got != tc.want {
			t.Errorf("%s: lacksReplicas = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestDoLevels runs Backend.do against scripted outcomes and checks the
// levels tried and the class switches: reads start at the primary each
// time; a timeout is returned as is, at the level tried, and switches
// nothing; a durable write never goes below a quorum, and its success at
// the primary switches the write class back.
func TestDoLevels(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	b := &Backend{serial: gocql.LocalSerial, log: log}
	b.read = newPerQueryFallback("read", gocql.LocalQuorum, gocql.LocalOne, time.Now, log)
	b.write = newFallback("write", gocql.LocalQuorum, gocql.LocalOne, time.Hour, time.Hour, time.Now, log)
	ctx := context.Background()
	unavail := &gocql.RequestErrUnavailable{Consistency: gocql.LocalQuorum, Required: 2, Alive: 1}
	casTimeout := &gocql.RequestErrWriteTimeout{Consistency: gocql.LocalSerial, Received: 1, BlockFor: 2, WriteType: "CAS"}
	// run calls do with fn failing with fail[c] at level c, and returns
	// the levels tried.
	run := func(f *fallback, lv func(gocql.Consistency) gocql.Consistency, fail map[gocql.Consistency]error) ([]gocql.Consistency, error) {
		var tried []gocql.Consistency
		err := b.do(ctx, f, "op", lv, always, func(c gocql.Consistency) error {
			tried = append(tried, c)
			return fail[c]
		})
		return tried, err
	}
	same := func(got []gocql.Consistency, want ...gocql.Consistency) bool { return slices.Equal(got, want) }

	// Two nodes down: every read is refused at the primary, then served
	// at the fallback; none sticks to it.
	for range 2 {
		tried, err := run(b.read, asIs, map[gocql.Consistency]error{gocql.LocalQuorum: unavail})
		if err != nil || !same(tried, gocql.LocalQuorum, gocql.LocalOne) {
			t.Fatalf("read with a quorum down: tried %v, err %v; want LOCAL_QUORUM then LOCAL_ONE", tried, err)
		}
	}
	if !b.read.degraded() {
		t.Error("read class not marked degraded")
	}
	time.Sleep(time.Millisecond) // the next read begins after the switch
	if tried, err := run(b.read, asIs, nil); err != nil || !same(tried, gocql.LocalQuorum) || b.read.degraded() {
		t.Fatalf("read with the quorum back: tried %v, err %v, degraded %v", tried, err, b.read.degraded())
	}

	// A read or CAS that times out: one attempt, an unknown outcome
	// (mail.ErrUnavailable), no switch, no fallback.
	rto := &gocql.RequestErrReadTimeout{Consistency: gocql.LocalQuorum, Received: 1, BlockFor: 2}
	if tried, err := run(b.read, asIs, map[gocql.Consistency]error{gocql.LocalQuorum: rto}); !same(tried, gocql.LocalQuorum) ||
		!errors.Is(err, mail.ErrUnavailable) || b.read.degraded() {
		t.Fatalf("read timeout: tried %v, err %v, degraded %v", tried, err, b.read.degraded())
	}
	if tried, err := run(b.write, b.durable, map[gocql.Consistency]error{gocql.LocalQuorum: casTimeout}); !same(tried, gocql.LocalQuorum) ||
		!errors.As(err, &casTimeout) || b.write.degraded() {
		t.Fatalf("CAS timeout: tried %v, err %v, degraded %v", tried, err, b.write.degraded())
	}
	if strings.Contains(logs.String(), "class=write") {
		t.Fatalf("a timeout switched the write class: %s", logs.String())
	}

	// A durable write refused for lack of replicas: no retry below a
	// quorum, but the class switches for the plain writes.
	if tried, err := run(b.write, b.durable, map[gocql.Consistency]error{gocql.LocalQuorum: unavail}); !same(tried, gocql.LocalQuorum) ||
		!errors.Is(err, mail.ErrUnavailable) || !b.write.degraded() {
		t.Fatalf("durable write with a quorum down: tried %v, err %v, degraded %v", tried, err, b.write.degraded())
	}
	if tried, err := run(b.write, asIs, nil); err != nil || !same(tried, gocql.LocalOne) {
		t.Fatalf("plain write while degraded: tried %v, err %v; want LOCAL_ONE", tried, err)
	}
	time.Sleep(time.Millisecond)
	if tried, err := run(b.write, b.durable, nil); err != nil || !same(tried, gocql.LocalQuorum) || b.write.degraded() {
		t.Fatalf("durable write with the quorum back: tried %v, err %v, degraded %v", tried, err, b.write.degraded())
	}
	if tried, _ := run(b.write, asIs, nil); !same(tried, gocql.LocalQuorum) {
		t.Fatalf("plain write after the switch back: tried %v", tried)
	}

	// A quorum fallback (EACH_QUORUM to LOCAL_QUORUM) is kept for
	// durable writes; SERIAL raises ONE to QUORUM.
	b.write = newFallback("write", gocql.EachQuorum, gocql.LocalQuorum, time.Hour, time.Hour, time.Now, log)
	if tried, err := run(b.write, b.durable, map[gocql.Consistency]error{gocql.EachQuorum: unavail}); err != nil ||
		!same(tried, gocql.EachQuorum, gocql.LocalQuorum) {
		t.Fatalf("durable write, EACH_QUORUM down: tried %v, err %v", tried, err)
	}
	b.serial = gocql.Serial
	if c := b.durable(gocql.One); c != gocql.Quorum {
		t.Fatalf("durable(ONE) with SERIAL = %v, want QUORUM", c)
	}
}

func TestOptions(t *testing.T) {
	o := DefaultOptions()
	o.WriteFallback = "LOCAL_QUORM"
	if _, err := o.withDefaults(); err == nil || !strings.Contains(err.Error(), "write fallback") {
		t.Fatalf("bad fallback: %v", err)
	}
	o = DefaultOptions()
	o.Msg.DataCenter = ""
	if _, err := o.withDefaults(); err == nil || !strings.Contains(err.Error(), "message data center") {
		t.Fatalf("NTS without a data center: %v", err)
	}
	o = Options{Strategy: Simple} // all else defaults
	d, err := o.withDefaults()
	if err != nil || d.BucketSize != 1024 || d.ChunkSize != 256<<10 || d.Meta.Name != "ms_mbox" {
		t.Fatalf("defaults: %+v %v", d, err)
	}
}

func TestSchemaCQL(t *testing.T) {
	o := DefaultOptions()
	o.Meta.DataCenter, o.Meta.RF = "dc1", 5
	all := strings.Join(SchemaCQL(o), "\n")
	for _, want := range []string{
		"CREATE KEYSPACE IF NOT EXISTS ms_mbox WITH replication = {'class': 'NetworkTopologyStrategy', 'dc1': 5} AND durable_writes = true",
		"CREATE KEYSPACE IF NOT EXISTS ms_cache WITH replication = {'class': 'NetworkTopologyStrategy', 'datacenter1': 1}",
		"CREATE TABLE IF NOT EXISTS ms_msg.blob_chunks",
		"PRIMARY KEY ((mailbox_id, bucket), modseq, uid)",
		"default_time_to_live = 1209600",
		"CREATE TABLE IF NOT EXISTS ms_mbox.uncertain (",
		"PRIMARY KEY ((mailbox_id), blob, cid)) WITH default_time_to_live = 604800",
		"PRIMARY KEY ((shard), mailbox_id, blob, cid)) WITH default_time_to_live = 604800",
		"mat_modseq bigint static, fence bigint static,",
		"ALTER TABLE ms_mbox.mblog ADD IF NOT EXISTS fence bigint static",
		"created timestamp, fence bigint static, PRIMARY KEY ((user_id), name))",
		"ALTER TABLE ms_mbox.mailboxes ADD IF NOT EXISTS fence bigint static",
		"mailhost text, created timestamp, fence bigint)",
		"ALTER TABLE ms_mbox.users ADD IF NOT EXISTS fence bigint",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("schema lacks %q", want)
		}
	}
	o.Strategy = Simple
	if s := SchemaCQL(o)[0]; !strings.Contains(s, "{'class': 'SimpleStrategy', 'replication_factor': 5}") {
		t.Errorf("simple strategy: %s", s)
	}
}

// TestFallbackLive asks the one-node test cluster for consistency TWO:
// every class must fall back to ONE, and the LWT whose commit phase was
// "unavailable" after Paxos accepted it must be settled as landed, not
// retried or reported as failed.
func TestFallbackLive(t *testing.T) {
	var logs testkit.SyncBuffer
	b := openTest(t, func(o *Options) {
		o.ReadConsistency, o.ReadFallback = "TWO", "ONE"
		o.WriteConsistency, o.WriteFallback = "TWO", "ONE"
		o.DeleteConsistency, o.DeleteFallback = "TWO", "ONE"
		o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	})
	ctx := context.Background()
	mb := newMailbox(t, b) // LWTs: the first one lands despite "unavailable at TWO"
	for range 3 {
		if _, err := appendOne(ctx, b, mb.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.SetSubscribed(ctx, mb.UserID, "x", false); err != nil {
		t.Fatal(err)
	}
	rows, cs := collect(t, b, mb.ID)
	if len(rows) != 3 || len(cs) != 3 {
		t.Fatalf("%d rows, %d changes", len(rows), len(cs))
	}
	for _, f := range []*fallback{b.read, b.write, b.del} {
		if !f.degraded() {
			t.Errorf("%s class did not fall back", f.class)
		}
	}
	if !strings.Contains(logs.String(), "switching to fallback") || !strings.Contains(logs.String(), "landed=true") {
		t.Errorf("logs: %s", logs.String())
	}
}
