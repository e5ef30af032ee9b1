package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// levels returns the consistency levels a key accepts, as Cassandra names
// them: reads exclude ANY, which Cassandra refuses for reads, and a fallback
// may also be "", meaning none.
func levels(read, fallback bool) []string {
	l := []string{"ANY", "ONE", "TWO", "THREE", "QUORUM", "ALL", "LOCAL_QUORUM", "EACH_QUORUM", "LOCAL_ONE"}
	if read {
		l = l[1:]
	}
	if fallback {
		l = append([]string{""}, l...)
	}
	return l
}

// Validate checks every value's range and the rules between keys, and
// returns all problems joined, each naming its key, or nil.
func (c Config) Validate() error {
	var ck checker
	ck.require("server.hostname", c.Server.Hostname, c.Server.Hostname != "" && !strings.ContainsAny(c.Server.Hostname, " \t\r\n"), "must be a host name")
	g := c.Server.ShutdownGrace
	ck.require("server.shutdown_grace", g, g >= 0 && g <= Duration(10*time.Minute), `must be from "0s" to "10m"`)
	gc := c.Server.GCPercent
	ck.require("server.gc_percent", gc, gc == -1 || gc >= 10 && gc <= 10000, "must be from 10 to 10000, or -1 (off until server.memory_limit)")
	ck.require("server.memory_limit", c.Server.MemoryLimit, c.Server.MemoryLimit == 0 || c.Server.MemoryLimit >= 64*MiB, `must be 0 (none) or at least "64MiB"`)
	if gc == -1 && c.Server.MemoryLimit == 0 {
		ck.fail("server.gc_percent", gc, "-1 turns the garbage collector off: it needs server.memory_limit, or memory grows without bound")
	}
	ck.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	ck.oneOf("log.format", c.Log.Format, "text", "json")
	atLeast(&ck, "log.slow_command", c.Log.SlowCommand, 0)

	s := c.Store
	ck.oneOf("store.dbtype", s.DBType, "embedded", "cassandra")
	if s.DBType == "embedded" {
		ck.require("store.datadir", s.DataDir, s.DataDir != "", `must name a directory when store.dbtype is "embedded"`)
	}
	atLeast(&ck, "store.purge.grace", s.Purge.Grace, 0)
	atLeast(&ck, "store.purge.interval", s.Purge.Interval, 0)
	// A trim reaches only buckets sealed at least the history ago, which
	// the head cache's 10 s and a Changes walk never approach
	// (internal/store/cassandra/logtrim.go).
	ck.require("store.purge.log_history", s.Purge.LogHistory, s.Purge.LogHistory == 0 || s.Purge.LogHistory.Duration() >= time.Hour,
		`must be 0 (keep the change log forever) or at least "1h"`)
	// The purge frees what its mark scan does not find: a scan at a level
	// that a quorum write need not reach (one replica) could miss a live
	// message's row on a replica that has not caught up, and free its body.
	if s.DBType == "cassandra" && s.Purge.Enable {
		ck.require("store.casreadconsistency", s.CasReadConsistency, !slices.Contains([]string{"ONE", "LOCAL_ONE"}, s.CasReadConsistency),
			`must be a quorum (LOCAL_QUORUM, QUORUM, EACH_QUORUM) or ALL while store.purge.enable is set: the purge frees the bodies its reads do not find referenced`)
	}
	c.validateCassandra(&ck)
	c.validateGroups(&ck)
	c.validateDirectory(&ck)
	c.validateProxy(&ck)

	seen := map[string]string{}
	for _, l := range []struct {
		key   string
		addrs []string
	}{{"imap.listen", c.IMAP.Listen}, {"imap.tls_listen", c.IMAP.TLSListen}, {"pop3.listen", c.POP3.Listen}, {"pop3.tls_listen", c.POP3.TLSListen}, {"lmtp.listen", c.LMTP.Listen}, {"http.listen", c.HTTP.Listen}, {"notify.listen", c.Notify.Listen}} {
		for _, a := range l.addrs {
			if err := checkAddr(a, true); err != nil {
				ck.fail(l.key, l.addrs, "%q: %v", a, err)
			} else if prev, dup := seen[a]; dup {
				ck.fail(l.key, l.addrs, "%q is also in %s", a, prev)
			} else {
				seen[a] = l.key
			}
		}
	}

	if f := c.HTTP.AdminTokenFile; f != "" {
		ck.require("http.admin_token_file", f, !strings.HasSuffix(f, "/") && filepath.Base(f) != "." && filepath.Base(f) != "..",
			"must name a file (serve writes the admin token there), not a directory")
	}

	m := c.LMTP
	atLeast(&ck, "lmtp.max_message_size", m.MaxMessageSize, 0)
	atLeast(&ck, "store.cachesize", c.Store.CacheSize, 0)
	atLeast(&ck, "store.minfree", c.Store.MinFree, 0)
	atLeast(&ck, "store.bodycache", c.Store.BodyCache, 0)
	atLeast(&ck, "lmtp.max_recipients", m.MaxRecipients, 1)
	// RFC 5321 4.5.3.1.4: a command line may be 512 octets, CRLF included.
	atLeast(&ck, "lmtp.max_line_length", m.MaxLineLength, 512)
	atLeast(&ck, "lmtp.max_connections", m.MaxConnections, 0)
	atLeast(&ck, "lmtp.timeout", m.Timeout, Duration(time.Second))

	i := c.IMAP
	atLeast(&ck, "imap.max_line_length", i.MaxLineLength, 1000) // RFC 9051 4: at least 8000 is advised
	atLeast(&ck, "imap.max_literal_size", i.MaxLiteralSize, Size(1024))
	atLeast(&ck, "imap.envelope_cache", i.EnvelopeCache, 0)
	atLeast(&ck, "imap.phrase_filter_cache", i.PhraseFilterCache, 0)
	atLeast(&ck, "imap.max_connections", i.MaxConnections, 0)
	atLeast(&ck, "imap.max_connections_per_user", i.MaxConnectionsPerUser, 0)
	atLeast(&ck, "imap.max_connections_per_ip", i.MaxConnectionsPerIP, 0)
	atLeast(&ck, "imap.max_bad_commands", i.MaxBadCommands, 1)
	// RFC 9051 5.4: the autologout timer must be at least 30 minutes; allow
	// shorter for tests and busy sites, but not absurdly so.
	atLeast(&ck, "imap.timeout", i.Timeout, Duration(10*time.Second))
	atLeast(&ck, "imap.recheck", i.Recheck, Duration(100*time.Millisecond))
	if len(i.TLSListen) > 0 && c.TLS.CertFile == "" {
		ck.fail("imap.tls_listen", i.TLSListen, "needs tls.cert_file and tls.key_file")
	}

	p := c.POP3
	atLeast(&ck, "pop3.max_bad_commands", p.MaxBadCommands, 1)
	// RFC 2449 4: commands may be 255 octets; accept more, but bounded.
	atLeast(&ck, "pop3.max_line_length", p.MaxLineLength, 255)
	atLeast(&ck, "pop3.max_connections", p.MaxConnections, 0)
	atLeast(&ck, "pop3.timeout", p.Timeout, Duration(30*time.Second))
	if len(p.TLSListen) > 0 && c.TLS.CertFile == "" {
		ck.fail("pop3.tls_listen", p.TLSListen, "needs tls.cert_file and tls.key_file")
	}
	ck.require("tls.key_file", c.TLS.KeyFile, (c.TLS.CertFile == "") == (c.TLS.KeyFile == ""), "tls.cert_file and tls.key_file go together")
	atLeast(&ck, "login.free_failures", c.Login.FreeFailures, 0)
	atLeast(&ck, "login.max_delay", c.Login.MaxDelay, Duration(0))
	atLeast(&ck, "login.hash_memory", c.Login.HashMemory, MiB)
	atLeast(&ck, "login.hash_wait", c.Login.HashWait, Duration(100*time.Millisecond)) // a forced collection must fit
	atLeast(&ck, "login.cache_ttl", c.Login.CacheTTL, Duration(0))
	atLeast(&ck, "login.cache_entries", c.Login.CacheEntries, 0)

	atLeast(&ck, "quota.default_storage", c.Quota.DefaultStorage, 0)
	atLeast(&ck, "quota.default_messages", c.Quota.DefaultMessages, 0)
	return errors.Join(ck.errs...)
}

