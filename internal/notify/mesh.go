package notify

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/supervise"
)

// MeshOptions configures the cross-host notifier of one access host.
type MeshOptions struct {
	// Self is this host's name (server.hostname), as the group lists name it.
	Self string
	// Groups maps each store affinity group to its hosts; an entry may carry
	// ":port", else Port is used.
	Groups map[string][]string
	Port   int
	// Secret is shared by every host; peers prove they know it.
	Secret []byte
	// Hub receives the events peers send, and those published here.
	Hub    *Hub
	Logger *slog.Logger
	// QueueLen bounds the events waiting for one peer (default 4096); more
	// are dropped and counted, which only delays the sessions they concern
	// until their recheck timer.
	QueueLen int
}

// Mesh links the access hosts of the store affinity groups (DESIGN.md
// section 5). Publish tells the local Hub and every other host of the
// group of the user concerned, and no other host. Each host dials each peer
// it has to tell; links are one-way, TLS 1.3, and both ends prove they
// know the shared secret by an HMAC bound to the TLS session, so neither a
// stranger nor a relay in the middle can inject or read events.
//
// Invariants: Publish never blocks, whatever the peers do; a peer that is
// down is redialled with backoff; an event from a peer is published to the
// local Hub only, never forwarded.
type Mesh struct {
	o       MeshOptions
	log     *slog.Logger
	tlsSrv  *tls.Config
	hash    string              // of the group lists, announced to peers
	groupOf map[string]string   // lower-case host name → group
	peersOf map[string][]string // group → notifier addresses of its hosts but this one
	self    string              // this host's group, "" if none

	mu struct {
		sync.Mutex
		peers  map[string]*peer // by address
		closed bool
		lns    []net.Listener
		conns  map[net.Conn]struct{}
	}
	wg       sync.WaitGroup
	ctx      context.Context
	cancel   context.CancelFunc
	received atomic.Int64
	rejected atomic.Int64
	sup      *supervise.Supervisor // recovers panics in links and the accept loop
}

// NewMesh prepares the notifier; Serve accepts peers, Publish sends.
func NewMesh(o MeshOptions) (*Mesh, error) {
	if len(o.Secret) < 16 {
		return nil, errors.New("notify: the shared secret must be at least 16 bytes (notify.secret)")
	}
	if o.Hub == nil {
		return nil, errors.New("notify: a Mesh needs a Hub")
	}
	if o.Port == 0 {
		o.Port = 4790
	}
	if o.QueueLen <= 0 {
		o.QueueLen = 4096
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cert, err := selfSigned()
	if err != nil {
		return nil, err
	}
	m := &Mesh{o: o, log: o.Logger.With("component", "notify"), groupOf: map[string]string{},
		tlsSrv: &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS13}}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.sup = supervise.New(supervise.Options{Logger: m.log})
	m.mu.peers = map[string]*peer{}
	m.mu.conns = map[net.Conn]struct{}{}
	for g, hosts := range o.Groups {
		for _, h := range hosts {
			m.groupOf[strings.ToLower(hostPart(h))] = g
		}
	}
	m.self = m.groupOf[strings.ToLower(o.Self)]
	m.hash = groupsHash(o.Groups)
	m.peersOf = map[string][]string{}
	for g := range o.Groups {
		m.peersOf[g] = m.peerAddrs(g)
	}
	// Links to the own group's peers come up at once, so that a peer whose
	// lists disagree is reported at start, not at the first change.
	for _, addr := range m.peersOf[m.self] {
		m.peer(addr)
	}
	return m, nil
}

// Group returns the store affinity group of a user's mailHost: the group it
// names, or the group of the host it names; "" (or an unknown name) means
// this host's own group.
func (m *Mesh) Group(mailHost string) string {
	if mailHost == "" {
		return m.self
	}
	if _, ok := m.o.Groups[mailHost]; ok {
		return mailHost
	}
	if g, ok := m.groupOf[strings.ToLower(hostPart(mailHost))]; ok {
		return g
	}
	return m.self
}

// Publish wakes local subscribers and tells every other host of the user's
// group. It never blocks.
func (m *Mesh) Publish(ev mail.Event) {
	m.o.Hub.Publish(ev)
	for _, addr := range m.peersOf[m.Group(ev.MailHost)] {
		m.peer(addr).send(ev)
	}
}

// Stats reports, per peer address, events sent and dropped, and in total
// the events received and the connections refused for a bad secret.
func (m *Mesh) Stats() (sent, dropped map[string]int64, received, rejected int64) {
	sent, dropped = map[string]int64{}, map[string]int64{}
	m.mu.Lock()
	defer m.mu.Unlock()
	for a, p := range m.mu.peers {
		sent[a], dropped[a] = p.sent.Load(), p.dropped.Load()
	}
	return sent, dropped, m.received.Load(), m.rejected.Load()
}

// PeerState is one peer of this host's own group, as Peers reports it.
type PeerState struct {
	Addr    string
	Up      bool  // the link to it is authenticated and sending
	Sent    int64 // events sent to it
	Dropped int64 // events dropped for it (queue full, or a write failed)
}

