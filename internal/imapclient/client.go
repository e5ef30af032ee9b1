package imapclient

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
)

// Options say how to reach a server.
type Options struct {
	// Addr is host:port.
	Addr string
	// Security is "tls" (implicit TLS, RFC 8314), "starttls" or "plain".
	Security string
	// TLS configures TLS; nil verifies the server's certificate against
	// the system's roots for Addr's host.
	TLS *tls.Config
	// Timeout bounds each command's exchange (0: 5 minutes).
	Timeout time.Duration
	// MaxLiteral bounds a message's size (0: 1 GiB).
	MaxLiteral int64
}

// Client is a connection to an IMAP server.
type Client struct {
	conn net.Conn
	br   *bufio.Reader
	o    Options
	tag  int
	caps map[string]bool
	// bodies is the UID FETCH of bodies being read, if any: no other
	// command goes out until it ends.
	bodies *Bodies
	// broken is why the connection cannot carry another command.
	broken error
}

// Dial connects and reads the greeting (and, with STARTTLS, upgrades).
func Dial(ctx context.Context, o Options) (*Client, error) {
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Minute
	}
	if o.MaxLiteral == 0 {
		o.MaxLiteral = 1 << 30
	}
	host, _, err := net.SplitHostPort(o.Addr)
	if err != nil {
		return nil, fmt.Errorf("imapclient: %q: want host:port: %w", o.Addr, err)
	}
	cfg := o.TLS
	if cfg == nil {
		cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	var d net.Dialer
	var conn net.Conn
	switch o.Security {
	case "tls":
		conn, err = (&tls.Dialer{NetDialer: &d, Config: cfg}).DialContext(ctx, "tcp", o.Addr)
	case "starttls", "plain":
		conn, err = d.DialContext(ctx, "tcp", o.Addr)
	default:
		return nil, fmt.Errorf("imapclient: security %q: want tls, starttls or plain", o.Security)
	}
	if err != nil {
		return nil, fmt.Errorf("imapclient: connect to %s: %w", o.Addr, err)
	}
	c := &Client{conn: conn, br: bufio.NewReaderSize(conn, 64<<10), o: o}
	_ = conn.SetDeadline(time.Now().Add(o.Timeout))
	greet, err := ReadResponse(c.br, 4096)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("imapclient: %s's greeting: %w", o.Addr, err)
	}
	if greet.Tag != "*" || (greet.Status() != "OK" && greet.Status() != "PREAUTH") {
		conn.Close()
		return nil, fmt.Errorf("imapclient: %s greets with %q", o.Addr, greet.Text())
	}
	if o.Security == "starttls" {
		if _, err := c.Do("STARTTLS"); err != nil {
			conn.Close()
			return nil, err
		}
		tc := tls.Client(conn, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("imapclient: STARTTLS with %s: %w", o.Addr, err)
		}
		c.conn, c.br = tc, bufio.NewReaderSize(tc, 64<<10)
	}
	if err := c.capability(); err != nil {
		c.conn.Close()
		return nil, err
	}
	return c, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// Logout ends the session and closes the connection.
func (c *Client) Logout() error {
	_, err := c.Do("LOGOUT")
	c.conn.Close()
	return err
}

// Has reports whether the server announced the capability.
func (c *Client) Has(capability string) bool { return c.caps[strings.ToUpper(capability)] }

func (c *Client) capability() error {
	rs, err := c.Do("CAPABILITY")
	if err != nil {
		return err
	}
	c.caps = map[string]bool{}
	for _, r := range rs {
		if len(r.Fields) > 0 && strings.EqualFold(r.Fields[0].S, "CAPABILITY") {
			for _, f := range r.Fields[1:] {
				c.caps[strings.ToUpper(f.S)] = true
			}
		}
	}
	return nil
}

// Login logs in as user. With an authorization identity authzid that
// differs from user, it authenticates with SASL PLAIN (RFC 4616) as user
// (an administrator) acting as authzid; otherwise it uses LOGIN, or
// SASL PLAIN where the server has disabled LOGIN.
func (c *Client) Login(authzid, user, password string) error {
	var err error
	if (authzid != "" && authzid != user) || c.Has("LOGINDISABLED") || !quotable(user) || !quotable(password) {
		if authzid == user {
			authzid = ""
		}
		resp := base64.StdEncoding.EncodeToString([]byte(authzid + "\x00" + user + "\x00" + password))
		if c.Has("SASL-IR") {
			_, err = c.Do("AUTHENTICATE PLAIN " + resp)
		} else {
			_, err = c.do("AUTHENTICATE PLAIN", resp)
		}
	} else {
		_, err = c.Do("LOGIN " + c.astring(user) + " " + c.astring(password))
	}
	if err != nil {
		return fmt.Errorf("imapclient: log in to %s as %s: %w", c.o.Addr, user, err)
	}
	// Servers may announce more after login.
	return c.capability()
}

