package config

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
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
