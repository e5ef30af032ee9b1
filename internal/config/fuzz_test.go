package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that Parse never panics, that whatever it accepts Dump
// writes back to an equal Config, and that Set(k, Get(k)) changes nothing.
func FuzzParse(f *testing.F) {
	var b bytes.Buffer
	Default().Dump(&b)
	f.Add(b.Bytes())
	files, _ := filepath.Glob("../../examples/*.toml")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data)
		}
	}
	for _, s := range []string{
		"[store]\ncasmetarf = 5\ncasconnectpoints = [\"a\", 'b\\c']\n",
		"[lmtp]\nmax_message_size = \"50 MB\"\ntimeout = \"1h2m3.5s\"\n",
		"store = {dbtype = \"cassandra\", purge = {grace = \"1s\"}}\n",
		"[store.castls]\ncafile = \"\\u0001\\\"x\\\"\"\n",
		"[[store]]\n",
		"[store]\nDBTYPE = 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		_ = c.Validate()
		var out bytes.Buffer
		if err := c.Dump(&out); err != nil {
			t.Fatal(err)
		}
		again, err := Parse(out.Bytes())
		if err != nil {
			t.Fatalf("Parse(Dump()) failed: %v\n%s", err, out.String())
		}
		if !reflect.DeepEqual(c, again) {
			t.Fatalf("Parse(Dump()) differs\n%s", out.String())
		}
		for _, k := range Keys() {
			v, err := c.Get(k)
			if err != nil {
				t.Fatal(err)
			}
			d := c
			if err := d.Set(k, v); err != nil {
				t.Fatalf("Set(%s, Get(%s) = %q): %v", k, k, v, err)
			}
			if !reflect.DeepEqual(c, d) {
				t.Fatalf("Set(%s, %q) changed the config", k, v)
			}
		}
	})
}

// FuzzEdit checks that Edit never panics, that what it writes parses to
// the Config Set makes, and that it keeps every comment line of the file,
// in order.
func FuzzEdit(f *testing.F) {
	files, _ := filepath.Glob("../../examples/*.toml")
	for _, name := range files {
		if data, err := os.ReadFile(name); err == nil {
			f.Add(data, uint16(3), "42")
			f.Add(data, uint16(12), "a:9042, b")
		}
	}
	f.Add([]byte("[store]\npurge.enable = true\n[store.storehostlist]\neast = ['a']\n"), uint16(5), `{ west = ["b"] }`)
	f.Add([]byte("store = { dbtype = \"embedded\" }\n"), uint16(4), "x")
	f.Add([]byte("[imap]\nlisten = [ # c\n \"a:1\", '''b:2''',\n]\n"), uint16(40), "true")
	keys := Keys()
	f.Fuzz(func(t *testing.T, data []byte, k uint16, value string) {
		if _, err := Parse(data); err != nil {
			return
		}
		key := keys[int(k)%len(keys)]
		out, c, err := Edit(data, key, value)
		if err != nil {
			return
		}
		if got, err := Parse(out); err != nil || !reflect.DeepEqual(got, c) {
			t.Fatalf("Edit(%s, %q) wrote a file that does not parse to its Config (%v):\n%s", key, value, err, out)
		}
		var comments []string
		for _, l := range strings.Split(string(data), "\n") {
			if t := strings.TrimSpace(l); strings.HasPrefix(t, "#") {
				comments = append(comments, t)
			}
		}
		rest := string(out)
		for _, cm := range comments {
			i := strings.Index(rest, cm)
			if i < 0 {
				t.Fatalf("Edit(%s, %q) lost the comment %q:\n%s", key, value, cm, out)
			}
			rest = rest[i+len(cm):]
		}
	})
}
