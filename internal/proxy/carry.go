package proxy

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/quiremail/quire/internal/netserve"
)

// carryBuffer is the copy buffer of a direction that cannot splice (a
// TLS side): one TLS record's plaintext (RFC 8446 5.1), so a record read
// from the client is one write to the host, and a read from the host is
// at most one record, sent in one write, to the client.
const carryBuffer = 16 << 10

// splice carries a logged-in session: the bytes each side sent that the
// login exchange read ahead (cr's, the client's; host.R's, the host's)
// first, then every byte both ways, until either side ends; then it
// closes both and logs the byte counts.
//
// Nothing is parsed after login. Each direction is one goroutine blocked
// in one copy; between two plain TCP connections the copy is
// (*net.TCPConn).ReadFrom, which on Linux moves the bytes with splice(2)
// through a kernel pipe and never into the process. A TLS side copies
// through a carryBuffer.
func splice(client net.Conn, cr *bufio.Reader, host *Backend, log *slog.Logger) {
	_ = client.SetDeadline(time.Time{})
	_ = host.SetDeadline(time.Time{})
	upAhead, downAhead := ahead(cr), ahead(host.R)
	craw, hraw := rawConn(client), rawConn(host.Conn)
	var up, down int64
	var once sync.Once
	closeBoth := func() { client.Close(); host.Close() }
	var wg sync.WaitGroup
	wg.Go(func() {
		up, _ = carry(hraw, craw, upAhead)
		once.Do(closeBoth)
	})
	wg.Go(func() {
		down, _ = carry(craw, hraw, downAhead)
		once.Do(closeBoth)
	})
	wg.Wait()
	log.Info("proxy: session ended", "bytes_in", up, "bytes_out", down)
}

// ahead returns what br holds already read; br is not read again.
func ahead(br *bufio.Reader) []byte {
	b, _ := br.Peek(br.Buffered())
	return b
}

// rawConn returns the connection under a drain wrapper (the TCP
// connection, for a plain client), so that the copy can splice. A session
// carried is past its drain point (netserve.Conn.Busy): Shutdown closes
// it, and closing either closes both.
func rawConn(nc net.Conn) net.Conn {
	if d, ok := nc.(*netserve.Conn); ok {
		return d.Conn
	}
	return nc
}

// carry writes ahead to dst, then copies src to dst until src ends or a
// write fails. It returns the bytes written.
func carry(dst, src net.Conn, ahead []byte) (int64, error) {
	var n int
	if len(ahead) > 0 {
		var err error
		if n, err = dst.Write(ahead); err != nil {
			return int64(n), err
		}
	}
	var m int64
	var err error
	d, dok := dst.(*net.TCPConn)
	s, sok := src.(*net.TCPConn)
	if dok && sok {
		m, err = d.ReadFrom(s) // splice(2)
	} else {
		// Neither side's ReadFrom or WriteTo: both would copy through
		// a buffer of their own choosing.
		m, err = io.CopyBuffer(struct{ io.Writer }{dst}, struct{ io.Reader }{src}, make([]byte, carryBuffer))
	}
	return int64(n) + m, err
}
