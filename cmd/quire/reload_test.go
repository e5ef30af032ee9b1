package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/sdnotify"
	"github.com/quiremail/quire/internal/testkit"
)

// writeCert writes a self-signed certificate for 127.0.0.1 and localhost
// with the given serial number to cert.pem and key.pem in dir, and returns
// their paths and a pool that trusts it.
func writeCert(t *testing.T, dir string, serial int64) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "quire test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	// Written as a renewal tool does: the new file renamed over the old.
	for name, block := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: der}, keyFile: {Type: "PRIVATE KEY", Bytes: kder}} {
		if err := os.WriteFile(name+".new", pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(name+".new", name); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(c)
	return certFile, keyFile, roots
}

// peerSerial does a TLS handshake with addr and returns the serial number
// of the certificate it offers, verified with roots (nil: not verified).
func peerSerial(t *testing.T, addr string, roots *x509.CertPool) int64 {
	t.Helper()
	tc := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1", InsecureSkipVerify: roots == nil}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, tc)
	if err != nil {
		t.Fatalf("TLS handshake with %s: %v", addr, err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}

// TestReload: a reload swaps the certificate (the next handshake offers
// the new one), sets the log level and the failed-login limits, names each other changed key as
// needing a restart (at every reload until one), and on a bad file changes nothing; systemd
// hears RELOADING=1 and READY=1 around each.
func TestReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, roots1 := writeCert(t, dir, 1)
	cfgFile := filepath.Join(dir, "quire.toml")
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(cfgFile, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	base := "[tls]\ncert_file = \"" + certFile + "\"\nkey_file = \"" + keyFile + "\"\n[imap]\nlisten = []\n[pop3]\nlisten = []\n"
	write(base + "[log]\nlevel = \"info\"\n")
	cfg, err := loadConfig(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	tc, certs, err := tlsConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", tc)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	if got := peerSerial(t, ln.Addr().String(), roots1); got != 1 {
		t.Fatalf("serial %d before the reload", got)
	}
	var logs testkit.SyncBuffer
	log, level := newLevelLogger(cfg, &logs)
	sock := filepath.Join(dir, "notify")
	nc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	guard := login.NewGuard(login.GuardOptions{FreeFailures: cfg.Login.FreeFailures, MaxDelay: cfg.Login.MaxDelay.Duration()})
	r := &reloader{path: cfgFile, level: level, certs: certs, guard: guard, log: log, notify: sdnotify.New(sock), cur: cfg}

	_, _, roots2 := writeCert(t, dir, 2)
	write(base + "[log]\nlevel = \"debug\"\n[lmtp]\nmax_connections = 7\n[login]\nfree_failures = 1\nmax_delay = \"700ms\"\n[server]\ngc_percent = 300\n")
	defer debug.SetGCPercent(gcPercent()) // the test process's own, back at the end
	if err := r.reload(); err != nil {
		t.Fatal(err)
	}
	if got := peerSerial(t, ln.Addr().String(), roots2); got != 2 {
		t.Fatalf("serial %d after the reload, want 2", got)
	}
	if level.Level() != slog.LevelDebug {
		t.Fatalf("log level %v after the reload, want debug", level.Level())
	}
	if gc := gcPercent(); os.Getenv("GOGC") == "" && gc != 300 {
		t.Fatalf("GOGC %d after the reload, want server.gc_percent = 300", gc)
	}
	// Two failures, one free: 500 ms doubled, capped at the new 700 ms (the
	// old limits, two free and 15 s, would give 500 ms).
	for range 2 {
		guard.Attempt("u", "192.0.2.1")
		guard.Failed("u", "192.0.2.1")
	}
	if d := guard.Attempt("u", "192.0.2.1"); d != 700*time.Millisecond {
		t.Fatalf("login delay %v after the reload, want 700ms", d)
	}
	buf := make([]byte, 512)
	for _, want := range []string{"RELOADING=1\nMONOTONIC_USEC=", "READY=1\nSTATUS=serving\n"} {
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := nc.Read(buf)
		if err != nil || !strings.HasPrefix(string(buf[:n]), want) {
			t.Fatalf("systemd heard %q (%v), want %q...", buf[:n], err, want)
		}
	}
	// The same file again: the change is still not in effect, and each
	// reload says so.
	if err := r.reload(); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(logs.String(), "lmtp.max_connections changed: needs a restart"); n != 2 || strings.Count(logs.String(), "needs a restart") != 2 {
		t.Fatalf("the restart-needing change was logged %d times, or others were:\n%s", n, logs.String())
	}
	// A bad file changes nothing.
	write(base + "[log]\nlevel = \"loud\"\n")
	if err := r.reload(); err == nil || !strings.Contains(err.Error(), "log.level") {
		t.Fatalf("reload of a bad file: %v", err)
	}
	if level.Level() != slog.LevelDebug || peerSerial(t, ln.Addr().String(), roots2) != 2 {
		t.Fatal("a failed reload changed the running configuration")
	}
	if !strings.Contains(logs.String(), "reload failed: the running configuration stays") {
		t.Fatalf("the failed reload was not logged:\n%s", logs.String())
	}
}

// gcPercent reads the runtime's GOGC (setting it is the only way to read
// it).
func gcPercent() int {
	gc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gc)
	return gc
}
