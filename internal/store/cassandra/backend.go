package cassandra

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
	"github.com/klauspost/compress/zstd"

	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/supervise"
)

// Backend is the Cassandra store.Backend. It is safe for concurrent use;
// any number of Backends, in any number of processes, may share a cluster.
type Backend struct {
	opts   Options
	log    *slog.Logger
	meta   *gocql.Session // ms_mbox
	msg    *gocql.Session // ms_msg
	cache  *gocql.Session // ms_cache
	owned  []*gocql.Session
	q      statements
	serial gocql.Consistency
	lwts   atomic.Int64                     // conditional writes run (LWTs)
	spec   gocql.SpeculativeExecutionPolicy // of idempotent queries: see speculativeDelay
	read   *fallback
	write  *fallback
	del    *fallback
	enc    *zstd.Encoder
	dec    *zstd.Decoder
	heads  headCache
	mats   matQueue              // background materializations, in commit order per mailbox
	locks  [256]sync.Mutex       // commit locks, by hash of mailbox id
	bg     sync.WaitGroup        // background writes; Close waits for them
	sup    *supervise.Supervisor // a panic in a fan-out goroutine fails its request, logged and counted
	once   sync.Once

	fault faults // the fault injector: empty in production (faults_off.go)

	// watch, if set, is told of every query and batch sent (its context,
	// start and end): the round-trip count of round_trips_test.go.
	watch atomic.Pointer[func(ctx context.Context, start, end time.Time)]
}

var _ store.Backend = (*Backend)(nil)

// Panics returns the number of panics recovered in the backend's fan-out
// goroutines (each logged with its stack; its request failed).
func (b *Backend) Panics() int64 { return b.sup.Panics() }

// Open connects to the cluster(s), creates the keyspaces, tables and
// columns that are missing (the statements of SchemaCQL), and waits for
// schema agreement.
func Open(ctx context.Context, o Options) (*Backend, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	b := &Backend{opts: o, log: o.Logger, sup: supervise.New(supervise.Options{Logger: o.Logger})}
	b.serial = gocql.ParseConsistency(o.SerialConsistency)
	b.spec = &gocql.SimpleSpeculativeExecution{NumAttempts: 1, TimeoutDelay: speculativeDelay(o.RequestTimeout)}
	lv := func(class, p, s string) *fallback {
		pc, _ := consistency(p)
		sc, _ := consistency(s)
		return newFallback(class, pc, sc, o.FallbackBackoffMin, o.FallbackBackoffMax, time.Now, o.Logger)
	}
	rp, _ := consistency(o.ReadConsistency)
	rs, _ := consistency(o.ReadFallback)
	b.read = newPerQueryFallback("read", rp, rs, time.Now, o.Logger)
	b.write = lv("write", o.WriteConsistency, o.WriteFallback)
	b.del = lv("delete", o.DeleteConsistency, o.DeleteFallback)
	b.heads.init(1 << 16)

	sessions := map[string]*gocql.Session{}
	session := func(k *KeyspaceOptions) (*gocql.Session, error) {
		pts := slices.Clone(k.ConnectPoints)
		slices.Sort(pts)
		user, password, _ := b.opts.credentials(k)
		t, _ := b.opts.keyspaceTLS(k)
		key := strings.Join([]string{strings.Join(pts, ","), k.DataCenter, user, password,
			fmt.Sprint(t.Enable), t.CAFile, t.CertFile, t.KeyFile, t.Verify}, "\x00")
		if s, ok := sessions[key]; ok {
			return s, nil
		}
		s, err := b.newSession(k)
		if err != nil {
			return nil, err
		}
		sessions[key] = s
		b.owned = append(b.owned, s)
		return s, nil
	}
	fail := func(err error) (*Backend, error) {
		for _, s := range b.owned {
			s.Close()
		}
		return nil, err
	}
	bySession := map[*KeyspaceOptions]*gocql.Session{}
	for _, k := range []*KeyspaceOptions{&b.opts.Meta, &b.opts.Msg, &b.opts.Cache} {
		s, err := session(k)
		if err != nil {
			return fail(err)
		}
		bySession[k] = s
	}
	b.meta, b.msg, b.cache = bySession[&b.opts.Meta], bySession[&b.opts.Msg], bySession[&b.opts.Cache]
	for _, d := range schema(&b.opts) {
		if err := bySession[d.ks].Query(d.stmt).ExecContext(ctx); err != nil {
			return fail(wrap("create schema: "+firstWords(d.stmt, 6), gocql.All, err))
		}
	}
	for _, s := range b.owned {
		if err := s.AwaitSchemaAgreement(ctx); err != nil {
			return fail(wrap("wait for schema agreement", gocql.All, err))
		}
	}
	b.q = newStatements(b.opts.Meta.Name, b.opts.Msg.Name, b.opts.Cache.Name)
	b.enc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	b.dec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(0), zstd.WithDecoderMaxMemory(2*maxChunkSize))
	return b, nil
}

