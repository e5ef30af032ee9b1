package notify

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/quiremail/quire/internal/mail"
)

// Serve accepts peers' links on ln until Close. Events they send are
// published to the local Hub. Serve waits out accept timeouts but returns
// on any other accept error: to ride out EMFILE and the like, give it a
// listener that retries them (netserve.Listener, as quire serve does).
func (m *Mesh) Serve(ln net.Listener) error {
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		ln.Close()
		return net.ErrClosed
	}
	m.mu.lns = append(m.mu.lns, ln)
	m.mu.Unlock()
	var err error
	m.sup.Run(m.ctx, "notify: accept", func(context.Context) { err = m.accept(ln) }, "listener", ln.Addr().String())
	return err
}

// accept accepts peers' links on ln until it is closed.
func (m *Mesh) accept(ln net.Listener) error {
	for {
		raw, err := ln.Accept()
		if err != nil {
			if m.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			return err
		}
		if !m.track(raw, true) {
			raw.Close()
			return nil
		}
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			defer m.track(raw, false)
			defer raw.Close()
			err := m.sup.Do("notify: link from peer", func() error { return m.receive(raw) }, "remote", raw.RemoteAddr().String())
			switch {
			case m.ctx.Err() != nil: // closing
			case errors.Is(err, io.EOF):
				m.log.Info("notify: link from peer closed by the peer", "remote", raw.RemoteAddr().String())
			default:
				m.log.Warn("notify: link from peer closed", "remote", raw.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

// receive authenticates one incoming link and publishes its events.
func (m *Mesh) receive(raw net.Conn) error {
	c := tls.Server(raw, m.tlsSrv)
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.HandshakeContext(m.ctx); err != nil {
		return err
	}
	br := bufio.NewReaderSize(c, 1024)
	line, err := readLine(br)
	if err != nil {
		return err
	}
	host, err := m.checkHello(c.ConnectionState(), line, "c")
	if err != nil {
		m.rejected.Add(1)
		return err // closed without an answer: nothing to learn for a stranger
	}
	hello, err := m.hello(c.ConnectionState(), "s")
	if err != nil {
		return err
	}
	if _, err := c.Write([]byte(hello)); err != nil {
		return err
	}
	_ = c.SetWriteDeadline(time.Time{})
	for {
		_ = c.SetReadDeadline(time.Now().Add(readTimeout))
		line, err := readLine(br)
		if err != nil {
			return err
		}
		if line == "P" {
			continue
		}
		ev, ok := parseEvent(line)
		if !ok {
			return errors.New("bad event line from " + host)
		}
		m.received.Add(1)
		m.o.Hub.Publish(ev)
	}
}

func parseEvent(line string) (mail.Event, bool) {
	f := strings.Fields(line)
	if len(f) != 5 || f[0] != "E" {
		return mail.Event{}, false
	}
	ms, err := strconv.ParseUint(f[3], 10, 64)
	if err != nil {
		return mail.Event{}, false
	}
	ev := mail.Event{UserID: f[1], MailboxID: f[2], ModSeq: mail.ModSeq(ms)}
	if f[4] != "-" {
		ev.MailHost = f[4]
	}
	return ev, true
}
