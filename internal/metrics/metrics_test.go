package metrics

import (
	"errors"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

// samples gathers r as name{labels} -> value (histograms: their count).
func samples(t *testing.T, r *Registry) map[string]float64 {
	t.Helper()
	fams, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, f := range fams {
		for _, m := range f.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			slices.Sort(ls)
			k := f.GetName() + "{" + strings.Join(ls, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[k] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[k] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[k] = float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return out
}

// nonZero keeps the samples of names starting with prefix that are not 0.
func nonZero(all map[string]float64, prefix string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range all {
		if v != 0 && strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

func sameSamples(t *testing.T, got, want map[string]float64) {
	t.Helper()
	if !maps.Equal(got, want) {
		t.Errorf("samples:\n got %v\nwant %v", got, want)
	}
}

// TestCommands: names the server knows are counted under their own
// label, any other (a client's typo, a command that did not parse) as
// "other"; statuses map to their labels, an unknown one to "other".
func TestCommands(t *testing.T) {
	r := New("serve", "test")
	c := NewCommands(r, "imap", []string{"LOGIN", "SELECT"}, IMAPStatuses())
	c.Command("LOGIN", "NO", time.Millisecond)
	c.Command("LOGIN", "OK", time.Millisecond)
	c.Command("SELECT", "OK", time.Millisecond)
	c.Command("XYZZY", "BAD", 0)
	c.Command("", "BAD", 0)
	c.Command("SELECT", "", time.Second)
	c.Command("SELECT", "MAYBE", time.Second)
	c.Session(1)
	c.Session(1)
	c.Session(-1)
	all := samples(t, r)
	sameSamples(t, nonZero(all, "quire_imap_commands_total"), map[string]float64{
		"quire_imap_commands_total{command=LOGIN,result=no}":     1,
		"quire_imap_commands_total{command=LOGIN,result=ok}":     1,
		"quire_imap_commands_total{command=SELECT,result=ok}":    1,
		"quire_imap_commands_total{command=SELECT,result=none}":  1,
		"quire_imap_commands_total{command=SELECT,result=other}": 1,
		"quire_imap_commands_total{command=other,result=bad}":    2,
	})
	sameSamples(t, nonZero(all, "quire_imap_command_duration_seconds"), map[string]float64{
		"quire_imap_command_duration_seconds{command=LOGIN}":  2,
		"quire_imap_command_duration_seconds{command=SELECT}": 3,
		"quire_imap_command_duration_seconds{command=other}":  2,
	})
	sameSamples(t, nonZero(all, "quire_sessions"), map[string]float64{"quire_sessions{protocol=imap}": 1})
}

// TestDeliveriesAndCassandra: reply codes by class; commits by
// operation and result, their conflicts; requests by kind and result.
func TestDeliveriesAndCassandra(t *testing.T) {
	r := New("serve", "test")
	d := NewDeliveries(r)
	for _, code := range []string{"250", "250", "451", "552", "550", "", "999"} {
		d.Delivery(code, time.Millisecond)
	}
	for _, code := range []string{"250", "250", "550", "451", "452", "501", "555", "503", "421"} {
		d.Recipient(code)
	}
	s := NewStore(r)
	s.Commit("append", 1, time.Millisecond, nil)
	s.Commit("flags", 3, time.Millisecond, nil)
	s.Commit("expunge", 1, time.Millisecond, errors.New("unavailable"))
	s.Commit("rename", 1, time.Millisecond, nil)
	c := NewCassandra(r, []string{"ms_mbox", "ms_msg"}, []string{"unavailable", "timeout", "other"})
	c.Failed("ms_mbox", "unavailable")
	c.Failed("ms_mbox", "unavailable")
	c.Failed("ms_msg", "timeout")
	c.Failed("ms_msg", "surprise") // a kind not given: other
	c.Failed("", "timeout")        // a keyspace not given: other
	c.Request(false, time.Millisecond, nil)
	c.Request(false, time.Millisecond, errors.New("timeout"))
	c.Request(true, time.Millisecond, nil)
	all := samples(t, r)
	sameSamples(t, nonZero(all, "quire_lmtp_"), map[string]float64{
		"quire_lmtp_deliveries_total{class=2xx}":           2,
		"quire_lmtp_deliveries_total{class=4xx}":           1,
		"quire_lmtp_deliveries_total{class=5xx}":           2,
		"quire_lmtp_deliveries_total{class=other}":         2,
		"quire_lmtp_delivery_duration_seconds{}":           7,
		"quire_lmtp_recipients_total{result=accepted}":     2,
		"quire_lmtp_recipients_total{result=unknown_user}": 1,
		"quire_lmtp_recipients_total{result=temp_failure}": 1,
		"quire_lmtp_recipients_total{result=too_many}":     1,
		"quire_lmtp_recipients_total{result=syntax}":       2,
		"quire_lmtp_recipients_total{result=bad_sequence}": 1,
		"quire_lmtp_recipients_total{result=other}":        1,
	})
	sameSamples(t, nonZero(all, "quire_store_"), map[string]float64{
		"quire_store_commits_total{op=append,result=ok}":     1,
		"quire_store_commits_total{op=flags,result=ok}":      1,
		"quire_store_commits_total{op=expunge,result=error}": 1,
		"quire_store_commits_total{op=other,result=ok}":      1,
		"quire_store_commit_conflicts_total{op=flags}":       2,
		"quire_store_commit_duration_seconds{op=append}":     1,
		"quire_store_commit_duration_seconds{op=flags}":      1,
		"quire_store_commit_duration_seconds{op=expunge}":    1,
		"quire_store_commit_duration_seconds{op=other}":      1,
	})
	sameSamples(t, nonZero(all, "quire_cassandra_"), map[string]float64{
		"quire_cassandra_requests_total{kind=query,result=ok}":            1,
		"quire_cassandra_requests_total{kind=query,result=error}":         1,
		"quire_cassandra_requests_total{kind=batch,result=ok}":            1,
		"quire_cassandra_request_duration_seconds{kind=query}":            2,
		"quire_cassandra_request_duration_seconds{kind=batch}":            1,
		"quire_cassandra_errors_total{keyspace=ms_mbox,kind=unavailable}": 2,
		"quire_cassandra_errors_total{keyspace=ms_msg,kind=timeout}":      1,
		"quire_cassandra_errors_total{keyspace=ms_msg,kind=other}":        1,
		"quire_cassandra_errors_total{keyspace=other,kind=timeout}":       1,
	})
	// Every keyspace and kind given is there from the start, at 0.
	if v, ok := all["quire_cassandra_errors_total{keyspace=ms_mbox,kind=other}"]; !ok || v != 0 {
		t.Errorf("quire_cassandra_errors_total{keyspace=ms_mbox,kind=other} = %v (present %v), want 0", v, ok)
	}
}

// TestHotPathsDoNotAllocate: the observers the sessions and the driver
// call on every command and query allocate nothing.
func TestHotPathsDoNotAllocate(t *testing.T) {
	r := New("serve", "test")
	c := NewCommands(r, "imap", []string{"FETCH"}, IMAPStatuses())
	d := NewDeliveries(r)
	cas := NewCassandra(r, []string{"ms_mbox"}, []string{"timeout", "other"})
	st := NewStore(r)
	err := errors.New("x")
	for name, f := range map[string]func(){
		"Command":         func() { c.Command("FETCH", "OK", time.Millisecond) },
		"Command(other)":  func() { c.Command("FROB", "BAD", 0) },
		"Session":         func() { c.Session(1) },
		"Delivery":        func() { d.Delivery("250", time.Millisecond) },
		"Request":         func() { cas.Request(false, time.Millisecond, nil) },
		"Request(failed)": func() { cas.Request(true, time.Millisecond, err) },
		"Failed":          func() { cas.Failed("ms_mbox", "timeout") },
		"Recipient":       func() { d.Recipient("550") },
		"Commit":          func() { st.Commit("append", 2, time.Millisecond, nil) },
	} {
		if n := testing.AllocsPerRun(1000, f); n != 0 {
			t.Errorf("%s: %v allocations per call, want 0", name, n)
		}
	}
}

func BenchmarkCommand(b *testing.B) {
	r := New("serve", "test")
	names := []string{"CAPABILITY", "NOOP", "LOGIN", "SELECT", "FETCH", "STORE", "SEARCH", "IDLE", "LOGOUT"}
	c := NewCommands(r, "imap", names, IMAPStatuses())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			c.Command("FETCH", "OK", 3*time.Millisecond)
		}
	})
}

// TestCollectorsRead: a collector reads its source at every scrape.
func TestCollectorsRead(t *testing.T) {
	r := New("serve", "test")
	n := int64(0)
	Panics(r, map[string]func() int64{"store": func() int64 { return n }})
	for _, want := range []int64{0, 3} {
		n = want
		got := samples(t, r)["quire_panics_total{component=store}"]
		if got != float64(want) {
			t.Errorf("quire_panics_total{component=store} = %v, want %d", got, want)
		}
	}
	if _, ok := samples(t, r)[fmt.Sprintf("quire_build_info{goversion=%s,role=serve,version=test}", runtime.Version())]; !ok {
		t.Errorf("quire_build_info with role, version and goversion is missing")
	}
}
