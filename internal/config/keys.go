package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"
)

// field is one key and the struct field holding its value.
type field struct {
	key    string        // dotted, e.g. "store.casmetarf"
	v      reflect.Value // settable when walked from a *Config
	secret bool          // tagged secret:"true": a password or shared secret
}

// fields lists every key of c in declaration order, by walking the toml
// tags. A struct-typed field is a table; every other field is a key.
func fields(c *Config) []field {
	var out []field
	walk(reflect.ValueOf(c).Elem(), "", &out)
	return out
}

func walk(v reflect.Value, prefix string, out *[]field) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("toml"), ",")
		if name == "" {
			// A programming error that every test run catches.
			panic("config: field " + t.Name() + "." + sf.Name + " has no toml tag")
		}
		if sf.Type.Kind() == reflect.Struct {
			walk(v.Field(i), prefix+name+".", out)
			continue
		}
		*out = append(*out, field{prefix + name, v.Field(i), sf.Tag.Get("secret") == "true"})
	}
}

// tableNames returns every table: each proper prefix of a key.
func tableNames(fs []field) map[string]bool {
	t := map[string]bool{}
	for _, f := range fs {
		k := f.key
		for {
			i := strings.LastIndexByte(k, '.')
			if i < 0 {
				break
			}
			k = k[:i]
			t[k] = true
		}
	}
	return t
}

// Keys returns every dotted key, in the order Dump writes them.
func Keys() []string {
	c := Default()
	var ks []string
	for _, f := range fields(&c) {
		ks = append(ks, f.key)
	}
	return ks
}

// Mask is what Masked puts in place of a secret.
const Mask = "********"

// Secret reports whether key holds a secret (a field tagged
// secret:"true": a password or a shared secret), which "quire config
// dump" masks and "quire config get" prints only when asked to.
func Secret(key string) bool {
	c := Default()
	for _, f := range fields(&c) {
		if f.key == key {
			return f.secret
		}
	}
	return false
}

// Masked returns a copy of c in which every secret that is set reads
// Mask, for showing a configuration to someone who should not learn its
// passwords. An empty secret stays empty, so the copy still shows which
// are set.
func (c Config) Masked() Config {
	for _, f := range fields(&c) {
		if f.secret && f.v.Kind() == reflect.String && f.v.String() != "" {
			f.v.SetString(Mask)
		}
	}
	return c
}

func (c *Config) field(key string) (reflect.Value, error) {
	fs := fields(c)
	for _, f := range fs {
		if f.key == key {
			return f.v, nil
		}
	}
	return reflect.Value{}, unknownKey(key, "", fs)
}

// Get returns the value of a dotted key as text Set accepts: strings,
// durations and sizes bare ("LOCAL_QUORUM", "5s", "50MiB"), lists as TOML
// arrays (["a:9042", "b:9042"]).
func (c Config) Get(key string) (string, error) {
	v, err := c.field(key)
	if err != nil {
		return "", err
	}
	switch x := v.Interface().(type) {
	case string:
		return x, nil
	case Duration:
		return x.String(), nil
	case Size:
		return x.String(), nil
	}
	return literal(v), nil
}

// Set sets a dotted key from text: a string as given; true or false; an
// integer; a duration such as "90s"; a size such as 52428800 or "50MiB"; a
// list as a TOML array (["a:9042", "b:9042"]) or comma-separated (a:9042,
// b:9042), where "" is the empty list. Set checks the type, not the range:
// call Validate after.
func (c *Config) Set(key, value string) error {
	v, err := c.field(key)
	if err != nil {
		return err
	}
	var x any = value
	switch {
	case v.Type() == reflect.TypeFor[Duration]():
	case v.Type() == reflect.TypeFor[Size]() || v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		if n, err := strconv.ParseInt(value, 10, 64); err == nil {
			x = n
		}
	case v.Kind() == reflect.Bool:
		if value == "true" || value == "false" {
			x = value == "true"
		}
	case v.Kind() == reflect.Slice:
		x = listValue(value)
	case v.Kind() == reflect.Map:
		var m map[string]any
		if _, err := toml.Decode("v = "+value, &m); err == nil && len(m) == 1 {
			x = m["v"]
		}
	}
	return assign(key, v, x)
}

