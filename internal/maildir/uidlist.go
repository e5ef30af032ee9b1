package maildir

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// UIDList is a folder's dovecot-uidlist (version 3).
type UIDList struct {
	UIDValidity uint32
	UIDNext     uint32
	GUID        string // 32 hex digits: the mailbox's 128-bit GUID
	Entries     []UIDEntry
}

// UIDEntry is one message: its UID and the BASE of its file name. Fields
// are the extension fields between them ("W1234"), kept as read.
type UIDEntry struct {
	UID    uint32
	Fields []string
	Base   string
}

// Marshal is the dovecot-uidlist file of l.
func (l UIDList) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "3 V%d N%d", l.UIDValidity, l.UIDNext)
	if l.GUID != "" {
		b.WriteString(" G" + l.GUID)
	}
	b.WriteByte('\n')
	for _, e := range l.Entries {
		b.WriteString(strconv.FormatUint(uint64(e.UID), 10))
		for _, f := range e.Fields {
			b.WriteByte(' ')
			b.WriteString(f)
		}
		b.WriteString(" :")
		b.WriteString(e.Base)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ParseUIDList reads a version 3 dovecot-uidlist. It requires UIDVALIDITY
// and NEXTUID in the header, UIDs strictly ascending, and a file-name base
// on every line. Dovecot appends the records of new messages without
// rewriting the header, so records may reach NEXTUID and beyond (seen
// with Debian's Dovecot 2.3 after a COPY into a new folder: header N1,
// record 1); UIDNext is then raised above the last record.
func ParseUIDList(data []byte) (UIDList, error) {
	lines := strings.Split(string(data), "\n")
	var l UIDList
	hdr := strings.Fields(lines[0])
	if len(hdr) == 0 || hdr[0] != "3" {
		return l, fmt.Errorf("maildir: dovecot-uidlist header %q: only version 3 is known", lines[0])
	}
	for _, f := range hdr[1:] {
		if len(f) < 2 {
			return l, fmt.Errorf("maildir: dovecot-uidlist header field %q", f)
		}
		switch f[0] {
		case 'V', 'N':
			n, err := strconv.ParseUint(f[1:], 10, 32)
			if err != nil || n == 0 {
				return l, fmt.Errorf("maildir: dovecot-uidlist header field %q: want a number above 0", f)
			}
			if f[0] == 'V' {
				l.UIDValidity = uint32(n)
			} else {
				l.UIDNext = uint32(n)
			}
		case 'G':
			l.GUID = f[1:]
		}
	}
	if l.UIDValidity == 0 || l.UIDNext == 0 {
		return l, fmt.Errorf("maildir: dovecot-uidlist header %q lacks V<uidvalidity> or N<nextuid>", lines[0])
	}
	var last uint32
	for n, line := range lines[1:] {
		if line == "" {
			continue
		}
		head, base, ok := strings.Cut(line, ":")
		fs := strings.Fields(head)
		if !ok || base == "" || len(fs) == 0 || strings.ContainsAny(base, "/\x00") {
			return l, fmt.Errorf("maildir: dovecot-uidlist line %d: want \"<uid> [fields] :<file name>\", have %q", n+2, line)
		}
		uid, err := strconv.ParseUint(fs[0], 10, 32)
		if err != nil || uid <= uint64(last) || uid == math.MaxUint32 {
			return l, fmt.Errorf("maildir: dovecot-uidlist line %d: UID %q is not a number above %d and below 2^32-1", n+2, fs[0], last)
		}
		last = uint32(uid)
		e := UIDEntry{UID: last, Base: base}
		if len(fs) > 1 {
			e.Fields = fs[1:]
		}
		l.Entries = append(l.Entries, e)
	}
	l.UIDNext = max(l.UIDNext, last+1)
	return l, nil
}
