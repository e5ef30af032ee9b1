package proxy

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/lmtpserver/lmtpwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/netserve"
)

// LMTPOptions configure an LMTP proxy.
type LMTPOptions struct {
	Router *Router
	Dir    Directory
	Port   int // the access hosts' LMTP port (default 24)
	Logger *slog.Logger

	Hostname       string
	MaxMessageSize int64 // 0: no limit
	MaxRecipients  int   // default 100
	MaxLineLength  int   // default 4096
	MaxConnections int   // per listener; 0: no limit
	// Timeout bounds each read from the MTA and each exchange with an
	// access host (default 5 min).
	Timeout time.Duration
}

// LMTPServer is the LMTP proxy (RFC 2033): it takes a transaction from
// the MTA, and delivers it with one transaction per store affinity group,
// all groups at once, each to its group's first live host; the MTA gets
// one reply per recipient, in order, each the reply of the recipient's
// host (451 for a group none of whose hosts answers).
type LMTPServer struct {
	front
	o LMTPOptions
}

// NewLMTP returns an LMTP proxy with o.
func NewLMTP(o LMTPOptions) *LMTPServer {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Port == 0 {
		o.Port = 24
	}
	if o.Hostname == "" {
		o.Hostname = "localhost"
	}
	if o.MaxRecipients <= 0 {
		o.MaxRecipients = 100
	}
	if o.MaxLineLength <= 0 {
		o.MaxLineLength = 4096
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Minute
	}
	s := &LMTPServer{o: o}
	s.ns = netserve.Server{
		MaxConns: o.MaxConnections,
		Busy:     "421 4.3.2 too many connections, try again later\r\n",
		Log:      o.Logger,
		Handle: func(nc net.Conn, _ bool, d *netserve.Conn) {
			s.newSession(nc, d).serve()
		},
	}
	return s
}

type lmtpSession struct {
	client
	srv  *LMTPServer
	helo string
	tx   *lmtpTx
}

// lmtpTx is a mail transaction: MAIL's argument, passed on as sent, and
// the accepted recipients in order, each with its group.
type lmtpTx struct {
	mailArg string
	rcpts   []lmtpRcpt
}

type lmtpRcpt struct{ addr, group string }

func (s *LMTPServer) newSession(nc net.Conn, d *netserve.Conn) *lmtpSession {
	return &lmtpSession{srv: s, client: s.newClient(nc, false, d, "lmtp", s.o.Logger)}
}

func (c *lmtpSession) reply(format string, args ...any) {
	fmt.Fprintf(c.bw, format+"\r\n", args...)
}

func (c *lmtpSession) serve() {
	defer c.nc.Close()
	defer func() {
		if x := recover(); x != nil {
			c.log.Error("proxy: internal error; closing the session", "panic", x, "stack", string(debug.Stack()))
			c.reply("421 4.3.0 internal error; the failure was logged")
			_ = c.bw.Flush()
		}
	}()
	c.reply("220 %s Quire LMTP proxy ready", c.srv.o.Hostname)
	for {
		// RFC 2920 3.1: replies wait only while the client's next commands
		// are already here.
		if c.br.Buffered() == 0 {
			_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.o.Timeout))
			if c.bw.Flush() != nil {
				return
			}
		}
		if c.tx == nil && !c.drain.Idle() {
			c.reply("421 4.3.2 %s shutting down", c.srv.o.Hostname)
			_ = c.bw.Flush()
			return
		}
		_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.o.Timeout))
		line, err := lmtpwire.ReadLine(c.br, c.srv.o.MaxLineLength)
		c.drain.Busy()
		if errors.Is(err, lmtpwire.ErrLineTooLong) {
			c.reply("500 5.5.2 line too long")
			continue
		}
		if err != nil {
			var ne net.Error
			switch {
			case c.drain.Draining() && c.tx == nil:
				c.reply("421 4.3.2 %s shutting down", c.srv.o.Hostname)
			case errors.As(err, &ne) && ne.Timeout():
				c.reply("421 4.4.2 %s timeout, closing connection", c.srv.o.Hostname)
			}
			_ = c.bw.Flush()
			return
		}
		if !c.dispatch(line) {
			_ = c.bw.Flush()
			return
		}
	}
}

