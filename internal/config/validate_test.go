package config

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateNamesTheKey(t *testing.T) {
	for _, tc := range []struct {
		set  [][2]string // key, value pairs applied to the defaults
		want string      // the start of one of the errors
	}{
		{[][2]string{{"store.dbtype", "mysql"}}, `config: store.dbtype = "mysql": must be "embedded" or "cassandra"`},
		{[][2]string{{"server.hostname", ""}}, `config: server.hostname = "": must be`},
		{[][2]string{{"server.shutdown_grace", "-1s"}}, `config: server.shutdown_grace = "-1s": must be from "0s" to "10m"`},
		{[][2]string{{"server.shutdown_grace", "11m"}}, `config: server.shutdown_grace = "11m": must be from "0s" to "10m"`},
		{[][2]string{{"server.gc_percent", "5"}}, `config: server.gc_percent = 5: must be from 10 to 10000, or -1`},
		{[][2]string{{"server.gc_percent", "-1"}}, `config: server.gc_percent = -1: -1 turns the garbage collector off: it needs server.memory_limit`},
		{[][2]string{{"server.memory_limit", "1MiB"}}, `config: server.memory_limit = "1MiB": must be 0 (none) or at least "64MiB"`},
		{[][2]string{{"log.level", "verbose"}}, `config: log.level = "verbose": must be one of "debug", "info", "warn" or "error"`},
		{[][2]string{{"log.format", "xml"}}, `config: log.format = "xml": must be "text" or "json"`},
		{[][2]string{{"store.datadir", ""}}, `config: store.datadir = "": must name a directory`},
		{[][2]string{{"store.purge.grace", "-1h"}}, `config: store.purge.grace = "-1h": must be at least "0s"`},
		{[][2]string{{"store.purge.log_history", "59m"}}, `config: store.purge.log_history = "59m": must be 0 (keep the change log forever) or at least "1h"`},
		{[][2]string{{"store.dbtype", "cassandra"}, {"store.casconnectpoints", ""}}, `config: store.casconnectpoints = []: must list at least one host`},
		{[][2]string{{"store.dbtype", "cassandra"}, {"store.storehostlist", `{ east = ["a1", "a2"], west = ["b1", "A1:4791"] }`}},
			`config: store.storehostlist = { "east" = ["a1", "a2"], "west" = ["b1", "A1:4791"] }: host "a1" is in groups "east" and "west"; a host belongs to one store affinity group`},
		{[][2]string{{"store.dbtype", "cassandra"}, {"store.storehostlist", `{ east = ["a1", "a1"] }`}}, `config: store.storehostlist = { "east" = ["a1", "a1"] }: group "east" lists host "a1" twice`},
		{[][2]string{{"store.dbtype", "cassandra"}, {"store.storehostlist", `{ east = [] }`}}, `config: store.storehostlist = { "east" = [] }: group "east" lists no hosts`},
		{[][2]string{{"store.storehostlist", `{ east = ["a1", "a2"] }`}}, `config: store.storehostlist = { "east" = ["a1", "a2"] }: group "east" has 2 hosts: several hosts share a store only with store.dbtype = "cassandra"`},
		{[][2]string{{"store.dbtype", "cassandra"}, {"store.storehostlist", `{ "bad group" = ["a1"] }`}}, `config: store.storehostlist = { "bad group" = ["a1"] }: group name "bad group" must be`},
		{[][2]string{{"notify.listen", "127.0.0.1:4790"}}, `config: notify.secret = "(hidden)": must be at least 16 characters`},
		{[][2]string{{"notify.port", "0"}}, `config: notify.port = 0: must be a port number`},
		{[][2]string{{"isc.mode", "lazy"}}, `config: isc.mode = "lazy": must be "immediate" or "deferred"`},
		{[][2]string{{"isc.hosts", "isc1:8026"}}, `config: isc.hosts = "isc1:8026": must be a base URL`},
		{[][2]string{{"isc.tika", "ftp://t"}}, `config: isc.hosts = "ftp://t": must be a base URL`},
		{[][2]string{{"isc.workers", "0"}}, `config: isc.workers = 0: must be at least 1`},
		{[][2]string{{"isc.max_pdf_memory", "32MiB"}}, `config: isc.max_pdf_memory = "32MiB": must be at least "64MiB"`},
		{[][2]string{{"isc.engine_cache", "cache/pdf"}}, `config: isc.engine_cache = "cache/pdf": must be an absolute directory`},
		{[][2]string{{"isc.delivery_wait", "0s"}}, `config: isc.delivery_wait = "0s": must be from "1ms" to "1m"`},
		{[][2]string{{"isc.delivery_wait", "2m"}}, `config: isc.delivery_wait = "2m": must be from "1ms" to "1m"`},
		{[][2]string{{"login.hash_memory", "512KiB"}}, `config: login.hash_memory = "512KiB": must be at least "1MiB"`},
		{[][2]string{{"login.hash_wait", "0s"}}, `config: login.hash_wait = "0s": must be at least "100ms"`},
		{[][2]string{{"login.cache_entries", "-1"}}, `config: login.cache_entries = -1: must be at least 0`},
		{[][2]string{{"search.engine", "solr"}}, `config: search.engine = "solr": must be "bleve", "opensearch" or "none"`},
		{[][2]string{{"store.dbtype", "cassandra"}, {"search.engine", "bleve"}}, `config: search.engine = "bleve": "bleve" lives in one host's data directory`},
		{[][2]string{{"search.engine", "opensearch"}}, `config: search.url = "": must name the OpenSearch or Elasticsearch server`},
		{[][2]string{{"search.url", "localhost:9200"}}, `config: search.url = "localhost:9200": must be a URL`},
		{[][2]string{{"search.index", "Quire"}}, `config: search.index = "Quire": must be a lower-case index name`},
		{[][2]string{{"notify.listen", "127.0.0.1:143"}, {"notify.secret", "0123456789abcdef"}}, `config: notify.listen = ["127.0.0.1:143"]: "127.0.0.1:143" is also in imap.listen`},
		{[][2]string{{"store.casconnectpoints", "a:b:c"}}, `config: store.casconnectpoints = ["a:b:c"]: "a:b:c": must be host:port`},
		{[][2]string{{"store.casmsgconnectpoints", "h:0"}}, `config: store.casmsgconnectpoints = ["h:0"]: "h:0": port must be`},
		{[][2]string{{"store.cascacheconnectpoints", ":9042"}}, `config: store.cascacheconnectpoints = [":9042"]: ":9042": host must not be empty`},
		{[][2]string{{"store.casmetaconnectpoints", "bad host"}}, `config: store.casmetaconnectpoints = ["bad host"]: "bad host": bad host`},
		{[][2]string{{"store.casmetakeyspace", "1bad"}}, `config: store.casmetakeyspace = "1bad": must be a Cassandra keyspace name`},
		{[][2]string{{"store.casmsgkeyspace", "ms-msg"}}, `config: store.casmsgkeyspace = "ms-msg": must be a Cassandra keyspace name`},
		{[][2]string{{"store.cascachekeyspace", "ms_mbox"}}, `config: store.cascachekeyspace = "ms_mbox": is also store.casmetakeyspace on the same connect points`},
		{[][2]string{{"store.casmsgpassword", "pw"}}, `config: store.casmsgusername = "": must be set with store.casmsgpassword (or leave both out to use store.casusername and store.caspassword)`},
		{[][2]string{{"store.casusername", "quire"}, {"store.cascachepassword", "pw"}}, `config: store.cascacheusername = "": must be set with store.cascachepassword`},
		{[][2]string{{"store.casmetarf", "0"}}, `config: store.casmetarf = 0: must be at least 1`},
		{[][2]string{{"store.casmsgrf", "-1"}}, `config: store.casmsgrf = -1: must be at least 1`},
		{[][2]string{{"store.cascacherf", "0"}}, `config: store.cascacherf = 0: must be at least 1`},
		{[][2]string{{"store.casmetadc", ""}}, `config: store.casmetadc = "": must be a data center name`},
		{[][2]string{{"store.casmsgdc", "dc'1"}}, `config: store.casmsgdc = "dc'1": must be a data center name`},
		{[][2]string{{"store.cascachedc", "a b"}}, `config: store.cascachedc = "a b": must be a data center name`},
		{[][2]string{{"store.casreplicationstrategy", "Simple"}}, `config: store.casreplicationstrategy = "Simple": must be "NetworkTopologyStrategy" or "SimpleStrategy"`},
		{[][2]string{{"store.casreadconsistency", "ANY"}}, `config: store.casreadconsistency = "ANY": must be one of "ONE"`},
		{[][2]string{{"store.dbtype", "cassandra"}, {"store.purge.enable", "true"}, {"store.casreadconsistency", "LOCAL_ONE"}}, `config: store.casreadconsistency = "LOCAL_ONE": must be a quorum (LOCAL_QUORUM, QUORUM, EACH_QUORUM) or ALL while store.purge.enable is set`},
		{[][2]string{{"store.casreadfallbackconsistency", "local_one"}}, `config: store.casreadfallbackconsistency = "local_one": must be one of "", "ONE"`},
		{[][2]string{{"store.caswriteconsistency", ""}}, `config: store.caswriteconsistency = "": must be one of "ANY"`},
		{[][2]string{{"store.caswritefallbackconsistency", "SERIAL"}}, `config: store.caswritefallbackconsistency = "SERIAL"`},
		{[][2]string{{"store.casdeleteconsistency", "MOST"}}, `config: store.casdeleteconsistency = "MOST"`},
		{[][2]string{{"store.casdeletefallbackconsistency", "X"}}, `config: store.casdeletefallbackconsistency = "X"`},
		{[][2]string{{"store.casserialconsistency", "QUORUM"}}, `config: store.casserialconsistency = "QUORUM": must be "LOCAL_SERIAL" or "SERIAL"`},
		{[][2]string{{"store.casconnecttimeout", "0s"}}, `config: store.casconnecttimeout = "0s": must be at least "1ms"`},
		{[][2]string{{"store.casrequesttimeout", "-5s"}}, `config: store.casrequesttimeout = "-5s": must be at least "1ms"`},
		{[][2]string{{"store.casretries", "-1"}}, `config: store.casretries = -1: must be at least 0`},
		{[][2]string{{"store.caspagesize", "0"}}, `config: store.caspagesize = 0: must be at least 1`},
		{[][2]string{{"store.casslowquery", "-1ms"}}, `config: store.casslowquery = "-1ms": must be at least "0s"`},
		{[][2]string{{"log.slow_command", "-1s"}}, `config: log.slow_command = "-1s": must be at least "0s"`},
		{[][2]string{{"store.casfallbackbackoffmin", "0s"}}, `config: store.casfallbackbackoffmin = "0s": must be at least "1ms"`},
		{[][2]string{{"store.casfallbackbackoffmax", "10ms"}}, `config: store.casfallbackbackoffmax = "10ms": must be at least store.casfallbackbackoffmin`},
		{[][2]string{{"store.castls.verify", "yes"}}, `config: store.castls.verify = "yes": must be one of "full", "ca" or "none"`},
		{[][2]string{{"store.castls.certfile", "c.pem"}}, `config: store.castls.keyfile = "": store.castls.certfile and store.castls.keyfile must be set together`},
		{[][2]string{{"store.casmsgtls.enable", "true"}, {"store.casmsgtls.verify", "yes"}}, `config: store.casmsgtls.verify = "yes": must be one of "full", "ca" or "none"`},
		{[][2]string{{"store.castls.enable", "true"}, {"store.casmetatls.certfile", "c.pem"}}, `config: store.casmetatls.keyfile = "": store.casmetatls.certfile and store.casmetatls.keyfile must be set together`},
		{[][2]string{{"store.cascachetls.cafile", "ca.pem"}}, `config: store.cascachetls.cafile = "ca.pem": TLS to the cache keyspace's cluster is off: set store.cascachetls.enable = true (or store.castls.enable = true), or remove it`},
		{[][2]string{{"store.casmsgtls.verify", "ca"}}, `config: store.casmsgtls.verify = "ca": TLS to the msg keyspace's cluster is off`},
		{[][2]string{{"store.casmsgchunksize", "1KiB"}}, `config: store.casmsgchunksize = "1KiB": must be from 4KiB to 4MiB`},
		{[][2]string{{"store.casmsgchunksize", "5MiB"}}, `config: store.casmsgchunksize = "5MiB": must be from 4KiB to 4MiB`},
		{[][2]string{{"store.casbucketsize", "1000"}}, `config: store.casbucketsize = 1000: must be a power of two from 64 to 65536`},
		{[][2]string{{"store.casbucketsize", "32"}}, `config: store.casbucketsize = 32: must be a power of two`},
		{[][2]string{{"store.cachettl", "0s"}}, `config: store.cachettl = "0s": must be at least "1s"`},
		{[][2]string{{"store.cachettl", "200000h"}}, `config: store.cachettl = "200000h": must be at most 20 years`},
		{[][2]string{{"imap.listen", "127.0.0.1"}}, `config: imap.listen = ["127.0.0.1"]: "127.0.0.1": must be host:port`},
		{[][2]string{{"pop3.listen", "127.0.0.1:0"}}, `config: pop3.listen = ["127.0.0.1:0"]: "127.0.0.1:0": port must be a number from 1 to 65535`},
		{[][2]string{{"lmtp.listen", "127.0.0.1:65536"}}, `config: lmtp.listen = ["127.0.0.1:65536"]: "127.0.0.1:65536": port must be`},
		{[][2]string{{"http.listen", "127.0.0.1:http"}}, `config: http.listen = ["127.0.0.1:http"]: "127.0.0.1:http": port must be`},
		{[][2]string{{"http.listen", "127.0.0.1:143"}}, `config: http.listen = ["127.0.0.1:143"]: "127.0.0.1:143" is also in imap.listen`},
		{[][2]string{{"imap.listen", "[::1]:143,[::1]:143"}}, `config: imap.listen = ["[::1]:143", "[::1]:143"]: "[::1]:143" is also in imap.listen`},
		{[][2]string{{"lmtp.max_recipients", "0"}}, `config: lmtp.max_recipients = 0: must be at least 1`},
		{[][2]string{{"lmtp.max_line_length", "100"}}, `config: lmtp.max_line_length = 100: must be at least 512`},
		{[][2]string{{"lmtp.max_connections", "-1"}}, `config: lmtp.max_connections = -1: must be at least 0`},
		{[][2]string{{"lmtp.timeout", "0s"}}, `config: lmtp.timeout = "0s": must be at least "1s"`},
		{[][2]string{{"quota.default_messages", "-1"}}, `config: quota.default_messages = -1: must be at least 0`},
	} {
		c := Default()
		for _, kv := range tc.set {
			if err := c.Set(kv[0], kv[1]); err != nil {
				t.Fatalf("Set(%s, %q): %v", kv[0], kv[1], err)
			}
		}
		if !hasError(c.Validate(), tc.want) {
			t.Errorf("%v: got %v\nwant %s", tc.set, c.Validate(), tc.want)
		}
	}
}

