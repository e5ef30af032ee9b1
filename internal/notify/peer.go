package notify

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/quiremail/quire/internal/mail"
)

// peer sends events to one other host over a link it dials and redials.
type peer struct {
	m       *Mesh
	addr    string
	q       chan mail.Event
	sent    atomic.Int64
	dropped atomic.Int64
	up      atomic.Bool // the link is authenticated and sending
}

// send queues ev without blocking; a full queue drops it.
func (p *peer) send(ev mail.Event) {
	select {
	case p.q <- ev:
	default:
		p.dropped.Add(1)
	}
}

// Backoff between dials of a peer that is down.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 10 * time.Second
)

// run keeps the link to the peer up until the mesh closes. A panic in it
// is recovered by the mesh's supervisor, and the link redialled.
func (p *peer) run() {
	defer p.m.wg.Done()
	p.m.sup.Run(p.m.ctx, "notify: link to peer", p.redial, "peer", p.addr)
}

// redial links to the peer, and again with backoff when the link fails,
// until ctx ends.
func (p *peer) redial(ctx context.Context) {
	backoff := minBackoff
	failures := 0
	for ctx.Err() == nil {
		start := time.Now()
		err := p.link(&failures)
		if ctx.Err() != nil {
			return
		}
		if time.Since(start) > 10*time.Second {
			backoff = minBackoff // the link was up a while: a fresh failure
		}
		// The first failure in a row is worth a warning; repeats while the
		// peer stays down are not (a host starting before its peers would
		// fill the log).
		failures++
		level := slog.LevelDebug
		if failures == 1 {
			level = slog.LevelWarn
		}
		p.m.log.Log(ctx, level, "notify: link to peer down; retrying with backoff", "peer", p.addr, "err", err, "retry_in", backoff)
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// link dials, authenticates and sends events until the link breaks.
func (p *peer) link(failures *int) error {
	d := net.Dialer{Timeout: 5 * time.Second}
	raw, err := d.DialContext(p.m.ctx, "tcp", p.addr)
	if err != nil {
		return err
	}
	if !p.m.track(raw, true) {
		raw.Close()
		return net.ErrClosed
	}
	defer p.m.track(raw, false)
	defer raw.Close()
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}) // authenticated by the HMAC below
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.HandshakeContext(p.m.ctx); err != nil {
		return fmt.Errorf("TLS: %w", err)
	}
	hello, err := p.m.hello(c.ConnectionState(), "c")
	if err != nil {
		return err
	}
	if _, err := c.Write([]byte(hello)); err != nil {
		return err
	}
	br := bufio.NewReaderSize(c, 1024)
	line, err := readLine(br)
	if err != nil {
		return fmt.Errorf("no answer to hello (is notify.secret the same on both hosts?): %w", err)
	}
	host, err := p.m.checkHello(c.ConnectionState(), line, "s")
	if err != nil {
		return err
	}
	p.m.log.Info("notify: link to peer up", "peer", p.addr, "host", host, "after_failures", *failures)
	*failures = 0
	p.up.Store(true)
	defer p.up.Store(false)
	bw := bufio.NewWriter(c)
	tick := time.NewTicker(keepalive)
	defer tick.Stop()
	for {
		batch := 0
		select {
		case ev := <-p.q:
			writeEvent(bw, ev)
			batch++
			// Send what else is queued in the same write.
			for more := true; more; {
				select {
				case ev = <-p.q:
					writeEvent(bw, ev)
					batch++
				default:
					more = false
				}
			}
		case <-tick.C:
			bw.WriteString("P\n")
		case <-p.m.ctx.Done():
			return nil
		}
		_ = c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if err := bw.Flush(); err != nil {
			p.dropped.Add(int64(batch))
			return err
		}
		p.sent.Add(int64(batch))
	}
}

// writeEvent writes one event line. Store IDs never hold white space; an
// empty mailHost, or one an administrator wrote with white space, is sent
// as "-" (the receiver does not route by it).
func writeEvent(bw *bufio.Writer, ev mail.Event) {
	mh := ev.MailHost
	if mh == "" || strings.ContainsAny(mh, " \t\r\n") {
		mh = "-"
	}
	fmt.Fprintf(bw, "E %s %s %d %s\n", ev.UserID, ev.MailboxID, ev.ModSeq, mh)
}
