package benchkit

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// Password is every bench user's password, on every target.
const Password = "bench"

// User is the address of bench user i (1-based), the same on every target.
func User(i int) string { return fmt.Sprintf("user%d@bench.test", i) }

// Target is one running server under test.
type Target struct {
	LMTP, IMAP, POP3 string // addresses on 127.0.0.1 (or QuireOptions.IP)
	HTTP             string // quire's http.listen, for pprof; empty for Dovecot
	TokenFile        string // quire's http.admin_token_file (see AdminRequest)
	PID              int    // quire's process; 0 for Dovecot
	LogFile          string // quire's output (its slog log); empty for Dovecot
	Note             string // shown under the report's table

	proc *process // quire only: for Kill and Restart
}

// QuireOptions says how to start one quire serve.
type QuireOptions struct {
	Bin     string // the quire binary
	DBType  string // "embedded" or "cassandra"
	CasAddr string // the Cassandra node, for DBType "cassandra"
	// CasPoints, if set, are the connect points instead of CasAddr (a
	// cluster), and CasStore replaces the single node's placement
	// (SimpleStrategy, RF 1) with its own [store] lines: strategy, data
	// centers, replication factors, consistency levels.
	CasPoints []string
	CasStore  string
	Users     int    // user1..N@bench.test are created with Password
	Dir       string // config, data and log go here
	MaxConns  int    // IMAP connection limits (total, per user, per IP); 0 keeps quire's defaults

	// For several access hosts on one Cassandra (bench/checker): the
	// host's loopback address (default 127.0.0.1), its server.hostname,
	// the store affinity groups and the notifier's address and secret.
	// KeepKeyspaces skips dropping the bench keyspaces (all hosts but the
	// first). Env is added to the server's environment.
	IP, Hostname  string
	Groups        map[string][]string
	Notify        string
	Secret        string
	Recheck       string // imap.recheck, e.g. "30s"; "" keeps the default
	KeepKeyspaces bool
	Env           []string
	// Extra is added to the end of the config (whole tables, such as
	// [isc] and [search]).
	Extra string
	// Argon2id gives the users the argon2id hash of "quire user add
	// --password" (64 MiB, t=3, p=2) instead of {PLAIN}, for bench/login.
	Argon2id bool
}

// Keyspaces of the Cassandra target: bench-specific, so that a benchmark
// never touches the tests' data.
var benchKeyspaces = [3]string{"quirebench_meta", "quirebench_mbox", "quirebench_cache"}

// BenchKeyspaces returns the keyspaces of the Cassandra targets: metadata,
// messages, cache.
func BenchKeyspaces() []string { k := benchKeyspaces; return k[:] }

const quireConfig = `# Written by bench/internal/benchkit.
[store]
dbtype = %q
datadir = %q
%s
[lmtp]
listen = [%q]

[imap]
listen = [%q]
allow_plaintext = true
%s
[pop3]
listen = [%q]
allow_plaintext = true

[http]
listen = [%q]
admin_token_file = %q
%s`

