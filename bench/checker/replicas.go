package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// repairAndCompare compares the replicas once the hints have had time
// to arrive (noted, not required: hinted handoff is best effort), then
// runs a full repair of the bench keyspaces, reads every row of every
// table from each node on its own, and requires the three to hold the
// same rows with the same values: what was written at the fallback level,
// on the replicas that were up, is on all of them after repair.
//
// Each node is read through itself at ONE: with the dynamic snitch off
// (scripts/cassandra/cluster.yaml.in) a coordinator that holds a replica
// reads its own first, and with RF 3 on three nodes every node holds
// every row. A difference is read again after a pause, so that a write
// still on its way to a replica is not taken for a lost one.
func repairAndCompare(cl *cluster, res *result, bad *violations) error {
	diffs, rows, err := compareReplicas(cl.points)
	if err != nil {
		return err
	}
	var tables []string
	for _, d := range diffs {
		if f := strings.Fields(d); len(f) > 6 {
			tables = append(tables, f[6]) // "node X lacks N rows of TABLE ..."
		}
	}
	slices.Sort(tables)
	tables = slices.Compact(tables)
	res.events = append(res.events, fmt.Sprintf("before repair (hinted handoff and quorum reads' repairs only): %d rows on node 1, %d tables differ between nodes: %s",
		rows, len(tables), strings.Join(tables, " ")))
	t0 := time.Now()
	for _, ks := range benchkit.BenchKeyspaces() {
		if err := cl.nodetool(1, "repair", "-full", ks); err != nil {
			return fmt.Errorf("repair %s: %w", ks, err)
		}
	}
	took := time.Since(t0).Round(time.Second)
	for attempt := 0; attempt < 3; attempt++ {
		if attempt > 0 {
			time.Sleep(5 * time.Second)
		}
		if diffs, rows, err = compareReplicas(cl.points); err != nil {
			return err
		}
		if len(diffs) == 0 {
			break
		}
	}
	res.events = append(res.events, fmt.Sprintf("full repair in %v; %d rows (keys and values) compared on each of %d nodes: %d tables differ",
		took, rows, len(cl.points), len(diffs)))
	for _, d := range diffs {
		bad.add("after repair, %s", d)
	}
	return nil
}

// compareReplicas reads every table's rows from each node and lists, per
// table, the rows some node lacks or holds with other values; rows counts
// the rows of the first node.
func compareReplicas(points []string) (diffs []string, rows int, err error) {
	var first map[string]map[string]string // table → row key → values
	for i, p := range points {
		got, err := nodeRows(p)
		if err != nil {
			return nil, 0, fmt.Errorf("read the rows of node %s: %w", p, err)
		}
		if i == 0 {
			first = got
			for _, r := range got {
				rows += len(r)
			}
			continue
		}
		for table, want := range first {
			missing, extra, differ := 0, 0, 0
			var example string
			for k, v := range want {
				switch w, ok := got[table][k]; {
				case !ok:
					missing++
					example = k
				case w != v:
					differ++
					example = k + " (" + v + " vs " + w + ")"
				}
			}
			for k := range got[table] {
				if _, ok := want[k]; !ok {
					extra++
					example = k
				}
			}
			if missing+extra+differ > 0 {
				diffs = append(diffs, fmt.Sprintf("node %s lacks %d rows of %s that node %s holds, holds %d it lacks, and %d with other values (e.g. %s)",
					p, missing, table, points[0], extra, differ, example))
			}
		}
	}
	return diffs, rows, nil
}

// nodeRows reads every row of the bench tables from node addr alone, at
// ONE: its primary key, and a digest of its other columns (blobs hashed).
func nodeRows(addr string) (map[string]map[string]string, error) {
	c := gocql.NewCluster(addr)
	c.HostFilter = gocql.WhiteListHostFilter(addr)
	c.Consistency = gocql.One
	c.Timeout, c.ConnectTimeout = 60*time.Second, 20*time.Second
	s, err := c.CreateSession()
	if err != nil {
		return nil, err
	}
	defer s.Close()
	out := map[string]map[string]string{}
	for _, ks := range benchkit.BenchKeyspaces() {
		keys := map[string][]string{} // table → key columns in order
		type col struct {
			name string
			kind string
			pos  int
		}
		cols := map[string][]col{}
		iter := s.Query(`SELECT table_name, column_name, kind, position FROM system_schema.columns WHERE keyspace_name = ?`, ks).Iter()
		var table, name, kind string
		var pos int
		for iter.Scan(&table, &name, &kind, &pos) {
			if kind == "partition_key" || kind == "clustering" {
				cols[table] = append(cols[table], col{name, kind, pos})
			}
		}
		if err := iter.Close(); err != nil {
			return nil, err
		}
		for t, cs := range cols {
			slices.SortFunc(cs, func(a, b col) int {
				if a.kind != b.kind {
					return strings.Compare(b.kind, a.kind) // partition_key first
				}
				return a.pos - b.pos
			})
			for _, x := range cs {
				keys[t] = append(keys[t], `"`+x.name+`"`)
			}
		}
		for t, k := range keys {
			set := map[string]string{}
			iter := s.Query(fmt.Sprintf("SELECT * FROM %s.%s", ks, t)).PageSize(5000).Iter()
			rows, err := iter.SliceMap()
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", ks, t, err)
			}
			for _, r := range rows {
				var b strings.Builder
				for _, name := range k {
					fmt.Fprintf(&b, "%v|", r[strings.Trim(name, `"`)])
				}
				set[b.String()] = rowDigest(r, k)
			}
			out[ks+"."+t] = set
		}
	}
	return out, nil
}

// rowDigest is a short digest of a row's columns other than its key
// columns (quoted names), in name order.
func rowDigest(r map[string]any, key []string) string {
	names := make([]string, 0, len(r))
	for n := range r {
		if !slices.Contains(key, `"`+n+`"`) {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s=%v;", n, r[n]) // fmt prints maps sorted by key
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}
