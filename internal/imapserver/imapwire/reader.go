package imapwire

import (
	"bufio"
	"errors"
	"io"
	"strconv"
)

// Continuer sends a continuation request ("+ text") and flushes it. The
// Reader calls it before reading a synchronizing literal (RFC 9051 4.3) and
// never for a non-synchronizing one (RFC 7888).
type Continuer interface {
	Continue(text string) error
}

// Limits bound what one command may cost. A zero field means its default
// (see DefaultLimits).
type Limits struct {
	// MaxLine bounds the bytes of a command's text, every line of it, not
	// counting literal contents. Over it: BAD [TOOBIG].
	MaxLine int
	// MaxStringLiterals bounds the total size of the literals of one command
	// that are held in memory: all but APPEND message data. Over it: BAD
	// [TOOBIG].
	MaxStringLiterals int
	// MaxLiteral bounds each APPEND message literal; advertise it as
	// APPENDLIMIT (RFC 7889). Over it: NO [TOOBIG].
	MaxLiteral int64
	// MaxLiterals bounds the number of literals in one command. Over it: BAD
	// [LIMIT].
	MaxLiterals int
	// MaxNonSyncLiteral, if positive, bounds non-synchronizing literals:
	// 4096 for LITERAL- (RFC 7888 3). Zero means LITERAL+ (no own bound).
	MaxNonSyncLiteral int64
}

// DefaultLimits returns the limits used for zero fields.
func DefaultLimits() Limits {
	return Limits{MaxLine: 64 << 10, MaxStringLiterals: 1 << 20, MaxLiteral: 64 << 20, MaxLiterals: 1000}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxLine <= 0 {
		l.MaxLine = d.MaxLine
	}
	if l.MaxStringLiterals <= 0 {
		l.MaxStringLiterals = d.MaxStringLiterals
	}
	if l.MaxLiteral <= 0 {
		l.MaxLiteral = d.MaxLiteral
	}
	if l.MaxLiterals <= 0 {
		l.MaxLiterals = d.MaxLiterals
	}
	return l
}

// Reader reads IMAP commands. It is not safe for concurrent use.
type Reader struct {
	br   *bufio.Reader
	cont Continuer
	lim  Limits
	utf8 bool

	// State of the command being read.
	tag, cmd string
	line     []byte // the current line, without its line break
	pos      int
	used     int // command text bytes read so far
	nlit     int
	litBytes int
	pending  *LiteralReader // APPEND message not yet finished
	inCmd    bool           // a command is partly read (APPEND in progress)
}

// NewReader returns a Reader on br. cont may be nil if the session never
// accepts synchronizing literals; such a literal is then a syntax error.
func NewReader(br *bufio.Reader, cont Continuer, lim Limits) *Reader {
	return &Reader{br: br, cont: cont, lim: lim.withDefaults()}
}

// SetUTF8Accept switches mailbox names from modified UTF-7 to raw UTF-8, as
// after ENABLE UTF8=ACCEPT (RFC 6855 3).
func (r *Reader) SetUTF8Accept(on bool) { r.utf8 = on }

// Limits returns the limits in force, defaults filled in.
func (r *Reader) Limits() Limits { return r.lim }

// readLine reads the next line of the current command into r.line.
func (r *Reader) readLine() {
	r.line, r.pos = r.line[:0], 0
	for {
		chunk, err := r.br.ReadSlice('\n')
		if r.used+len(chunk) > r.lim.MaxLine+2 {
			r.used += len(chunk)
			r.skipLongLine(chunk, err)
		}
		r.used += len(chunk)
		r.line = append(r.line, chunk...)
		if err == nil {
			break
		}
		if err != bufio.ErrBufferFull {
			if err == io.EOF && len(r.line) > 0 {
				err = io.ErrUnexpectedEOF
			}
			panic(parseFail{err})
		}
	}
	r.line = r.line[:len(r.line)-1]
	if n := len(r.line); n > 0 && r.line[n-1] == '\r' {
		r.line = r.line[:n-1]
	}
}

// skipLongLine discards the rest of a line over MaxLine and fails with
// TOOBIG; it is fatal if the line announced a non-synchronizing literal.
func (r *Reader) skipLongLine(chunk []byte, err error) {
	if r.tag == "" {
		// The first line of a command: answer with its tag if it has one.
		head := r.line
		if len(head) == 0 {
			head = chunk
		}
		i := 0
		for i < len(head) && i < 64 && isTagChar(head[i]) {
			i++
		}
		if i > 0 && i < len(head) && head[i] == ' ' {
			r.tag = string(head[:i])
		}
	}
	tail := append([]byte(nil), chunk[max(0, len(chunk)-32):]...)
	for err == bufio.ErrBufferFull {
		chunk, err = r.br.ReadSlice('\n')
		tail = append(tail, chunk...)
		tail = tail[max(0, len(tail)-32):]
	}
	if err != nil {
		panic(parseFail{err})
	}
	_, sync, ok := literalSuffix(trimEOL(tail))
	r.line, r.pos = r.line[:0], 0
	r.limit("BAD", "TOOBIG", ok && !sync, "command line longer than %d bytes", r.lim.MaxLine)
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
	}
	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	return b
}