// Do sends one command and returns its untagged responses; a reply other
// than OK is an error that quotes it.
func (c *Client) Do(cmd string) ([]Response, error) { return c.do(cmd, "") }

// do is Do; cont answers the server's continuation request, once.
func (c *Client) do(cmd, cont string) ([]Response, error) {
	tag, err := c.send(cmd)
	if err != nil {
		return nil, err
	}
	var out []Response
	for {
		r, done, err := c.next(tag, cmd, &cont)
		if done || err != nil {
			return out, err
		}
		out = append(out, r)
	}
}

// send writes cmd under the next tag, and gives the exchange Timeout.
func (c *Client) send(cmd string) (string, error) {
	if c.broken != nil {
		return "", fmt.Errorf("imapclient: %s: the connection broke before: %w", verb(cmd), c.broken)
	}
	if c.bodies != nil {
		return "", fmt.Errorf("imapclient: %s: the UID FETCH of bodies before it is still being read (read it to its end, or Drain it)", verb(cmd))
	}
	c.tag++
	tag := "q" + strconv.Itoa(c.tag)
	_ = c.conn.SetDeadline(time.Now().Add(c.o.Timeout))
	if _, err := fmt.Fprintf(c.conn, "%s %s\r\n", tag, cmd); err != nil {
		return "", fmt.Errorf("imapclient: %s: %w", verb(cmd), err)
	}
	return tag, nil
}

// next reads the next untagged response of the command cmd sent under
// tag; done is true at its tagged reply (an error unless OK). *cont
// answers the server's continuation request, once ("" for a command
// that sends none: a request is then an error).
func (c *Client) next(tag, cmd string, cont *string) (Response, bool, error) {
	for {
		r, err := ReadResponse(c.br, c.o.MaxLiteral)
		if err != nil {
			return r, false, fmt.Errorf("imapclient: %s: reading the reply: %w", verb(cmd), err)
		}
		switch r.Tag {
		case tag:
			if r.Status() != "OK" {
				return r, true, fmt.Errorf("imapclient: %s: the server says %s %s", verb(cmd), r.Status(), r.Text())
			}
			return r, true, nil
		case "+":
			if _, err := fmt.Fprintf(c.conn, "%s\r\n", *cont); err != nil {
				return r, false, fmt.Errorf("imapclient: %s: %w", verb(cmd), err)
			}
			*cont = "*" // a second request: cancel (RFC 3501 6.2.2)
		case "*":
			if r.Status() == "BYE" && verb(cmd) != "LOGOUT" {
				return r, false, fmt.Errorf("imapclient: %s: the server closes the connection: %s", verb(cmd), r.Text())
			}
			return r, false, nil
		default:
			return r, false, fmt.Errorf("imapclient: %s: a reply with the unknown tag %q", verb(cmd), r.Tag)
		}
	}
}

// verb is a command's name, for errors (never its arguments: a password).
func verb(cmd string) string {
	v, _, _ := strings.Cut(cmd, " ")
	if strings.EqualFold(v, "UID") {
		v2, _, _ := strings.Cut(cmd[4:], " ")
		return v + " " + v2
	}
	return v
}

