package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Commands counts one protocol's commands and authenticated sessions. It
// is the imapserver.Observer and the pop3server.Observer.
type Commands struct {
	byName   map[string]*command // read-only after NewCommands
	other    *command
	statuses []string // the protocol's status words, in the order of command.results
	sessions prometheus.Gauge
}

// command holds one command name's pre-resolved children: a counter per
// result (the statuses, then "other") and its latency histogram.
type command struct {
	results []prometheus.Counter
	latency prometheus.Observer
}

// Status maps a protocol's status word to the result label.
type Status struct{ Word, Label string }

// IMAPStatuses are the tagged replies of RFC 9051 7.1, and "" for a
// command that sent none (the connection closed, or a panic's BYE).
func IMAPStatuses() []Status {
	return []Status{{"OK", "ok"}, {"NO", "no"}, {"BAD", "bad"}, {"", "none"}}
}

// POP3Statuses are the replies of RFC 1939 3.
func POP3Statuses() []Status { return []Status{{"+OK", "ok"}, {"-ERR", "err"}, {"", "none"}} }

// NewCommands registers quire_<protocol>_commands_total{command,result},
// quire_<protocol>_command_duration_seconds{command} and
// quire_sessions{protocol} for the given command names; any other name is
// counted as "other".
func NewCommands(r *Registry, protocol string, names []string, statuses []Status) *Commands {
	total := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quire_" + protocol + "_commands_total",
		Help: "Commands run, by command name and result.",
	}, []string{"command", "result"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "quire_" + protocol + "_command_duration_seconds",
		Help:    "Time from reading a command to its reply (IDLE: the time idle).",
		Buckets: latencyBuckets(),
	}, []string{"command"})
	sessions := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "quire_sessions",
		Help:        "Authenticated sessions now, by protocol.",
		ConstLabels: prometheus.Labels{"protocol": protocol},
	})
	r.Register(total, dur, sessions)
	c := &Commands{byName: make(map[string]*command, len(names)), sessions: sessions}
	for _, s := range statuses {
		c.statuses = append(c.statuses, s.Word)
	}
	resolve := func(name string) *command {
		cmd := &command{latency: dur.WithLabelValues(name)}
		for _, s := range statuses {
			cmd.results = append(cmd.results, total.WithLabelValues(name, s.Label))
		}
		cmd.results = append(cmd.results, total.WithLabelValues(name, "other"))
		return cmd
	}
	for _, n := range names {
		c.byName[n] = resolve(n)
	}
	c.other = resolve("other")
	return c
}

// Command counts one command.
func (c *Commands) Command(name, status string, d time.Duration) {
	cmd := c.byName[name]
	if cmd == nil {
		cmd = c.other
	}
	i := 0
	for i < len(c.statuses) && c.statuses[i] != status {
		i++
	}
	cmd.results[i].Inc()
	cmd.latency.Observe(d.Seconds())
}

// Session moves the authenticated-sessions gauge.
func (c *Commands) Session(delta int) { c.sessions.Add(float64(delta)) }

// Deliveries counts LMTP replies per recipient, to RCPT and at the end of
// the data: it is the lmtpserver.Observer.
type Deliveries struct {
	classes    [4]prometheus.Counter // 2xx, 4xx, 5xx, other
	latency    prometheus.Observer
	recipients map[string]prometheus.Counter // by RCPT reply code; read-only after NewDeliveries
	rcptOther  prometheus.Counter
}

// rcptResults are the result labels of quire_lmtp_recipients_total, by
// the RCPT reply codes lmtpserver sends (its package doc's table); any
// other code is "other".
func rcptResults() map[string]string {
	return map[string]string{
		"250": "accepted",
		"550": "unknown_user", // 5.1.1
		"451": "temp_failure", // 4.3.0: the lookup failed
		"452": "too_many",     // 4.5.3: over lmtp.max_recipients
		"501": "syntax",       // 5.5.4, 5.1.3
		"555": "syntax",       // 5.5.4: a parameter
		"503": "bad_sequence", // 5.5.1: before MAIL, or during BDAT
	}
}

// NewDeliveries registers quire_lmtp_deliveries_total{class},
// quire_lmtp_delivery_duration_seconds and
// quire_lmtp_recipients_total{result}.
func NewDeliveries(r *Registry) *Deliveries {
	total := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quire_lmtp_deliveries_total",
		Help: "Recipients' replies at the end of DATA or BDAT LAST, by reply class (2xx delivered, 4xx try again, 5xx refused).",
	}, []string{"class"})
	dur := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "quire_lmtp_delivery_duration_seconds",
		Help:    "Time from DATA (or the first BDAT) to the replies, the message's transfer included.",
		Buckets: latencyBuckets(),
	})
	rcpts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quire_lmtp_recipients_total",
		Help: "Replies to RCPT, by result (accepted, unknown_user, temp_failure, too_many, syntax, bad_sequence, other).",
	}, []string{"result"})
	r.Register(total, dur, rcpts)
	d := &Deliveries{latency: dur, recipients: map[string]prometheus.Counter{}, rcptOther: rcpts.WithLabelValues("other")}
	for i, l := range []string{"2xx", "4xx", "5xx", "other"} {
		d.classes[i] = total.WithLabelValues(l)
	}
	for code, result := range rcptResults() {
		d.recipients[code] = rcpts.WithLabelValues(result)
	}
	return d
}

// Recipient counts one reply to RCPT.
func (d *Deliveries) Recipient(code string) {
	c := d.recipients[code]
	if c == nil {
		c = d.rcptOther
	}
	c.Inc()
}

