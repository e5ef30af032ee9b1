package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// maxReply bounds what the proxy reads of one access host's reply before
// a session is carried (a login's untagged lines and tagged line; an LMTP
// reply): the hosts are trusted, but a broken one must not grow memory.
const maxReply = 1 << 20

var errReplyTooLong = errors.New("proxy: reply from the access host too long")

// readLine reads one CRLF- (or LF-) terminated line of at most max bytes
// and returns it without the line break.
func readLine(br *bufio.Reader, max int) (string, error) {
	var buf []byte
	for {
		chunk, err := br.ReadSlice('\n')
		buf = append(buf, chunk...)
		if len(buf) > max {
			return "", errReplyTooLong
		}
		switch {
		case err == nil:
			return string(bytes.TrimRight(buf, "\r\n")), nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(buf) > 0:
			return "", io.ErrUnexpectedEOF
		default:
			return "", err
		}
	}
}

// readTagged reads an IMAP server's responses (RFC 9051 7) up to the
// tagged one for tag, literals included ({n} at a line's end, then n
// bytes, then the rest of the line). It returns the tagged status (OK, NO
// or BAD, upper case) and every response as sent, CRLF included, the
// tagged one last. A continuation request ("+") is an error: the proxy
// sends nothing that asks for one.
func readTagged(br *bufio.Reader, tag string) (string, [][]byte, error) {
	var out [][]byte
	total := 0
	for {
		resp, err := readResponse(br, maxReply-total)
		if err != nil {
			return "", out, err
		}
		total += len(resp)
		out = append(out, resp)
		switch {
		case bytes.HasPrefix(resp, []byte("+")):
			return "", out, errors.New("proxy: unexpected continuation request from the access host")
		case bytes.HasPrefix(resp, []byte(tag+" ")):
			rest := resp[len(tag)+1:]
			st, _, _ := bytes.Cut(rest, []byte(" "))
			st = bytes.ToUpper(bytes.TrimRight(st, "\r\n"))
			switch s := string(st); s {
			case "OK", "NO", "BAD":
				return s, out, nil
			default:
				return "", out, fmt.Errorf("proxy: tagged reply with status %q from the access host", s)
			}
		}
	}
}

// readResponse reads one response with its literals, at most max bytes.
func readResponse(br *bufio.Reader, max int) ([]byte, error) {
	var resp []byte
	for {
		line, err := readLine(br, max-len(resp))
		if err != nil {
			return nil, err
		}
		resp = append(resp, line...)
		resp = append(resp, "\r\n"...)
		n, ok := literalAtEnd(line)
		if !ok {
			return resp, nil
		}
		if n > int64(max-len(resp)) {
			return nil, errReplyTooLong
		}
		lit := make([]byte, n)
		if _, err := io.ReadFull(br, lit); err != nil {
			return nil, err
		}
		resp = append(resp, lit...)
	}
}

// literalAtEnd reports a literal's size when line ends with {n} (RFC 9051
// 4.3; servers send no {n+}).
func literalAtEnd(line string) (int64, bool) {
	if len(line) < 3 || line[len(line)-1] != '}' {
		return 0, false
	}
	i := len(line) - 2
	for i >= 0 && line[i] >= '0' && line[i] <= '9' {
		i--
	}
	if i < 0 || line[i] != '{' || i == len(line)-2 {
		return 0, false
	}
	n, err := strconv.ParseInt(line[i+1:len(line)-1], 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}
