package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/account"
	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/directory/storedir"
	"github.com/quiremail/quire/internal/imapserver"
	"github.com/quiremail/quire/internal/lmtpserver"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/pop3server"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
	"github.com/quiremail/quire/internal/testkit"
)

// host is one access host of a test deployment: the real IMAP, POP3 and
// LMTP servers on the shared store, on its own loopback address.
type host struct {
	ip    string
	group string
	imap  *imapserver.Server
	pop3  *pop3server.Server
	lmtp  *lmtpserver.Server
	logs  *testkit.LogRecorder
	lns   []net.Listener
}

// stop closes the host's listeners and sessions, as a host that died.
func (h *host) stop() {
	for _, ln := range h.lns {
		ln.Close()
	}
	h.imap.Close()
	h.pop3.Close()
	h.lmtp.Close()
}

// deployment is two store affinity groups on one store, east (two
// hosts) and west (one), with a proxy in front.
type deployment struct {
	t              *testing.T
	st             *store.Store
	hub            *notify.Hub
	hosts          map[string]*host // by IP
	groups         map[string][]string
	ports          []int  // IMAP, POP3, LMTP, the same on every host
	imap, pop3     string // the proxy's addresses
	lmtp           string
	logs           *testkit.LogRecorder // the proxy's
	alice, bob     store.User           // alice in east, bob in west
	carol          store.User           // no mailHost
	admin          store.User           // a service administrator (no mailHost)
	imapP          *IMAPServer
	adminMode      bool
	pass, adminPwd string
	unknowns       countingUnknowns // proxy.login = "user"
	o              deployOptions
}

// deployOptions change a test deployment.
type deployOptions struct {
	adminMode bool // proxy.login = "service_admin"
	// hostTLS makes the hosts serve IMAP and POP3 on implicit TLS with
	// it; proxyTLS is the proxy's client configuration to them.
	hostTLS, proxyTLS *tls.Config
}

func deploy(t *testing.T, o deployOptions) *deployment {
	t.Helper()
	ctx := context.Background()
	d := &deployment{t: t, hub: notify.NewHub(), hosts: map[string]*host{}, logs: &testkit.LogRecorder{},
		pass: "secret", adminPwd: "admin-secret", adminMode: o.adminMode, o: o,
		groups: map[string][]string{"east": {"127.0.0.2", "127.0.0.3"}, "west": {"127.0.0.4"}}}
	d.st = store.New(backendtest.Open(t, "embedded"), store.Options{Publish: d.hub.Publish})
	mk := func(prefix, mailHost, pass string) store.User {
		u, err := d.st.CreateUser(ctx, backendtest.Address(prefix), "{PLAIN}"+pass)
		if err != nil {
			t.Fatal(err)
		}
		u.MailHost = mailHost
		if err := d.st.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		return u
	}
	d.alice, d.bob, d.carol = mk("alice", "east", d.pass), mk("bob", "west", d.pass), mk("carol", "", d.pass)
	d.admin = mk("admin", "", d.adminPwd)
	d.ports = testkit.CommonPorts(t, 3, "127.0.0.2", "127.0.0.3", "127.0.0.4")
	groups := directory.NewGroups(d.groups)
	proxies, _ := login.ParseProxies([]string{"127.0.0.0/8"})
	for g, ips := range d.groups {
		for _, ip := range ips {
			d.hosts[ip] = d.startHost(ip, g, groups, proxies)
		}
	}
	d.startProxy(groups)
	return d
}

func (d *deployment) startHost(ip, group string, groups directory.Groups, proxies login.Proxies) *host {
	t := d.t
	h := &host{ip: ip, group: group, logs: &testkit.LogRecorder{}}
	log := h.logs.Logger()
	acc, err := account.New(storedir.New(d.st), d.st, []string{d.admin.Address}, log)
	if err != nil {
		t.Fatal(err)
	}
	auth := login.NewDirectoryAuthenticator(acc, login.NewGuard(login.GuardOptions{BaseDelay: time.Millisecond}),
		login.AuthOptions{Placement: login.Placement{Groups: groups, Own: group, Refer: true}}, log)
	h.imap = imapserver.New(imapserver.Options{Store: d.st, Auth: auth, Hub: d.hub, Logger: log, Hostname: ip,
		TrustedProxies: proxies, LoginReferrals: true, Recheck: time.Minute, TLS: d.o.hostTLS})
	h.pop3 = pop3server.New(pop3server.Options{Store: d.st, Auth: auth, Logger: log, Hostname: ip, TrustedProxies: proxies, TLS: d.o.hostTLS})
	h.lmtp = lmtpserver.New(lmtpserver.Options{Store: d.st, Logger: log, Hostname: ip})
	serves := []func(net.Listener) error{h.imap.Serve, h.pop3.Serve, h.lmtp.Serve}
	if d.o.hostTLS != nil {
		serves[0], serves[1] = h.imap.ServeTLS, h.pop3.ServeTLS
	}
	for i, serve := range serves {
		ln, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(d.ports[i])))
		if err != nil {
			t.Fatal(err)
		}
		h.lns = append(h.lns, ln)
		go func() { _ = serve(ln) }()
	}
	t.Cleanup(h.stop)
	return h
}