// validateGroups checks the store affinity groups and the notifier that
// links their hosts.
func (c Config) validateGroups(ck *checker) {
	const key = "store.storehostlist"
	groups := c.Store.StoreHostList
	names := make([]string, 0, len(groups))
	for g := range groups {
		names = append(names, g)
	}
	slices.Sort(names) // messages in a stable order
	owner := map[string]string{}
	for _, g := range names {
		if g == "" || !isHost(g) || isIP(g) {
			ck.fail(key, groups, "group name %q must be letters, digits, '-', '_' or '.'", g)
		}
		hosts := groups[g]
		if len(hosts) == 0 {
			ck.fail(key, groups, "group %q lists no hosts", g)
		}
		if len(hosts) > 1 && c.Store.DBType != "cassandra" {
			ck.fail(key, groups, `group %q has %d hosts: several hosts share a store only with store.dbtype = "cassandra"`, g, len(hosts))
		}
		for _, h := range hosts {
			if err := checkAddr(h, false); err != nil {
				ck.fail(key, groups, "group %q: %q: %v", g, h, err)
				continue
			}
			name := strings.ToLower(HostPart(h))
			switch prev, dup := owner[name]; {
			case dup && prev == g:
				ck.fail(key, groups, "group %q lists host %q twice", g, name)
			case dup:
				ck.fail(key, groups, "host %q is in groups %q and %q; a host belongs to one store affinity group", name, prev, g)
			default:
				owner[name] = g
			}
		}
	}
	n := c.Notify
	if n.Port < 1 || n.Port > 65535 {
		ck.fail("notify.port", n.Port, "must be a port number from 1 to 65535")
	}
	if len(n.Listen) > 0 && len(n.Secret) < 16 {
		ck.fail("notify.secret", "(hidden)", "must be at least 16 characters when notify.listen is set: peers prove they know it")
	}
	c.validateSearch(ck)
}

