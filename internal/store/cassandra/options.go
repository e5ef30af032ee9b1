package cassandra

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"
)

// KeyspaceOptions place one keyspace. Each keyspace may live in its own
// cluster, with its own credentials: keyspaces with the same connect
// points, data center and credentials share a session.
type KeyspaceOptions struct {
	Name          string   // CQL identifier
	ConnectPoints []string // "host" or "host:port"
	DataCenter    string   // local data center: replication and routing
	RF            int      // replication factor in DataCenter
	// Username and Password, when Username is set, log in to this
	// keyspace's cluster instead of Options.Username and Password.
	Username, Password string
	// TLS overrides Options.TLS for this keyspace's cluster, setting by
	// setting: Enable turns TLS on, and CAFile, Verify, and CertFile with
	// KeyFile, when set, replace the shared ones. The zero value changes
	// nothing.
	TLS TLSOptions

	key string // "meta", "msg" or "cache": its config keys' infix, for errors
}

// credentials returns the user name and password that k logs in with,
// and the config keys that set them.
func (o *Options) credentials(k *KeyspaceOptions) (user, password, keys string) {
	if k.Username == "" {
		return o.Username, o.Password, "store.casusername and store.caspassword"
	}
	if k.key == "" {
		return k.Username, k.Password, "the keyspace's own user name and password"
	}
	return k.Username, k.Password, fmt.Sprintf("store.cas%susername and store.cas%spassword", k.key, k.key)
}

// keyspaceTLS returns the TLS settings of keyspace k's cluster (o.TLS,
// with what k sets of its own in their place) and, for errors, a function
// that names the config key of a setting ("cafile", "certfile",
// "keyfile", "verify", "enable"): the keyspace's own where it set it, or
// where it has settings of its own and the shared one is empty too (the
// place to set it for this cluster alone), else the shared one.
func (o *Options) keyspaceTLS(k *KeyspaceOptions) (TLSOptions, func(setting string) string) {
	t, own := o.TLS, k.TLS
	mine := map[string]bool{}
	if own != (TLSOptions{}) {
		mine = map[string]bool{"enable": !t.Enable, "cafile": t.CAFile == "", "certfile": t.CertFile == "",
			"keyfile": t.CertFile == "", "verify": t.Verify == ""}
	}
	if own.Enable {
		t.Enable, mine["enable"] = true, true
	}
	if own.CAFile != "" {
		t.CAFile, mine["cafile"] = own.CAFile, true
	}
	if own.CertFile != "" || own.KeyFile != "" {
		t.CertFile, t.KeyFile = own.CertFile, own.KeyFile
		mine["certfile"], mine["keyfile"] = true, true
	}
	if own.Verify != "" {
		t.Verify, mine["verify"] = own.Verify, true
	}
	return t, func(setting string) string {
		switch {
		case !mine[setting]:
			return "store.castls." + setting
		case k.key == "":
			return "the keyspace's own TLS " + setting
		}
		return "store.cas" + k.key + "tls." + setting
	}
}

// TLSOptions configure TLS to Cassandra.
type TLSOptions struct {
	Enable                    bool
	CAFile, CertFile, KeyFile string
	// Verify is "full" (CA and host name), "ca" (CA only) or "none".
	Verify string
}

// Options configure the backend. cmd/quire maps the configuration onto
// them. Zero numbers, durations and strings take DefaultOptions' values,
// except DataCenter, which NetworkTopologyStrategy requires to be named.
type Options struct {
	Meta, Msg, Cache KeyspaceOptions // ms_mbox, ms_msg, ms_cache
	// Strategy is "NetworkTopologyStrategy" (production) or "SimpleStrategy".
	Strategy      string
	DurableWrites bool

	// Username and Password log in to every cluster whose keyspace has no
	// credentials of its own; "" logs in to none.
	Username, Password string
	TLS                TLSOptions

	// Consistency per query class, each with an optional fallback used
	// while the primary cannot be met ("" means none), e.g. EACH_QUORUM
	// falling back to LOCAL_QUORUM while the other site is unreachable.
	ReadConsistency, ReadFallback     string
	WriteConsistency, WriteFallback   string
	DeleteConsistency, DeleteFallback string
	// SerialConsistency is LOCAL_SERIAL or SERIAL: the Paxos phase of LWTs.
	SerialConsistency string

	// RequestTimeout bounds one attempt of a query; an idempotent query
	// whose coordinator has not answered after a tenth of it is sent to
	// the next host as well (speculativeDelay).
	ConnectTimeout, RequestTimeout time.Duration
	Retries                        int           // driver retries of idempotent queries
	PageSize                       int           // rows per page
	SlowQuery                      time.Duration // log queries slower than this; 0: never

	// FallbackBackoffMin and Max bound how often the primary consistency is
	// retried while a class runs on its fallback.
	FallbackBackoffMin, FallbackBackoffMax time.Duration

	// Observer is told of every query and batch sent, for the metrics;
	// nil: no one is.
	Observer Observer

	ChunkSize  int           // raw bytes per body chunk
	BucketSize int           // change-log rows per log partition
	CacheTTL   time.Duration // ms_cache default_time_to_live
	// PurgeSlices is how many token ranges the purge lists the bodies
	// in, one query each (purge.go); default 1024.
	PurgeSlices int

	Logger *slog.Logger
}