// StartQuire writes a config into o.Dir, creates the bench users and starts
// quire serve with LMTP, IMAP, POP3 and HTTP on free ports of 127.0.0.1. A
// Cassandra target starts from freshly dropped quirebench_* keyspaces.
func StartQuire(ctx context.Context, o QuireOptions, cl *Cleanups) (*Target, error) {
	if _, err := os.Stat(o.Bin); err != nil {
		return nil, fmt.Errorf("%s not found: run make build", o.Bin)
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, err
	}
	t := &Target{}
	ip := o.IP
	if ip == "" {
		ip = "127.0.0.1"
	}
	for _, p := range []*string{&t.LMTP, &t.IMAP, &t.POP3, &t.HTTP} {
		a, err := FreeAddrOn(ip)
		if err != nil {
			return nil, err
		}
		*p = a
	}
	cas := ""
	if o.DBType == "cassandra" {
		points := o.CasPoints
		if len(points) == 0 {
			points = []string{o.CasAddr}
		}
		place := o.CasStore
		if place == "" {
			place = "casreplicationstrategy = \"SimpleStrategy\"\ncasmetarf = 1\ncasmsgrf = 1\ncascacherf = 1\n"
		}
		q := make([]string, len(points))
		for i, p := range points {
			q[i] = strconv.Quote(p)
		}
		cas = fmt.Sprintf("casconnectpoints = [%s]\ncasmetakeyspace = %q\ncasmsgkeyspace = %q\ncascachekeyspace = %q\n%s",
			strings.Join(q, ", "), benchKeyspaces[0], benchKeyspaces[1], benchKeyspaces[2], place)
		if !o.KeepKeyspaces {
			if err := dropKeyspaces(points...); err != nil {
				return nil, err
			}
		}
	}
	limits := ""
	if o.MaxConns > 0 {
		limits = fmt.Sprintf("max_connections = %d\nmax_connections_per_user = %d\nmax_connections_per_ip = %d\n",
			o.MaxConns, o.MaxConns, o.MaxConns)
	}
	if o.Recheck != "" {
		limits += fmt.Sprintf("recheck = %q\n", o.Recheck)
	}
	extra := ""
	if o.Hostname != "" {
		extra += fmt.Sprintf("\n[server]\nhostname = %q\n", o.Hostname)
	}
	if o.Notify != "" {
		extra += fmt.Sprintf("\n[notify]\nlisten = [%q]\nsecret = %q\n", o.Notify, o.Secret)
	}
	if len(o.Groups) > 0 {
		extra += "\n[store.storehostlist]\n"
		for g, hosts := range o.Groups {
			q := make([]string, len(hosts))
			for i, h := range hosts {
				q[i] = strconv.Quote(h)
			}
			extra += fmt.Sprintf("%s = [%s]\n", strconv.Quote(g), strings.Join(q, ", "))
		}
	}
	extra += o.Extra
	conf := filepath.Join(o.Dir, "quire.toml")
	t.TokenFile = filepath.Join(o.Dir, "admin.token")
	body := fmt.Sprintf(quireConfig, o.DBType, filepath.Join(o.Dir, "data"), cas, t.LMTP, t.IMAP, limits, t.POP3, t.HTTP, t.TokenFile, extra)
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return nil, err
	}
	if err := quireCmd(ctx, o.Bin, "config", "check", "--config", conf); err != nil {
		return nil, err
	}
	if o.DBType == "cassandra" {
		if err := quireCmd(ctx, o.Bin, "init", "--config", conf); err != nil {
			return nil, err
		}
	}
	for i := 1; i <= o.Users; i++ {
		// A {PLAIN} hash keeps LOGIN as cheap as Dovecot's passwd-file with
		// scheme=PLAIN, so that logins measure the servers, not the KDF.
		pw := []string{"--password-hash", "{PLAIN}" + Password}
		if o.Argon2id {
			pw = []string{"--password", Password}
		}
		if err := quireCmd(ctx, o.Bin, append(append([]string{"user", "add", User(i)}, pw...), "--config", conf)...); err != nil {
			return nil, err
		}
	}
	t.proc = &process{bin: o.Bin, conf: conf, log: filepath.Join(o.Dir, "serve.log"), env: o.Env, wait: []string{t.LMTP, t.IMAP, t.POP3}}
	if err := t.proc.start(ctx); err != nil {
		return nil, err
	}
	t.PID, t.LogFile = t.proc.cmd.Process.Pid, t.proc.log
	cl.Add(t.proc.stop)
	return t, nil
}

