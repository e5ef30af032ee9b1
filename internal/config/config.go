package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration file. Each field's toml tag is its key;
// nested structs are TOML tables, so Store.Purge.Grace is "store.purge.grace".
type Config struct {
	Server Server `toml:"server"`
	Log    Log    `toml:"log"`
	Store  Store  `toml:"store"`
	IMAP   IMAP   `toml:"imap"`
	POP3   POP3   `toml:"pop3"`
	LMTP   LMTP   `toml:"lmtp"`
	HTTP   HTTP   `toml:"http"`
	Quota  Quota  `toml:"quota"`
	TLS    TLS    `toml:"tls"`
	Login  Login  `toml:"login"`
	Notify Notify `toml:"notify"`
	ISC    ISC    `toml:"isc"`
	Search Search `toml:"search"`
	// Directory: where users are looked up (directory.go).
	Directory Directory `toml:"directory"`
	// Proxy: the front end, quire proxy (proxy.go).
	Proxy Proxy `toml:"proxy"`
}

// ISC configures the converter ("indexed search converter"), which turns
// every part into text for the search index (DESIGN.md section 4).
type ISC struct {
	// Mode is "immediate" (a delivery's attachments are converted into
	// the text cache before the LMTP reply, for at most DeliveryWait) or
	// "deferred" (converted when indexed). Either way messages are
	// indexed in the background, by one pipeline that batches many
	// deliveries per index request (resumed after a restart), and SEARCH
	// reads what is not indexed yet.
	Mode string `toml:"mode"`
	// DeliveryWait bounds how long an immediate-mode reply waits for
	// its conversion; past it the conversion finishes in the background.
	DeliveryWait Duration `toml:"delivery_wait"`
	// Hosts are converter services ("quire isc serve"), as base URLs
	// (http://host:8026 or https://...), tried in order; without them, or
	// when none answers, parts are converted in process.
	Hosts []string `toml:"hosts"`
	// CAFile holds PEM roots for https hosts; empty uses the system's.
	CAFile string `toml:"ca_file"`
	// Tika is an Apache Tika server's base URL, asked for the types the
	// converter does not know; empty: such parts are indexed by name.
	Tika        string   `toml:"tika"`
	Timeout     Duration `toml:"timeout"`       // per part
	MaxPartSize Size     `toml:"max_part_size"` // bytes of one part read; the rest is not indexed
	// MaxPDFMemory bounds the memory of one PDF engine instance (two
	// convert at once); a PDF that needs more is indexed by its name.
	MaxPDFMemory Size `toml:"max_pdf_memory"`
	Workers      int  `toml:"workers"` // background indexing of this host
	// EngineCache is where the PDF engine's compiled code is kept, so
	// that only the first start of a version compiles it (seconds of
	// CPU). Empty: the user's cache directory ($XDG_CACHE_HOME or
	// ~/.cache)/quire/pdf-engine; "none": compiled in memory at every
	// start.
	EngineCache string `toml:"engine_cache"`
}

// EngineCacheDir is where isc.engine_cache puts the compiled PDF engine,
// "" for nowhere.
func (i ISC) EngineCacheDir() string {
	switch i.EngineCache {
	case "none":
		return ""
	case "":
		d, err := os.UserCacheDir()
		if err != nil {
			return "" // no home: compile in memory
		}
		return filepath.Join(d, "quire", "pdf-engine")
	}
	return i.EngineCache
}

// Search selects the full-text index that narrows SEARCH's text criteria.
type Search struct {
	// Engine is "bleve" (in the embedded store's data directory),
	// "opensearch" (OpenSearch 1-3 or Elasticsearch 7-9 at URL), or
	// "none" (SEARCH reads every message). Empty picks bleve on the
	// embedded store, and opensearch on Cassandra when URL is set.
	Engine   string `toml:"engine"`
	URL      string `toml:"url"`
	Index    string `toml:"index"` // the index name
	Shards   int    `toml:"shards"`
	Replicas int    `toml:"replicas"`
	Username string `toml:"username"`
	Password string `toml:"password" secret:"true"`
}