// commitLock returns the lock that serializes this host's commits to a
// mailbox: its goroutines queue instead of colliding in Paxos, and the
// losers of a race see the new head in the cache and fail without a round
// trip.
func (b *Backend) commitLock(mailboxID string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(mailboxID))
	return &b.locks[h.Sum32()%uint32(len(b.locks))]
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	return strings.Join(f[:min(n, len(f))], " ")
}

func (b *Backend) newSession(k *KeyspaceOptions) (*gocql.Session, error) {
	o := &b.opts
	c := gocql.NewCluster(k.ConnectPoints...)
	c.Timeout = o.RequestTimeout
	c.ConnectTimeout = o.ConnectTimeout
	c.Consistency = gocql.ParseConsistency(o.ReadConsistency)
	c.SerialConsistency = gocql.ParseConsistency(o.SerialConsistency)
	c.PageSize = o.PageSize
	c.RetryPolicy = &retryPolicy{n: o.Retries, min: 20 * time.Millisecond, max: time.Second}
	c.Logger = slogAdapter{b.log}
	var local gocql.HostSelectionPolicy = gocql.RoundRobinHostPolicy()
	if k.DataCenter != "" {
		local = gocql.DCAwareRoundRobinPolicy(k.DataCenter)
	}
	c.PoolConfig.HostSelectionPolicy = gocql.TokenAwareHostPolicy(local, gocql.ShuffleReplicas())
	if user, password, _ := o.credentials(k); user != "" {
		c.Authenticator = gocql.PasswordAuthenticator{Username: user, Password: password}
	}
	conns := newConnectErrors(o, k, b.log)
	dialer := &hostDialer{net: net.Dialer{Timeout: o.ConnectTimeout}, errs: conns}
	if t, key := o.keyspaceTLS(k); t.Enable {
		cfg, err := tlsConfig(t, key)
		if err != nil {
			return nil, err
		}
		dialer.tls = cfg
	}
	c.HostDialer, c.ConnectObserver = dialer, conns
	obs := observer{b: b, slow: slowLog{log: b.log, min: o.SlowQuery}}
	c.QueryObserver, c.BatchObserver = obs, obs
	s, err := c.CreateSession()
	if err != nil {
		if e := conns.explain(); e != nil {
			return nil, e
		}
		return nil, wrap(fmt.Sprintf("connect to %s (keyspace %s)", strings.Join(k.ConnectPoints, ","), k.Name), gocql.One, err)
	}
	conns.open()
	return s, nil
}

// Close closes the sessions. It must be called once.
func (b *Backend) Close() error {
	b.once.Do(func() {
		b.bg.Wait()
		for _, s := range b.owned {
			s.Close()
		}
		b.dec.Close()
	})
	return nil
}

// do runs one attempt of fn at the class's level for it, raised by lv
// (asIs, or durable for a write that must reach a quorum). If that attempt,
// made at the primary level, was refused for lack of replicas and retry(err)
// allows, it runs fn once more at the fallback level (raised by lv), unless
// that is the same level. Any other failure (a timeout above all) is
// returned as it is: its outcome is unknown, and a lower level would not
// tell. The error is wrapped for op.
func (b *Backend) do(ctx context.Context, f *fallback, op string, lv func(gocql.Consistency) gocql.Consistency, retry func(error) bool, fn func(gocql.Consistency) error) error {
	a := f.pick()
	a.c = lv(a.c)
	err := fn(a.c)
	unavail := err != nil && lacksReplicas(err)
	if err == gocql.ErrNotFound {
		f.report(a, false, nil)
	} else {
		f.report(a, unavail, err)
	}
	c := a.c
	if s := lv(f.secondary); unavail && f.hasSecondary && c == f.primary && s != c && retry(err) && ctx.Err() == nil {
		c = s
		err = fn(c)
	}
	return wrap(op, c, err)
}

func always(error) bool { return true }

// sent describes one statement or batch on its way to the cluster. Every
// statement the backend runs after Open goes through send: it is where a
// quirefaults build injects the faults of the path to the cluster (lost
// replies, timeouts, unavailable replicas; faults_on.go).
type sent struct {
	stmt  string // the statement, or a batch's first
	c     gocql.Consistency
	cas   bool         // a conditional write (a lightweight transaction)
	batch *gocql.Batch // the batch, if it is one
}