// listValue turns Set's list text into the []any a TOML array decodes to.
func listValue(s string) any {
	t := strings.TrimSpace(s)
	if strings.HasPrefix(t, "[") {
		// A TOML array, unless it only looks like one: "[::1]:143".
		var m map[string]any
		if _, err := toml.Decode("v = "+t, &m); err == nil && len(m) == 1 {
			return m["v"]
		}
	}
	list := []any{}
	if t == "" {
		return list
	}
	for p := range strings.SplitSeq(t, ",") {
		list = append(list, strings.TrimSpace(p))
	}
	return list
}

// assign stores x, a value as the toml package decodes it, in v, checking
// its type. The error names the key and the type wanted.
func assign(key string, v reflect.Value, x any) error {
	bad := func(want string) error {
		return fmt.Errorf("config: %s = %s: must be %s", key, rawLiteral(x), want)
	}
	switch v.Type() {
	case reflect.TypeFor[Duration]():
		const want = `a duration such as "500ms", "5s", "5m" or "24h"`
		s, ok := x.(string)
		if !ok {
			return bad(want)
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return bad(want)
		}
		v.SetInt(int64(d))
		return nil
	case reflect.TypeFor[Size]():
		const want = `a size: an integer count of bytes, or a string such as "50MB" or "50MiB"`
		var n Size
		switch x := x.(type) {
		case int64:
			if x < 0 {
				return bad(want)
			}
			n = Size(x)
		case string:
			var err error
			if n, err = parseSize(x); err != nil {
				return bad(want)
			}
		default:
			return bad(want)
		}
		v.SetInt(int64(n))
		return nil
	}
	switch v.Kind() {
	case reflect.String:
		s, ok := x.(string)
		if !ok {
			return bad("a string")
		}
		if !utf8.ValidString(s) {
			return bad("valid UTF-8")
		}
		v.SetString(s)
	case reflect.Bool:
		b, ok := x.(bool)
		if !ok {
			return bad("true or false")
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, ok := x.(int64)
		if !ok || v.OverflowInt(n) {
			return bad("an integer")
		}
		v.SetInt(n)
	case reflect.Slice:
		const want = `a list of strings such as ["a", "b"]`
		arr, ok := x.([]any)
		if !ok {
			return bad(want)
		}
		list := make([]string, 0, len(arr))
		for _, e := range arr {
			s, ok := e.(string)
			if !ok || !utf8.ValidString(s) {
				return bad(want)
			}
			list = append(list, s)
		}
		v.Set(reflect.ValueOf(list))
	case reflect.Map:
		const want = `a table of lists of strings such as { east = ["a1", "a2"] }`
		tab, ok := x.(map[string]any)
		if !ok {
			return bad(want)
		}
		m := make(map[string][]string, len(tab))
		for k, e := range tab {
			arr, ok := e.([]any)
			if !ok {
				return bad(want)
			}
			for _, h := range arr {
				s, ok := h.(string)
				if !ok || !utf8.ValidString(s) {
					return bad(want)
				}
				m[k] = append(m[k], s)
			}
			if m[k] == nil {
				m[k] = []string{}
			}
		}
		v.Set(reflect.ValueOf(m))
	default:
		panic("config: key " + key + " has unsupported type " + v.Type().String())
	}
	return nil
}

// unknownKey reports a key that is not in fs, suggesting the nearest known
// key or table. in is " in FILE" or "".
func unknownKey(key, in string, fs []field) error {
	var known []string
	for _, f := range fs {
		known = append(known, f.key)
	}
	for t := range tableNames(fs) {
		known = append(known, t)
	}
	if s := suggest(key, known); s != "" {
		return fmt.Errorf("config: unknown key %q%s (did you mean %q?)", key, in, s)
	}
	return fmt.Errorf("config: unknown key %q%s", key, in)
}

// suggest returns the known key nearest to key by edit distance, ignoring
// case, if it is near enough to be a likely typo; a key whose last part
// matches a known key's counts as one edit away (the right name in the wrong
// table). Ties go to the alphabetically first, so the answer is stable.
func suggest(key string, known []string) string {
	low := strings.ToLower(key)
	last := low[strings.LastIndexByte(low, '.')+1:]
	best, bestD := "", max(2, len(key)/5)+1
	for _, k := range known {
		d := editDistance(low, k)
		if strings.HasSuffix(k, "."+last) || k == last {
			d = min(d, 1)
		}
		if d < bestD || d == bestD && k < best {
			best, bestD = k, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in bytes.
func editDistance(a, b string) int {
	if len(a) > 200 || len(b) > 200 {
		return max(len(a), len(b)) // no real key is this long; bound the work
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
