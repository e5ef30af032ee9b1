package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"
)

// Edit returns the TOML document data with key set to value (text as Set
// takes it), changed in place: the one value is replaced where the file
// sets it, or the key is added after the last key of its table (or in a
// new table at the end). Comments, blank lines, the order of keys and
// every other value are kept byte for byte, and no default is written.
// It also returns the Config the new document parses to, for Validate.
//
// Edit checks its own work: the result must parse to exactly the Config
// that Set makes of data's. A key the file sets inside an inline table is
// refused with an error naming the line, for a person to change.
func Edit(data []byte, key, value string) ([]byte, Config, error) {
	c, err := Parse(data)
	if err != nil {
		return nil, Config{}, err
	}
	if err := c.Set(key, value); err != nil {
		return nil, Config{}, err
	}
	v, _ := c.field(key)
	s := string(data)
	doc, err := scanDoc(s)
	if err != nil {
		// Parse accepted it, so this is the scanner's shortcoming.
		return nil, Config{}, fmt.Errorf("config set: cannot edit the file in place (%v): change %s by hand", err, key)
	}
	out, err := doc.set(s, strings.Split(key, "."), v, value)
	if err != nil {
		return nil, Config{}, err
	}
	got, err := Parse([]byte(out))
	if err != nil || !reflect.DeepEqual(got, c) {
		return nil, Config{}, fmt.Errorf("config set: editing %s in place would not give the value asked for (%v): change it by hand", key, err)
	}
	return []byte(out), c, nil
}

// stmt is one table header or key/value pair of a document: the whole
// lines from start to end (after the newline, or the end of the text).
type stmt struct {
	header     bool
	table      []string // the table it is in; for a header, the table it opens
	key        []string // a pair's key, relative to table
	start, end int
	keyStart   int // where the key begins (after the indentation)
	val, valE  int // a pair's value
	line       int // 1-based, for messages
}

func (st stmt) full() []string { return append(slices.Clone(st.table), st.key...) }

type document []stmt

// splice replaces text[start:end] with repl.
type splice struct {
	start, end int
	repl       string
}

// set makes the edit for Edit: parts is the key, v its new value in the
// Config, value the text the user gave.
func (d document) set(s string, parts []string, v reflect.Value, value string) (string, error) {
	var edits []splice
	isMap := v.Kind() == reflect.Map
	for _, st := range d {
		if st.header {
			continue
		}
		full := st.full()
		switch {
		case slices.Equal(full, parts):
			return apply(s, []splice{{st.val, st.valE, editLiteral(v, value)}}), nil
		case hasPrefix(parts, full):
			return "", fmt.Errorf("config set: %s is set inside the inline table %s on line %d: change it there by hand",
				strings.Join(parts, "."), strings.Join(full, "."), st.line)
		case isMap && hasPrefix(full, parts) && len(full) > len(parts):
			edits = append(edits, splice{st.start, st.end, ""}) // an entry of the old table
		}
	}
	if isMap {
		for _, st := range d {
			if st.header && slices.Equal(st.table, parts) {
				// [store.storehostlist]: its entries, one a line.
				m := v.Interface().(map[string][]string)
				names := make([]string, 0, len(m))
				for k := range m {
					names = append(names, k)
				}
				sort.Strings(names)
				var b strings.Builder
				for _, k := range names {
					b.WriteString(tomlKey(k) + " = " + literal(reflect.ValueOf(m[k])) + "\n")
				}
				edits = append(edits, splice{st.end, st.end, lineBreak(s, st.end) + b.String()})
				return apply(s, edits), nil
			}
		}
	}
	parent, line := parts[:len(parts)-1], editLiteral(v, value)
	leaf := tomlKey(parts[len(parts)-1])
	// Under the commented-out example of the key, where the file has one.
	if at := d.commentedOut(s, parent, leaf); at >= 0 {
		edits = append(edits, splice{at, at, lineBreak(s, at) + leaf + " = " + line + "\n"})
		return apply(s, edits), nil
	}
	// After the last key of the same table (possibly written as a dotted
	// key of an enclosing table), with its indentation.
	for i := len(d) - 1; i >= 0; i-- {
		st := d[i]
		full := st.full()
		if st.header || !hasPrefix(full, parent) || len(full) <= len(parent) || !hasPrefix(parts, st.table) || removed(edits, st) {
			continue
		}
		rel := parts[len(st.table):]
		text := s[st.start:st.keyStart] + dottedKey(rel) + " = " + line + "\n"
		edits = append(edits, splice{st.end, st.end, lineBreak(s, st.end) + text})
		return apply(s, edits), nil
	}
	for _, st := range d {
		if st.header && slices.Equal(st.table, parent) {
			edits = append(edits, splice{st.end, st.end, lineBreak(s, st.end) + leaf + " = " + line + "\n"})
			return apply(s, edits), nil
		}
	}
	text := "[" + dottedKey(parent) + "]\n" + leaf + " = " + line + "\n"
	if len(parent) == 0 {
		text = leaf + " = " + line + "\n"
		return apply(s, append(edits, splice{0, 0, text})), nil // top-level keys come first
	}
	if strings.TrimSpace(s) != "" {
		text = "\n" + text
	}
	return apply(s, append(edits, splice{len(s), len(s), lineBreak(s, len(s)) + text})), nil
}