// AdminRequest makes a request for path on quire's http.listen address
// with the admin token, which everything there but /healthz and /readyz
// requires (the profiler, the statistics, /debug/memory/free). The server
// writes a new token at every start, to TokenFile, so it is read each
// time.
func (t *Target) AdminRequest(ctx context.Context, method, path string) (*http.Request, error) {
	if t.HTTP == "" || t.TokenFile == "" {
		return nil, errors.New("not a quire target: no admin HTTP address")
	}
	tok, err := os.ReadFile(t.TokenFile)
	if err != nil {
		return nil, fmt.Errorf("quire's admin token: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+t.HTTP+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	return req, nil
}

// Kill stops a quire target with SIGKILL, as a crash would.
func (t *Target) Kill() error {
	if t.proc == nil {
		return errors.New("only a quire target can be killed")
	}
	t.proc.kill()
	return nil
}

// Restart starts a killed quire target again with the same config and
// waits until it listens.
func (t *Target) Restart(ctx context.Context) error {
	if t.proc == nil {
		return errors.New("only a quire target can be restarted")
	}
	if err := t.proc.start(ctx); err != nil {
		return err
	}
	t.PID = t.proc.cmd.Process.Pid
	return nil
}

// process is one quire serve and its log.
type process struct {
	bin, conf, log string
	cmdName        string // "serve" (default) or "proxy"
	env            []string
	wait           []string // addresses it must accept on before it counts as started
	cmd            *exec.Cmd
	exited         chan struct{}
}

func (p *process) start(ctx context.Context) error {
	logf, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	name := p.cmdName
	if name == "" {
		name = "serve"
	}
	cmd := exec.Command(p.bin, name, "--config", p.conf)
	cmd.Env = append(os.Environ(), p.env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // Ctrl-C is ours to handle
	if err := cmd.Start(); err != nil {
		logf.Close()
		return err
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited); logf.Close() }()
	p.cmd, p.exited = cmd, exited
	for _, a := range p.wait {
		if err := WaitPort(ctx, a, 120*time.Second, exited); err != nil {
			log, _ := os.ReadFile(p.log)
			p.kill()
			return fmt.Errorf("quire %s: %w; its output:\n%s", name, err, Tail(log, 4000))
		}
	}
	return nil
}

func (p *process) stop() {
	if p.cmd != nil {
		stopProcess(p.cmd, p.exited)
	}
}

func (p *process) kill() {
	if p.cmd == nil {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.exited
	p.cmd = nil
}

// quireCmd runs one admin command of the quire binary.
func quireCmd(ctx context.Context, bin string, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("quire %s: %w: %s\nits output:\n%s", strings.Join(args, " "), err, lastLine(out), Tail(out, 4000))
	}
	return nil
}

// dropKeyspaces gives the Cassandra target a fresh start.
func dropKeyspaces(addr ...string) error {
	c := gocql.NewCluster(addr...)
	c.Timeout, c.ConnectTimeout = 60*time.Second, 20*time.Second
	s, err := c.CreateSession()
	if err != nil {
		return fmt.Errorf("cassandra %s: %w", addr, err)
	}
	defer s.Close()
	for _, ks := range benchKeyspaces {
		if err := s.Query("DROP KEYSPACE IF EXISTS " + ks).Exec(); err != nil {
			return fmt.Errorf("drop keyspace %s: %w", ks, err)
		}
	}
	return nil
}

// CassandraAddr returns the node to use: $QUIRE_BENCH_CASSANDRA, the one
// scripts/cassandra.sh reports running, or one it starts (and stops at
// cleanup).
func CassandraAddr(root string, cl *Cleanups) (string, error) {
	if a := os.Getenv("QUIRE_BENCH_CASSANDRA"); a != "" {
		return a, nil
	}
	port := os.Getenv("CASSANDRA_PORT")
	if port == "" {
		port = "9042"
	}
	addr := "127.0.0.1:" + port
	if Script(root, nil, "cassandra.sh", "status") == nil {
		return addr, nil
	}
	cl.Add(func() { _ = Script(root, nil, "cassandra.sh", "stop") })
	return addr, Script(root, nil, "cassandra.sh", "start")
}

// OpenSearchURL returns the search engine to use: $QUIRE_BENCH_OPENSEARCH,
// the node scripts/opensearch.sh reports running, or one it starts (and
// stops at cleanup).
func OpenSearchURL(root string, cl *Cleanups) (string, error) {
	if u := os.Getenv("QUIRE_BENCH_OPENSEARCH"); u != "" {
		return u, nil
	}
	u := "http://127.0.0.1:9200"
	if Script(root, nil, "opensearch.sh", "status") == nil {
		return u, nil
	}
	cl.Add(func() { _ = Script(root, nil, "opensearch.sh", "stop") })
	return u, Script(root, nil, "opensearch.sh", "start")
}

// DovecotPorts are the private Dovecot's ports on 127.0.0.1.
type DovecotPorts struct{ LMTP, IMAP, POP3 int }

// StartDovecot starts the private Dovecot of scripts/dovecot.sh with fresh
// maildirs, or uses the one already running (then its maildirs are not
// reset, and the report says so). extra is added to the script's
// environment (DOVECOT_FTS=xapian).
func StartDovecot(root string, p DovecotPorts, users int, cl *Cleanups, extra ...string) (*Target, error) {
	env := append([]string{fmt.Sprintf("DOVECOT_LMTP_PORT=%d", p.LMTP), fmt.Sprintf("DOVECOT_IMAP_PORT=%d", p.IMAP),
		fmt.Sprintf("DOVECOT_POP3_PORT=%d", p.POP3), fmt.Sprintf("DOVECOT_USERS=%d", users), "DOVECOT_PASSWORD=" + Password}, extra...)
	t := &Target{LMTP: fmt.Sprintf("127.0.0.1:%d", p.LMTP), IMAP: fmt.Sprintf("127.0.0.1:%d", p.IMAP),
		POP3: fmt.Sprintf("127.0.0.1:%d", p.POP3)}
	if Script(root, env, "dovecot.sh", "status") == nil {
		t.Note = "Dovecot was already running; its maildirs were not reset"
		return t, nil
	}
	if err := Script(root, env, "dovecot.sh", "clean"); err != nil {
		return nil, err
	}
	cl.Add(func() { _ = Script(root, env, "dovecot.sh", "stop") })
	return t, Script(root, env, "dovecot.sh", "start")
}

// TargetNames are the targets every benchmark knows, in report order.
var TargetNames = []string{"embedded", "cassandra", "dovecot"}

// Label is how reports name a target.
func Label(name string) string {
	switch name {
	case "embedded":
		return "quire (embedded)"
	case "cassandra":
		return "quire (cassandra)"
	case "dovecot":
		return "dovecot (maildir)"
	}
	return name
}

// ParseTargets splits a -targets flag and checks every name.
func ParseTargets(s string) ([]string, error) {
	var out []string
	for _, t := range strings.Split(s, ",") {
		t = strings.TrimSpace(t)
		if Label(t) == t {
			return nil, fmt.Errorf("-targets: unknown target %q (want %s)", t, strings.Join(TargetNames, ", "))
		}
		out = append(out, t)
	}
	return out, nil
}

// Setup is what starting a named target needs.
type Setup struct {
	Root, Bin, Tmp string // repository, quire binary, scratch directory
	Users          int
	Dovecot        DovecotPorts
	MaxConns       int // see QuireOptions
}

// Start starts the named target ("embedded", "cassandra" or "dovecot"),
// registering its shutdown with cl.
func (s Setup) Start(ctx context.Context, name string, cl *Cleanups) (*Target, error) {
	q := QuireOptions{Bin: s.Bin, DBType: name, Users: s.Users, Dir: filepath.Join(s.Tmp, name), MaxConns: s.MaxConns}
	switch name {
	case "dovecot":
		return StartDovecot(s.Root, s.Dovecot, s.Users, cl)
	case "embedded":
		return StartQuire(ctx, q, cl)
	case "cassandra":
		addr, err := CassandraAddr(s.Root, cl)
		if err != nil {
			return nil, err
		}
		q.CasAddr = addr
		return StartQuire(ctx, q, cl)
	}
	return nil, fmt.Errorf("unknown target %q", name)
}

// DovecotFlags registers the -dovecot-*-port flags on fs.
func DovecotFlags(fs *flag.FlagSet, p *DovecotPorts) {
	fs.IntVar(&p.LMTP, "dovecot-lmtp-port", 12424, "Dovecot's LMTP port on 127.0.0.1")
	fs.IntVar(&p.IMAP, "dovecot-imap-port", 12143, "Dovecot's IMAP port on 127.0.0.1")
	fs.IntVar(&p.POP3, "dovecot-pop3-port", 12110, "Dovecot's POP3 port on 127.0.0.1")
}

// GroupOptions says how to start several access hosts on one Cassandra.
type GroupOptions struct {
	Bin, CasAddr, Dir string
	CasPoints         []string // see QuireOptions
	CasStore          string
	Hosts, Users      int      // users are created through the first host
	Env               []string // added to every host's environment
	Recheck           string   // imap.recheck
	MaxConns          int
}

// StartGroup starts opts.Hosts quire processes on 127.0.0.2, .3, ... in one
// store affinity group, linked by the notifier, on fresh bench keyspaces.
func StartGroup(ctx context.Context, opts GroupOptions, cl *Cleanups) ([]*Target, error) {
	ips := make([]string, opts.Hosts)
	notify := make([]string, opts.Hosts)
	for i := range ips {
		ips[i] = fmt.Sprintf("127.0.0.%d", i+2)
		a, err := FreeAddrOn(ips[i])
		if err != nil {
			return nil, err
		}
		notify[i] = a
	}
	var hosts []*Target
	for i, ip := range ips {
		users := 0
		if i == 0 {
			users = opts.Users
		}
		t, err := StartQuire(ctx, QuireOptions{
			Bin: opts.Bin, DBType: "cassandra", CasAddr: opts.CasAddr, CasPoints: opts.CasPoints, CasStore: opts.CasStore,
			Users: users, Dir: filepath.Join(opts.Dir, ip),
			IP: ip, Hostname: ip, Groups: map[string][]string{"g": notify}, Notify: notify[i],
			Secret: "bench secret, the same on every host", Recheck: opts.Recheck, KeepKeyspaces: i > 0, Env: opts.Env,
			MaxConns: opts.MaxConns,
		}, cl)
		if err != nil {
			return nil, fmt.Errorf("host %s: %w", ip, err)
		}
		hosts = append(hosts, t)
	}
	return hosts, nil
}

const proxyConfig = `# Written by bench/internal/benchkit.
[server]
hostname = "bench-proxy"
[log]
level = "warn"
[store]
dbtype = "cassandra"
casconnectpoints = [%q]
casmetakeyspace = %q
casmsgkeyspace = %q
cascachekeyspace = %q
casreplicationstrategy = "SimpleStrategy"
casmetarf = 1
casmsgrf = 1
cascacherf = 1
[store.storehostlist]
g = [%q]
[proxy]
default_group = "g"
imap_port = %s
pop3_port = %s
lmtp_port = %s
[imap]
listen = [%q]
allow_plaintext = true
[pop3]
listen = [%q]
allow_plaintext = true
[lmtp]
listen = [%q]
[http]
listen = [%q]
admin_token_file = %q
`

// StartProxy starts quire proxy in front of host, a Cassandra target's
// one access host on the bench keyspaces at casAddr: the host is the only
// member of the proxy's one group, which serves the bench users (they
// have no mailHost). The Target's addresses are the proxy's; its PID is
// the proxy's.
func StartProxy(ctx context.Context, bin, dir, casAddr string, host *Target, cl *Cleanups) (*Target, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ip, imapPort, _ := net.SplitHostPort(host.IMAP)
	_, pop3Port, _ := net.SplitHostPort(host.POP3)
	_, lmtpPort, _ := net.SplitHostPort(host.LMTP)
	t := &Target{}
	for _, p := range []*string{&t.LMTP, &t.IMAP, &t.POP3, &t.HTTP} {
		a, err := FreeAddrOn("127.0.0.1")
		if err != nil {
			return nil, err
		}
		*p = a
	}
	conf := filepath.Join(dir, "proxy.toml")
	body := fmt.Sprintf(proxyConfig, casAddr, benchKeyspaces[0], benchKeyspaces[1], benchKeyspaces[2], ip,
		imapPort, pop3Port, lmtpPort, t.IMAP, t.POP3, t.LMTP, t.HTTP, filepath.Join(dir, "admin.token"))
	t.TokenFile = filepath.Join(dir, "admin.token")
	if err := os.WriteFile(conf, []byte(body), 0o644); err != nil {
		return nil, err
	}
	t.proc = &process{bin: bin, conf: conf, log: filepath.Join(dir, "proxy.log"), cmdName: "proxy", wait: []string{t.LMTP, t.IMAP, t.POP3}}
	if err := t.proc.start(ctx); err != nil {
		return nil, err
	}
	t.PID, t.LogFile = t.proc.cmd.Process.Pid, t.proc.log
	cl.Add(t.proc.stop)
	return t, nil
}
