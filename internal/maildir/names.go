package maildir

import (
	"errors"
	"fmt"
	"strings"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
)

// dotStandIn replaces a "." inside a level of a mailbox name, which a
// Maildir++ directory name cannot hold: U+2024 ONE DOT LEADER, which looks
// alike, so Dovecot shows and opens the folder under a name a user
// recognises. FolderName does not map it back (a name may hold U+2024
// itself); internal/backup's metadata keeps the true name.
const dotStandIn = "\u2024"

// FolderDir is the directory, relative to the Maildir root, of the mailbox
// name (UTF-8, levels separated by "/"): "" for INBOX, ".a.b" for "a/b".
func FolderDir(name string) string {
	if strings.EqualFold(name, "INBOX") {
		return ""
	}
	return "." + encodeName(name)
}

// encodeName joins name's levels with "." in modified UTF-7, a "." in a
// level escaped.
func encodeName(name string) string {
	levels := strings.Split(name, "/")
	for i, l := range levels {
		levels[i] = imapwire.EncodeMailbox(strings.ReplaceAll(l, ".", dotStandIn))
	}
	return strings.Join(levels, ".")
}

// FolderName is the mailbox name (UTF-8, "/" separated) of a Maildir++
// directory name (".a.b"); "" names INBOX.
func FolderName(dir string) (string, error) {
	if dir == "" {
		return "INBOX", nil
	}
	if !strings.HasPrefix(dir, ".") || len(dir) < 2 {
		return "", fmt.Errorf("maildir: %q is not a Maildir++ folder (want .NAME)", dir)
	}
	return decodeName(dir[1:], ".")
}

// decodeName splits s at sep into levels and decodes each from modified
// UTF-7.
func decodeName(s, sep string) (string, error) {
	levels := strings.Split(s, sep)
	for i, l := range levels {
		if l == "" {
			return "", fmt.Errorf("maildir: folder name %q has an empty level", s)
		}
		d, err := imapwire.DecodeMailbox(l)
		if err != nil {
			return "", fmt.Errorf("maildir: folder name %q: %w", s, err)
		}
		if strings.ContainsAny(d, "/.") {
			return "", fmt.Errorf("maildir: folder name %q: a level holds a \"/\" or \".\"", s)
		}
		levels[i] = d
	}
	return strings.Join(levels, "/"), nil
}

// MarshalSubscriptions is a subscriptions file naming names (UTF-8, "/"
// separated), one a line in Dovecot's first format.
func MarshalSubscriptions(names []string) []byte {
	var b strings.Builder
	for _, n := range names {
		if strings.EqualFold(n, "INBOX") {
			b.WriteString("INBOX\n")
			continue
		}
		b.WriteString(encodeName(n))
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// ParseSubscriptions reads a subscriptions file, in Dovecot's first format
// (names with levels joined by ".") or its version 2 ("V\t2", a blank
// line, then names with levels joined by tabs).
func ParseSubscriptions(data []byte) ([]string, error) {
	lines := strings.Split(string(data), "\n")
	sep := "."
	if len(lines) > 0 && strings.HasPrefix(lines[0], "V\t") {
		if lines[0] != "V\t2" {
			return nil, fmt.Errorf("maildir: subscriptions version %q: only 2 is known", lines[0][2:])
		}
		lines, sep = lines[1:], "\t"
	}
	var out []string
	for _, l := range lines {
		l = strings.TrimSuffix(l, "\r")
		if l == "" {
			continue
		}
		if strings.EqualFold(l, "INBOX") {
			out = append(out, "INBOX")
			continue
		}
		n, err := decodeName(l, sep)
		if err != nil {
			return nil, fmt.Errorf("maildir: subscriptions: %w", err)
		}
		out = append(out, n)
	}
	return out, nil
}

// errBadFileName is wrapped by ParseFileName's errors.
var errBadFileName = errors.New("maildir: bad message file name")
