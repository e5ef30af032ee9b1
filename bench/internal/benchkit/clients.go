package benchkit

import (
	"context"
	"sync"
	"time"
)

// RunClients runs fn(ctx, i) for clients i = 0..n-1 at once, under a ctx
// that ends after d, waits for them all and returns how long they ran. fn
// should loop until ctx ends.
func RunClients(ctx context.Context, n int, d time.Duration, fn func(ctx context.Context, i int)) time.Duration {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(ctx, i)
		}()
	}
	wg.Wait()
	return time.Since(start)
}