// validateSearch checks [isc] and [search].
func (c Config) validateSearch(ck *checker) {
	i := c.ISC
	if i.Mode != "immediate" && i.Mode != "deferred" {
		ck.fail("isc.mode", i.Mode, `must be "immediate" or "deferred"`)
	}
	for _, h := range append(slices.Clone(i.Hosts), i.Tika) {
		if h == "" {
			continue
		}
		if u, err := url.Parse(h); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ck.fail("isc.hosts", h, "must be a base URL such as http://isc1.example.org:8026 (isc.tika likewise)")
		}
	}
	if i.Timeout <= 0 {
		ck.fail("isc.timeout", i.Timeout, "must be positive")
	}
	ck.require("isc.delivery_wait", i.DeliveryWait, i.DeliveryWait > 0 && i.DeliveryWait <= Duration(time.Minute),
		`must be from "1ms" to "1m" (isc.mode = "deferred" converts without waiting)`)
	if i.MaxPartSize <= 0 {
		ck.fail("isc.max_part_size", i.MaxPartSize, "must be positive")
	}
	ck.require("isc.max_pdf_memory", i.MaxPDFMemory, i.MaxPDFMemory >= 64<<20,
		`must be at least "64MiB" (PDFium starts with 18 MiB)`)
	if i.Workers < 1 {
		ck.fail("isc.workers", i.Workers, "must be at least 1")
	}
	if e := i.EngineCache; e != "" && e != "none" && !filepath.IsAbs(e) {
		ck.fail("isc.engine_cache", e, `must be an absolute directory, "none", or empty for the user's cache directory`)
	}
	s := c.Search
	switch e := c.SearchEngine(); {
	case e != "bleve" && e != "opensearch" && e != "none":
		ck.fail("search.engine", s.Engine, `must be "bleve", "opensearch" or "none"`)
	case e == "bleve" && c.Store.DBType != "embedded":
		ck.fail("search.engine", s.Engine, `"bleve" lives in one host's data directory; with store.dbtype = "cassandra" use "opensearch" (or "none")`)
	case e == "opensearch" && s.URL == "":
		ck.fail("search.url", s.URL, "must name the OpenSearch or Elasticsearch server (http://host:9200) when search.engine is opensearch")
	}
	if s.URL != "" {
		if u, err := url.Parse(s.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			ck.fail("search.url", s.URL, "must be a URL such as http://127.0.0.1:9200")
		}
	}
	if s.Index == "" || strings.ToLower(s.Index) != s.Index || strings.ContainsAny(s.Index, ` "*\<|,>/?#:`) {
		ck.fail("search.index", s.Index, "must be a lower-case index name without spaces or any of \\ / * ? \" < > | , # :")
	}
	if s.Shards < 1 || s.Replicas < 0 {
		ck.fail("search.shards", fmt.Sprintf("%d shards, %d replicas", s.Shards, s.Replicas), "need at least 1 shard and no negative replicas")
	}
}

// HostPart returns the host of a storehostlist entry, which may carry a
// port.
func HostPart(entry string) string {
	if h, _, err := net.SplitHostPort(entry); err == nil {
		return h
	}
	return entry
}

