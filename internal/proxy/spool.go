package proxy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// spoolMemory is how much of a message an LMTP transaction keeps in
// memory; the rest goes to an unlinked temporary file.
const spoolMemory = 256 << 10

var errTooBig = errors.New("proxy: message size exceeds lmtp.max_message_size")

// spool holds an LMTP message while every group delivers it: in memory
// up to spoolMemory, then in a temporary file removed at once (so nothing
// is left behind by a crash). Reader may be called by several goroutines.
type spool struct {
	max int64 // 0: no limit
	mem []byte
	f   *os.File
	n   int64
	err error // the temporary file failed
}

func newSpool(max int64) *spool { return &spool{max: max} }

// Write takes the next bytes; past max it returns errTooBig.
func (s *spool) Write(p []byte) (int, error) {
	if s.max > 0 && s.n+int64(len(p)) > s.max {
		return 0, errTooBig
	}
	if s.f == nil && len(s.mem)+len(p) <= spoolMemory {
		s.mem = append(s.mem, p...)
		s.n += int64(len(p))
		return len(p), nil
	}
	if s.f == nil {
		f, err := os.CreateTemp("", "quire-proxy-*")
		if err != nil {
			s.err = fmt.Errorf("temporary file: %w", err)
			return 0, errTooBig // stop reading into the spool; data reports s.err
		}
		_ = os.Remove(f.Name())
		if _, err := f.Write(s.mem); err != nil {
			f.Close()
			s.err = fmt.Errorf("temporary file: %w", err)
			return 0, errTooBig
		}
		s.f, s.mem = f, nil
	}
	n, err := s.f.Write(p)
	s.n += int64(n)
	if err != nil {
		s.err = fmt.Errorf("temporary file: %w", err)
		return n, errTooBig
	}
	return n, nil
}

// Reader returns a reader of the whole message, independent of others.
func (s *spool) Reader() io.Reader {
	if s.f != nil {
		return io.NewSectionReader(s.f, 0, s.n)
	}
	return bytes.NewReader(s.mem)
}

// Close frees the spool.
func (s *spool) Close() {
	if s.f != nil {
		s.f.Close()
	}
}
