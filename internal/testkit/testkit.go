// Package testkit holds helpers for the protocol servers' tests: an
// in-memory connection for fuzzing whole sessions, a log handler that
// counts recovered panics, recorders of log records and of what a server
// tells its Observer, a self-signed TLS certificate and a test CA, checks
// of the servers' shutdown contract, and where the real servers a test
// needs run (Env). Only tests import it.
package testkit

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// ScriptConn is a net.Conn that reads a fixed input, then io.EOF, and
// keeps what is written. Deadlines are ignored.
type ScriptConn struct {
	in  *bytes.Reader
	Out bytes.Buffer
}

// NewScriptConn returns a connection whose peer sends in.
func NewScriptConn(in []byte) *ScriptConn { return &ScriptConn{in: bytes.NewReader(in)} }

func (p *ScriptConn) Read(b []byte) (int, error)  { return p.in.Read(b) }
func (p *ScriptConn) Write(b []byte) (int, error) { return p.Out.Write(b) }
func (p *ScriptConn) Close() error                { return nil }
func (p *ScriptConn) LocalAddr() net.Addr         { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1} }
func (p *ScriptConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000}
}
func (p *ScriptConn) SetDeadline(time.Time) error      { return nil }
func (p *ScriptConn) SetReadDeadline(time.Time) error  { return nil }
func (p *ScriptConn) SetWriteDeadline(time.Time) error { return nil }

// PanicCounter is a slog handler that counts records whose message says
// "internal error": the servers log a recovered panic so.
type PanicCounter struct{ N atomic.Int64 }

// Logger returns a logger that feeds the counter and prints nothing.
func (h *PanicCounter) Logger() *slog.Logger { return slog.New(counter{h}) }

type counter struct{ h *PanicCounter }

func (c counter) Handle(_ context.Context, r slog.Record) error {
	if strings.Contains(r.Message, "internal error") {
		c.h.N.Add(1)
	}
	return nil
}
func (c counter) Enabled(context.Context, slog.Level) bool { return true }
func (c counter) WithAttrs([]slog.Attr) slog.Handler       { return c }
func (c counter) WithGroup(string) slog.Handler            { return c }

// SelfSigned returns a server TLS config with a fresh certificate for
// 127.0.0.1; clients must skip verification.
func SelfSigned(t testing.TB) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test.quire"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

// SyncBuffer is a bytes.Buffer safe for concurrent writers, for capturing
// logs written by background goroutines.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