// quotable reports whether s can be sent as a quoted string: printable
// US-ASCII, not too long.
func quotable(s string) bool {
	if len(s) >= 1024 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// astring sends s as an IMAP string: quoted where it can be, else a
// non-synchronising literal (RFC 7888), which rides inside the one
// command line. Login's user and password are never literals (SASL
// PLAIN carries any bytes), and mailbox names go out in modified UTF-7,
// printable ASCII; a literal is for the rest, on servers with LITERAL+.
func (c *Client) astring(s string) string {
	if quotable(s) {
		return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
	}
	return "{" + strconv.Itoa(len(s)) + "+}\r\n" + s
}

// Mailbox is one mailbox LIST shows.
type Mailbox struct {
	// Name is the server's name, levels joined with Delim, decoded from
	// modified UTF-7.
	Name  string
	Delim string // "" for a flat namespace
	// Attributes are LIST's, such as \Noselect or \Sent (RFC 6154).
	Attributes []string
}

// Selectable reports whether the mailbox holds messages.
func (m Mailbox) Selectable() bool {
	for _, a := range m.Attributes {
		if strings.EqualFold(a, `\Noselect`) || strings.EqualFold(a, `\NonExistent`) {
			return false
		}
	}
	return true
}

// List returns every mailbox (LIST "" "*").
func (c *Client) List() ([]Mailbox, error) { return c.list("LIST", `"" "*"`) }

// Subscribed returns the subscribed mailboxes (LSUB "" "*"; RFC 9051
// servers without LSUB answer LIST (SUBSCRIBED)).
func (c *Client) Subscribed() ([]Mailbox, error) {
	if c.Has("IMAP4rev1") {
		return c.list("LSUB", `"" "*"`)
	}
	ms, err := c.list("LIST", `(SUBSCRIBED) "" "*"`)
	var out []Mailbox
	for _, m := range ms {
		for _, a := range m.Attributes {
			if strings.EqualFold(a, `\Subscribed`) {
				out = append(out, m)
				break
			}
		}
	}
	return out, err
}

func (c *Client) list(cmd, args string) ([]Mailbox, error) {
	rs, err := c.Do(cmd + " " + args)
	if err != nil {
		return nil, err
	}
	var out []Mailbox
	for _, r := range rs {
		f := r.Fields
		if len(f) < 4 || !strings.EqualFold(f[0].S, cmd) || f[1].Kind != List {
			continue
		}
		m := Mailbox{}
		for _, a := range f[1].L {
			m.Attributes = append(m.Attributes, a.S)
		}
		if !(f[2].Kind == Atom && strings.EqualFold(f[2].S, "NIL")) {
			m.Delim = f[2].S
		}
		name, err := imapwire.DecodeMailbox(f[3].S)
		if err != nil {
			name = f[3].S // UTF8=ACCEPT servers, or a sloppy one
		}
		if strings.EqualFold(name, "INBOX") {
			name = "INBOX"
		}
		m.Name = name
		out = append(out, m)
	}
	return out, nil
}

// Selected is what EXAMINE tells of a mailbox.
type Selected struct {
	UIDValidity uint32
	UIDNext     uint32
	Exists      int
}

// Examine opens the mailbox name read-only.
func (c *Client) Examine(name string) (Selected, error) {
	rs, err := c.Do("EXAMINE " + c.astring(imapwire.EncodeMailbox(name)))
	if err != nil {
		return Selected{}, err
	}
	var s Selected
	for _, r := range rs {
		if code := r.Code(); len(code) == 2 {
			n, _ := strconv.ParseUint(code[1].S, 10, 32)
			switch strings.ToUpper(code[0].S) {
			case "UIDVALIDITY":
				s.UIDValidity = uint32(n)
			case "UIDNEXT":
				s.UIDNext = uint32(n)
			}
		}
		if len(r.Fields) == 2 && strings.EqualFold(r.Fields[1].S, "EXISTS") {
			s.Exists, _ = strconv.Atoi(r.Fields[0].S)
		}
	}
	if s.UIDValidity == 0 {
		return s, fmt.Errorf("imapclient: EXAMINE %s: the server gave no UIDVALIDITY", name)
	}
	return s, nil
}

// Message is what FETCH tells of a message.
type Message struct {
	UID          uint32
	Flags        []string // without \Recent
	InternalDate time.Time
	Size         int64  // RFC822.SIZE: FetchMeta only
	Body         []byte // Bodies.Next only
}

// FetchMeta returns the UID, flags, INTERNALDATE and size of every
// message of the examined mailbox with a UID at or above from, in UID
// order as the server sends them.
func (c *Client) FetchMeta(from uint32) ([]Message, error) {
	rs, err := c.Do(fmt.Sprintf("UID FETCH %d:* (UID FLAGS INTERNALDATE RFC822.SIZE)", max(from, 1)))
	if err != nil {
		return nil, err
	}
	var out []Message
	for _, r := range rs {
		if m, ok, err := fetched(r); err != nil {
			return nil, err
		} else if ok && m.UID >= from {
			out = append(out, m)
		}
	}
	return out, nil
}

// fetched reads a "* n FETCH (...)" response.
func fetched(r Response) (Message, bool, error) {
	f := r.Fields
	if r.Tag != "*" || len(f) != 3 || !strings.EqualFold(f[1].S, "FETCH") || f[2].Kind != List {
		return Message{}, false, nil
	}
	var m Message
	l := f[2].L
	for i := 0; i+1 < len(l); i += 2 {
		v := l[i+1]
		switch strings.ToUpper(l[i].S) {
		case "UID":
			n, err := strconv.ParseUint(v.S, 10, 32)
			if err != nil {
				return m, false, fmt.Errorf("imapclient: FETCH UID %q", v.S)
			}
			m.UID = uint32(n)
		case "FLAGS":
			m.Flags = []string{}
			for _, fl := range v.L {
				if !strings.EqualFold(fl.S, `\Recent`) {
					m.Flags = append(m.Flags, fl.S)
				}
			}
		case "INTERNALDATE":
			d, err := time.Parse("_2-Jan-2006 15:04:05 -0700", v.S)
			if err != nil {
				return m, false, fmt.Errorf("imapclient: FETCH INTERNALDATE %q: %w", v.S, err)
			}
			m.InternalDate = d
		case "RFC822.SIZE":
			m.Size, _ = strconv.ParseInt(v.S, 10, 64)
		case "BODY":
			// BODY[] is the atom, the section, then the literal.
			if v.Kind != Section || i+2 >= len(l) {
				return m, false, errors.New("imapclient: FETCH BODY without a section and a value")
			}
			m.Body = []byte(l[i+2].S)
			i++
		}
	}
	return m, true, nil
}