func (d *deployment) startProxy(groups directory.Groups) {
	t := d.t
	log := d.logs.Logger()
	if os.Getenv("QUIRE_TEST_DEBUG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	router := NewRouter(RouterOptions{Groups: groups, ConnectTimeout: time.Second, HostRetry: time.Minute, Logger: log})
	acc, err := account.New(storedir.New(d.st), nil, []string{d.admin.Address}, log)
	if err != nil {
		t.Fatal(err)
	}
	logins := &Logins{Router: router, Dir: acc}
	if d.adminMode {
		logins.Auth = login.NewDirectoryAuthenticator(acc, login.NewGuard(login.GuardOptions{BaseDelay: time.Millisecond}), login.DefaultAuthOptions(), log)
		logins.AdminUser, logins.AdminPassword = d.admin.Address, d.adminPwd
	} else {
		logins.Guard = login.NewGuard(login.GuardOptions{BaseDelay: time.Millisecond})
		logins.Unknown = &d.unknowns
	}
	d.imapP = NewIMAP(IMAPOptions{Logins: logins, Port: d.ports[0], HostTLS: d.o.proxyTLS, Logger: log, Hostname: "proxy.test", AllowPlaintext: true})
	pop3 := NewPOP3(POP3Options{Logins: logins, Port: d.ports[1], HostTLS: d.o.proxyTLS, Logger: log, Hostname: "proxy.test", AllowPlaintext: true})
	lmtp := NewLMTP(LMTPOptions{Router: router, Dir: acc, Port: d.ports[2], Logger: log, Hostname: "proxy.test", Timeout: 10 * time.Second})
	for i, serve := range []func(net.Listener) error{d.imapP.Serve, pop3.Serve, lmtp.Serve} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		switch i {
		case 0:
			d.imap = addr
		case 1:
			d.pop3 = addr
		case 2:
			d.lmtp = addr
		}
		go func() { _ = serve(ln) }()
	}
	t.Cleanup(func() { d.imapP.Close(); pop3.Close(); lmtp.Close() })
}

// conn is a line-oriented test client.
type conn struct {
	t  *testing.T
	nc net.Conn
	br *bufio.Reader
}

func dial(t *testing.T, addr string) *conn {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(20 * time.Second))
	return &conn{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *conn) send(format string, args ...any) {
	c.t.Helper()
	if _, err := fmt.Fprintf(c.nc, format+"\r\n", args...); err != nil {
		c.t.Fatal(err)
	}
}

func (c *conn) line() string {
	c.t.Helper()
	l, err := c.br.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (so far %q)", err, l)
	}
	return strings.TrimRight(l, "\r\n")
}

// until reads lines up to and including the first that starts with
// prefix, and returns them all.
func (c *conn) until(prefix string) []string {
	c.t.Helper()
	var out []string
	for {
		l := c.line()
		out = append(out, l)
		if strings.HasPrefix(l, prefix) {
			return out
		}
	}
}

// expect reads len(want) lines and fails unless they are want.
func (c *conn) expect(want ...string) {
	c.t.Helper()
	for i, w := range want {
		if got := c.line(); got != w {
			c.t.Fatalf("line %d: got %q, want %q", i+1, got, w)
		}
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// countingUnknowns is the proxy's check of unknown users' passwords,
// counted: the passwords checked, and the entries seen.
type countingUnknowns struct {
	mu      sync.Mutex
	checked []string // user/password
	seen    []string // addresses
}

func (u *countingUnknowns) CheckUnknown(_ context.Context, user, pass string) error {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.checked = append(u.checked, user+"/"+pass)
	return mail.ErrAuthFailed
}

func (u *countingUnknowns) Seen(e directory.Entry) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.seen = append(u.seen, e.Address)
}

// take returns the checks and entries seen since the last take.
func (u *countingUnknowns) take() (checked, seen []string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	checked, seen = u.checked, u.seen
	u.checked, u.seen = nil, nil
	return checked, seen
}