// commentedOut returns the index after a comment line "# leaf = ..." in
// the section of table parent, or -1.
func (d document) commentedOut(s string, parent []string, leaf string) int {
	for i, st := range d {
		if !st.header || !slices.Equal(st.table, parent) {
			continue
		}
		end := len(s)
		for _, next := range d[i+1:] {
			if next.header {
				end = next.start
				break
			}
		}
		for at := st.end; at < end; {
			n := strings.IndexByte(s[at:end], '\n')
			lineEnd := end
			if n >= 0 {
				lineEnd = at + n + 1
			}
			l := strings.TrimLeft(s[at:lineEnd], " \t")
			if c, ok := strings.CutPrefix(l, "#"); ok {
				if k, ok := strings.CutPrefix(strings.TrimLeft(c, " \t"), leaf); ok && strings.HasPrefix(strings.TrimLeft(k, " \t"), "=") {
					return lineEnd
				}
			}
			at = lineEnd
		}
	}
	return -1
}

// removed reports whether st is deleted by one of edits.
func removed(edits []splice, st stmt) bool {
	for _, e := range edits {
		if e.start == st.start && e.end == st.end && e.repl == "" {
			return true
		}
	}
	return false
}

// lineBreak is "\n" when text inserted at i would otherwise continue a
// last line that has no newline.
func lineBreak(s string, i int) string {
	if i > 0 && i == len(s) && s[i-1] != '\n' {
		return "\n"
	}
	return ""
}

// apply makes the edits, with the file's line ends: a file of CRLF lines
// gets CRLF lines.
func apply(s string, edits []splice) string {
	if strings.Contains(s, "\r\n") {
		for i := range edits {
			edits[i].repl = strings.ReplaceAll(edits[i].repl, "\n", "\r\n")
		}
	}
	sort.SliceStable(edits, func(i, j int) bool { return edits[i].start < edits[j].start })
	var b strings.Builder
	at := 0
	for _, e := range edits {
		b.WriteString(s[at:e.start])
		b.WriteString(e.repl)
		at = e.end
	}
	b.WriteString(s[at:])
	return b.String()
}

func hasPrefix(k, prefix []string) bool {
	return len(k) >= len(prefix) && slices.Equal(k[:len(prefix)], prefix)
}

// editLiteral writes the new value: durations and sizes as the user wrote
// them ("90s" stays "90s", not "1m30s"), everything else as Dump would.
func editLiteral(v reflect.Value, value string) string {
	switch v.Type() {
	case reflect.TypeFor[Duration]():
		return quote(value)
	case reflect.TypeFor[Size]():
		if _, err := strconv.ParseInt(value, 10, 64); err == nil {
			return value
		}
		return quote(value)
	}
	return literal(v)
}

// tomlKey writes one key part: bare when TOML allows it, quoted otherwise.
func tomlKey(k string) string {
	if k == "" {
		return `""`
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return quote(k)
		}
	}
	return k
}

func dottedKey(parts []string) string {
	q := make([]string, len(parts))
	for i, p := range parts {
		q[i] = tomlKey(p)
	}
	return strings.Join(q, ".")
}

// scanDoc splits a TOML document (TOML 1.0) into its headers and pairs,
// finding where each value begins and ends. It knows only what it needs
// for that: keys (bare, quoted, dotted), strings of all four kinds, and
// arrays and inline tables by their brackets; Parse has already checked
// the rest.
func scanDoc(s string) (document, error) {
	var d document
	var table []string
	line := func(i int) int { return strings.Count(s[:i], "\n") + 1 }
	for i := 0; i < len(s); {
		start := i
		j := skipBlank(s, i)
		if j >= len(s) {
			break
		}
		switch s[j] {
		case '\n':
			i = j + 1
			continue
		case '\r', '#':
			e, err := endOfLine(s, j)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", line(j), err)
			}
			i = e
			continue
		case '[':
			k := j + 1
			array := k < len(s) && s[k] == '['
			if array {
				k++
			}
			name, k, err := scanKey(s, k)
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", line(j), err)
			}
			close := "]"
			if array {
				close = "]]"
			}
			if !strings.HasPrefix(s[k:], close) {
				return nil, fmt.Errorf("line %d: no %s after the table name", line(j), close)
			}
			e, err := endOfLine(s, k+len(close))
			if err != nil {
				return nil, fmt.Errorf("line %d: %v", line(j), err)
			}
			table = name
			d = append(d, stmt{header: true, table: name, start: start, end: e, keyStart: j, line: line(j)})
			i = e
			continue
		}
		name, k, err := scanKey(s, j)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line(j), err)
		}
		if k >= len(s) || s[k] != '=' {
			return nil, fmt.Errorf("line %d: no = after the key", line(j))
		}
		v := skipBlank(s, k+1)
		ve, err := scanValue(s, v)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line(j), err)
		}
		e, err := endOfLine(s, ve)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", line(j), err)
		}
		d = append(d, stmt{table: table, key: name, start: start, end: e, keyStart: j, val: v, valE: ve, line: line(j)})
		i = e
	}
	return d, nil
}

