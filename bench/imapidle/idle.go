package main

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// idler is one connection in IDLE.
type idler struct {
	c    *benchkit.IMAPConn
	user int
}

func (x idler) close() { x.c.Close() }

// openIdlers opens connections from..to-1, parallel at a time, connection
// i logged in as user i%users+1 with INBOX selected and IDLE running. It
// returns the ones that got there and the first error.
func openIdlers(ctx context.Context, addr string, from, to, users, parallel int) ([]idler, error) {
	var (
		mu       sync.Mutex
		out      []idler
		firstErr error
		next     atomic.Int64
		wg       sync.WaitGroup
	)
	next.Store(int64(from))
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1)) - 1
				if i >= to {
					return
				}
				x, err := openIdler(addr, i%users+1)
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("connection %d: %w", i, err)
				}
				if err == nil {
					out = append(out, x)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out, firstErr
}

func openIdler(addr string, user int) (idler, error) {
	c, err := benchkit.DialIMAP(addr, 60*time.Second, 4<<10)
	if err != nil {
		return idler{}, err
	}
	// Like a client that syncs before it idles: the server's buffers and
	// stacks have done real work when memory is measured.
	for _, cmd := range []string{fmt.Sprintf("LOGIN %q %q", benchkit.User(user), benchkit.Password), "SELECT INBOX",
		"FETCH 1:* (UID FLAGS ENVELOPE)", "FETCH 1:2 BODY.PEEK[]"} {
		if _, err := c.Command(cmd, nil); err != nil {
			c.Close()
			return idler{}, fmt.Errorf("%s: %w", strings.Fields(cmd)[0], err)
		}
	}
	if err := c.Idle(); err != nil {
		c.Close()
		return idler{}, err
	}
	return idler{c: c, user: user}, nil
}

// wake delivers one message to every user in one LMTP transaction and
// waits up to 10 s for every idler to announce it. It returns how many did
// within 1 s of the delivery's start and when the last one did.
func wake(ctx context.Context, lmtpAddr string, c *benchkit.Corpus, users int, idlers []idler) (int, time.Duration, error) {
	lc, err := benchkit.DialLMTP(lmtpAddr, time.Minute)
	if err != nil {
		return 0, 0, err
	}
	defer lc.Close()
	rcpts := make([]string, users)
	for i := range rcpts {
		rcpts[i] = benchkit.User(i + 1)
	}
	var (
		mu    sync.Mutex
		times []time.Duration
		wg    sync.WaitGroup
	)
	t0 := time.Now()
	deadline := t0.Add(10 * time.Second)
	for _, x := range idlers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if x.c.ReadUntil(" EXISTS", deadline) == nil {
				d := time.Since(t0)
				mu.Lock()
				times = append(times, d)
				mu.Unlock()
			}
		}()
	}
	n, err := lc.Deliver("bench-wake@bench.test", rcpts, benchkit.DotStuff(c.Msgs[0]))
	if err == nil && n != users {
		err = fmt.Errorf("wake-up delivery: %d of %d recipients accepted", n, users)
	}
	wg.Wait()
	within, last := 0, time.Duration(0)
	for _, d := range times {
		if d <= time.Second {
			within++
		}
		last = max(last, d)
	}
	if len(times) < len(idlers) && err == nil {
		err = fmt.Errorf("%d of %d idle connections never announced the new message within 10 s", len(idlers)-len(times), len(idlers))
	}
	if ctx.Err() != nil {
		err = ctx.Err()
	}
	return within, last, err
}