// SearchEngine is the engine Engine selects once the default is applied.
func (c Config) SearchEngine() string {
	switch {
	case c.Search.Engine != "":
		return c.Search.Engine
	case c.Store.DBType == "embedded":
		return "bleve"
	case c.Search.URL != "":
		return "opensearch"
	}
	return "none"
}

// Notify configures the cross-host notifier: every access host of a store
// affinity group tells the others of its users' changes, so IDLE works
// across hosts (DESIGN.md section 5).
type Notify struct {
	// Listen is where peers connect (TLS; peers authenticate with Secret).
	// Empty: no cross-host notifications (one host, or the embedded store).
	Listen []string `toml:"listen"`
	// Port is the peers' notifier port, for store.storehostlist entries
	// that do not give one.
	Port int `toml:"port"`
	// Secret is shared by every host of the deployment; at least 16
	// characters.
	Secret string `toml:"secret" secret:"true"`
}

// TLS names the certificate IMAP and POP3 offer, with STARTTLS/STLS and on
// their implicit-TLS listeners.
type TLS struct {
	CertFile string `toml:"cert_file"` // PEM certificate chain
	KeyFile  string `toml:"key_file"`  // PEM private key
}

// Login tunes the delay after failed logins and the cost of password
// checks, shared by IMAP and POP3.
type Login struct {
	FreeFailures int      `toml:"free_failures"` // failures before any delay
	MaxDelay     Duration `toml:"max_delay"`     // the longest delay imposed
	// HashMemory bounds the memory of password checks running at once:
	// each takes what its hash's parameters say (64 MiB for an argon2id
	// hash of "quire user add"), the others wait. A hash needing more than
	// the whole budget is checked alone.
	HashMemory Size     `toml:"hash_memory"`
	HashWait   Duration `toml:"hash_wait"` // then the login is refused as temporary (IMAP UNAVAILABLE, POP3 SYS/TEMP)
	// CacheTTL is how long a successful password check is remembered, so
	// a reconnecting client is not hashed again; a password change or a
	// deletion ends it at once. 0 turns the cache off.
	CacheTTL     Duration `toml:"cache_ttl"`
	CacheEntries int      `toml:"cache_entries"` // the cache's bound; 0 turns it off
	// OtherGroup is what an access host does with a login of a user
	// another store affinity group serves (by mailHost): "refer" answers
	// IMAP with a LOGIN referral (RFC 2221) to that group's first host and
	// POP3 with -ERR [SYS/TEMP] naming the group; "serve" serves the user
	// here (IDLE then learns of changes made in the user's group only at
	// imap.recheck). A host in no group serves everyone.
	OtherGroup string `toml:"other_group"`
}

// IMAP configures the IMAP listeners (RFC 9051).
type IMAP struct {
	Listen         []string `toml:"listen"`
	TLSListen      []string `toml:"tls_listen"`      // implicit TLS (RFC 8314), usually port 993
	AllowPlaintext bool     `toml:"allow_plaintext"` // LOGIN and AUTHENTICATE without TLS
	MaxLineLength  int      `toml:"max_line_length"` // a command line, literals excluded
	// MaxLiteralSize bounds one literal; APPEND advertises it as APPENDLIMIT
	// (RFC 7889). Other commands' literals are bounded by MaxLineLength.
	MaxLiteralSize        Size     `toml:"max_literal_size"`
	MaxConnections        int      `toml:"max_connections"` // per listener; 0 means no limit
	MaxConnectionsPerUser int      `toml:"max_connections_per_user"`
	MaxConnectionsPerIP   int      `toml:"max_connections_per_ip"`
	MaxBadCommands        int      `toml:"max_bad_commands"` // in a row, before the connection is closed
	Timeout               Duration `toml:"timeout"`          // idle, outside IDLE; RFC 9051 5.4 asks for 30 minutes
	// Recheck is how often a selected session re-reads its mailbox's
	// HIGHESTMODSEQ, a safety net for lost notifications.
	Recheck Duration `toml:"recheck"`
	// EnvelopeCache bounds the memory of encoded envelopes kept for FETCH
	// ENVELOPE, shared by all sessions; 0 keeps none.
	EnvelopeCache Size `toml:"envelope_cache"`
	// PhraseFilterCache bounds the memory of messages' phrase filters
	// kept for SEARCH BODY/TEXT of a phrase, shared by all sessions; 0
	// keeps none (each is read from the conversion cache).
	PhraseFilterCache Size `toml:"phrase_filter_cache"`
}

