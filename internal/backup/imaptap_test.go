package backup_test

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// tap relays an import's IMAP connections to a real server, recording
// the command lines the client sends; with cut set, it cuts the
// connection where the server's stream reaches cut, having relayed the
// bytes before it (so the client is left inside a message's literal).
type tap struct {
	t   *testing.T
	ln  net.Listener
	to  string
	cut []byte

	mu    sync.Mutex
	lines []string // tags stripped
	cuts  int
}

func startTap(t *testing.T, to, cut string) *tap {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tap{t: t, ln: ln, to: to, cut: []byte(cut)}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { p.relay(c, &wg) })
		}
	})
	return p
}

func (p *tap) addr() string { return p.ln.Addr().String() }

// relay carries one connection both ways until either side closes.
func (p *tap) relay(client net.Conn, wg *sync.WaitGroup) {
	defer client.Close()
	server, err := net.Dial("tcp", p.to)
	if err != nil {
		p.t.Errorf("tap: %v", err)
		return
	}
	defer server.Close()
	wg.Go(func() {
		defer server.Close()
		defer client.Close()
		br := bufio.NewReader(client)
		for {
			line, err := br.ReadString('\n')
			if err != nil {
				return
			}
			_, cmd, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
			p.mu.Lock()
			p.lines = append(p.lines, cmd)
			p.mu.Unlock()
			if _, err := io.WriteString(server, line); err != nil {
				return
			}
		}
	})
	var seen []byte
	buf := make([]byte, 32<<10)
	for {
		n, err := server.Read(buf)
		if n > 0 {
			from := len(seen)
			seen = append(seen, buf[:n]...)
			if len(p.cut) > 0 {
				look := max(0, from-len(p.cut)+1)
				if i := bytes.Index(seen[look:], p.cut); i >= 0 {
					client.Write(seen[from:max(from, look+i)])
					p.mu.Lock()
					p.cuts++
					p.mu.Unlock()
					return
				}
			}
			if _, err := client.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// commands returns the command lines clients sent so far.
func (p *tap) commands() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// fetchRE is a UID FETCH of bodies: one UID or a range.
var fetchRE = regexp.MustCompile(`^UID FETCH (\d+)(?::(\d+))? \(UID BODY\.PEEK\[\]\)$`)

// bodyFetches returns, per mailbox (Quire's name for Dovecot's), the UID
// ranges of the UID FETCHes of bodies the client sent while it had the
// mailbox examined.
func bodyFetches(t *testing.T, cmds []string) map[string][][2]uint32 {
	t.Helper()
	out := map[string][][2]uint32{}
	box := ""
	for _, c := range cmds {
		if name, ok := strings.CutPrefix(c, "EXAMINE "); ok {
			box = strings.ReplaceAll(strings.Trim(name, `"`), ".", "/")
			continue
		}
		m := fetchRE.FindStringSubmatch(c)
		if m == nil {
			continue
		}
		a, _ := strconv.ParseUint(m[1], 10, 32)
		b := a
		if m[2] != "" {
			b, _ = strconv.ParseUint(m[2], 10, 32)
		}
		out[box] = append(out[box], [2]uint32{uint32(a), uint32(b)})
	}
	return out
}
