package metrics

import (
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/indexer"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/netserve"
	"github.com/quiremail/quire/internal/notify"
)

type fakeMesh struct{}

func (fakeMesh) Peers() []notify.PeerState { return []notify.PeerState{{Addr: "b:4026", Up: true}} }
func (fakeMesh) Stats() (map[string]int64, map[string]int64, int64, int64) {
	return map[string]int64{"b:4026": 1}, map[string]int64{"b:4026": 0}, 1, 0
}

type fakeCassandra struct{}

func (fakeCassandra) LWTs() int64               { return 1 }
func (fakeCassandra) Degraded() map[string]bool { return map[string]bool{"read": false} }

// everything registers every metric a serve or isc process can have,
// each with a value, and returns the names of the families.
func everything(t *testing.T) []string {
	t.Helper()
	r := New("serve", "test")
	NewCommands(r, "imap", []string{"LOGIN"}, IMAPStatuses())
	NewCommands(r, "pop3", []string{"USER"}, POP3Statuses())
	NewDeliveries(r)
	NewCassandra(r, []string{"ms_mbox"}, []string{"timeout"})
	NewStore(r)
	TextPurge(r, func() (int64, int64, int64) { return 0, 0, 0 })
	StoreSyncs(r, func() int64 { return 0 })
	Purge(r, func() PurgeFigures { return PurgeFigures{} })
	CassandraBackend(r, fakeCassandra{})
	Connections(r, map[string]func() netserve.Stats{"imap": func() netserve.Stats { return netserve.Stats{} }})
	Logins(r, func() login.Stats { return login.Stats{} })
	Converter(r, func() convert.Stats {
		one := map[string]int64{"pdf": 1}
		return convert.Stats{Conversions: one, Failures: one, Remote: one, RemoteFailed: one}
	})
	Indexer(r, func() indexer.Stats { return indexer.Stats{} })
	Notifier(r, fakeMesh{})
	Panics(r, map[string]func() int64{"store": func() int64 { return 0 }})
	px := NewProxy(r) // quire proxy's; the vectors by host appear once used
	px.Routed("imap", "east", "a1:143")
	px.Connect("a1:143", time.Millisecond, nil)
	px.Skipped("a1:143")
	fams, err := r.Gatherer().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range fams {
		if n := f.GetName(); strings.HasPrefix(n, "quire_") {
			names = append(names, n)
		}
	}
	return names
}

// TestDocsListEveryMetric: docs/METRICS.md names exactly the metrics the
// code registers, and the Grafana dashboard queries only those.
func TestDocsListEveryMetric(t *testing.T) {
	registered := everything(t)
	slices.Sort(registered)

	doc, err := os.ReadFile("../../docs/METRICS.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("\\| `(quire_[a-z0-9_]+)` \\|").FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	if got := slices.Sorted(maps.Keys(documented)); !slices.Equal(got, registered) {
		t.Errorf("docs/METRICS.md tables list\n %v\nthe code registers\n %v", got, registered)
	}

	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	metricName := regexp.MustCompile(`quire_[a-z0-9_]+`)
	queries := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			queries++
			for _, n := range metricName.FindAllString(tg.Expr, -1) {
				n = strings.TrimSuffix(n, "_bucket")
				if !slices.Contains(registered, n) {
					t.Errorf("dashboard panel %q queries %s, which the code does not register", p.Title, n)
				}
			}
		}
	}
	if queries == 0 {
		t.Errorf("the dashboard has no queries")
	}
}
