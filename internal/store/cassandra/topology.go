package cassandra

import (
	"context"
	"fmt"
	"slices"
)

// Nodes counts the nodes of k's cluster per data center, as its connect
// points see them (system.local and system.peers), for "quire config
// check" to compare with the replication factors: a keyspace whose RF
// exceeds the nodes of its data center fails every QUORUM write.
func Nodes(ctx context.Context, o Options, k KeyspaceOptions) (map[string]int, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	// k is usually one of o's keyspaces: then errors name its config keys.
	for _, ok := range []*KeyspaceOptions{&o.Meta, &o.Msg, &o.Cache} {
		if ok.Name == k.Name && slices.Equal(ok.ConnectPoints, k.ConnectPoints) {
			k.key = ok.key
		}
	}
	k.DataCenter = "" // any node answers, even when the data center is wrong
	b := &Backend{opts: o, log: o.Logger}
	s, err := b.newSession(&k)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	nodes := map[string]int{}
	var dc string
	if err := s.Query("SELECT data_center FROM system.local").ScanContext(ctx, &dc); err != nil {
		return nil, fmt.Errorf("cassandra: read system.local at %v: %w", k.ConnectPoints, err)
	}
	nodes[dc]++
	iter := s.Query("SELECT data_center FROM system.peers").IterContext(ctx)
	for iter.Scan(&dc) {
		nodes[dc]++
	}
	if err := iter.Close(); err != nil {
		return nil, fmt.Errorf("cassandra: read system.peers at %v: %w", k.ConnectPoints, err)
	}
	return nodes, nil
}