// Delivery counts one recipient's reply.
func (d *Deliveries) Delivery(code string, took time.Duration) {
	d.classes[replyClass(code)].Inc()
	d.latency.Observe(took.Seconds())
}

// replyClass is the index of an SMTP/LMTP reply code's class among 2xx,
// 4xx, 5xx and other (RFC 5321 4.2.1: the first digit).
func replyClass(code string) int {
	if code != "" {
		switch code[0] {
		case '2':
			return 0
		case '4':
			return 1
		case '5':
			return 2
		}
	}
	return 3
}

// Cassandra counts the driver's requests and the statements that failed:
// it is the cassandra.Observer. Every query or batch is a round trip; its
// errors are the driver's.
type Cassandra struct {
	results [2][2]prometheus.Counter // [batch][failed]
	latency [2]prometheus.Observer   // [batch]
	// errs holds quire_cassandra_errors_total's children by keyspace and
	// kind, read-only after NewCassandra; errVec makes the rare one of
	// a name outside the given sets, under "other".
	errs   map[[2]string]prometheus.Counter
	errVec *prometheus.CounterVec
}

// NewCassandra registers quire_cassandra_requests_total{kind,result},
// quire_cassandra_request_duration_seconds{kind} and
// quire_cassandra_errors_total{keyspace,kind}, the latter for the given
// keyspaces (the configured names) and error kinds
// (cassandra.ErrorKinds).
func NewCassandra(r *Registry, keyspaces, errorKinds []string) *Cassandra {
	total := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quire_cassandra_requests_total",
		Help: "Queries and batches sent (round trips, each attempt), by kind and result.",
	}, []string{"kind", "result"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "quire_cassandra_request_duration_seconds",
		Help:    "Latency of the driver's queries and batches, each attempt.",
		Buckets: latencyBuckets(),
	}, []string{"kind"})
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quire_cassandra_errors_total",
		Help: "Statements and batches that failed once the driver gave up (after its retries), by keyspace and kind of error.",
	}, []string{"keyspace", "kind"})
	r.Register(total, dur, errs)
	c := &Cassandra{errs: map[[2]string]prometheus.Counter{}, errVec: errs}
	for _, ks := range keyspaces {
		for _, kind := range errorKinds {
			c.errs[[2]string{ks, kind}] = errs.WithLabelValues(ks, kind)
		}
	}
	for b, kind := range []string{"query", "batch"} {
		c.results[b][0] = total.WithLabelValues(kind, "ok")
		c.results[b][1] = total.WithLabelValues(kind, "error")
		c.latency[b] = dur.WithLabelValues(kind)
	}
	return c
}

// Request counts one query or batch.
func (c *Cassandra) Request(batch bool, d time.Duration, err error) {
	b, f := 0, 0
	if batch {
		b = 1
	}
	if err != nil {
		f = 1
	}
	c.results[b][f].Inc()
	c.latency[b].Observe(d.Seconds())
}

// Failed counts one statement that failed. A keyspace or kind outside
// the sets NewCassandra was given counts as "other" (a fixed set still).
func (c *Cassandra) Failed(keyspace, kind string) {
	if ctr := c.errs[[2]string{keyspace, kind}]; ctr != nil {
		ctr.Inc()
		return
	}
	c.errVec.WithLabelValues(c.known(keyspace, 0), c.known(kind, 1)).Inc()
}

// known returns name if it is among the keyspaces (i = 0) or the kinds
// (i = 1) NewCassandra was given, else "other".
func (c *Cassandra) known(name string, i int) string {
	for k := range c.errs {
		if k[i] == name {
			return name
		}
	}
	return "other"
}

// Store counts the store's mailbox commits: it is the store.Observer.
type Store struct {
	ops map[string]*storeOp // read-only after NewStore
	oth *storeOp
}

type storeOp struct {
	ok, failed, conflicts prometheus.Counter
	latency               prometheus.Observer
}

// NewStore registers quire_store_commits_total{op,result},
// quire_store_commit_conflicts_total{op} and
// quire_store_commit_duration_seconds{op}.
func NewStore(r *Registry) *Store {
	total := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quire_store_commits_total",
		Help: "Mailbox commits (every change to a mailbox), by operation and result.",
	}, []string{"op", "result"})
	conflicts := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "quire_store_commit_conflicts_total",
		Help: "Commit attempts retried because another change to the mailbox came first.",
	}, []string{"op"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "quire_store_commit_duration_seconds",
		Help:    "Time of a commit, its retries included.",
		Buckets: latencyBuckets(),
	}, []string{"op"})
	r.Register(total, conflicts, dur)
	resolve := func(op string) *storeOp {
		return &storeOp{ok: total.WithLabelValues(op, "ok"), failed: total.WithLabelValues(op, "error"),
			conflicts: conflicts.WithLabelValues(op), latency: dur.WithLabelValues(op)}
	}
	s := &Store{ops: map[string]*storeOp{}, oth: resolve("other")}
	for _, op := range []string{"append", "flags", "expunge"} {
		s.ops[op] = resolve(op)
	}
	return s
}

// Commit counts one commit.
func (s *Store) Commit(op string, attempts int, d time.Duration, err error) {
	o := s.ops[op]
	if o == nil {
		o = s.oth
	}
	if err != nil {
		o.failed.Inc()
	} else {
		o.ok.Inc()
	}
	if attempts > 1 {
		o.conflicts.Add(float64(attempts - 1))
	}
	o.latency.Observe(d.Seconds())
}