// POP3 configures the POP3 listeners (RFC 1939).
type POP3 struct {
	Listen         []string `toml:"listen"`
	TLSListen      []string `toml:"tls_listen"`      // implicit TLS (RFC 8314), usually port 995
	AllowPlaintext bool     `toml:"allow_plaintext"` // USER/PASS and AUTH without TLS
	MaxBadCommands int      `toml:"max_bad_commands"`
	MaxLineLength  int      `toml:"max_line_length"` // CRLF included
	MaxConnections int      `toml:"max_connections"` // 0 means no limit
	Timeout        Duration `toml:"timeout"`         // idle; RFC 1939 asks for at least 10 minutes
}

// Server holds settings of the host as a whole.
type Server struct {
	// Hostname names this host in greetings; the default is os.Hostname.
	Hostname string `toml:"hostname"`
	// ShutdownGrace is how long "quire serve" lets sessions finish after
	// SIGTERM or SIGINT: IMAP sessions get BYE, POP3 sessions -ERR
	// [SYS/TEMP] and LMTP sessions 421, each once its command or mail
	// transaction is done; connections still open after it are closed.
	ShutdownGrace Duration `toml:"shutdown_grace"`
	// GCPercent is the garbage collector's GOGC: a collection starts
	// when the heap has grown by this percentage since the last one left
	// it. Go's default, 100, cost a delivery 12-15% more CPU than 200
	// (bench/lmtp); the live heap of a server is small, so 200 costs
	// little memory. -1 turns collection off until MemoryLimit (which it
	// then needs). The GOGC environment variable, when set, wins.
	GCPercent int `toml:"gc_percent"`
	// MemoryLimit is the process's soft memory limit: near it the
	// collector runs as often as it must (Go's GOMEMLIMIT). 0: none. The
	// GOMEMLIMIT environment variable, when set, wins.
	MemoryLimit Size `toml:"memory_limit"`
	// TrustedProxies are the addresses (or prefixes) of front-end proxies:
	// a connection from one may log in without TLS (the proxy holds the
	// client's) and name the client it carries (IMAP ID
	// "x-originating-ip", POP3 XCLIENT), whose address login throttling,
	// the per-address limit and the logs then use.
	TrustedProxies []string `toml:"trusted_proxies"`
}

// Log selects what is logged and how.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn or error
	Format string `toml:"format"` // text or json
	// SlowCommand: an IMAP, POP3 or LMTP command that runs at least this
	// long is logged at warn with its time, like store.casslowquery for
	// queries; 0 turns it off. IMAP IDLE, whose time is the client's, is
	// never logged.
	SlowCommand Duration `toml:"slow_command"`
}