func (c *lmtpSession) dispatch(line string) bool {
	verb, arg := lmtpwire.SplitCommand(line)
	switch verb {
	case "LHLO":
		arg = strings.TrimSpace(arg)
		if arg == "" {
			c.reply("501 5.5.4 LHLO requires a domain or address literal")
			return true
		}
		c.helo, c.tx = arg, nil
		size := "SIZE"
		if m := c.srv.o.MaxMessageSize; m > 0 {
			size = fmt.Sprintf("SIZE %d", m)
		}
		caps := []string{c.srv.o.Hostname, "PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", size, "SMTPUTF8"}
		for i, cp := range caps {
			sep := "-"
			if i == len(caps)-1 {
				sep = " "
			}
			c.reply("250%s%s", sep, cp)
		}
	case "HELO", "EHLO":
		c.reply("500 5.5.1 this is an LMTP server: use LHLO") // RFC 2033 4.1
	case "MAIL":
		c.mail(arg)
	case "RCPT":
		c.rcpt(arg)
	case "DATA":
		return c.data(arg)
	case "RSET":
		c.tx = nil
		c.reply("250 2.0.0 ok")
	case "NOOP":
		c.reply("250 2.0.0 ok")
	case "QUIT":
		c.reply("221 2.0.0 %s closing connection", c.srv.o.Hostname)
		return false
	case "":
		c.reply("500 5.5.2 empty command")
	default:
		c.reply("502 5.5.1 %s not implemented", verb)
	}
	return true
}

// mail opens a transaction; its argument goes to the hosts as sent, and
// SIZE is checked here (RFC 1870 6).
func (c *lmtpSession) mail(arg string) {
	switch {
	case c.helo == "":
		c.reply("503 5.5.1 send LHLO first")
		return
	case c.tx != nil:
		c.reply("503 5.5.1 nested MAIL command")
		return
	}
	rest, ok := lmtpwire.CutPrefixFold(arg, "FROM:")
	if !ok {
		c.reply("501 5.5.4 syntax: MAIL FROM:<address>")
		return
	}
	from, params, err := lmtpwire.ParsePath(rest, true)
	if err != nil {
		c.reply("501 5.1.7 bad sender address syntax")
		return
	}
	for _, p := range params {
		if p.Key != "SIZE" {
			continue
		}
		n, ok := lmtpwire.ParseSize(p.Value)
		if !ok {
			c.reply("501 5.5.4 bad SIZE value")
			return
		}
		if m := c.srv.o.MaxMessageSize; m > 0 && n > m {
			c.reply("552 5.3.4 message size exceeds fixed limit")
			return
		}
	}
	c.tx = &lmtpTx{mailArg: arg}
	c.reply("250 2.1.0 sender <%s> ok", from)
}

// rcpt accepts a recipient the directory knows and routes it to its
// group; the host's own answer to RCPT comes after DATA, as the
// recipient's reply.
func (c *lmtpSession) rcpt(arg string) {
	if c.tx == nil {
		c.reply("503 5.5.1 need MAIL command")
		return
	}
	rest, ok := lmtpwire.CutPrefixFold(arg, "TO:")
	if !ok {
		c.reply("501 5.5.4 syntax: RCPT TO:<address>")
		return
	}
	addr, params, err := lmtpwire.ParsePath(rest, false)
	if err != nil {
		c.reply("501 5.1.3 bad recipient address syntax")
		return
	}
	if len(params) > 0 {
		c.reply("555 5.5.4 unsupported RCPT parameter")
		return
	}
	if len(c.tx.rcpts) >= c.srv.o.MaxRecipients {
		c.reply("452 4.5.3 too many recipients")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.srv.o.Timeout)
	e, err := c.srv.o.Dir.Lookup(ctx, addr)
	cancel()
	var g string
	if err == nil && e.Status == directory.StatusLocked {
		err = mail.ErrNoSuchUser // a locked account receives nothing
	}
	if err == nil {
		g, err = c.srv.o.Router.Group(e)
	}
	switch {
	case err == nil:
		c.tx.rcpts = append(c.tx.rcpts, lmtpRcpt{addr: addr, group: g})
		c.reply("250 2.1.5 <%s> ok", addr)
	case errors.Is(err, mail.ErrNoSuchUser):
		c.log.Info("proxy: unknown recipient", "rcpt", addr)
		c.reply("550 5.1.1 <%s>: no such user here", addr)
	case errors.Is(err, ErrNoGroup):
		c.log.Error("proxy: recipient cannot be routed", "rcpt", addr, "err", err)
		c.reply("451 4.3.5 <%s>: cannot route to a store affinity group, try again later", addr)
	default:
		c.log.Warn("proxy: recipient lookup failed", "rcpt", addr, "err", err)
		c.reply("451 4.3.0 <%s>: temporary failure, try again later", addr)
	}
}

