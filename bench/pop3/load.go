package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// The steps of one session, as the report names them. LOGIN is USER and
// PASS together.
var steps = []string{"connect", "LOGIN", "STAT", "UIDL", "RETR", "QUIT"}

// stats is what the clients of one run measured.
type stats struct {
	lat      map[string]benchkit.Latencies
	errs     map[string]int
	firstErr string
	sessions int
	bytes    int64 // message bytes retrieved
	elapsed  time.Duration
}

func newStats() *stats { return &stats{lat: map[string]benchkit.Latencies{}, errs: map[string]int{}} }

func (s *stats) downloads() int            { return len(s.lat["RETR"]) }
func (s *stats) downloadsPerSec() float64  { return float64(s.downloads()) / s.elapsed.Seconds() }
func (s *stats) mbPerSec() float64         { return float64(s.bytes) / 1e6 / s.elapsed.Seconds() }
func (s *stats) fail(step string, e error) { s.errs[step]++; s.noteErr(step, e) }
func (s *stats) noteErr(step string, e error) {
	if s.firstErr == "" {
		s.firstErr = fmt.Sprintf("%s: %v", step, e)
	}
}

func (s *stats) merge(o *stats) {
	for k, v := range o.lat {
		s.lat[k] = append(s.lat[k], v...)
	}
	for k, n := range o.errs {
		s.errs[k] += n
	}
	s.sessions += o.sessions
	s.bytes += o.bytes
	if s.firstErr == "" {
		s.firstErr = o.firstErr
	}
}

func (s *stats) errors() int {
	n := 0
	for _, e := range s.errs {
		n += e
	}
	return n
}

// load describes one run.
type load struct {
	addr     string
	clients  int
	users    int
	retr     int // RETR per session
	duration time.Duration
	timeout  time.Duration
}

// run runs the clients until the duration is over. Client i works as user
// i%users+1; with as many users as clients no two sessions share a
// maildrop, so neither server's maildrop lock is measured.
func (l load) run(ctx context.Context) *stats {
	ctx, cancel := context.WithTimeout(ctx, l.duration)
	defer cancel()
	all := newStats()
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := range l.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st := newStats()
			rnd := rand.New(rand.NewPCG(uint64(i), 11))
			for ctx.Err() == nil {
				if err := l.session(ctx, benchkit.User(i%l.users+1), rnd, st); err != nil {
					time.Sleep(50 * time.Millisecond)
				}
			}
			mu.Lock()
			all.merge(st)
			mu.Unlock()
		}()
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	return all
}

// session downloads l.retr random messages of the maildrop and quits
// without deleting, so the maildrop keeps its size.
func (l load) session(ctx context.Context, user string, rnd *rand.Rand, st *stats) error {
	var conn *pop3Conn
	step := func(name string, f func() error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t0 := time.Now()
		if err := f(); err != nil {
			st.fail(name, err)
			return err
		}
		st.lat[name] = append(st.lat[name], time.Since(t0))
		return nil
	}
	if err := step("connect", func() (err error) { conn, err = dialPOP3(l.addr, l.timeout); return err }); err != nil {
		return err
	}
	defer conn.close()
	if err := step("LOGIN", func() error {
		if _, err := conn.single("USER " + user); err != nil {
			return err
		}
		_, err := conn.single("PASS " + benchkit.Password)
		return err
	}); err != nil {
		return err
	}
	var count int
	if err := step("STAT", func() error {
		line, err := conn.single("STAT")
		if err != nil {
			return err
		}
		f := strings.Fields(line)
		if len(f) < 3 {
			return fmt.Errorf("STAT: %q", line)
		}
		count, err = strconv.Atoi(f[1])
		return err
	}); err != nil {
		return err
	}
	if count == 0 {
		err := errors.New("the maildrop is empty: was it filled?")
		st.fail("STAT", err)
		return err
	}
	if err := step("UIDL", func() error { _, err := conn.multi("UIDL"); return err }); err != nil {
		return err
	}
	for range l.retr {
		if err := step("RETR", func() error {
			n, err := conn.multi(fmt.Sprintf("RETR %d", rnd.IntN(count)+1))
			st.bytes += int64(n)
			return err
		}); err != nil {
			return err
		}
	}
	if err := step("QUIT", func() error { _, err := conn.single("QUIT"); return err }); err != nil {
		return err
	}
	st.sessions++
	return nil
}