// Store selects and tunes the message store. The Cas fields apply when
// DBType is "cassandra"; their keys carry the "cas" prefix that
// administrators of carrier mail stores know.
type Store struct {
	DBType  string `toml:"dbtype"`  // embedded or cassandra
	DataDir string `toml:"datadir"` // the embedded store's directory
	// StoreHostList maps each store affinity group's name to its access
	// hosts (server.hostname of each, optionally with :port for its
	// notifier). A user's mailHost names a group or one of its hosts. Every
	// host carries the same lists; the order may differ.
	StoreHostList map[string][]string `toml:"storehostlist"`
	// CacheSize is the embedded store's block cache (metadata and small
	// bodies, decompressed).
	CacheSize Size `toml:"cachesize"`
	// MinFree is the free space the embedded store's disk keeps: below it
	// deliveries and APPENDs are refused as temporary (LMTP 452 4.3.1)
	// before Pebble's log meets a full disk, which ends the process. 0
	// turns the reserve off.
	MinFree Size `toml:"minfree"`
	// BodyCache bounds the memory that keeps just-delivered bodies for
	// the readers that follow at once (the indexer, a client's FETCH
	// after IDLE), each for at most 30 s; 0 keeps none.
	BodyCache Size `toml:"bodycache"`

	// CasConnectPoints are host or host:port contact points. A keyspace's
	// own list, when not empty, replaces it for that keyspace, so each
	// keyspace can live in its own cluster.
	CasConnectPoints      []string `toml:"casconnectpoints"`
	CasMetaConnectPoints  []string `toml:"casmetaconnectpoints"`
	CasMsgConnectPoints   []string `toml:"casmsgconnectpoints"`
	CasCacheConnectPoints []string `toml:"cascacheconnectpoints"`

	CasMetaKeyspace  string `toml:"casmetakeyspace"`
	CasMsgKeyspace   string `toml:"casmsgkeyspace"`
	CasCacheKeyspace string `toml:"cascachekeyspace"`

	CasMetaRF  int `toml:"casmetarf"`
	CasMsgRF   int `toml:"casmsgrf"`
	CasCacheRF int `toml:"cascacherf"`

	CasMetaDC  string `toml:"casmetadc"`
	CasMsgDC   string `toml:"casmsgdc"`
	CasCacheDC string `toml:"cascachedc"`

	CasReplicationStrategy string `toml:"casreplicationstrategy"`
	CasDurableWrites       bool   `toml:"casdurablewrites"`
	CasUsername            string `toml:"casusername"`
	CasPassword            string `toml:"caspassword" secret:"true"`
	// A keyspace's own user name, when set, replaces CasUsername for the
	// keyspace's cluster, with its own password in place of CasPassword:
	// keyspaces in different clusters may log in differently.
	CasMetaUsername  string `toml:"casmetausername"`
	CasMetaPassword  string `toml:"casmetapassword" secret:"true"`
	CasMsgUsername   string `toml:"casmsgusername"`
	CasMsgPassword   string `toml:"casmsgpassword" secret:"true"`
	CasCacheUsername string `toml:"cascacheusername"`
	CasCachePassword string `toml:"cascachepassword" secret:"true"`

	// Each consistency has a fallback, used when the coordinator refuses
	// the first level for lack of live replicas (not on a timeout); an
	// empty fallback means none. Reads try the first level every time;
	// commits and the writes they consist of never go below a quorum
	// (docs/ARCHITECTURE.md, "Node loss").
	CasReadConsistency           string `toml:"casreadconsistency"`
	CasReadFallbackConsistency   string `toml:"casreadfallbackconsistency"`
	CasWriteConsistency          string `toml:"caswriteconsistency"`
	CasWriteFallbackConsistency  string `toml:"caswritefallbackconsistency"`
	CasDeleteConsistency         string `toml:"casdeleteconsistency"`
	CasDeleteFallbackConsistency string `toml:"casdeletefallbackconsistency"`
	CasSerialConsistency         string `toml:"casserialconsistency"`

	CasConnectTimeout     Duration `toml:"casconnecttimeout"`
	CasRequestTimeout     Duration `toml:"casrequesttimeout"`
	CasRetries            int      `toml:"casretries"`
	CasPageSize           int      `toml:"caspagesize"`
	CasSlowQuery          Duration `toml:"casslowquery"` // 0 turns the warning off
	CasFallbackBackoffMin Duration `toml:"casfallbackbackoffmin"`
	CasFallbackBackoffMax Duration `toml:"casfallbackbackoffmax"`

	CasMsgChunkSize Size     `toml:"casmsgchunksize"` // bytes per stored body chunk
	CasBucketSize   int      `toml:"casbucketsize"`   // messages per mailbox partition
	CacheTTL        Duration `toml:"cachettl"`        // lifetime of cache keyspace rows

	CasTLS CasTLS `toml:"castls"`
	// A keyspace's own TLS table, for a keyspace in a cluster of its own,
	// overrides [store.castls] key by key for that keyspace: enable = true
	// turns TLS on for it (a keyspace cannot turn off what castls.enable
	// turns on for all), and cafile, verify, and certfile with keyfile,
	// when set, replace the shared ones. Empty, it changes nothing.
	CasMetaTLS  CasTLS `toml:"casmetatls"`
	CasMsgTLS   CasTLS `toml:"casmsgtls"`
	CasCacheTLS CasTLS `toml:"cascachetls"`
	Purge       Purge  `toml:"purge"`

	// ServiceAdminGroupDN is the LDAP group whose members are service
	// administrators (directory.type = "ldap"), as carrier stores name it.
	ServiceAdminGroupDN string `toml:"serviceadmingroupdn"`
}

