package mbox

import (
	"bytes"
	"strings"

	"github.com/quiremail/quire/internal/mail"
)

// Quoting is how an mbox quotes body lines that start with "From ".
type Quoting int

const (
	// MboxRD quotes every ^>*From line with one more ">".
	MboxRD Quoting = iota
	// MboxO quotes ^From lines only.
	MboxO
	// NoQuoting takes nothing off: Dovecot's mbox neither quotes nor
	// unquotes, and relies on Content-Length.
	NoQuoting
)

// Parsed is one message as stored: its bytes unquoted and without the
// mbox's headers, and the flags those headers carried.
type Parsed struct {
	Body []byte
	// Flags are the system flags of Status and X-Status and the keywords
	// of X-Keywords.
	Flags []string
	// Pseudo marks UW-IMAP's and Dovecot's folder pseudo message (an
	// X-IMAP header), which is not mail.
	Pseudo bool
}

// mboxHeaders are the header fields that belong to the mbox, not to the
// message: the ones Dovecot hides from IMAP clients.
var mboxHeaders = []string{"Content-Length", "Status", "X-Status", "X-Keywords", "X-UID", "X-IMAP", "X-IMAPbase"}

// statusFlags maps Status and X-Status letters to IMAP flags (O, "old",
// has none: it only says the message is not \Recent).
var statusFlags = map[byte]string{'R': `\Seen`, 'A': `\Answered`, 'F': `\Flagged`, 'D': `\Deleted`, 'T': `\Draft`}

// Parse turns the bytes of one message (Message.Start to Message.End)
// into the message to store.
func Parse(raw []byte, q Quoting) Parsed {
	var p Parsed
	out := make([]byte, 0, len(raw))
	inHeader, skipping := true, false
	seen := map[string]bool{}
	for len(raw) > 0 {
		l := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			l = raw[:i+1]
		}
		raw = raw[len(l):]
		text := bytes.TrimSuffix(bytes.TrimSuffix(l, []byte("\n")), []byte("\r"))
		if inHeader {
			if len(text) == 0 {
				inHeader = false
			} else if text[0] == ' ' || text[0] == '\t' {
				// A folded line continues the field before it.
				if skipping {
					p.Flags = fieldFlags(p.Flags, text, seen)
					continue
				}
			} else {
				skipping = false
				for _, h := range mboxHeaders {
					if headerIs(text, h) {
						skipping = true
						if h == "X-IMAP" {
							p.Pseudo = true
						}
						p.Flags = headerFlags(p.Flags, h, text[len(h)+1:], seen)
					}
				}
				if skipping {
					continue
				}
			}
		}
		out = append(out, unquote(l, q)...)
	}
	p.Body = out
	return p
}

// lastField is the field a folded line continues, for fieldFlags.
const lastField = "\x00last"

// headerFlags adds the flags of one mbox header field's value.
func headerFlags(flags []string, name string, value []byte, seen map[string]bool) []string {
	delete(seen, lastField)
	switch name {
	case "Status", "X-Status":
		for _, c := range bytes.TrimSpace(value) {
			if f, ok := statusFlags[c]; ok && !seen[f] {
				seen[f] = true
				flags = append(flags, f)
			}
		}
	case "X-Keywords":
		seen[lastField] = true
		flags = keywords(flags, value, seen)
	}
	return flags
}

// fieldFlags adds the keywords of a folded X-Keywords line.
func fieldFlags(flags []string, text []byte, seen map[string]bool) []string {
	if seen[lastField] {
		return keywords(flags, text, seen)
	}
	return flags
}

// keywords adds the keywords of an X-Keywords value: atoms separated by
// spaces or commas; system flags and words no IMAP atom can be are left
// out.
func keywords(flags []string, value []byte, seen map[string]bool) []string {
	for _, w := range strings.FieldsFunc(string(value), func(r rune) bool { return r == ' ' || r == ',' || r == '\t' }) {
		if !mail.ValidKeyword(w) || seen[strings.ToLower(w)] {
			continue
		}
		seen[strings.ToLower(w)] = true
		flags = append(flags, w)
	}
	return flags
}

// unquote takes the quoting ">" off a line.
func unquote(l []byte, q Quoting) []byte {
	if q == NoQuoting || len(l) < 6 || l[0] != '>' {
		return l
	}
	rest := bytes.TrimLeft(l, ">")
	if !bytes.HasPrefix(rest, []byte("From ")) {
		return l
	}
	if q == MboxO && len(rest) != len(l)-1 {
		return l
	}
	return l[1:]
}
