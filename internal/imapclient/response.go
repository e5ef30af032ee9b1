package imapclient

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Kind is what a Value is.
type Kind int

const (
	// Atom is a bare word: a number, a flag, NIL.
	Atom Kind = iota
	// String is a quoted string or a literal.
	String
	// List is a parenthesized list.
	List
	// Section is a bracketed list: a response code or a FETCH section.
	Section
)

// Value is one element of a response.
type Value struct {
	Kind Kind
	S    string  // Atom and String
	L    []Value // List and Section
}

// Response is one server response: a tag ("*" untagged, "+" a
// continuation request, or the tag of a command), and its fields; for a
// status response (OK, NO, BAD, BYE, PREAUTH), the fields are the status,
// its response code when there is one (a Section), and the text as one
// String.
type Response struct {
	Tag    string
	Fields []Value
}

// Limits a response is read within.
const (
	maxLine  = 1 << 20 // bytes outside literals
	maxDepth = 32      // nested lists
)

// ErrTooLarge is returned for a response past the limits.
var ErrTooLarge = errors.New("imapclient: the server's response is too large")

// reader reads one response.
type reader struct {
	br         *bufio.Reader
	maxLiteral int64
	n          int
}

// ReadResponse reads one response from br; a literal longer than
// maxLiteral bytes is refused (ErrTooLarge).
func ReadResponse(br *bufio.Reader, maxLiteral int64) (Response, error) {
	r := &reader{br: br, maxLiteral: maxLiteral}
	tag, err := r.word()
	if err != nil {
		return Response{}, err
	}
	resp := Response{Tag: tag}
	if tag == "+" {
		text, err := r.rest()
		resp.Fields = []Value{{Kind: String, S: text}}
		return resp, err
	}
	if tag == "" {
		return resp, errors.New("imapclient: a response without a tag")
	}
	if tag == "*" {
		// "* 3 EXISTS", "* 2 FETCH (...)": the number is a field.
		if c, err := r.peek(); err == nil && c >= '0' && c <= '9' {
			n, err := r.word()
			if err != nil {
				return resp, err
			}
			resp.Fields = append(resp.Fields, Value{Kind: Atom, S: n})
		}
	}
	word, err := r.word()
	if err != nil {
		return resp, err
	}
	resp.Fields = append(resp.Fields, Value{Kind: Atom, S: word})
	switch strings.ToUpper(word) {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		if c, err := r.peek(); err == nil && c == '[' {
			r.br.ReadByte()
			code, err := r.values(']', 1)
			if err != nil {
				return resp, err
			}
			resp.Fields = append(resp.Fields, Value{Kind: Section, L: code})
			if c, err := r.peek(); err == nil && c == ' ' {
				r.br.ReadByte()
			}
		}
		text, err := r.rest()
		resp.Fields = append(resp.Fields, Value{Kind: String, S: text})
		return resp, err
	}
	vs, err := r.values('\n', 0)
	resp.Fields = append(resp.Fields, vs...)
	return resp, err
}

// byte reads one byte, counting it against maxLine.
func (r *reader) byte() (byte, error) {
	r.n++
	if r.n > maxLine {
		return 0, ErrTooLarge
	}
	c, err := r.br.ReadByte()
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return c, err
}