// validateCassandra checks the store.cas* keys. Their values are checked
// whatever store.dbtype says, so a typo is caught before the switch; only
// the need for connect points depends on it.
func (c Config) validateCassandra(ck *checker) {
	s := c.Store
	if s.DBType == "cassandra" {
		ck.require("store.casconnectpoints", s.CasConnectPoints, len(s.CasConnectPoints) > 0, `must list at least one host when store.dbtype is "cassandra"`)
	}
	ck.oneOf("store.casreplicationstrategy", s.CasReplicationStrategy, "NetworkTopologyStrategy", "SimpleStrategy")
	nts := s.CasReplicationStrategy == "NetworkTopologyStrategy"
	spaces := []struct {
		name       string // the key's middle: store.cas<name>keyspace
		points     []string
		ks         string
		rf         int
		dc         string
		user, pass string
	}{
		{"meta", s.CasMetaConnectPoints, s.CasMetaKeyspace, s.CasMetaRF, s.CasMetaDC, s.CasMetaUsername, s.CasMetaPassword},
		{"msg", s.CasMsgConnectPoints, s.CasMsgKeyspace, s.CasMsgRF, s.CasMsgDC, s.CasMsgUsername, s.CasMsgPassword},
		{"cache", s.CasCacheConnectPoints, s.CasCacheKeyspace, s.CasCacheRF, s.CasCacheDC, s.CasCacheUsername, s.CasCachePassword},
	}
	effective := func(points []string) []string {
		if len(points) == 0 {
			return s.CasConnectPoints
		}
		return points
	}
	for _, p := range s.CasConnectPoints {
		if err := checkAddr(p, false); err != nil {
			ck.fail("store.casconnectpoints", s.CasConnectPoints, "%q: %v", p, err)
		}
	}
	for i, k := range spaces {
		key := "store.cas" + k.name
		for _, p := range k.points {
			if err := checkAddr(p, false); err != nil {
				ck.fail(key+"connectpoints", k.points, "%q: %v", p, err)
			}
		}
		ck.require(key+"keyspace", k.ks, isKeyspaceName(k.ks), "must be a Cassandra keyspace name: a letter, then up to 47 letters, digits or '_'")
		// Keyspaces may share a name only in different clusters.
		for _, o := range spaces[:i] {
			if o.ks == k.ks && slices.Equal(effective(o.points), effective(k.points)) {
				ck.fail(key+"keyspace", k.ks, "is also store.cas%skeyspace on the same connect points", o.name)
			}
		}
		atLeast(ck, key+"rf", k.rf, 1)
		if k.pass != "" && k.user == "" {
			// The keyspace's password goes only with its own user name.
			ck.fail(key+"username", k.user, "must be set with %spassword (or leave both out to use store.casusername and store.caspassword)", key)
		}
		if nts || k.dc != "" {
			ck.require(key+"dc", k.dc, isDCName(k.dc), "must be a data center name: letters, digits, '_', '-' or '.'")
		}
	}

	keyspaceTLS(ck, s)

	ck.oneOf("store.casreadconsistency", s.CasReadConsistency, levels(true, false)...)
	ck.oneOf("store.casreadfallbackconsistency", s.CasReadFallbackConsistency, levels(true, true)...)
	ck.oneOf("store.caswriteconsistency", s.CasWriteConsistency, levels(false, false)...)
	ck.oneOf("store.caswritefallbackconsistency", s.CasWriteFallbackConsistency, levels(false, true)...)
	ck.oneOf("store.casdeleteconsistency", s.CasDeleteConsistency, levels(false, false)...)
	ck.oneOf("store.casdeletefallbackconsistency", s.CasDeleteFallbackConsistency, levels(false, true)...)
	ck.oneOf("store.casserialconsistency", s.CasSerialConsistency, "LOCAL_SERIAL", "SERIAL")

	atLeast(ck, "store.casconnecttimeout", s.CasConnectTimeout, Duration(time.Millisecond))
	atLeast(ck, "store.casrequesttimeout", s.CasRequestTimeout, Duration(time.Millisecond))
	atLeast(ck, "store.casretries", s.CasRetries, 0)
	atLeast(ck, "store.caspagesize", s.CasPageSize, 1)
	atLeast(ck, "store.casslowquery", s.CasSlowQuery, 0)
	atLeast(ck, "store.casfallbackbackoffmin", s.CasFallbackBackoffMin, Duration(time.Millisecond))
	ck.require("store.casfallbackbackoffmax", s.CasFallbackBackoffMax, s.CasFallbackBackoffMax >= s.CasFallbackBackoffMin, "must be at least store.casfallbackbackoffmin")

	clientTLS(ck, "store.castls", s.CasTLS)

	ck.require("store.casmsgchunksize", s.CasMsgChunkSize, s.CasMsgChunkSize >= 4*KiB && s.CasMsgChunkSize <= 4*MiB, `must be from 4KiB to 4MiB`)
	b := s.CasBucketSize
	ck.require("store.casbucketsize", b, b >= 64 && b <= 65536 && b&(b-1) == 0, "must be a power of two from 64 to 65536")
	// Cassandra's default_time_to_live is whole seconds, at most 20 years.
	atLeast(ck, "store.cachettl", s.CacheTTL, Duration(time.Second))
	ck.require("store.cachettl", s.CacheTTL, s.CacheTTL <= Duration(630720000*time.Second), `must be at most 20 years ("175200h")`)
}