// Peers reports the peers of this host's own store affinity group, whose
// links come up at start, in the order of the group's list. A peer of
// another group (linked on first use, for a user whose mailHost names that
// group) is in Stats, not here.
func (m *Mesh) Peers() []PeerState {
	addrs := m.peersOf[m.self]
	out := make([]PeerState, 0, len(addrs))
	for _, a := range addrs {
		p := m.peer(a)
		out = append(out, PeerState{Addr: a, Up: p.up.Load(), Sent: p.sent.Load(), Dropped: p.dropped.Load()})
	}
	return out
}

// Panics returns the number of panics recovered in links and accept
// loops (each logged with its stack).
func (m *Mesh) Panics() int64 { return m.sup.Panics() }

// peerAddrs lists the notifier addresses of group's hosts other than this
// one; NewMesh keeps them in peersOf, so Publish does no string work.
func (m *Mesh) peerAddrs(group string) []string {
	var out []string
	for _, h := range m.o.Groups[group] {
		if strings.EqualFold(hostPart(h), m.o.Self) || strings.EqualFold(h, m.o.Self) {
			continue
		}
		if _, _, err := net.SplitHostPort(h); err != nil {
			h = net.JoinHostPort(h, strconv.Itoa(m.o.Port))
		}
		out = append(out, h)
	}
	return out
}

// peer returns the sender for addr, starting it on first use.
func (m *Mesh) peer(addr string) *peer {
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.mu.peers[addr]
	if p == nil {
		p = &peer{m: m, addr: addr, q: make(chan mail.Event, m.o.QueueLen)}
		m.mu.peers[addr] = p
		if !m.mu.closed {
			m.wg.Add(1)
			go p.run()
		}
	}
	return p
}

// Close stops accepting, closes every link and waits for the goroutines.
func (m *Mesh) Close() {
	m.mu.Lock()
	m.mu.closed = true
	for _, ln := range m.mu.lns {
		ln.Close()
	}
	for c := range m.mu.conns {
		c.Close()
	}
	m.mu.Unlock()
	m.cancel()
	m.wg.Wait()
}

// track registers an open connection for Close; false if closing.
func (m *Mesh) track(c net.Conn, on bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if on && m.mu.closed {
		return false
	}
	if on {
		m.mu.conns[c] = struct{}{}
	} else {
		delete(m.mu.conns, c)
	}
	return true
}

// The link protocol, one line each, after the TLS handshake:
//
//	dialer:   QNOTIFY1 c <host> <groups-hash> <mac>
//	acceptor: QNOTIFY1 s <host> <groups-hash> <mac>
//	dialer:   E <user-id> <mailbox-id> <modseq> <mailhost or ->   (repeated)
//	dialer:   P                                                   (keepalive)
//
// mac is HMAC-SHA256(secret, role, host, groups-hash, TLS exporter), so it
// proves the secret for this TLS session only.
const (
	proto       = "QNOTIFY1"
	keepalive   = 15 * time.Second
	readTimeout = 3 * keepalive
)

func (m *Mesh) hello(cs tls.ConnectionState, role string) (string, error) {
	mac, err := m.mac(cs, role, m.o.Self, m.hash)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("%s %s %s %s %s\n", proto, role, m.o.Self, m.hash, mac), nil
}

func (m *Mesh) mac(cs tls.ConnectionState, role, host, hash string) (string, error) {
	ekm, err := cs.ExportKeyingMaterial("quire-notify", nil, 32)
	if err != nil {
		return "", fmt.Errorf("notify: TLS exporter: %w", err)
	}
	h := hmac.New(sha256.New, m.o.Secret)
	for _, s := range []string{proto, role, host, hash} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	h.Write(ekm)
	return hex.EncodeToString(h.Sum(nil)), nil
}

// checkHello verifies a peer's hello line; it returns the peer's host name.
func (m *Mesh) checkHello(cs tls.ConnectionState, line, role string) (string, error) {
	f := strings.Fields(line)
	if len(f) != 5 || f[0] != proto || f[1] != role {
		return "", fmt.Errorf("not a %s %s hello: %.60q", proto, role, line)
	}
	want, err := m.mac(cs, role, f[2], f[3])
	if err != nil {
		return "", err
	}
	if !hmac.Equal([]byte(want), []byte(f[4])) {
		return "", errors.New("bad secret: the peer's notify.secret differs")
	}
	if f[3] != m.hash {
		m.log.Error("notify: peer announces different store affinity groups; every host must carry the same store.storehostlist (order may differ)",
			"peer", f[2], "ours", m.hash, "theirs", f[3])
	}
	return f[2], nil
}

// groupsHash digests the group lists in a canonical order: groups by name,
// hosts sorted and lower-cased.
func groupsHash(groups map[string][]string) string {
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	slices.Sort(names)
	h := sha256.New()
	for _, g := range names {
		hosts := make([]string, len(groups[g]))
		for i, x := range groups[g] {
			hosts[i] = strings.ToLower(x)
		}
		slices.Sort(hosts)
		fmt.Fprintf(h, "%s=%s;", g, strings.Join(hosts, ","))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func hostPart(entry string) string {
	if h, _, err := net.SplitHostPort(entry); err == nil {
		return h
	}
	return entry
}

// selfSigned makes the listener's certificate. Peers do not verify it: the
// HMAC over the TLS exporter authenticates both ends.
func selfSigned() (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(100 * 365 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// readLine reads one line of at most 1 KiB.
func readLine(br *bufio.Reader) (string, error) {
	line, err := br.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		return "", errors.New("line too long")
	}
	return strings.TrimRight(string(line), "\r\n"), err
}
