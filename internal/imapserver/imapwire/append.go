package imapwire

import (
	"io"
	"time"
)

// AppendArgs: APPEND (RFC 9051 6.3.12), with MULTIAPPEND (RFC 3502) and
// BINARY's literal8 (RFC 3516 4.4). Message is the first message; the
// session reads its Body to the end, then calls Reader.NextAppend for the
// next message until it returns nil.
type AppendArgs struct {
	Mailbox string
	Message *AppendMessage
}

// AppendMessage is one message of APPEND. Flags is nil and Date zero when
// absent.
type AppendMessage struct {
	Flags []string
	Date  time.Time
	Body  *LiteralReader
}

// LiteralReader streams an APPEND message literal. For a synchronizing
// literal the continuation request is sent on the first Read, so a session
// that refuses the message (quota, missing mailbox) calls Reader.Discard
// without reading and the client sends nothing.
type LiteralReader struct {
	r       *Reader
	size    int64
	left    int64
	sync    bool
	started bool
	// Binary is set for literal8 (~{n}): the data may hold NUL bytes and
	// must not be taken as having a content transfer encoding applied (RFC
	// 3516 4.4).
	Binary bool
}

// Size returns the literal's announced size.
func (l *LiteralReader) Size() int64 { return l.size }

// Read reads the literal; it returns io.EOF at its end.
func (l *LiteralReader) Read(p []byte) (int, error) {
	if !l.started {
		l.started = true
		if l.sync {
			if l.r.cont == nil {
				return 0, &SyntaxError{Tag: l.r.tag, Command: l.r.cmd, Reason: "synchronizing literals are not accepted here"}
			}
			if err := l.r.cont.Continue("Ready for literal data"); err != nil {
				return 0, err
			}
		}
	}
	if l.left == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.r.br.Read(p)
	l.left -= int64(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (r *Reader) appendArgs() *AppendArgs {
	r.sp("before mailbox name")
	a := &AppendArgs{Mailbox: r.mailbox("mailbox name")}
	r.sp("after mailbox name")
	a.Message = r.appendMessage()
	return a
}

// appendMessage parses [flag-list SP] [date-time SP] (literal / literal8)
// and leaves the literal to the session.
func (r *Reader) appendMessage() *AppendMessage {
	m := &AppendMessage{}
	if r.peek() == '(' {
		m.Flags = r.flagList()
		r.sp("after APPEND flags")
	}
	if r.peek() == '"' {
		m.Date = r.dateTime()
		r.sp("after APPEND date-time")
	}
	if c := r.peek(); c != '{' && c != '~' {
		r.fail("expected message literal at %s", r.here())
	}
	n, sync, bin := r.literalHead(true)
	if n > r.lim.MaxLiteral {
		// RFC 7889 4: over APPENDLIMIT is NO [TOOBIG].
		r.limit("NO", "TOOBIG", !sync, "message of %d bytes is over APPENDLIMIT %d", n, r.lim.MaxLiteral)
	}
	m.Body = &LiteralReader{r: r, size: n, left: n, sync: sync, Binary: bin}
	r.pending, r.inCmd = m.Body, true
	return m
}

// NextAppend returns the next message of a MULTIAPPEND, or nil when the
// command is complete. Any unread data of the previous message is read and
// dropped first.
func (r *Reader) NextAppend() (m *AppendMessage, err error) {
	if !r.inCmd || r.pending == nil {
		return nil, nil
	}
	defer r.catch(&err)
	if _, err := io.Copy(io.Discard, r.pending); err != nil {
		panic(parseFail{err})
	}
	r.pending = nil
	r.readLine()
	if r.eol() {
		r.inCmd = false
		return nil, nil
	}
	r.sp("or CRLF after message literal")
	return r.appendMessage(), nil
}

// Discard abandons the command in progress (an APPEND the session refuses):
// a synchronizing literal not yet started is never requested, anything the
// client is already sending is skipped. A fatal *LimitError means the
// connection cannot be resynchronized.
func (r *Reader) Discard() error {
	if !r.inCmd {
		return nil
	}
	r.inCmd = false
	l := r.pending
	r.pending = nil
	if l == nil || (l.sync && !l.started) {
		r.line, r.pos = r.line[:0], 0
		return nil
	}
	if _, err := r.br.Discard(int(l.left)); err != nil {
		return unexpected(err)
	}
	var err error
	func() {
		defer func() {
			if x := recover(); x != nil {
				pf, ok := x.(parseFail)
				if !ok {
					panic(x)
				}
				err = pf.err
			}
		}()
		r.readLine()
	}()
	if err != nil {
		return err
	}
	return r.skipRest()
}

// finish discards an unfinished command before the next one is read.
func (r *Reader) finish() error { return r.Discard() }