// CasTLS configures TLS to Cassandra.
type CasTLS struct {
	Enable   bool   `toml:"enable"`
	CAFile   string `toml:"cafile"`   // PEM roots; empty uses the system's
	CertFile string `toml:"certfile"` // client certificate, with KeyFile
	KeyFile  string `toml:"keyfile"`
	Verify   string `toml:"verify"` // full (CA and host name), ca, or none; in a keyspace's table "" takes castls's
}

// Purge controls the sweep of unreferenced message bodies: with Enable,
// this host runs a purge pass every Interval (quire purge runs one at
// any time).
type Purge struct {
	Enable bool `toml:"enable"`
	// Grace is how long a body must have been found unreferenced, with no
	// new reference claimed, before it is removed; it must exceed the
	// longest delivery, so a delivery that has written its body but not
	// yet its metadata is never swept.
	Grace Duration `toml:"grace"`
	// Interval is the time between two background passes; 0 means half
	// the grace, from 5 s to 1 h. A body is removed by the first pass at
	// least Grace after the pass that first found it unreferenced.
	Interval Duration `toml:"interval"`
	// LogHistory is how long each mailbox's change log keeps a change at
	// least (it keeps up to about twice that): CONDSTORE and QRESYNC
	// clients that last synchronized within it get exactly what changed;
	// older ones get a full resynchronization (every UID no longer in the
	// mailbox as VANISHED, RFC 7162 3.2.5.2). 0 keeps the log forever;
	// otherwise at least an hour. Trimmed by the purge (Enable, or quire
	// purge).
	LogHistory Duration `toml:"log_history"`
}

// PurgeInterval is the time between two background purge passes.
func (p Purge) PurgeInterval() time.Duration {
	if p.Interval > 0 {
		return p.Interval.Duration()
	}
	return min(max(p.Grace.Duration()/2, 5*time.Second), time.Hour)
}

// HTTP configures the operators' HTTP listener: GET /healthz and GET
// /readyz for anyone; the admin API, reindexing, the statistics and the
// profiler for holders of the admin token.
type HTTP struct {
	// Listen lists the host:port addresses; empty turns the listener off
	// (and with it the admin commands while a server holds an embedded
	// store).
	Listen []string `toml:"listen"`
	// AdminTokenFile is where serve writes the admin token it makes at
	// every start (mode 0600), for the admin commands, the benchmarks and
	// operators' tools. Empty: the data directory's admin.token on the
	// embedded store, and nowhere on Cassandra (the admin commands work on
	// the cluster directly), which leaves the token-protected endpoints
	// closed to everyone.
	AdminTokenFile string `toml:"admin_token_file"`
	// MetricsPublic lets anyone read GET /metrics; false (the default)
	// asks for the admin token there too (docs/METRICS.md).
	MetricsPublic bool `toml:"metrics_public"`
}