func skipBlank(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// endOfLine skips blanks and a comment from i and returns the index after
// the newline (or the end of s); anything else there is an error.
func endOfLine(s string, i int) (int, error) {
	i = skipBlank(s, i)
	if i < len(s) && s[i] == '#' {
		n := strings.IndexByte(s[i:], '\n')
		if n < 0 {
			return len(s), nil
		}
		return i + n + 1, nil
	}
	if strings.HasPrefix(s[i:], "\r\n") {
		return i + 2, nil
	}
	if i < len(s) && s[i] == '\n' {
		return i + 1, nil
	}
	if i >= len(s) {
		return i, nil
	}
	return 0, fmt.Errorf("unexpected %q", s[i])
}

// scanKey reads a possibly dotted key at i and returns its parts and the
// index after it and the blanks that follow.
func scanKey(s string, i int) ([]string, int, error) {
	var parts []string
	for {
		i = skipBlank(s, i)
		if i >= len(s) {
			return nil, 0, errors.New("a key is missing")
		}
		switch s[i] {
		case '"', '\'':
			e, err := scanString(s, i)
			if err != nil {
				return nil, 0, err
			}
			var m map[string]string
			if _, err := toml.Decode("k = "+s[i:e], &m); err != nil {
				return nil, 0, fmt.Errorf("bad quoted key %s", s[i:e])
			}
			parts = append(parts, m["k"])
			i = e
		default:
			e := i
			for e < len(s) && (s[e] >= 'a' && s[e] <= 'z' || s[e] >= 'A' && s[e] <= 'Z' || s[e] >= '0' && s[e] <= '9' || s[e] == '-' || s[e] == '_') {
				e++
			}
			if e == i {
				return nil, 0, fmt.Errorf("unexpected %q where a key should be", s[i])
			}
			parts = append(parts, s[i:e])
			i = e
		}
		i = skipBlank(s, i)
		if i >= len(s) || s[i] != '.' {
			return parts, i, nil
		}
		i++
	}
}

// scanValue returns the index after the value that starts at i.
func scanValue(s string, i int) (int, error) {
	if i >= len(s) {
		return 0, errors.New("a value is missing")
	}
	switch s[i] {
	case '"', '\'':
		return scanString(s, i)
	case '[', '{':
		depth := 0
		for j := i; j < len(s); {
			switch s[j] {
			case '[', '{':
				depth++
				j++
			case ']', '}':
				depth--
				j++
				if depth == 0 {
					return j, nil
				}
			case '"', '\'':
				e, err := scanString(s, j)
				if err != nil {
					return 0, err
				}
				j = e
			case '#': // a comment inside a multi-line array
				n := strings.IndexByte(s[j:], '\n')
				if n < 0 {
					return 0, errors.New("an unterminated array")
				}
				j += n
			default:
				j++
			}
		}
		return 0, errors.New("an unterminated array or inline table")
	}
	j := i
	for j < len(s) && !strings.ContainsRune(" \t\r\n#,]}", rune(s[j])) {
		j++
	}
	if j == i {
		return 0, fmt.Errorf("unexpected %q where a value should be", s[i])
	}
	return j, nil
}

// scanString returns the index after the string (basic, literal, or
// either multi-line form) that starts at i.
func scanString(s string, i int) (int, error) {
	q := s[i]
	if strings.HasPrefix(s[i:], strings.Repeat(string(q), 3)) {
		for j := i + 3; j < len(s); j++ {
			if q == '"' && s[j] == '\\' {
				j++
				continue
			}
			if strings.HasPrefix(s[j:], strings.Repeat(string(q), 3)) {
				e := j + 3
				for k := 0; k < 2 && e < len(s) && s[e] == q; k++ {
					e++ // up to two quotes may end the content
				}
				return e, nil
			}
		}
		return 0, errors.New("an unterminated multi-line string")
	}
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\n':
			return 0, errors.New("a newline inside a string")
		case q == '"' && s[j] == '\\':
			j++
		case s[j] == q:
			return j + 1, nil
		}
	}
	return 0, errors.New("an unterminated string")
}
