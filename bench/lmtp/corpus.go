package main

import (
	"context"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// corpus is the benchmark's mail, each message ready for the wire (CRLF
// line endings, dot-stuffed, ending in CRLF "." CRLF), and the average
// message size before stuffing.
type corpus struct {
	wire    [][]byte
	avgSize float64
}

func loadCorpus(ctx context.Context, root string, n int, dir string) (*corpus, error) {
	bc, err := benchkit.LoadCorpus(ctx, root, n, dir)
	if err != nil {
		return nil, err
	}
	c := &corpus{avgSize: bc.AvgSize}
	for _, m := range bc.Msgs {
		c.wire = append(c.wire, benchkit.DotStuff(m))
	}
	return c, nil
}