// send runs one statement or batch: run sends it and returns whether a
// conditional write applied (false for the others) and its error. A
// failure, injected ones included, is told to the Observer by kind.
func (b *Backend) send(ctx context.Context, s sent, run func() (bool, error)) (bool, error) {
	applied, err := b.fault.send(ctx, b, s, run)
	if err != nil && b.opts.Observer != nil {
		if kind := errorKind(err); kind != "" {
			b.opts.Observer.Failed(b.keyspaceOf(s.stmt), kind)
		}
	}
	return applied, err
}

// keyspaceOf names the keyspace a statement goes to: every statement
// names its table with the keyspace (statements.go), and the names
// differ (withDefaults).
func (b *Backend) keyspaceOf(stmt string) string {
	for _, k := range []*KeyspaceOptions{&b.opts.Meta, &b.opts.Msg, &b.opts.Cache} {
		if strings.Contains(stmt, " "+k.Name+".") {
			return k.Name
		}
	}
	return ""
}

// sendErr is send for a statement that is not conditional.
func (b *Backend) sendErr(ctx context.Context, stmt string, c gocql.Consistency, run func() error) error {
	_, err := b.send(ctx, sent{stmt: stmt, c: c}, func() (bool, error) { return false, run() })
	return err
}

// asIs is the level of a query that may run at its class's fallback level.
func asIs(c gocql.Consistency) gocql.Consistency { return c }

// durable raises a level that one replica meets (ONE, LOCAL_ONE) to the
// quorum of the serial level (LOCAL_QUORUM for LOCAL_SERIAL, QUORUM for
// SERIAL), for the writes that a commit consists of or that snapshot reads
// combine: the Paxos commit itself, bodies and spilled metadata written
// before it, materialized rows, watermarks and bucket pointers. Written
// below a quorum, a later quorum read need not see them (a head from one
// replica, the rows of another), and an acknowledged message would live on
// one disk. Their fallback below a quorum gains no availability either: a
// commit needs a quorum for its Paxos round at any level. A fallback that
// is a quorum itself (EACH_QUORUM to LOCAL_QUORUM) is kept.
func (b *Backend) durable(c gocql.Consistency) gocql.Consistency {
	switch c {
	case gocql.One, gocql.LocalOne, gocql.Any:
		if b.serial == gocql.Serial {
			return gocql.Quorum
		}
		return gocql.LocalQuorum
	}
	return c
}

// exec runs an idempotent write or delete, at the class's fallback level
// if need be.
func (b *Backend) exec(ctx context.Context, s *gocql.Session, f *fallback, op, stmt string, args ...any) error {
	return b.execAt(ctx, s, f, asIs, op, stmt, args...)
}

// execDurable runs an idempotent write at the write class's level, never
// below a quorum (see durable).
func (b *Backend) execDurable(ctx context.Context, s *gocql.Session, op, stmt string, args ...any) error {
	return b.execAt(ctx, s, b.write, b.durable, op, stmt, args...)
}

func (b *Backend) execAt(ctx context.Context, s *gocql.Session, f *fallback, lv func(gocql.Consistency) gocql.Consistency, op, stmt string, args ...any) error {
	return b.do(ctx, f, op, lv, always, func(c gocql.Consistency) error {
		return b.sendErr(ctx, stmt, c, func() error {
			return s.Query(stmt, args...).Consistency(c).Idempotent(true).SetSpeculativeExecutionPolicy(b.spec).ExecContext(ctx)
		})
	})
}

// speculativeDelay is how long an idempotent query waits for its
// coordinator before the driver sends it to the next host as well (the
// first answer wins): a tenth of the request timeout, at least 50 ms. A
// node that is alive but silent (paused, partitioned, in a long GC) keeps
// its connections open, so without it every query routed to that node
// waits out the whole request timeout until the failure detector marks
// the node down (docs/BENCHMARKS.md, "Node loss": the partition scenario).
// Conditional writes are not idempotent and are never sent twice.
func speculativeDelay(requestTimeout time.Duration) time.Duration {
	return max(requestTimeout/10, 50*time.Millisecond)
}

// get reads one row into dest; it reports false if there is none.
func (b *Backend) get(ctx context.Context, s *gocql.Session, op, stmt string, args []any, dest ...any) (bool, error) {
	err := b.do(ctx, b.read, op, asIs, always, func(c gocql.Consistency) error {
		return b.sendErr(ctx, stmt, c, func() error {
			return s.Query(stmt, args...).Consistency(c).Idempotent(true).SetSpeculativeExecutionPolicy(b.spec).ScanContext(ctx, dest...)
		})
	})
	if err == gocql.ErrNotFound {
		return false, nil
	}
	return err == nil, err
}

