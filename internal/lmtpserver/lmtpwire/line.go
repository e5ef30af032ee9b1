package lmtpwire

import (
	"bufio"
	"bytes"
	"errors"
)

// ErrLineTooLong is a command line over ReadLine's bound; the line was
// read to its end and discarded, so the session stays in sync.
var ErrLineTooLong = errors.New("lmtp: line too long")

// ReadLine reads a command line of at most max bytes, terminator included,
// and returns it without its CRLF (or bare LF). A longer line is read to
// its end, discarded, and reported as ErrLineTooLong.
func ReadLine(br *bufio.Reader, max int) (string, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		if len(line)+len(chunk) > max {
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			if err != nil {
				return "", err
			}
			return "", ErrLineTooLong
		}
		line = append(line, chunk...)
		if err == nil {
			break
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return "", err
		}
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return string(line), nil
}