// data reads the message (its dot-stuffed form, passed on as sent), has
// every group deliver it at once, and replies per recipient, in order.
func (c *lmtpSession) data(arg string) bool {
	switch {
	case c.tx == nil:
		c.reply("503 5.5.1 need MAIL command")
		return true
	case len(c.tx.rcpts) == 0:
		c.reply("503 5.5.1 no valid recipients") // RFC 2033 4.2
		return true
	case arg != "":
		c.reply("501 5.5.4 DATA takes no argument")
		return true
	}
	c.reply("354 start mail input; end with <CRLF>.<CRLF>")
	_ = c.bw.Flush()
	tx := c.tx
	c.tx = nil
	sp := newSpool(c.srv.o.MaxMessageSize)
	defer sp.Close()
	dr := lmtpwire.NewRawDotReader(c.br)
	_, err := io.Copy(sp, dr)
	if err != nil && !errors.Is(err, errTooBig) {
		c.log.Info("proxy: connection failed in DATA", "err", err)
		return false
	}
	_, _ = io.Copy(io.Discard, dr) // the rest of a message too big
	if dr.Err() != nil {
		return false
	}
	obs := c.srv.o.Router.o.Observer
	if errors.Is(err, errTooBig) || sp.err != nil {
		for range tx.rcpts {
			if sp.err != nil {
				obs.LMTPRecipient("451")
				c.reply("451 4.3.0 cannot hold the message: %s; try again later", sp.err)
			} else {
				obs.LMTPRecipient("552")
				c.reply("552 5.3.4 message size exceeds fixed limit")
			}
		}
		return true
	}
	for _, r := range c.deliver(tx, sp) {
		obs.LMTPRecipient(r)
		c.reply("%s", r)
	}
	return true
}

// deliver runs one transaction per group, all at once, and returns the
// replies in the order of tx.rcpts.
func (c *lmtpSession) deliver(tx *lmtpTx, sp *spool) []string {
	replies := make([]string, len(tx.rcpts))
	byGroup := map[string][]int{}
	var order []string
	for i, r := range tx.rcpts {
		if _, ok := byGroup[r.group]; !ok {
			order = append(order, r.group)
		}
		byGroup[r.group] = append(byGroup[r.group], i)
	}
	var wg sync.WaitGroup
	for _, g := range order {
		idx := byGroup[g]
		wg.Go(func() {
			rcpts := make([]string, len(idx))
			for j, i := range idx {
				rcpts[j] = tx.rcpts[i].addr
			}
			got := c.deliverGroup(g, tx.mailArg, rcpts, sp)
			for j, i := range idx {
				replies[i] = got[j]
			}
		})
	}
	wg.Wait()
	return replies
}