// scan reads rows, calling row for each with the iterator's scanner. A
// failure before the first row is delivered may fall back and restart;
// reset is called before each attempt.
func (b *Backend) scan(ctx context.Context, s *gocql.Session, op, stmt string, args []any, reset func(), row func(gocql.Scanner) error) error {
	return b.scanAt(ctx, s, op, stmt, args, reset, false, row)
}

// scanAt is scan, or, if strict, a scan at the read level raised to a
// quorum (durable) and never its fallback: a listing whose every row must
// be seen, one a deletion trusts, reads what every quorum write wrote.
func (b *Backend) scanAt(ctx context.Context, s *gocql.Session, op, stmt string, args []any, reset func(), strict bool, row func(gocql.Scanner) error) error {
	started := false
	lv := asIs
	if strict {
		lv = b.durable
	}
	return b.do(ctx, b.read, op, lv, func(error) bool { return !strict && !started }, func(c gocql.Consistency) error {
		if reset != nil {
			reset()
		}
		return b.sendErr(ctx, stmt, c, func() error {
			it := s.Query(stmt, args...).Consistency(c).Idempotent(true).SetSpeculativeExecutionPolicy(b.spec).IterContext(ctx)
			sc := it.Scanner()
			for sc.Next() {
				started = true
				if err := row(sc); err != nil {
					_ = it.Close()
					return err
				}
			}
			return sc.Err()
		})
	})
}

// slogAdapter routes gocql's logs to slog; its Info is our Debug.
type slogAdapter struct{ l *slog.Logger }

func (a slogAdapter) attrs(fs []gocql.LogField) []any {
	out := make([]any, 0, 2*len(fs)+2)
	out = append(out, "component", "gocql")
	for _, f := range fs {
		out = append(out, f.Name, f.Value.Any())
	}
	return out
}
func (a slogAdapter) Error(msg string, fs ...gocql.LogField)   { a.l.Error(msg, a.attrs(fs)...) }
func (a slogAdapter) Warning(msg string, fs ...gocql.LogField) { a.l.Warn(msg, a.attrs(fs)...) }
func (a slogAdapter) Info(msg string, fs ...gocql.LogField)    { a.l.Debug(msg, a.attrs(fs)...) }
func (a slogAdapter) Debug(msg string, fs ...gocql.LogField)   { a.l.Debug(msg, a.attrs(fs)...) }

// observer logs slow queries and batches (SlowQuery) and tells b.watch of
// each, if set.
type observer struct {
	b    *Backend
	slow slowLog
}

func (o observer) ObserveQuery(ctx context.Context, q gocql.ObservedQuery) {
	if o.slow.min > 0 {
		o.slow.ObserveQuery(ctx, q)
	}
	if m := o.b.opts.Observer; m != nil {
		m.Request(false, q.End.Sub(q.Start), q.Err)
	}
	if w := o.b.watch.Load(); w != nil {
		(*w)(ctx, q.Start, q.End)
	}
}

func (o observer) ObserveBatch(ctx context.Context, q gocql.ObservedBatch) {
	if o.slow.min > 0 {
		o.slow.ObserveBatch(ctx, q)
	}
	if m := o.b.opts.Observer; m != nil {
		m.Request(true, q.End.Sub(q.Start), q.Err)
	}
	if w := o.b.watch.Load(); w != nil {
		(*w)(ctx, q.Start, q.End)
	}
}

// background marks ctx as a write nobody waits for (the watermark after a
// commit, materialization): the round-trip count leaves it off the
// critical path.
func background(ctx context.Context) context.Context {
	return context.WithValue(ctx, backgroundKey{}, true)
}

type backgroundKey struct{}

func isBackground(ctx context.Context) bool { return ctx.Value(backgroundKey{}) != nil }

// slowLog logs every query and batch slower than min, with its statement.
type slowLog struct {
	log *slog.Logger
	min time.Duration
}

func (s slowLog) ObserveQuery(_ context.Context, q gocql.ObservedQuery) {
	if d := q.End.Sub(q.Start); d >= s.min {
		s.log.Warn("cassandra: slow query", "statement", q.Statement, "latency", d, "host", hostOf(q.Host),
			"attempt", q.Attempt, "rows", q.Rows, "err", q.Err)
	}
}

func (s slowLog) ObserveBatch(_ context.Context, q gocql.ObservedBatch) {
	if d := q.End.Sub(q.Start); d >= s.min && len(q.Statements) > 0 {
		s.log.Warn("cassandra: slow batch", "statement", q.Statements[0], "statements", len(q.Statements),
			"latency", d, "host", hostOf(q.Host), "attempt", q.Attempt, "err", q.Err)
	}
}

func hostOf(h *gocql.HostInfo) string {
	if h == nil {
		return ""
	}
	return h.ConnectAddress().String()
}
