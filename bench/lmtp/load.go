package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// scenario is one load shape: conns connections, each delivering the corpus
// rounds times with rcpts recipients per message, for at most maxTime.
type scenario struct {
	conns, rounds, rcpts, users int
	maxTime, txTimeout          time.Duration
}

// result is what one scenario measured on one target.
type result struct {
	target    string
	rcpts     int
	msgs      int // transactions where every recipient got 250
	rcptOK    int // recipient deliveries (250 after DATA)
	errors    int // transactions that were not fully delivered, and failed connects
	elapsed   time.Duration
	p50, p99  time.Duration
	timeBound bool   // stopped by maxTime before the count was reached
	firstErr  string // the first error seen, for the report
	skipped   string // why the target did not run
}

func (r result) msgsPerSec() float64 { return float64(r.msgs) / r.elapsed.Seconds() }
func (r result) rcptPerSec() float64 { return float64(r.rcptOK) / r.elapsed.Seconds() }

// maxRedials bounds how often one connection reconnects after a broken one.
const maxRedials = 5

// runLoad runs one scenario against the LMTP server at addr.
func runLoad(ctx context.Context, addr string, c *corpus, sc scenario) result {
	ctx, cancel := context.WithTimeout(ctx, sc.maxTime)
	defer cancel()
	var (
		mu     sync.Mutex
		res    = result{rcpts: sc.rcpts}
		lat    []time.Duration
		next   atomic.Int64 // round-robin position in the user list
		wg     sync.WaitGroup
		start  = time.Now()
		nMsgs  = len(c.wire)
		failed = func(err error) {
			mu.Lock()
			res.errors++
			if res.firstErr == "" {
				res.firstErr = err.Error()
			}
			mu.Unlock()
		}
	)
	for i := 0; i < sc.conns; i++ {
		wg.Add(1)
		go func(conn int) {
			defer wg.Done()
			var cl *benchkit.LMTPClient
			defer func() {
				if cl != nil {
					cl.Close()
				}
			}()
			redials := 0
			myLat := make([]time.Duration, 0, sc.rounds*nMsgs)
			rcpts := make([]string, sc.rcpts)
			// Connections start at different places in the corpus, so that
			// they do not deliver the same message at the same moment.
			for k := 0; k < sc.rounds*nMsgs && ctx.Err() == nil; k++ {
				if cl == nil {
					if redials > maxRedials {
						failed(fmt.Errorf("connection %d: gave up after %d reconnects", conn, maxRedials))
						break
					}
					redials++
					var err error
					if cl, err = benchkit.DialLMTP(addr, sc.txTimeout); err != nil {
						failed(err)
						continue
					}
				}
				first := next.Add(int64(sc.rcpts)) - int64(sc.rcpts)
				for j := range rcpts {
					rcpts[j] = fmt.Sprintf("user%d@bench.test", (first+int64(j))%int64(sc.users)+1)
				}
				msg := c.wire[(k+conn*nMsgs/sc.conns)%nMsgs]
				t0 := time.Now()
				ok, err := cl.Deliver("bench-sender@bench.test", rcpts, msg)
				d := time.Since(t0)
				mu.Lock()
				res.rcptOK += ok
				mu.Unlock()
				if err != nil || ok != sc.rcpts {
					broken := err != nil && !benchkit.IsReply(err)
					if err == nil {
						err = fmt.Errorf("%d of %d recipients delivered", ok, sc.rcpts)
					}
					failed(err)
					if broken {
						_ = cl.Abort()
						cl = nil
					}
					continue
				}
				myLat = append(myLat, d)
			}
			mu.Lock()
			lat = append(lat, myLat...)
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.msgs = len(lat)
	res.timeBound = ctx.Err() != nil && res.msgs+res.errors < sc.conns*sc.rounds*nMsgs
	slices.Sort(lat)
	res.p50, res.p99 = benchkit.Percentile(lat, 0.50), benchkit.Percentile(lat, 0.99)
	return res
}