// Strategies.
const (
	NetworkTopology = "NetworkTopologyStrategy"
	Simple          = "SimpleStrategy"
)

// DefaultOptions returns production defaults: LOCAL_QUORUM everywhere, RF 3
// for metadata and bodies, RF 1 for the regenerable cache.
func DefaultOptions() Options {
	local := []string{"127.0.0.1"}
	return Options{
		Meta:               KeyspaceOptions{Name: "ms_mbox", ConnectPoints: local, DataCenter: "datacenter1", RF: 3},
		Msg:                KeyspaceOptions{Name: "ms_msg", ConnectPoints: local, DataCenter: "datacenter1", RF: 3},
		Cache:              KeyspaceOptions{Name: "ms_cache", ConnectPoints: local, DataCenter: "datacenter1", RF: 1},
		Strategy:           NetworkTopology,
		DurableWrites:      true,
		TLS:                TLSOptions{Verify: "full"},
		ReadConsistency:    "LOCAL_QUORUM",
		WriteConsistency:   "LOCAL_QUORUM",
		DeleteConsistency:  "LOCAL_QUORUM",
		SerialConsistency:  "LOCAL_SERIAL",
		ConnectTimeout:     5 * time.Second,
		RequestTimeout:     12 * time.Second,
		Retries:            3,
		PageSize:           1000,
		SlowQuery:          time.Second,
		FallbackBackoffMin: 50 * time.Millisecond,
		FallbackBackoffMax: 60 * time.Second,
		ChunkSize:          256 << 10,
		BucketSize:         1024,
		CacheTTL:           336 * time.Hour,
	}
}

// Limits on options.
const (
	maxChunkSize  = 4 << 20 // far below the 16 MiB mutation limit
	minBucketSize = 16
)

var identRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,47}$`)

// withDefaults fills zero fields from DefaultOptions and checks the rest.
// Errors name the option.
func (o Options) withDefaults() (Options, error) {
	d := DefaultOptions()
	ks := func(k *KeyspaceOptions, dk KeyspaceOptions, what, key string) error {
		k.key = key
		if k.Name == "" {
			k.Name = dk.Name
		}
		if len(k.ConnectPoints) == 0 {
			k.ConnectPoints = dk.ConnectPoints
		}
		if k.RF == 0 {
			k.RF = dk.RF
		}
		if !identRE.MatchString(k.Name) {
			return fmt.Errorf("cassandra: %s keyspace name %q: want a lower-case CQL identifier", what, k.Name)
		}
		if k.RF < 1 {
			return fmt.Errorf("cassandra: %s replication factor %d: want 1 or more", what, k.RF)
		}
		if o.Strategy == NetworkTopology && k.DataCenter == "" {
			return fmt.Errorf("cassandra: %s data center: required with %s", what, NetworkTopology)
		}
		if k.Password != "" && k.Username == "" {
			return fmt.Errorf("cassandra: %s keyspace: a password without a user name", what)
		}
		switch k.TLS.Verify {
		case "", "full", "ca", "none":
		default:
			return fmt.Errorf("cassandra: %s keyspace: tls verify %q: want full, ca or none", what, k.TLS.Verify)
		}
		if (k.TLS.CertFile == "") != (k.TLS.KeyFile == "") {
			return fmt.Errorf("cassandra: %s keyspace: a tls client certificate needs its key file, and a key file its certificate", what)
		}
		return nil
	}
	if o.Strategy == "" {
		o.Strategy = d.Strategy
	}
	if o.Strategy != NetworkTopology && o.Strategy != Simple {
		return o, fmt.Errorf("cassandra: strategy %q: want %s or %s", o.Strategy, NetworkTopology, Simple)
	}
	for _, k := range []struct {
		k         *KeyspaceOptions
		d         KeyspaceOptions
		what, key string
	}{{&o.Meta, d.Meta, "metadata", "meta"}, {&o.Msg, d.Msg, "message", "msg"}, {&o.Cache, d.Cache, "cache", "cache"}} {
		if err := ks(k.k, k.d, k.what, k.key); err != nil {
			return o, err
		}
	}
	if o.Meta.Name == o.Msg.Name || o.Meta.Name == o.Cache.Name || o.Msg.Name == o.Cache.Name {
		return o, fmt.Errorf("cassandra: keyspace names must differ: %s, %s, %s", o.Meta.Name, o.Msg.Name, o.Cache.Name)
	}
	def := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	def(&o.ReadConsistency, d.ReadConsistency)
	def(&o.WriteConsistency, d.WriteConsistency)
	def(&o.DeleteConsistency, d.DeleteConsistency)
	def(&o.SerialConsistency, d.SerialConsistency)
	def(&o.TLS.Verify, d.TLS.Verify)
	for _, x := range [][2]string{
		{"read consistency", o.ReadConsistency}, {"read fallback", o.ReadFallback},
		{"write consistency", o.WriteConsistency}, {"write fallback", o.WriteFallback},
		{"delete consistency", o.DeleteConsistency}, {"delete fallback", o.DeleteFallback},
	} {
		if _, err := consistency(x[1]); err != nil {
			return o, fmt.Errorf("cassandra: %s: %w", x[0], err)
		}
	}
	switch strings.ToUpper(o.SerialConsistency) {
	case "SERIAL", "LOCAL_SERIAL":
	default:
		return o, fmt.Errorf("cassandra: serial consistency %q: want SERIAL or LOCAL_SERIAL", o.SerialConsistency)
	}
	switch o.TLS.Verify {
	case "full", "ca", "none":
	default:
		return o, fmt.Errorf("cassandra: tls verify %q: want full, ca or none", o.TLS.Verify)
	}
	durs := []struct {
		p *time.Duration
		v time.Duration
	}{{&o.ConnectTimeout, d.ConnectTimeout}, {&o.RequestTimeout, d.RequestTimeout},
		{&o.FallbackBackoffMin, d.FallbackBackoffMin}, {&o.FallbackBackoffMax, d.FallbackBackoffMax},
		{&o.CacheTTL, d.CacheTTL}}
	for _, x := range durs {
		if *x.p <= 0 {
			*x.p = x.v
		}
	}
	o.FallbackBackoffMax = max(o.FallbackBackoffMax, o.FallbackBackoffMin)
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.PageSize <= 0 {
		o.PageSize = d.PageSize
	}
	if o.ChunkSize <= 0 {
		o.ChunkSize = d.ChunkSize
	}
	if o.ChunkSize > maxChunkSize {
		return o, fmt.Errorf("cassandra: chunk size %d: at most %d", o.ChunkSize, maxChunkSize)
	}
	if o.BucketSize <= 0 {
		o.BucketSize = d.BucketSize
	}
	if o.PurgeSlices <= 0 {
		o.PurgeSlices = 1024
	}
	if o.BucketSize < minBucketSize {
		return o, fmt.Errorf("cassandra: bucket size %d: at least %d", o.BucketSize, minBucketSize)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// consistency parses a level name; "" is gocql.Any, meaning none.
func consistency(s string) (gocql.Consistency, error) {
	if s == "" {
		return gocql.Any, nil
	}
	c, err := gocql.ParseConsistencyWrapper(s)
	if err != nil {
		return c, fmt.Errorf("%q is not a consistency level (ONE, LOCAL_QUORUM, QUORUM, EACH_QUORUM, ALL, ...)", s)
	}
	if c == gocql.Serial || c == gocql.LocalSerial || c == gocql.Any {
		return c, fmt.Errorf("%s cannot be used for plain reads and writes", c)
	}
	return c, nil
}

// Observer is told of every query and batch the driver sends (each
// attempt), and of every statement that failed, on the goroutine that
// sent it: it must be safe for concurrent use and cheap. cmd/quire passes
// the Prometheus side (internal/metrics).
type Observer interface {
	// Request reports one query (batch false) or batch: its time and its
	// error, nil when it succeeded. The driver reports each attempt, and
	// none when it had no connection to send it on.
	Request(batch bool, d time.Duration, err error)
	// Failed reports a statement or batch that failed once the driver
	// gave up (its retries and speculative attempts done): the keyspace it
	// went to, and the kind of failure, one of ErrorKinds. A statement
	// that found no row, or whose caller gave up, has not failed.
	Failed(keyspace, kind string)
}