// LMTP configures the LMTP delivery listener.
type LMTP struct {
	Listen         []string `toml:"listen"`
	MaxMessageSize Size     `toml:"max_message_size"` // 0 means no limit
	MaxRecipients  int      `toml:"max_recipients"`
	MaxLineLength  int      `toml:"max_line_length"` // CRLF included
	MaxConnections int      `toml:"max_connections"` // 0 means no limit
	Timeout        Duration `toml:"timeout"`
}

// Quota holds the limits given to new users; 0 means unlimited.
type Quota struct {
	DefaultStorage  Size  `toml:"default_storage"`
	DefaultMessages int64 `toml:"default_messages"`
}

// Default returns the configuration used for every key a file leaves out.
// Each call returns fresh lists.
func Default() Config {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	const (
		s  = Duration(time.Second)
		ms = Duration(time.Millisecond)
	)
	return Config{
		Server: Server{Hostname: host, ShutdownGrace: 10 * s, GCPercent: 200, TrustedProxies: []string{}},
		Log:    Log{Level: "info", Format: "text", SlowCommand: 1 * s},
		Store: Store{
			DBType:                       "embedded",
			DataDir:                      "./quire-data",
			StoreHostList:                map[string][]string{},
			CacheSize:                    128 * MiB,
			MinFree:                      256 * MiB,
			BodyCache:                    32 * MiB,
			CasConnectPoints:             []string{"127.0.0.1:9042"},
			CasMetaConnectPoints:         []string{},
			CasMsgConnectPoints:          []string{},
			CasCacheConnectPoints:        []string{},
			CasMetaKeyspace:              "ms_mbox",
			CasMsgKeyspace:               "ms_msg",
			CasCacheKeyspace:             "ms_cache",
			CasMetaRF:                    3,
			CasMsgRF:                     3,
			CasCacheRF:                   1,
			CasMetaDC:                    "datacenter1",
			CasMsgDC:                     "datacenter1",
			CasCacheDC:                   "datacenter1",
			CasReplicationStrategy:       "NetworkTopologyStrategy",
			CasDurableWrites:             true,
			CasReadConsistency:           "LOCAL_QUORUM",
			CasReadFallbackConsistency:   "LOCAL_ONE",
			CasWriteConsistency:          "LOCAL_QUORUM",
			CasWriteFallbackConsistency:  "LOCAL_ONE",
			CasDeleteConsistency:         "LOCAL_QUORUM",
			CasDeleteFallbackConsistency: "LOCAL_ONE",
			CasSerialConsistency:         "LOCAL_SERIAL",
			CasConnectTimeout:            5 * s,
			CasRequestTimeout:            10 * s,
			CasRetries:                   3,
			CasPageSize:                  1000,
			CasSlowQuery:                 500 * ms,
			CasFallbackBackoffMin:        50 * ms,
			CasFallbackBackoffMax:        60 * s,
			CasMsgChunkSize:              256 * KiB,
			CasBucketSize:                1024,
			CacheTTL:                     336 * 3600 * s,
			CasTLS:                       CasTLS{Verify: "full"},
			Purge:                        Purge{Enable: true, Grace: 24 * 3600 * s, LogHistory: 30 * 24 * 3600 * s},
		},
		IMAP: IMAP{
			Listen:                []string{"127.0.0.1:143"},
			TLSListen:             []string{},
			MaxLineLength:         64 * 1024,
			MaxLiteralSize:        50 * MiB,
			EnvelopeCache:         8 * MiB,
			PhraseFilterCache:     16 * MiB,
			MaxConnections:        2000,
			MaxConnectionsPerUser: 20,
			MaxConnectionsPerIP:   100,
			MaxBadCommands:        20,
			Timeout:               1800 * s,
			Recheck:               30 * s,
		},
		POP3: POP3{
			Listen:         []string{"127.0.0.1:110"},
			TLSListen:      []string{},
			MaxBadCommands: 10,
			MaxLineLength:  1024,
			MaxConnections: 500,
			Timeout:        600 * s,
		},
		Login:  Login{FreeFailures: 2, MaxDelay: 15 * s, HashMemory: 256 * MiB, HashWait: 5 * s, CacheTTL: 300 * s, CacheEntries: 10000, OtherGroup: "refer"},
		Notify: Notify{Listen: []string{}, Port: 4790},
		ISC:    ISC{Mode: "immediate", DeliveryWait: Duration(500 * time.Millisecond), Hosts: []string{}, Timeout: Duration(10 * time.Second), MaxPartSize: 50 << 20, MaxPDFMemory: 256 << 20, Workers: 1},
		Search: Search{Index: "quire-msgs", Shards: 1},
		LMTP: LMTP{
			Listen:         []string{"127.0.0.1:24"},
			MaxMessageSize: 50 * MiB,
			MaxRecipients:  100,
			MaxLineLength:  4096,
			MaxConnections: 200,
			Timeout:        300 * s,
		},
		HTTP:      HTTP{Listen: []string{"127.0.0.1:8080"}},
		Directory: DefaultDirectory(),
		Proxy:     DefaultProxy(),
	}
}