// deliverGroup is one group's transaction at its first live host. Every
// recipient gets a reply: the host's, or a 4xx the proxy made when the
// host could not be reached or the connection broke.
func (c *lmtpSession) deliverGroup(group, mailArg string, rcpts []string, sp *spool) (out []string) {
	out = make([]string, len(rcpts))
	fill := func(format string) {
		for i, r := range rcpts {
			if out[i] == "" {
				out[i] = fmt.Sprintf(format, r)
			}
		}
	}
	defer func() {
		if x := recover(); x != nil {
			c.log.Error("proxy: internal error delivering to a group", "group", group, "panic", x, "stack", string(debug.Stack()))
			fill("451 4.3.0 <%s>: internal error, try again later")
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), c.srv.o.Timeout)
	defer cancel()
	obs := c.srv.o.Router.o.Observer
	b, err := c.srv.o.Router.Connect(ctx, group, c.srv.o.Port, nil, smtpGreeting) // the access hosts' LMTP has no TLS
	if err != nil {
		obs.LMTPTransaction("no_host")
		c.log.Warn("proxy: no access host of the group answers; its recipients get 451", "group", group, "recipients", len(rcpts), "err", err)
		fill("451 4.4.1 <%s>: no server of the recipient's store affinity group answers, try again later")
		return out
	}
	defer b.Close()
	_ = b.SetDeadline(time.Now().Add(c.srv.o.Timeout))
	log := c.log.With("group", group, "host", b.Addr)
	obs.Routed("lmtp", group, b.Addr)
	if err := lmtpExchange(b, c.srv.o.Hostname, mailArg, rcpts, sp, out); err != nil {
		obs.LMTPTransaction("broken")
		log.Warn("proxy: delivery to the access host broke off; recipients without a reply get 451", "err", err)
		fill("451 4.4.2 <%s>: connection to the recipient's server lost, try again later")
		return out
	}
	obs.LMTPTransaction("ok")
	return out
}

// lmtpExchange runs LHLO, MAIL, the RCPTs (pipelined, RFC 2920) and DATA
// on b, writing each recipient's reply into out: its RCPT refusal, or its
// reply after the message (RFC 2033 4.2). MAIL's refusal is every
// recipient's reply.
func lmtpExchange(b *Backend, helo, mailArg string, rcpts []string, sp *spool, out []string) error {
	w := bufio.NewWriter(b)
	fmt.Fprintf(w, "LHLO %s\r\n", helo)
	if err := w.Flush(); err != nil {
		return err
	}
	if _, err := readSMTPReply(b.R); err != nil {
		return err
	}
	fmt.Fprintf(w, "MAIL %s\r\n", mailArg)
	for _, r := range rcpts {
		fmt.Fprintf(w, "RCPT TO:<%s>\r\n", r)
	}
	if err := w.Flush(); err != nil {
		return err
	}
	mailReply, err := readSMTPReply(b.R)
	if err != nil {
		return err
	}
	var accepted []int
	for i := range rcpts {
		r, err := readSMTPReply(b.R)
		if err != nil {
			return err
		}
		switch {
		case !strings.HasPrefix(mailReply, "2"):
			out[i] = mailReply
		case !strings.HasPrefix(r, "2"):
			out[i] = r
		default:
			accepted = append(accepted, i)
		}
	}
	if len(accepted) == 0 {
		_, _ = io.WriteString(b, "QUIT\r\n")
		return nil
	}
	if _, err := io.WriteString(b, "DATA\r\n"); err != nil {
		return err
	}
	if r, err := readSMTPReply(b.R); err != nil {
		return err
	} else if !strings.HasPrefix(r, "354") {
		for _, i := range accepted {
			out[i] = r
		}
		return nil
	}
	if _, err := io.Copy(w, sp.Reader()); err != nil {
		return err
	}
	w.WriteString(".\r\n")
	if err := w.Flush(); err != nil {
		return err
	}
	for _, i := range accepted {
		r, err := readSMTPReply(b.R)
		if err != nil {
			return err
		}
		out[i] = r
	}
	_, _ = io.WriteString(b, "QUIT\r\n")
	return nil
}

// readSMTPReply reads one reply (RFC 5321 4.2): lines "NNN-text" up to
// "NNN text". It returns the last line, which carries the code and, for
// Quire's replies, the whole text.
func readSMTPReply(br *bufio.Reader) (string, error) {
	for n := 0; ; n++ {
		line, err := readLine(br, 4096)
		if err != nil {
			return "", err
		}
		if len(line) < 3 || !isDigits(line[:3]) || len(line) > 3 && line[3] != ' ' && line[3] != '-' {
			return "", fmt.Errorf("proxy: malformed reply from the access host: %q", line)
		}
		if len(line) == 3 || line[3] == ' ' {
			return line, nil
		}
		if n > 100 {
			return "", errReplyTooLong
		}
	}
}

func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// smtpGreeting accepts a 220 greeting (RFC 5321 4.3.2).
func smtpGreeting(br *bufio.Reader) (string, error) {
	r, err := readSMTPReply(br)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(r, "220") {
		return "", errors.New("greeting is not 220: " + r)
	}
	return r, nil
}
