package cassandra

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

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
	down := errors.New("unavailable")

	expect := func(want gocql.Consistency, wantProbe bool) (gocql.Consistency, bool) {
		t.Helper()
		c, p := f.pick()
		if c != want || p != wantProbe {
			t.Fatalf("pick = %v probe=%v, want %v probe=%v", c, p, want, wantProbe)
		}
		return c, p
	}

	// Healthy: the primary, no probes.
	c, p := expect(gocql.EachQuorum, false)
	f.report(c, p, false, nil)
	// A failure for lack of replicas switches to the fallback, once.
	f.report(c, p, true, down)
	f.report(c, p, true, down) // a concurrent failure does not reset the wait
	if !f.degraded() || strings.Count(logs.String(), "switching to fallback") != 1 {
		t.Fatalf("not degraded once: %q", logs.String())
	}
	expect(gocql.LocalQuorum, false)
	// The primary is probed after min, then min*2, min*4, capped at max.
	for _, wait := range []time.Duration{50, 100, 200, 400, 400} {
		clk.advance(wait*time.Millisecond - time.Millisecond)
		expect(gocql.LocalQuorum, false)
		clk.advance(time.Millisecond)
		c, p := expect(gocql.EachQuorum, true)
		// Only one probe at a time.
		expect(gocql.LocalQuorum, false)
		f.report(c, p, true, down)
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
	c, p = expect(gocql.EachQuorum, true)
	f.report(c, p, false, errors.New("syntax error"))
	clk.advance(400 * time.Millisecond)
	c, p = expect(gocql.EachQuorum, true)
	// Fallback outcomes change nothing.
	f.report(gocql.LocalQuorum, false, true, down)
	// A successful probe switches back.
	f.report(c, p, false, nil)
	if f.degraded() || !strings.Contains(logs.String(), "primary consistency restored") {
		t.Fatalf("not restored: %q", logs.String())
	}
	expect(gocql.EachQuorum, false)
	// A new outage starts again from min.
	f.report(gocql.EachQuorum, false, true, down)
	clk.advance(50 * time.Millisecond)
	expect(gocql.EachQuorum, true)

	// Without a fallback level nothing ever switches.
	none := newFallback("read", gocql.LocalQuorum, gocql.Any, time.Millisecond, time.Second, clk.now, log)
	none.report(gocql.LocalQuorum, false, true, down)
	if c, p := none.pick(); c != gocql.LocalQuorum || p || none.degraded() {
		t.Fatalf("class without fallback switched: %v %v", c, p)
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
