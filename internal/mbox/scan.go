package mbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// ErrNotMbox is returned by Scan for a file that does not start with a
// From_ line.
var ErrNotMbox = errors.New(`mbox: the file does not start with a From_ line ("From SENDER DATE")`)

// Message is where one message lies in an mbox file.
type Message struct {
	// Sender is the From_ line's envelope sender ("MAILER-DAEMON", "-").
	Sender string
	// Date is the From_ line's date; zero where it does not parse.
	Date time.Time
	// Start and End bound the message's bytes: from after its From_ line
	// to before the empty line that precedes the next one (or the file's
	// end), still quoted, with the mbox's headers.
	Start, End int64
}

// Scan indexes the messages of the mbox r, size bytes long, in file
// order (the package documentation says how a From_ line is recognised,
// and when Content-Length is honoured).
func Scan(r io.ReaderAt, size int64) ([]Message, error) {
	var msgs []Message
	sc := newLines(r, 0, size)
	line, err := sc.next()
	if err == io.EOF || (err == nil && !bytes.HasPrefix(line.text, []byte("From "))) {
		return nil, ErrNotMbox
	}
	if err != nil {
		return nil, err
	}
	cur := fromLine(line, size)
	inHeader := true
	contentLength := int64(-1)
	emptyAt := int64(-1) // offset of the previous line when it was empty
	for {
		line, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		empty := len(line.text) == 0
		if bytes.HasPrefix(line.text, []byte("From ")) && (emptyAt >= 0 || validDate(line.text)) {
			if emptyAt >= 0 {
				cur.End = emptyAt
			} else {
				cur.End = line.at
			}
			msgs = append(msgs, cur)
			cur, inHeader, contentLength, emptyAt = fromLine(line, size), true, -1, -1
			continue
		}
		if inHeader && empty {
			inHeader = false
			if end, next, ok := honour(r, size, line.end, contentLength); ok {
				// The body is Content-Length bytes: skip it whole.
				cur.End = end
				msgs = append(msgs, cur)
				if next >= size {
					return msgs, nil
				}
				sc = newLines(r, next, size)
				line, err := sc.next()
				if err != nil {
					return nil, fmt.Errorf("mbox: reading at %d: %w", next, err)
				}
				cur, inHeader, contentLength, emptyAt = fromLine(line, size), true, -1, -1
				continue
			}
		}
		if inHeader && headerIs(line.text, "Content-Length") {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(line.text[len("Content-Length:"):])), 10, 64); err == nil && n >= 0 {
				contentLength = n
			}
		}
		emptyAt = -1
		if empty {
			emptyAt = line.at
		}
	}
	// The last message ends at the file's end, less the line end before
	// it, which is the mbox's as the one before a From_ line is (what
	// Dovecot reads; writers end a file with an empty line, so a message
	// keeps its own last line end).
	cur.End = trimEnd(r, cur.Start, size)
	msgs = append(msgs, cur)
	return msgs, nil
}

// trimEnd returns size less the line end the file ends with, not below
// start.
func trimEnd(r io.ReaderAt, start, size int64) int64 {
	var tail [2]byte
	switch {
	case size-2 >= start && readAt(r, tail[:], size-2) && tail == [2]byte{'\r', '\n'}:
		return size - 2
	case size-1 >= start && readAt(r, tail[:1], size-1) && tail[0] == '\n':
		return size - 1
	}
	return size
}

func readAt(r io.ReaderAt, p []byte, off int64) bool {
	n, _ := r.ReadAt(p, off)
	return n == len(p)
}

// honour reports whether a Content-Length of n for a body starting at
// body ends exactly at the file's end or before an empty line and a
// From_ line: then the message ends at end and the next From_ line
// starts at next.
func honour(r io.ReaderAt, size, body, n int64) (end, next int64, ok bool) {
	if n < 0 || body+n > size || body+n < body {
		return 0, 0, false
	}
	end = body + n
	if end == size {
		return end, size, true
	}
	buf := make([]byte, 8)
	k, _ := r.ReadAt(buf, end)
	buf = buf[:k]
	if n > 0 {
		last := make([]byte, 1)
		if _, err := r.ReadAt(last, end-1); err != nil || last[0] != '\n' {
			return 0, 0, false
		}
	}
	switch {
	case bytes.HasPrefix(buf, []byte("\nFrom ")):
		return end, end + 1, true
	case bytes.HasPrefix(buf, []byte("\r\nFrom ")):
		return end, end + 2, true
	case bytes.Equal(buf, []byte("\n")) && end+1 == size, bytes.Equal(buf, []byte("\r\n")) && end+2 == size:
		return end, size, true
	}
	return 0, 0, false
}

// fromLine starts a Message at the From_ line l.
func fromLine(l line, size int64) Message {
	f := strings.Fields(string(l.text[len("From "):]))
	m := Message{Start: l.end, End: size}
	if len(f) > 0 {
		m.Sender = f[0]
		m.Date = parseDate(f[1:])
	}
	return m
}

// dateLayouts are the From_ line dates seen in the wild, their spaces
// collapsed: asctime's, with a zone before or after the year, without
// seconds, and RFC 5322's.
var dateLayouts = []string{
	"Mon Jan 2 15:04:05 2006",
	"Mon Jan 2 15:04:05 2006 -0700",
	"Mon Jan 2 15:04:05 MST 2006",
	"Mon Jan 2 15:04:05 -0700 2006",
	"Mon Jan 2 15:04:05 2006 MST",
	"Mon Jan 2 15:04 2006",
	"Mon Jan 2 15:04 MST 2006",
	"Mon, 2 Jan 2006 15:04:05 -0700",
}

// parseDate parses the fields of a From_ line's date; a date without a
// zone is UTC (Dovecot writes From_ lines in UTC). The zero time means
// none parsed.
func parseDate(f []string) time.Time {
	s := strings.Join(f, " ")
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t
		}
	}
	return time.Time{}
}

// validDate reports whether a "From " line not after an empty line is a
// From_ line all the same: only when its date parses.
func validDate(text []byte) bool {
	f := strings.Fields(string(text[len("From "):]))
	return len(f) > 1 && !parseDate(f[1:]).IsZero()
}

// headerIs reports whether the header line text is the field name.
func headerIs(text []byte, name string) bool {
	return len(text) > len(name) && text[len(name)] == ':' && strings.EqualFold(string(text[:len(name)]), name)
}

// line is one line of the file: its text without the line end, and the
// offsets of its start and of the next line's.
type line struct {
	text    []byte
	at, end int64
}

// lines reads a file's lines from an offset on.
type lines struct {
	br  *bufio.Reader
	pos int64
}

func newLines(r io.ReaderAt, from, size int64) *lines {
	return &lines{br: bufio.NewReaderSize(io.NewSectionReader(r, from, size-from), 64<<10), pos: from}
}

// next returns the next line; a line longer than the buffer comes back
// whole all the same.
func (l *lines) next() (line, error) {
	text, err := l.br.ReadSlice('\n')
	var long []byte
	for errors.Is(err, bufio.ErrBufferFull) {
		long = append(long, text...)
		text, err = l.br.ReadSlice('\n')
	}
	if long != nil {
		text = append(long, text...)
	}
	if err == io.EOF && len(text) > 0 {
		err = nil
	}
	if err != nil {
		return line{}, err
	}
	at := l.pos
	l.pos += int64(len(text))
	text = bytes.TrimSuffix(bytes.TrimSuffix(text, []byte("\n")), []byte("\r"))
	return line{text: text, at: at, end: l.pos}, nil
}