func (r *reader) peek() (byte, error) {
	b, err := r.br.Peek(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

// word reads up to the next space (consumed) or line end (not consumed).
func (r *reader) word() (string, error) {
	var b strings.Builder
	for {
		c, err := r.peek()
		if err != nil {
			return b.String(), err
		}
		if c == '\r' || c == '\n' {
			return b.String(), nil
		}
		if _, err := r.byte(); err != nil {
			return "", err
		}
		if c == ' ' {
			return b.String(), nil
		}
		b.WriteByte(c)
	}
}

// rest reads the rest of the line, its end consumed.
func (r *reader) rest() (string, error) {
	var b strings.Builder
	for {
		c, err := r.byte()
		if err != nil {
			return "", err
		}
		switch c {
		case '\n':
			return strings.TrimSuffix(b.String(), "\r"), nil
		default:
			b.WriteByte(c)
		}
	}
}

// values reads values up to end: ')' or ']' (consumed) or '\n' (the
// line's end, consumed).
func (r *reader) values(end byte, depth int) ([]Value, error) {
	if depth > maxDepth {
		return nil, ErrTooLarge
	}
	var out []Value
	for {
		c, err := r.byte()
		if err != nil {
			return out, err
		}
		switch {
		case c == end:
			return out, nil
		case c == '\n' || c == ')' || c == ']':
			return out, fmt.Errorf("imapclient: unbalanced %q in the server's response", c)
		case c == ' ' || c == '\r':
		case c == '(' || c == '[':
			close, kind := byte(')'), List
			if c == '[' {
				close, kind = ']', Section
			}
			l, err := r.values(close, depth+1)
			if err != nil {
				return out, err
			}
			out = append(out, Value{Kind: kind, L: l})
		case c == '"':
			s, err := r.quoted()
			if err != nil {
				return out, err
			}
			out = append(out, Value{Kind: String, S: s})
		case c == '{' || (c == '~' && r.next('{')):
			s, err := r.literal()
			if err != nil {
				return out, err
			}
			out = append(out, Value{Kind: String, S: s})
		default:
			var b strings.Builder
			b.WriteByte(c)
			for {
				p, err := r.peek()
				if err != nil || strings.IndexByte(" ()[]\r\n", p) >= 0 {
					break
				}
				ch, _ := r.byte()
				b.WriteByte(ch)
			}
			out = append(out, Value{Kind: Atom, S: b.String()})
		}
	}
}

// next consumes c when it is the next byte.
func (r *reader) next(c byte) bool {
	if p, err := r.peek(); err == nil && p == c {
		r.br.ReadByte()
		return true
	}
	return false
}

// quoted reads a quoted string after its opening quote.
func (r *reader) quoted() (string, error) {
	var b strings.Builder
	for {
		c, err := r.byte()
		if err != nil {
			return "", err
		}
		switch c {
		case '"':
			return b.String(), nil
		case '\\':
			if c, err = r.byte(); err != nil {
				return "", err
			}
		case '\r', '\n':
			return "", errors.New("imapclient: a line end inside a quoted string")
		}
		b.WriteByte(c)
	}
}

// literal reads "n}\r\n" and n bytes after a literal's "{".
func (r *reader) literal() (string, error) {
	var num strings.Builder
	for {
		c, err := r.byte()
		if err != nil {
			return "", err
		}
		if c == '}' {
			break
		}
		num.WriteByte(c)
	}
	n, err := strconv.ParseInt(num.String(), 10, 64)
	if err != nil || n < 0 {
		return "", fmt.Errorf("imapclient: literal size %q", num.String())
	}
	if n > r.maxLiteral {
		return "", fmt.Errorf("%w: a literal of %d bytes (at most %d)", ErrTooLarge, n, r.maxLiteral)
	}
	if c, err := r.byte(); err == nil && c == '\r' {
		c, err = r.byte()
		if err != nil || c != '\n' {
			return "", errors.New("imapclient: no line end after a literal's size")
		}
	} else if err != nil || c != '\n' {
		return "", errors.New("imapclient: no line end after a literal's size")
	}
	buf := make([]byte, 0, min(n, 1<<20))
	lr := io.LimitReader(r.br, n)
	var chunk [32 << 10]byte
	for int64(len(buf)) < n {
		k, err := lr.Read(chunk[:])
		buf = append(buf, chunk[:k]...)
		if err != nil {
			if int64(len(buf)) == n {
				break
			}
			return "", io.ErrUnexpectedEOF
		}
	}
	return string(buf), nil
}

// Status returns the status of a status response ("OK", upper case),
// or "".
func (r Response) Status() string {
	if len(r.Fields) == 0 || r.Fields[0].Kind != Atom {
		return ""
	}
	switch s := strings.ToUpper(r.Fields[0].S); s {
	case "OK", "NO", "BAD", "BYE", "PREAUTH":
		return s
	}
	return ""
}

// Code returns the response code of a status response ("UIDVALIDITY",
// its arguments), if any.
func (r Response) Code() []Value {
	for _, f := range r.Fields {
		if f.Kind == Section {
			return f.L
		}
	}
	return nil
}

// Text returns the text of a status response.
func (r Response) Text() string {
	if n := len(r.Fields); n > 0 && r.Fields[n-1].Kind == String {
		return r.Fields[n-1].S
	}
	return ""
}
