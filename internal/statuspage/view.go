package statuspage

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// view is the template's data: every figure already formatted, so the
// template only lays out rows.
type view struct {
	Host, Role, Version, Group, Generated string
	RefreshSeconds                        int
	Hosts                                 []string
	Peers                                 []row
	HasPeers                              bool
	Store                                 []row
	Keyspaces                             [][]string
	Consistency                           []row
	Converter, Index, Purge, Connections  []row
}

// row is one line of a table: a name and its cells.
type row struct {
	Name  string
	Cells []string
	Bad   bool // shown as a problem (a link down, a class on its fallback)
}

func (s Sources) snapshot() view {
	v := view{Host: s.Host, Role: s.Role, Version: s.Version, Group: s.Group, Hosts: s.GroupHosts,
		Generated: s.Now().UTC().Format(time.RFC3339), RefreshSeconds: int(s.Refresh / time.Second)}
	if v.Group == "" {
		v.Group = "(none: this host is in no group of store.storehostlist)"
	}
	if s.Peers != nil {
		v.HasPeers = true
		for _, p := range s.Peers.Peers() {
			state := "down"
			if p.Up {
				state = "up"
			}
			v.Peers = append(v.Peers, row{Name: p.Addr, Cells: []string{state, num(p.Sent), num(p.Dropped)}, Bad: !p.Up})
		}
	}
	if s.DataDir != "" {
		v.Store = append(v.Store, row{Name: "backend", Cells: []string{"embedded"}}, row{Name: "data directory", Cells: []string{s.DataDir}})
		free, total, err := diskFree(s.DataDir)
		if err != nil {
			v.Store = append(v.Store, row{Name: "disk free", Cells: []string{"unknown: " + err.Error()}, Bad: true})
		} else {
			v.Store = append(v.Store, row{Name: "disk free", Cells: []string{fmt.Sprintf("%s of %s", bytes(free), bytes(total))}, Bad: total > 0 && free*20 < total})
		}
	}
	if len(s.Keyspaces) > 0 {
		v.Store = append(v.Store, row{Name: "backend", Cells: []string{"cassandra"}}, row{Name: "replication strategy", Cells: []string{s.Strategy}})
		for _, k := range s.Keyspaces {
			dc := k.DataCenter
			if dc == "" {
				dc = "(any)"
			}
			v.Keyspaces = append(v.Keyspaces, []string{k.Role, k.Name, dc, strconv.Itoa(k.RF), strings.Join(k.ConnectPoints, ", ")})
		}
	}
	if s.Consistency != nil {
		d := s.Consistency.Degraded()
		for _, c := range sorted(d) {
			state := "normal"
			if d[c] {
				state = "fallback"
			}
			l := s.Levels[c]
			if l.Fallback == "" {
				l.Fallback = "(none)"
			}
			v.Consistency = append(v.Consistency, row{Name: c, Cells: []string{state, l.Normal, l.Fallback}, Bad: d[c]})
		}
	}
	if s.Converter != nil {
		v.Converter = converterRows(s.Converter())
	}
	if s.Indexer != nil {
		st := s.Indexer()
		v.Index = []row{
			{Name: "queued mailboxes", Cells: []string{strconv.Itoa(st.Queued)}},
			{Name: "marks in the group's queue", Cells: []string{num(st.Marks)}},
			{Name: "lag p50", Cells: []string{ms(st.LagP50Ms)}},
			{Name: "lag p99", Cells: []string{ms(st.LagP99Ms)}},
			{Name: "lag max", Cells: []string{ms(st.LagMaxMs)}},
			{Name: "documents indexed", Cells: []string{num(st.Indexed)}},
			{Name: "errors", Cells: []string{num(st.Errors)}, Bad: st.Errors > 0},
		}
	}
	if s.Purge != nil {
		v.Purge = purgeRows(s.Purge.PurgeTotals(), s.Now())
	}
	for _, p := range sorted(s.Connections) {
		c := s.Connections[p]()
		v.Connections = append(v.Connections, row{Name: p, Cells: []string{strconv.Itoa(c.Open), strconv.FormatUint(c.Accepted, 10), strconv.FormatUint(c.Refused, 10)}})
	}
	return v
}
