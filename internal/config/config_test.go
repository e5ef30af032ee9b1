package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
	c, err := Load("")
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Fatalf("Load(\"\") = %+v, %v; want the defaults", c, err)
	}
	c, err = Parse(nil)
	if err != nil || !reflect.DeepEqual(c, Default()) {
		t.Fatalf("Parse(nil) = %+v, %v; want the defaults", c, err)
	}
}

// changed returns a config in which every key differs from its default,
// with awkward strings, so a round trip exercises every key and the quoting.
func changed(t *testing.T) Config {
	t.Helper()
	c := Default()
	for i, f := range fields(&c) {
		switch x := f.v.Interface().(type) {
		case Duration:
			f.v.SetInt(int64(x) + int64(1500*time.Millisecond))
		case Size:
			f.v.SetInt(int64(x) + int64(i) + 1)
		case string:
			f.v.SetString(x + "-\"q\"\\ \t\x01\x7f é " + f.key)
		case bool:
			f.v.SetBool(!x)
		case int:
			f.v.SetInt(int64(x + i + 1))
		case int64:
			f.v.SetInt(x + int64(i) + 1)
		case []string:
			f.v.Set(reflect.ValueOf(append(x, "h"+f.key+":1", `odd "one"`)))
		case map[string][]string:
			f.v.Set(reflect.ValueOf(map[string][]string{"east": {"a1", "a2:4791"}, `odd "g"`: {}}))
		default:
			t.Fatalf("%s: no test value for type %T", f.key, x)
		}
	}
	return c
}

func TestEveryKeyRoundTrips(t *testing.T) {
	for _, c := range []Config{Default(), changed(t)} {
		var b bytes.Buffer
		if err := c.Dump(&b); err != nil {
			t.Fatal(err)
		}
		got, err := Parse(b.Bytes())
		if err != nil {
			t.Fatalf("Parse(Dump()): %v\n%s", err, b.String())
		}
		for _, k := range Keys() {
			want, _ := c.Get(k)
			have, err := got.Get(k)
			if err != nil || have != want {
				t.Errorf("%s: after Dump and Parse %q, %v; want %q", k, have, err, want)
			}
			if n := strings.Count(b.String(), "\n"+k[strings.LastIndexByte(k, '.')+1:]+" = "); n == 0 {
				t.Errorf("%s is missing from Dump", k)
			}
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("Parse(Dump()) differs from the original")
		}
	}
}

func TestDumpIsStable(t *testing.T) {
	var a, b bytes.Buffer
	Default().Dump(&a)
	Default().Dump(&b)
	if a.String() != b.String() {
		t.Fatal("two dumps of one config differ")
	}
	for _, want := range []string{"[store]\ndbtype = \"embedded\"\n", "[store.castls]\n", `casconnecttimeout = "5s"`, `max_message_size = "50MiB"`, `cachettl = "336h"`} {
		if !strings.Contains(a.String(), want) {
			t.Errorf("dump lacks %q", want)
		}
	}
}