// Load reads the file at path over the defaults; path "" means the defaults
// alone. Like Parse it does not call Validate.
func Load(path string) (Config, error) {
	if path == "" {
		return Default(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return parse(data, path)
}

// Parse decodes a TOML document over the defaults. It reports every unknown
// key and every value of the wrong type, naming each; it does not check
// ranges and cross-key rules, which is Validate's job.
func Parse(data []byte) (Config, error) {
	return parse(data, "")
}

// parse is Parse with the file's name for messages ("" if none).
//
// It decodes into a generic map and assigns each key itself rather than
// decoding into the struct: the toml package matches struct keys ignoring
// case (so "DBType" would pass, and two spellings would race), and stops at
// the first type error without naming the key in a usable form.
func parse(data []byte, file string) (Config, error) {
	in := ""
	if file != "" {
		in = " in " + file
	}
	var raw map[string]any
	md, err := toml.Decode(string(data), &raw)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			if in == "" {
				in = " in config"
			}
			return Config{}, fmt.Errorf("config: syntax error%s line %d: %s", in, pe.Position.Line, pe.Message)
		}
		return Config{}, fmt.Errorf("config%s: %w", in, err)
	}
	c := Default()
	fs := fields(&c)
	byKey := make(map[string]reflect.Value, len(fs))
	for _, f := range fs {
		byKey[f.key] = f.v
	}
	tables := tableNames(fs)
	var errs []error
	done := map[string]bool{} // keys whose whole subtree is handled
	for _, k := range md.Keys() {
		if within(k, done) {
			continue
		}
		name := k.String()
		val := lookupRaw(raw, k)
		switch v, leaf := byKey[name]; {
		case leaf:
			done[name] = true
			if err := assign(name, v, val); err != nil {
				errs = append(errs, err)
			}
		case tables[name]:
			if _, ok := val.(map[string]any); !ok {
				done[name] = true
				errs = append(errs, fmt.Errorf("config: %s = %s: must be a table, [%s]", name, rawLiteral(val), name))
			}
		default:
			done[name] = true
			errs = append(errs, unknownKey(name, in, fs))
		}
	}
	if len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	return c, nil
}

// within reports whether some proper prefix of k is in done.
func within(k toml.Key, done map[string]bool) bool {
	for i := 1; i < len(k); i++ {
		if done[k[:i].String()] {
			return true
		}
	}
	return false
}

// lookupRaw returns the decoded value at k, or nil.
func lookupRaw(raw map[string]any, k toml.Key) any {
	var cur any = raw
	for _, part := range k {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}