// keyspaceTLS checks the keyspaces' own TLS tables (store.casmetatls,
// store.casmsgtls, store.cascachetls), which override store.castls key by
// key: the same checks, with "" for verify taking castls's, and no
// setting that nothing would read.
func keyspaceTLS(ck *checker, s Store) {
	shared := s.CasTLS.Enable
	for _, k := range []struct {
		name string
		t    CasTLS
	}{{"meta", s.CasMetaTLS}, {"msg", s.CasMsgTLS}, {"cache", s.CasCacheTLS}} {
		key := "store.cas" + k.name + "tls."
		if k.t.Verify != "" { // "": castls's
			ck.oneOf(key+"verify", k.t.Verify, "full", "ca", "none")
		}
		if (k.t.CertFile == "") != (k.t.KeyFile == "") {
			ck.fail(key+"keyfile", k.t.KeyFile, "%scertfile and %skeyfile must be set together", key, key)
		}
		// A setting for a connection without TLS would be read by nothing.
		if !shared && !k.t.Enable {
			for _, f := range [][2]string{{"cafile", k.t.CAFile}, {"certfile", k.t.CertFile}, {"verify", k.t.Verify}} {
				if f[1] != "" {
					ck.fail(key+f[0], f[1], "TLS to the %s keyspace's cluster is off: set %senable = true (or store.castls.enable = true), or remove it", k.name, key)
				}
			}
		}
	}
}

// checker collects validation errors.
type checker struct{ errs []error }

// fail records that key, holding v, is wrong.
func (ck *checker) fail(key string, v any, format string, args ...any) {
	ck.errs = append(ck.errs, fmt.Errorf("config: %s = %s: %s", key, literal(reflect.ValueOf(v)), fmt.Sprintf(format, args...)))
}

func (ck *checker) require(key string, v any, ok bool, msg string) {
	if !ok {
		ck.fail(key, v, "%s", msg)
	}
}

func (ck *checker) oneOf(key, v string, allowed ...string) {
	if slices.Contains(allowed, v) {
		return
	}
	q := make([]string, len(allowed))
	for i, a := range allowed {
		q[i] = strconv.Quote(a)
	}
	msg := "must be " + q[0]
	if len(q) > 1 {
		msg = "must be " + strings.Join(q[:len(q)-1], ", ") + " or " + q[len(q)-1]
		if len(q) > 2 {
			msg = "must be one of " + msg[len("must be "):]
		}
	}
	ck.fail(key, v, "%s", msg)
}

// atLeast checks v >= lo.
func atLeast[T ~int | ~int64](ck *checker, key string, v, lo T) {
	if v < lo {
		ck.fail(key, v, "must be at least %s", literal(reflect.ValueOf(lo)))
	}
}

// checkAddr checks a listen address (needPort: host:port, where an empty
// host means every interface) or a connect point (host or host:port).
func checkAddr(a string, needPort bool) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		if needPort || strings.Contains(a, ":") && !isIP(a) {
			return errors.New(`must be host:port, such as "127.0.0.1:143" or "[::1]:143"`)
		}
		host, port = a, ""
	}
	if host == "" && !needPort {
		return errors.New("host must not be empty")
	}
	if host != "" && !isHost(host) {
		return fmt.Errorf("bad host %q", host)
	}
	if port != "" || needPort {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return fmt.Errorf("port must be a number from 1 to 65535")
		}
	}
	return nil
}

// isIP reports whether s is an IP address, with an optional IPv6 zone.
func isIP(s string) bool {
	ip, _, _ := strings.Cut(s, "%")
	return net.ParseIP(ip) != nil
}

// isHost reports whether h is an IP address or a DNS name.
func isHost(h string) bool {
	if isIP(h) {
		return true
	}
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_') {
			return false
		}
	}
	return true
}

// isKeyspaceName reports whether s is an unquoted CQL keyspace name.
func isKeyspaceName(s string) bool {
	if len(s) == 0 || len(s) > 48 || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}

// isDCName reports whether s is a data center name safe to put in a CQL
// replication map.
func isDCName(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return s != ""
}
