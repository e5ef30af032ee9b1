package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// The commands of one session, in order, as the report names them. The mix
// follows imaptest's default profile: every session logs in, selects,
// fetches the envelopes of the whole mailbox, fetches bodies, changes
// flags, appends one message, deletes and expunges one, and logs out, so
// that a mailbox keeps its size.
var commands = []string{"connect", "LOGIN", "SELECT", "FETCH envelope", "FETCH body", "STORE", "APPEND", "EXPUNGE", "LOGOUT"}

// bodiesPerSession is how many random messages each session fetches whole.
const bodiesPerSession = 2

// stats is what the clients of one run measured.
type stats struct {
	lat      map[string]benchkit.Latencies
	errs     map[string]int
	firstErr string
	sessions int // completed sessions
	elapsed  time.Duration
}

func (s *stats) commands() int {
	n := 0
	for c, l := range s.lat {
		if c != "connect" {
			n += len(l)
		}
	}
	return n
}

func (s *stats) perSec() float64 { return float64(s.commands()) / s.elapsed.Seconds() }

func (s *stats) errors() int {
	n := 0
	for _, e := range s.errs {
		n += e
	}
	return n
}

// load describes one run.
type load struct {
	addrs    []string // IMAP servers; client i uses addrs[i%len]
	clients  int
	users    int
	duration time.Duration
	msgs     [][]byte // APPEND picks from these
	timeout  time.Duration
}

// run runs the clients until the duration is over. Client i works as user
// i%users+1, so 20 clients on 20 users never share a mailbox.
func (l load) run(ctx context.Context) *stats {
	ctx, cancel := context.WithTimeout(ctx, l.duration)
	defer cancel()
	all := &stats{lat: map[string]benchkit.Latencies{}, errs: map[string]int{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := range l.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cs := &client{load: &l, user: benchkit.User(i%l.users + 1), addr: l.addrs[i%len(l.addrs)],
				rnd: rand.New(rand.NewPCG(uint64(i), 7)), st: &stats{lat: map[string]benchkit.Latencies{}, errs: map[string]int{}}}
			for ctx.Err() == nil {
				if err := cs.session(ctx); err != nil {
					// A failed session is counted; pause a little so that a
					// server that refuses everything is not hammered.
					time.Sleep(50 * time.Millisecond)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			for c, v := range cs.st.lat {
				all.lat[c] = append(all.lat[c], v...)
			}
			for c, n := range cs.st.errs {
				all.errs[c] += n
			}
			all.sessions += cs.st.sessions
			if all.firstErr == "" {
				all.firstErr = cs.st.firstErr
			}
		}()
	}
	wg.Wait()
	all.elapsed = time.Since(start)
	return all
}

// client is one simulated user agent.
type client struct {
	load *load
	user string
	addr string
	rnd  *rand.Rand
	st   *stats
}

var uidRe = regexp.MustCompile(`^\* \d+ FETCH \(.*?\bUID (\d+)`)

// session runs one session. Commands started after the run's end are not
// counted, so every counted command ran under full load.
func (c *client) session(ctx context.Context) error {
	var conn *benchkit.IMAPConn
	step := func(name string, f func() error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		t0 := time.Now()
		err := f()
		if err != nil {
			c.st.errs[name]++
			if c.st.firstErr == "" {
				c.st.firstErr = fmt.Sprintf("%s: %v", name, err)
			}
			return err
		}
		c.st.lat[name] = append(c.st.lat[name], time.Since(t0))
		return nil
	}
	cmd := func(name, line string, lit []byte) ([][]byte, error) {
		var out [][]byte
		err := step(name, func() error {
			var err error
			out, err = conn.Command(line, lit)
			return err
		})
		return out, err
	}
	if err := step("connect", func() error {
		var err error
		conn, err = benchkit.DialIMAP(c.addr, c.load.timeout, 64<<10)
		return err
	}); err != nil {
		return err
	}
	defer conn.Close()
	if _, err := cmd("LOGIN", fmt.Sprintf("LOGIN %q %q", c.user, benchkit.Password), nil); err != nil {
		return err
	}
	if _, err := cmd("SELECT", "SELECT INBOX", nil); err != nil {
		return err
	}
	resp, err := cmd("FETCH envelope", "FETCH 1:* (UID FLAGS ENVELOPE)", nil)
	if err != nil {
		return err
	}
	var uids []int
	for _, r := range resp {
		if m := uidRe.FindSubmatch(r); m != nil {
			u, _ := strconv.Atoi(string(m[1]))
			uids = append(uids, u)
		}
	}
	if len(uids) == 0 {
		return step("FETCH envelope", func() error { return errors.New("the mailbox is empty: was it filled?") })
	}
	for range bodiesPerSession {
		u := uids[c.rnd.IntN(len(uids))]
		if _, err := cmd("FETCH body", fmt.Sprintf("UID FETCH %d BODY.PEEK[]", u), nil); err != nil {
			return err
		}
	}
	if _, err := cmd("STORE", fmt.Sprintf("UID STORE %d +FLAGS (\\Seen)", uids[c.rnd.IntN(len(uids))]), nil); err != nil {
		return err
	}
	msg := c.load.msgs[c.rnd.IntN(len(c.load.msgs))]
	if _, err := cmd("APPEND", "APPEND INBOX", msg); err != nil {
		return err
	}
	oldest := uids[0]
	for _, u := range uids {
		oldest = min(oldest, u)
	}
	if _, err := cmd("STORE", fmt.Sprintf("UID STORE %d +FLAGS.SILENT (\\Deleted)", oldest), nil); err != nil {
		return err
	}
	if _, err := cmd("EXPUNGE", "EXPUNGE", nil); err != nil {
		return err
	}
	if _, err := cmd("LOGOUT", "LOGOUT", nil); err != nil {
		return err
	}
	c.st.sessions++
	return nil
}
