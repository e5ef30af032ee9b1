package config

import (
	"bufio"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Duration is a time.Duration written in the file as a string that
// time.ParseDuration accepts, such as "500ms", "5s" or "24h".
type Duration time.Duration

// Duration returns d as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

// String returns d in the shortest form ParseDuration reads back: "24h",
// "1h30m", "5m", "500ms".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// Size is a count of bytes, written in the file as an integer or as a string
// with a unit: B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB
// (powers of 1024), in any case, as in "50MB" or "50 MiB".
type Size int64

// Binary size units.
const (
	KiB Size = 1 << (10 * (iota + 1))
	MiB
	GiB
	TiB
)

// sizeUnit is a unit a Size may be written in.
type sizeUnit struct {
	name string
	n    Size
}

// sizeUnits returns the units, the binary ones first, largest first.
func sizeUnits() []sizeUnit {
	return []sizeUnit{
		{"TiB", TiB}, {"GiB", GiB}, {"MiB", MiB}, {"KiB", KiB},
		{"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1},
	}
}

// String returns s with the largest binary unit that divides it exactly
// ("50MiB"), or as a bare count of bytes.
func (s Size) String() string {
	for _, u := range sizeUnits()[:4] {
		if s > 0 && s%u.n == 0 {
			return strconv.FormatInt(int64(s/u.n), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(s), 10)
}

// MarshalText implements encoding.TextMarshaler.
func (s Size) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Size) UnmarshalText(b []byte) error {
	v, err := parseSize(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// parseSize reads a non-negative integer with an optional unit.
func parseSize(text string) (Size, error) {
	t := strings.TrimSpace(text)
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	n, err := strconv.ParseInt(t[:i], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("bad size %q", text)
	}
	unit := strings.TrimSpace(t[i:])
	mult := Size(1)
	if unit != "" {
		mult = 0
		for _, u := range sizeUnits() {
			if strings.EqualFold(unit, u.name) {
				mult = u.n
			}
		}
		if mult == 0 {
			return 0, fmt.Errorf("bad size unit %q", unit)
		}
	}
	if Size(n) > (1<<63-1)/mult {
		return 0, fmt.Errorf("size %q is too large", text)
	}
	return Size(n) * mult, nil
}

// Dump writes c as a TOML document: every key with its value in c, tables
// in the order of their first key in the struct, keys in declaration order.
// Parse reads the output back to an equal Config.
func (c Config) Dump(w io.Writer) error {
	var order []string
	byTable := map[string][]field{}
	for _, f := range fields(&c) {
		t := ""
		if j := strings.LastIndexByte(f.key, '.'); j >= 0 {
			t = f.key[:j]
		}
		if _, ok := byTable[t]; !ok {
			order = append(order, t)
		}
		byTable[t] = append(byTable[t], f)
	}
	bw := bufio.NewWriter(w)
	for i, t := range order {
		if i > 0 {
			bw.WriteString("\n")
		}
		prefix := ""
		if t != "" {
			fmt.Fprintf(bw, "[%s]\n", t)
			prefix = t + "."
		}
		for _, f := range byTable[t] {
			fmt.Fprintf(bw, "%s = %s\n", strings.TrimPrefix(f.key, prefix), literal(f.v))
		}
	}
	return bw.Flush()
}

// literal writes a field's value as a TOML value.
func literal(v reflect.Value) string {
	switch x := v.Interface().(type) {
	case Duration:
		return quote(x.String())
	case Size:
		if s := x.String(); strings.HasSuffix(s, "B") {
			return quote(s)
		}
		return strconv.FormatInt(int64(x), 10)
	case []string:
		parts := make([]string, len(x))
		for i, s := range x {
			parts[i] = quote(s)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string][]string:
		names := make([]string, 0, len(x))
		for k := range x {
			names = append(names, k)
		}
		sort.Strings(names)
		parts := make([]string, len(names))
		for i, k := range names {
			parts[i] = quote(k) + " = " + literal(reflect.ValueOf(x[k]))
		}
		return "{ " + strings.Join(parts, ", ") + " }"
	}
	return rawLiteral(v.Interface())
}

// rawLiteral writes a value as the toml package decodes it (or a field's
// basic value) in TOML form, for messages and Dump.
func rawLiteral(x any) string {
	switch x := x.(type) {
	case string:
		return quote(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = rawLiteral(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any, []map[string]any:
		return "(a table)"
	case nil:
		return "(nothing)"
	}
	return fmt.Sprint(x)
}

// quote writes s as a TOML basic string (TOML 1.0 section "String"): it
// escapes the quote, the backslash and every control character.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
