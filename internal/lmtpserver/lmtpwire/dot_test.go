package lmtpwire

import (
	"bufio"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzDotReader: the body a DotReader gives is the same whatever the
// size of the reads made of it and however the connection hands out
// its bytes (a Read takes as many buffered lines as fit).
func FuzzDotReader(f *testing.F) {
	for _, s := range []string{".\r\n", "a\r\n..b\r\n.\r\n", "a\r.\r\n.\r\n", "x\n.\r\n.\r\n", strings.Repeat("w", 40) + "\r\n..\r\n.\r\n", "no end"} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, wire string, trickle bool) {
		read := func(chunk int) (string, error) {
			var src io.Reader = strings.NewReader(wire)
			if trickle {
				src = iotest.OneByteReader(src)
			}
			d := NewDotReader(bufio.NewReaderSize(src, 16))
			var out []byte
			buf := make([]byte, chunk)
			for {
				n, err := d.Read(buf)
				out = append(out, buf[:n]...)
				if err != nil {
					if err == io.EOF {
						err = nil
					}
					return string(out), err
				}
			}
		}
		one, err1 := read(1)
		big, err2 := read(4096)
		if one != big || (err1 == nil) != (err2 == nil) {
			t.Fatalf("1-byte reads: %q, %v; 4 KB reads: %q, %v", one, err1, big, err2)
		}
	})
}