func TestUnknownKeys(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "quire.toml")
	os.WriteFile(path, []byte("[store]\ncasconectpoints = [\"a:9042\"]\n"), 0o600)
	_, err := Load(path)
	want := `config: unknown key "store.casconectpoints" in ` + path + ` (did you mean "store.casconnectpoints"?)`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v\nwant %s", err, want)
	}
	for _, tc := range []struct{ doc, want string }{
		{"colour = 1", `unknown key "colour"`},
		{"[stor]\ndbtype = \"embedded\"", `unknown key "stor" (did you mean "store"?)`},
		{"[store]\nDBType = \"embedded\"", `unknown key "store.DBType" (did you mean "store.dbtype"?)`},
		{"[server]\ndbtype = \"embedded\"", `unknown key "server.dbtype" (did you mean "store.dbtype"?)`},
		{"[store.purge]\nenabled = true", `unknown key "store.purge.enabled" (did you mean "store.purge.enable"?)`},
		{"[store]\ncastls.enabel = true", `unknown key "store.castls.enabel" (did you mean "store.castls.enable"?)`},
		{"[imap]\nlisten = []\nzzzzzzzzzz = 1", `unknown key "imap.zzzzzzzzzz"` + "\n"},
		{`"store.dbtype" = "embedded"`, `unknown key "\"store.dbtype\""`},
	} {
		_, err := Parse([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error()+"\n", tc.want) {
			t.Errorf("%q: got %v, want %s", tc.doc, err, tc.want)
		}
	}
	// Every problem is reported, not just the first.
	_, err = Parse([]byte("a = 1\n[store]\nb = 2\ncasmetarf = \"x\"\n"))
	for _, k := range []string{`"a"`, `"store.b"`, "store.casmetarf ="} {
		if err == nil || !strings.Contains(err.Error(), k) {
			t.Errorf("error %v does not name %s", err, k)
		}
	}
}

// wrongTypeValue returns a TOML value of the wrong type for f.
func wrongTypeValue(f field) string {
	switch f.v.Interface().(type) {
	case Duration:
		return "5"
	case Size:
		return "true"
	case string:
		return "1"
	case bool:
		return `"yes"`
	case int, int64:
		return `"3"`
	case []string:
		return `"a:1"`
	case map[string][]string:
		return `{ east = "a1" }`
	}
	return "{}"
}

func TestBadTypesNameTheKey(t *testing.T) {
	c := Default()
	for _, f := range fields(&c) {
		i := strings.LastIndexByte(f.key, '.')
		doc := "[" + f.key[:i] + "]\n" + f.key[i+1:] + " = " + wrongTypeValue(f) + "\n"
		_, err := Parse([]byte(doc))
		if err == nil || !strings.HasPrefix(err.Error(), "config: "+f.key+" = ") || !strings.Contains(err.Error(), "must be") {
			t.Errorf("%s: got %v", f.key, err)
		}
	}
	for _, tc := range []struct{ doc, want string }{
		{"[store]\ncasconnecttimeout = \"5 sec\"", `config: store.casconnecttimeout = "5 sec": must be a duration`},
		{"[lmtp]\nmax_message_size = \"50 furlongs\"", `config: lmtp.max_message_size = "50 furlongs": must be a size`},
		{"[lmtp]\nmax_message_size = -1", `lmtp.max_message_size = -1: must be a size`},
		{"[lmtp]\nlisten = [1, 2]", `lmtp.listen = [1, 2]: must be a list of strings`},
		{"[store]\ncasmetarf = 3.0", `store.casmetarf = 3: must be an integer`},
		{"store = 5", `config: store = 5: must be a table, [store]`},
		{"[[store]]\ndbtype = \"x\"", `config: store = (a table): must be a table`},
		{"[store.dbtype]\nx = 1", `config: store.dbtype = (a table): must be a string`},
		{"[store]\ndbtype = ", `config: syntax error in config line 2`},
	} {
		_, err := Parse([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got %v, want %s", tc.doc, err, tc.want)
		}
	}
}

func TestSizes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Size
	}{
		{"0", 0}, {"100", 100}, {"50MB", 50e6}, {"50MiB", 50 << 20}, {"50 mib", 50 << 20},
		{"1KB", 1000}, {"4KiB", 4096}, {"2GiB", 2 << 30}, {"1TB", 1e12}, {"7B", 7},
	} {
		got, err := parseSize(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "MB", "-1", "1.5GB", "5 furlongs", "99999999999TiB", "1e6"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) succeeded", bad)
		}
	}
	for s, want := range map[Size]string{0: "0", 1000: "1000", 4096: "4KiB", 50 << 20: "50MiB", 3 << 40: "3TiB"} {
		if s.String() != want {
			t.Errorf("Size(%d).String() = %q, want %q", int64(s), s.String(), want)
		}
	}
	for d, want := range map[time.Duration]string{24 * time.Hour: "24h", 90 * time.Minute: "1h30m", 5 * time.Minute: "5m", 500 * time.Millisecond: "500ms", 0: "0s", 61 * time.Second: "1m1s"} {
		if got := Duration(d).String(); got != want {
			t.Errorf("Duration(%v).String() = %q, want %q", d, got, want)
		}
	}
}

