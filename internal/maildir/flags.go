package maildir

import (
	"bytes"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/quiremail/quire/internal/mail"
)

// systemLetters maps the Maildir flag letters to the IMAP system flags
// (RFC 3501 2.3.2), in the ASCII order a file name lists them.
var systemLetters = [...]struct {
	letter byte
	flag   string
}{{'D', `\Draft`}, {'F', `\Flagged`}, {'R', `\Answered`}, {'S', `\Seen`}, {'T', `\Deleted`}}

// MaxKeywords is how many keywords a folder's file names can carry: one
// letter each, a..z.
const MaxKeywords = 26

// ParseFileName splits a message file name "BASE:2,LETTERS" into BASE and
// LETTERS. A name without ":2," (a file in new/) has no letters. Letters
// must be ASCII letters, each at most once.
func ParseFileName(name string) (base, letters string, err error) {
	if name == "" || strings.ContainsAny(name, "/\x00") || name[0] == '.' {
		return "", "", fmt.Errorf("%w %q", errBadFileName, name)
	}
	base, letters, found := strings.Cut(name, ":2,")
	if !found {
		if strings.Contains(name, ":") {
			return "", "", fmt.Errorf("%w %q: an info part other than \":2,\"", errBadFileName, name)
		}
		return name, "", nil
	}
	if base == "" {
		return "", "", fmt.Errorf("%w %q: empty base", errBadFileName, name)
	}
	var seen [128]bool
	for i := 0; i < len(letters); i++ {
		c := letters[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z') || seen[c] {
			return "", "", fmt.Errorf("%w %q: flag letters must be distinct ASCII letters", errBadFileName, name)
		}
		seen[c] = true
	}
	return base, letters, nil
}

// FileName is BASE:2,LETTERS.
func FileName(base, letters string) string { return base + ":2," + letters }

// BaseSize returns the value of a ",KEY=N" field of a BASE (KEY "S" for
// the file size, "W" for the CRLF size), ok false when absent or not a
// number.
func BaseSize(base, key string) (int64, bool) {
	for _, f := range strings.Split(base, ",")[1:] {
		if v, ok := strings.CutPrefix(f, key+"="); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			return n, err == nil && n >= 0
		}
	}
	return 0, false
}

// Keywords is a folder's dovecot-keywords: the keyword at index i is the
// file-name letter 'a'+i.
type Keywords []string

// ParseKeywords reads a dovecot-keywords file: lines "<index> <keyword>",
// index 0..25, each index and keyword at most once.
func ParseKeywords(data []byte) (Keywords, error) {
	var kw Keywords
	for n, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		idx, word, ok := bytes.Cut(line, []byte(" "))
		i, err := strconv.Atoi(string(idx))
		if !ok || err != nil || i < 0 || i >= MaxKeywords || !mail.ValidKeyword(string(word)) {
			return nil, fmt.Errorf("maildir: dovecot-keywords line %d: want \"<0..25> <keyword>\", have %q", n+1, line)
		}
		for len(kw) <= i {
			kw = append(kw, "")
		}
		if kw[i] != "" || slices.Contains(kw, string(word)) {
			return nil, fmt.Errorf("maildir: dovecot-keywords line %d: index %d or keyword %q given twice", n+1, i, word)
		}
		kw[i] = string(word)
	}
	return kw, nil
}

// Marshal is the dovecot-keywords file of kw.
func (kw Keywords) Marshal() []byte {
	var b bytes.Buffer
	for i, w := range kw {
		if w != "" {
			fmt.Fprintf(&b, "%d %s\n", i, w)
		}
	}
	return b.Bytes()
}

// Letters returns the file-name letters of flags (IMAP system flags and
// keywords), adding keywords to kw as they first appear. Keywords that do
// not fit (kw is full, MaxKeywords) and flags Maildir cannot hold (such
// as \Recent) are returned in rest.
func (kw *Keywords) Letters(flags []string) (letters string, rest []string) {
	var b []byte
	var kws []byte
	for _, f := range flags {
		if strings.HasPrefix(f, `\`) {
			sys := false
			for _, s := range systemLetters {
				if strings.EqualFold(f, s.flag) {
					b, sys = append(b, s.letter), true
				}
			}
			if !sys {
				rest = append(rest, f)
			}
			continue
		}
		i := slices.Index(*kw, f)
		if i < 0 && len(*kw) < MaxKeywords && mail.ValidKeyword(f) {
			*kw = append(*kw, f)
			i = len(*kw) - 1
		}
		if i < 0 {
			rest = append(rest, f)
			continue
		}
		kws = append(kws, byte('a'+i))
	}
	slices.Sort(b)
	slices.Sort(kws)
	return string(slices.Compact(b)) + string(slices.Compact(kws)), rest
}

// Flags returns the IMAP flags of file-name letters, the keywords looked
// up in kw. A keyword letter kw does not define is an error, as is a
// system letter Dovecot does not know.
func (kw Keywords) Flags(letters string) ([]string, error) {
	var out []string
	for i := 0; i < len(letters); i++ {
		c := letters[i]
		switch {
		case c >= 'a' && c <= 'z':
			j := int(c - 'a')
			if j >= len(kw) || kw[j] == "" {
				return nil, fmt.Errorf("maildir: keyword letter %q is not in dovecot-keywords", c)
			}
			out = append(out, kw[j])
		case c == 'P':
			// Passed (resent): no IMAP flag stands for it.
		default:
			k := slices.IndexFunc(systemLetters[:], func(s struct {
				letter byte
				flag   string
			}) bool {
				return s.letter == c
			})
			if k < 0 {
				return nil, fmt.Errorf("maildir: unknown flag letter %q", c)
			}
			out = append(out, systemLetters[k].flag)
		}
	}
	return out, nil
}
