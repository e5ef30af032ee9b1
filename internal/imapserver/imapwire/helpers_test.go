package imapwire

import (
	"bufio"
	"strings"
	"testing"
)

// contRecorder records continuation requests.
type contRecorder struct{ n int }

func (c *contRecorder) Continue(string) error { c.n++; return nil }

func newTestReader(in string, lim Limits) (*Reader, *contRecorder) {
	c := &contRecorder{}
	return NewReader(bufio.NewReaderSize(strings.NewReader(in), 64), c, lim), c
}

func readOne(t *testing.T, in string) (*Command, error) {
	t.Helper()
	r, _ := newTestReader(in, Limits{})
	return r.ReadCommand()
}
