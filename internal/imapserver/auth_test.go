package imapserver

import (
	"bufio"
	"compress/flate"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
	"github.com/quiremail/quire/internal/testkit"
)

// tlsEnv is an embedded-store server with TLS and plaintext login refused.
func tlsEnv(t *testing.T, mod func(*Options)) *env {
	hub := notify.NewHub()
	st := store.New(backendtest.Open(t, "embedded"), store.Options{Publish: hub.Publish})
	cfg := testkit.SelfSigned(t)
	return newEnv(t, st, hub, func(o *Options) {
		o.TLS, o.AllowPlaintext = cfg, false
		if mod != nil {
			mod(o)
		}
	})
}

func (c *client) startTLS() {
	c.t.Helper()
	c.ok("STARTTLS")
	tc := tls.Client(c.nc, &tls.Config{InsecureSkipVerify: true})
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake: %v", err)
	}
	c.nc, c.br, c.bw = tc, bufio.NewReader(tc), bufio.NewWriter(tc)
}

func TestPlaintextRefusedThenSTARTTLS(t *testing.T) {
	e := tlsEnv(t, nil)
	c := e.dial()
	has(t, c.ok("CAPABILITY"), "STARTTLS", "LOGINDISABLED")
	c.expect("NO [PRIVACYREQUIRED]", "LOGIN %s %s", quoteArg(e.user.Address), e.pass)
	c.expect("NO [PRIVACYREQUIRED]", "AUTHENTICATE PLAIN %s", base64.StdEncoding.EncodeToString([]byte("\x00"+e.user.Address+"\x00"+e.pass)))
	c.startTLS()
	caps := c.ok("CAPABILITY")
	has(t, caps, "AUTH=PLAIN")
	hasNot(t, caps, "STARTTLS")
	c.expect("BAD", "STARTTLS")
	c.ok("LOGIN %s %s", quoteArg(e.user.Address), e.pass)
	c.ok("SELECT INBOX")
}

func TestImplicitTLS(t *testing.T) {
	e := tlsEnv(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go e.srv.ServeTLS(ln)
	tc, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	c := &client{t: t, nc: tc, br: bufio.NewReader(tc), bw: bufio.NewWriter(tc)}
	if g := c.line(); !strings.HasPrefix(g, "* OK") || strings.Contains(g, "STARTTLS") {
		t.Fatalf("greeting %q", g)
	}
	c.ok("LOGIN %s %s", quoteArg(e.user.Address), e.pass)
}

func TestAuthenticate(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		plain := base64.StdEncoding.EncodeToString([]byte("\x00" + e.user.Address + "\x00" + e.pass))
		// SASL-IR (RFC 4959).
		has(t, []string{e.dial().do("AUTHENTICATE PLAIN %s", plain)}, "OK [CAPABILITY")
		// Continuation.
		c := e.dial()
		tag := c.send("AUTHENTICATE PLAIN")
		if l := c.line(); l != "+ " && l != "+" {
			t.Fatalf("want continuation, got %q", l)
		}
		c.raw(plain + "\r\n")
		if got := c.wait(tag); !strings.HasPrefix(got, "OK") {
			t.Fatalf("AUTHENTICATE PLAIN: %q", got)
		}
		// Cancel, then a wrong password, then LOGIN mechanism.
		c = e.dial()
		tag = c.send("AUTHENTICATE PLAIN")
		c.line()
		c.raw("*\r\n")
		if got := c.wait(tag); !strings.HasPrefix(got, "BAD") {
			t.Fatalf("cancel: %q", got)
		}
		bad := base64.StdEncoding.EncodeToString([]byte("\x00" + e.user.Address + "\x00nope"))
		c.expect("NO [AUTHENTICATIONFAILED]", "AUTHENTICATE PLAIN %s", bad)
		tag = c.send("AUTHENTICATE LOGIN")
		c.line()
		c.raw(base64.StdEncoding.EncodeToString([]byte(e.user.Address)) + "\r\n")
		c.line()
		c.raw(base64.StdEncoding.EncodeToString([]byte(e.pass)) + "\r\n")
		if got := c.wait(tag); !strings.HasPrefix(got, "OK") {
			t.Fatalf("AUTHENTICATE LOGIN: %q", got)
		}
		c.expect("BAD", "AUTHENTICATE PLAIN %s", plain)
	})
}