// hasError reports whether one of the errors joined in err starts with want.
func hasError(err error, want string) bool {
	if err == nil {
		return false
	}
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return strings.HasPrefix(err.Error(), want)
	}
	for _, e := range j.Unwrap() {
		if strings.HasPrefix(e.Error(), want) {
			return true
		}
	}
	return false
}

func TestValidateAcceptsEdges(t *testing.T) {
	c := Default()
	for _, kv := range [][2]string{
		{"store.dbtype", "cassandra"},
		{"store.casconnectpoints", "cass1, 10.0.0.2:9042, [::1]:9042, ::1, fe80::1%eth0"},
		{"store.casreadfallbackconsistency", ""},
		{"store.casreplicationstrategy", "SimpleStrategy"},
		{"store.casmetadc", ""},
		{"store.casmsgconnectpoints", "other:9042"},
		{"store.casmsgkeyspace", "ms_mbox"},                                // another cluster
		{"store.casmsgusername", "msg_user"}, {"store.casmsgpassword", ""}, // its own user, no password
		{"store.cascacheusername", "cache_user"}, {"store.cascachepassword", "pw"},
		// TLS to the messages' cluster only, with its own CA and client
		// certificate, checked for the CA only.
		{"store.casmsgtls.enable", "true"}, {"store.casmsgtls.cafile", "msg-ca.pem"}, {"store.casmsgtls.verify", "ca"},
		{"store.casmsgtls.certfile", "c.pem"}, {"store.casmsgtls.keyfile", "c.key"},
		{"store.casmsgchunksize", "4MiB"},
		{"store.casbucketsize", "65536"},
		{"imap.listen", ":143"},
		{"pop3.listen", ""},
		{"lmtp.max_message_size", "0"},
		{"store.casslowquery", "0s"},
		{"log.slow_command", "0s"},
		{"http.metrics_public", "true"},
	} {
		if err := c.Set(kv[0], kv[1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := Default()
	c.Set("store.dbtype", "mysql")
	c.Set("store.casmetarf", "0")
	c.Set("lmtp.listen", "nowhere")
	err := c.Validate()
	j, ok := err.(interface{ Unwrap() []error })
	if !ok || len(j.Unwrap()) != 3 {
		t.Fatalf("got %v, want three errors", err)
	}
	if errors.Unwrap(err) != nil {
		t.Fatal("joined error unwraps to one error")
	}
}

func TestSearchEngineDefault(t *testing.T) {
	c := Default()
	if e := c.SearchEngine(); e != "bleve" {
		t.Errorf("embedded: %q", e)
	}
	c.Store.DBType = "cassandra"
	if e := c.SearchEngine(); e != "none" {
		t.Errorf("cassandra without search.url: %q", e)
	}
	c.Search.URL = "http://127.0.0.1:9200"
	if e := c.SearchEngine(); e != "opensearch" {
		t.Errorf("cassandra with search.url: %q", e)
	}
	c.Search.Engine = "none"
	if e := c.SearchEngine(); e != "none" {
		t.Errorf("explicit none: %q", e)
	}
}