func TestGetSet(t *testing.T) {
	c := Default()
	for _, tc := range []struct{ key, value, get string }{
		{"store.dbtype", "cassandra", "cassandra"},
		{"store.casmetarf", "5", "5"},
		{"store.casdurablewrites", "false", "false"},
		{"store.casconnecttimeout", "90s", "1m30s"},
		{"lmtp.max_message_size", "10MB", "10000000"},
		{"lmtp.max_message_size", "1048576", "1MiB"},
		{"store.casconnectpoints", "a:9042, b:9042", `["a:9042", "b:9042"]`},
		{"store.casconnectpoints", `["c:9042"]`, `["c:9042"]`},
		{"store.casmsgconnectpoints", "", `[]`},
		{"store.castls.verify", "ca", "ca"},
		{"quota.default_messages", "1000", "1000"},
	} {
		if err := c.Set(tc.key, tc.value); err != nil {
			t.Errorf("Set(%s, %q): %v", tc.key, tc.value, err)
			continue
		}
		if got, err := c.Get(tc.key); err != nil || got != tc.get {
			t.Errorf("Get(%s) = %q, %v; want %q", tc.key, got, err, tc.get)
		}
	}
	// Set must not change a list another copy shares.
	d := Default()
	e := d
	e.Set("imap.listen", "127.0.0.1:9143")
	if d.IMAP.Listen[0] != "127.0.0.1:143" {
		t.Error("Set changed a copy's list")
	}
	for _, tc := range []struct{ key, value, want string }{
		{"store.casconectpoints", "a", `config: unknown key "store.casconectpoints" (did you mean "store.casconnectpoints"?)`},
		{"store", "a", `config: unknown key "store"`},
		{"store.casmetarf", "three", `config: store.casmetarf = "three": must be an integer`},
		{"store.casdurablewrites", "yes", `config: store.casdurablewrites = "yes": must be true or false`},
		{"store.casconnecttimeout", "5", `config: store.casconnecttimeout = "5": must be a duration`},
		{"lmtp.max_message_size", "big", `config: lmtp.max_message_size = "big": must be a size`},
		{"imap.listen", `["a", 1]`, `config: imap.listen = ["a", 1]: must be a list of strings`},
	} {
		err := c.Set(tc.key, tc.value)
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Set(%s, %q) = %v, want %s", tc.key, tc.value, err, tc.want)
		}
	}
	if _, err := c.Get("nope"); err == nil {
		t.Error("Get of an unknown key succeeded")
	}
}

func TestExamplesAreValid(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*.toml")
	if len(files) < 3 {
		t.Fatalf("found %d example files, want at least 3", len(files))
	}
	for _, f := range files {
		c, err := Load(f)
		if err == nil {
			err = c.Validate()
		}
		if err == nil {
			err = c.LoginCheck() // issue 19: shipped examples let nobody log in
		}
		if err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	dev, err := Load("../../examples/quire-dev.toml")
	if err != nil || dev.Store.DBType != "embedded" || dev.IMAP.Listen[0] != "127.0.0.1:1143" || dev.LMTP.Listen[0] != "127.0.0.1:2424" || dev.HTTP.Listen[0] != "127.0.0.1:8025" {
		t.Errorf("quire-dev.toml: %v, %+v", err, dev)
	}
	ah, err := Load("../../examples/access-host.toml")
	if err != nil || ah.Store.DBType != "cassandra" || ah.Store.CasCacheRF != 1 {
		t.Errorf("access-host.toml: %v", err)
	}
}