func TestConnectionLimits(t *testing.T) {
	e := tlsEnv(t, func(o *Options) {
		o.AllowPlaintext, o.MaxConnectionsPerUser, o.MaxConnectionsPerIP = true, 2, 3
	})
	e.login()
	e.login()
	c := e.dial()
	c.expect("NO [LIMIT]", "LOGIN %s %s", quoteArg(e.user.Address), e.pass)
	nc, err := net.Dial("tcp", e.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	g, _ := bufio.NewReader(nc).ReadString('\n')
	if !strings.HasPrefix(g, "* BYE [UNAVAILABLE]") {
		t.Fatalf("fourth connection from one address: %q", g)
	}
}

func TestEnableIDNamespace(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.login()
		has(t, c.ok("ENABLE QRESYNC UTF8=ACCEPT X-UNKNOWN"), "* ENABLED QRESYNC UTF8=ACCEPT")
		has(t, c.ok("ENABLE QRESYNC"), "* ENABLED")
		has(t, c.ok(`ID ("name" "test")`), `* ID ("name" "Quire"`)
		has(t, c.ok("ID NIL"), "* ID")
		has(t, c.ok("NAMESPACE"), `* NAMESPACE (("" "/")) NIL NIL`)
	})
}

func TestBadCommandsClose(t *testing.T) {
	e := tlsEnv(t, func(o *Options) { o.AllowPlaintext, o.MaxBadCommands = true, 3 })
	c := e.login()
	c.expect("BAD", "FROB")
	c.expect("BAD", "FETCH")
	tag := c.send("SELECT")
	l := c.line()
	if !strings.HasPrefix(l, tag+" BAD") {
		t.Fatalf("third bad: %q", l)
	}
	if l = c.line(); !strings.HasPrefix(l, "* BYE") {
		t.Fatalf("want BYE after 3 bad commands, got %q", l)
	}
}

func TestLineTooLong(t *testing.T) {
	e := tlsEnv(t, func(o *Options) { o.AllowPlaintext, o.MaxLineLength = true, 2000 })
	c := e.login()
	c.expect("BAD [TOOBIG]", "NOOP %s", strings.Repeat("x", 5000))
	c.ok("NOOP")
}

func TestCompressPartialFlush(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.login()
		c.ok("COMPRESS DEFLATE")
		// Two commands, each ended with a zlib Z_PARTIAL_FLUSH as iOS Mail
		// sends them: the server must answer each without more input.
		first, _ := hex.DecodeString("2a3152f0f3f70fe0e50208")
		second, _ := hex.DecodeString("a012630567c70047274f1fcf90485e2e8000")
		zr := bufio.NewReader(flate.NewReader(c.nc))
		_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.nc.Write(first); err != nil {
			t.Fatal(err)
		}
		if l, err := zr.ReadString('\n'); err != nil || !strings.HasPrefix(l, "t2 OK") {
			t.Fatalf("NOOP under partial flush: %q %v", l, err)
		}
		if _, err := c.nc.Write(second); err != nil {
			t.Fatal(err)
		}
		if l, _ := zr.ReadString('\n'); !strings.HasPrefix(l, "* CAPABILITY") || strings.Contains(l, "COMPRESS=") {
			t.Fatalf("CAPABILITY under compression: %q", l)
		}
		if l, _ := zr.ReadString('\n'); !strings.HasPrefix(l, "t3 OK") {
			t.Fatalf("tagged: %q", l)
		}
		// A normal sync-flushing client (Go's flate writer) works too.
		zw, _ := flate.NewWriter(c.nc, flate.DefaultCompression)
		io.WriteString(zw, "t4 SELECT INBOX\r\n")
		zw.Flush()
		for {
			l, err := zr.ReadString('\n')
			if err != nil {
				t.Fatal(err)
			}
			if strings.HasPrefix(l, "t4 ") {
				if !strings.HasPrefix(l, "t4 OK") {
					t.Fatal(l)
				}
				break
			}
		}
	})
}
