package config

import (
	"reflect"
	"strings"
	"testing"
)

// TestEdit compares whole files before and after: only the one value
// changes or the one line is added; comments, order and the other values
// stay as they were, and no default is written.
func TestEdit(t *testing.T) {
	const base = `# A comment at the top.
[server]
hostname = "mail.example.com"  # shown in greetings

[store]
dbtype = "embedded"
datadir = "/var/lib/quire"  # keep on a local disk
# A comment about the next table.

[imap]
listen = [
  ":143",  # every address
]
`
	for _, tc := range []struct {
		name, in, key, value, want string
	}{
		{"replace keeps the comment", base, "store.datadir", "/srv/quire",
			strings.Replace(base, `"/var/lib/quire"`, `"/srv/quire"`, 1)},
		{"replace a multi-line array", base, "imap.listen", "127.0.0.1:143, [::1]:143",
			strings.Replace(base, "[\n  \":143\",  # every address\n]", `["127.0.0.1:143", "[::1]:143"]`, 1)},
		{"add after the table's last key", base, "store.cachesize", "256MiB",
			strings.Replace(base, "keep on a local disk\n", "keep on a local disk\ncachesize = \"256MiB\"\n", 1)},
		{"a duration as written", base, "server.shutdown_grace", "90s",
			strings.Replace(base, "in greetings\n", "in greetings\nshutdown_grace = \"90s\"\n", 1)},
		{"a size as an integer", base, "lmtp.max_message_size", "52428800",
			base + "\n[lmtp]\nmax_message_size = 52428800\n"},
		{"a new table at the end", base, "store.purge.grace", "48h",
			base + "\n[store.purge]\ngrace = \"48h\"\n"},
		{"no newline at the end", "[log]\nlevel = \"info\"", "log.format", "json",
			"[log]\nlevel = \"info\"\nformat = \"json\"\n"},
		{"an empty file", "", "log.level", "debug", "[log]\nlevel = \"debug\"\n"},
		{"a dotted key in the parent table", "[store]\ndbtype = \"embedded\"\n  purge.enable = false\n", "store.purge.grace", "1h",
			"[store]\ndbtype = \"embedded\"\n  purge.enable = false\n  purge.grace = \"1h\"\n"},
		{"a quoted key", "[log]\n\"level\" = 'warn' # quiet\n", "log.level", "error", "[log]\n\"level\" = \"error\" # quiet\n"},
		{"a table of groups", "[store]\ndbtype = \"cassandra\"\n\n[store.storehostlist]\n# east coast\neast = [\"a1\", \"a2\"]\nwest = [\"a3\"]\n\n[imap]\nlisten = []\n",
			"store.storehostlist", `{ east = ["a1"], "x.y" = ["a4"] }`,
			"[store]\ndbtype = \"cassandra\"\n\n[store.storehostlist]\neast = [\"a1\"]\n\"x.y\" = [\"a4\"]\n# east coast\n\n[imap]\nlisten = []\n"},
		{"under its commented-out example", "[http]\nlisten = []\n# admin_token_file = \"/run/x\"\n\n[quota]\n", "http.admin_token_file", "/run/y",
			"[http]\nlisten = []\n# admin_token_file = \"/run/x\"\nadmin_token_file = \"/run/y\"\n\n[quota]\n"},
		{"CRLF lines", "[log]\r\nlevel = \"info\"\r\n", "log.level", "warn", "[log]\r\nlevel = \"warn\"\r\n"},
		{"CRLF lines added", "[log]\r\nlevel = \"info\"\r\n", "lmtp.max_recipients", "9", "[log]\r\nlevel = \"info\"\r\n\r\n[lmtp]\r\nmax_recipients = 9\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, c, err := Edit([]byte(tc.in), tc.key, tc.value)
			if err != nil {
				t.Fatal(err)
			}
			if string(out) != tc.want {
				t.Fatalf("Edit(%s, %q) gave\n%s\nwant\n%s", tc.key, tc.value, out, tc.want)
			}
			if want, err := Parse([]byte(tc.want)); err != nil || !reflect.DeepEqual(c, want) {
				t.Fatalf("the returned Config is not the new file's (%v)", err)
			}
		})
	}
}

// TestEditRefuses: a key inside an inline table, a bad value and an
// unknown key leave the file alone with an error that says why.
func TestEditRefuses(t *testing.T) {
	for _, tc := range []struct{ in, key, value, want string }{
		{"store = { dbtype = \"embedded\", purge = { grace = \"1h\" } }\n", "store.purge.grace", "2h",
			"config set: store.purge.grace is set inside the inline table store on line 1: change it there by hand"},
		{"[lmtp]\n", "lmtp.max_recipients", "many", `config: lmtp.max_recipients = "many": must be an integer`},
		{"[lmtp]\n", "lmtp.max_recipient", "1", `config: unknown key "lmtp.max_recipient" (did you mean "lmtp.max_recipients"?)`},
	} {
		out, _, err := Edit([]byte(tc.in), tc.key, tc.value)
		if err == nil || err.Error() != tc.want || out != nil {
			t.Errorf("Edit(%q, %s, %q) = %q, %v; want the error %q", tc.in, tc.key, tc.value, out, err, tc.want)
		}
	}
}

// TestEditNeverWritesHostname is the bug of issue 19: config set wrote
// the whole file from the effective Config, so server.hostname became
// this machine's name.
func TestEditNeverWritesHostname(t *testing.T) {
	out, _, err := Edit([]byte("[lmtp]\nmax_recipients = 5\n"), "lmtp.max_recipients", "7")
	if err != nil || string(out) != "[lmtp]\nmax_recipients = 7\n" {
		t.Fatalf("Edit = %q, %v", out, err)
	}
}