// literalSuffix reports whether line ends with a literal announcement
// ("{n}", "{n+}", "~{n}") and its size.
func literalSuffix(line []byte) (n int64, sync, ok bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false, false
	}
	end := len(line) - 1
	sync = line[end-1] != '+'
	if !sync {
		end--
	}
	i := end
	for i > 0 && line[i-1] >= '0' && line[i-1] <= '9' {
		i--
	}
	if i == end || i == 0 || line[i-1] != '{' {
		return 0, false, false
	}
	n, err := strconv.ParseInt(string(line[i:end]), 10, 64)
	return n, sync, err == nil
}

// skipRest discards what is left of the current command: the current line
// and each non-synchronizing literal it ends with, with the lines after it.
// It stops at a synchronizing literal, whose continuation is never sent. It
// returns a fatal error if skipping would exceed the limits.
func (r *Reader) skipRest() (err error) {
	defer func() {
		if x := recover(); x != nil {
			pf, ok := x.(parseFail)
			if !ok {
				panic(x)
			}
			err = pf.err
			var le *LimitError
			if errors.As(err, &le) {
				le.Fatal = true
			}
		}
	}()
	for {
		n, sync, ok := literalSuffix(r.line)
		if !ok || sync {
			r.line, r.pos = r.line[:0], 0
			return nil
		}
		if n > max(r.lim.MaxLiteral, int64(r.lim.MaxStringLiterals)) {
			return &LimitError{Tag: r.tag, Command: r.cmd, Status: "BAD", Code: "TOOBIG", Fatal: true,
				Reason: "literal too big to skip"}
		}
		if _, err := r.br.Discard(int(n)); err != nil {
			return err
		}
		r.readLine()
	}
}

// literalHead parses a literal announcement at the end of the current line,
// after an optional "~" when binary is allowed (RFC 3516 literal8). It
// checks the literal count.
func (r *Reader) literalHead(binary bool) (n int64, sync, bin bool) {
	if binary && r.peek() == '~' {
		r.pos++
		bin = true
	}
	r.expect('{', "literal")
	start := r.pos
	for r.pos < len(r.line) && isDigit(r.line[r.pos]) {
		r.pos++
	}
	if start == r.pos {
		r.fail("expected literal size after {")
	}
	n, err := strconv.ParseInt(string(r.line[start:r.pos]), 10, 64)
	if err != nil {
		r.fail("literal size too large")
	}
	sync = !r.take('+')
	r.expect('}', "end of literal size")
	if r.pos != len(r.line) {
		r.fail("expected CRLF after literal size")
	}
	r.nlit++
	if r.nlit > r.lim.MaxLiterals {
		r.limit("BAD", "LIMIT", !sync, "more than %d literals in one command", r.lim.MaxLiterals)
	}
	if !sync && r.lim.MaxNonSyncLiteral > 0 && n > r.lim.MaxNonSyncLiteral {
		// RFC 7888 4: LITERAL- allows non-synchronizing literals up to 4096.
		r.limit("BAD", "TOOBIG", true, "non-synchronizing literal larger than %d bytes", r.lim.MaxNonSyncLiteral)
	}
	return n, sync, bin
}

// literal reads a literal into memory (RFC 9051 4.3).
func (r *Reader) literal() []byte {
	n, sync, _ := r.literalHead(false)
	if n > int64(r.lim.MaxStringLiterals-r.litBytes) {
		r.limit("BAD", "TOOBIG", !sync, "literal of %d bytes is over the limit", n)
	}
	r.litBytes += int(n)
	if sync {
		r.continueReq()
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(r.br, buf); err != nil {
		panic(parseFail{unexpected(err)})
	}
	r.readLine()
	return buf
}

func (r *Reader) continueReq() {
	if r.cont == nil {
		r.fail("synchronizing literals are not accepted here")
	}
	if err := r.cont.Continue("Ready for literal data"); err != nil {
		panic(parseFail{err})
	}
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// ReadLine reads one line outside a command: a SASL response
// (RFC 9051 6.2.2) or the DONE that ends IDLE (RFC 2177). It is bounded by
// MaxLine; the line break is removed.
func (r *Reader) ReadLine() (line string, err error) {
	if err := r.finish(); err != nil {
		return "", err
	}
	r.tag, r.cmd, r.used = "", "", 0
	defer r.catch(&err)
	r.readLine()
	line = string(r.line)
	r.line = r.line[:0]
	return line, nil
}

// catch turns a parse failure into *errp and skips the rest of the command.
func (r *Reader) catch(errp *error) {
	x := recover()
	if x == nil {
		return
	}
	pf, ok := x.(parseFail)
	if !ok {
		panic(x)
	}
	*errp = pf.err
	r.inCmd, r.pending = false, nil
	var se *SyntaxError
	var le *LimitError
	switch {
	case errors.As(pf.err, &se):
	case errors.As(pf.err, &le) && !le.Fatal:
	default:
		return
	}
	if err := r.skipRest(); err != nil {
		if le, ok := err.(*LimitError); ok && se != nil {
			le.Reason = se.Reason + "; " + le.Reason
		}
		*errp = err
	}
}
