package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// stats is what the clients of one row measured.
type stats struct {
	login    benchkit.Latencies // successful LOGINs
	errs     int
	firstErr string
	elapsed  time.Duration
}

func (s *stats) perSec() float64 { return float64(len(s.login)) / s.elapsed.Seconds() }

// load describes one row's run.
type load struct {
	addr     string
	clients  int
	users    int
	duration time.Duration
	timeout  time.Duration
}

// run runs the clients until the duration is over. Client i logs in as
// user i%users+1.
func (l load) run(ctx context.Context) *stats {
	all := &stats{}
	var mu sync.Mutex
	all.elapsed = benchkit.RunClients(ctx, l.clients, l.duration, func(ctx context.Context, i int) {
		user := benchkit.User(i%l.users + 1)
		var mine stats
		for ctx.Err() == nil {
			d, err := l.session(user)
			switch {
			case ctx.Err() != nil: // started under load, ended after it: not counted
			case err != nil:
				mine.errs++
				if mine.firstErr == "" {
					mine.firstErr = err.Error()
				}
				time.Sleep(50 * time.Millisecond) // do not hammer a server that refuses
			default:
				mine.login = append(mine.login, d)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		all.login = append(all.login, mine.login...)
		all.errs += mine.errs
		if all.firstErr == "" {
			all.firstErr = mine.firstErr
		}
	})
	return all
}

// session connects, logs in and logs out; it returns LOGIN's latency.
func (l load) session(user string) (time.Duration, error) {
	c, err := benchkit.DialIMAP(l.addr, l.timeout, 4<<10)
	if err != nil {
		return 0, fmt.Errorf("connect: %w", err)
	}
	defer c.Close()
	t0 := time.Now()
	if _, err := c.Command(fmt.Sprintf("LOGIN %q %q", user, benchkit.Password), nil); err != nil {
		return 0, fmt.Errorf("LOGIN: %w", err)
	}
	d := time.Since(t0)
	if _, err := c.Command("LOGOUT", nil); err != nil {
		return 0, fmt.Errorf("LOGOUT: %w", err)
	}
	return d, nil
}
