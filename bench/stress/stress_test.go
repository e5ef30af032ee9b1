package main

import (
	"context"
	"testing"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// TestShortRun is the stress test's 60-second run in make test: 30 s of
// load per isc.mode; the server must stay up, log no panic and answer
// consistently.
func TestShortRun(t *testing.T) {
	o := options{clients: 10, users: 2, lmtp: 2, duration: 30 * time.Second, keep: 20, searchMax: 500,
		quireBin: benchkit.BuildQuire(t), modes: []string{"immediate", "deferred"}, seed: uint64(time.Now().UnixNano())}
	for _, mode := range o.modes {
		t.Run(mode, func(t *testing.T) {
			res, err := run(context.Background(), o, mode)
			if err != nil {
				t.Fatal(err)
			}
			t.Log("\n" + res.summary())
			if res.failed() > 0 {
				t.Fatalf("seed %d:\n%s", o.seed, res.summary())
			}
			// A run that did little proves little.
			if res.ops.Load() < 2000 || res.expunged.Load() < 200 || res.delivered.Load() < 100 || res.idles.Load() < 20 || res.checkedMessages < 20 {
				t.Fatalf("too little happened:\n%s", res.summary())
			}
		})
	}
}
