package imapsearch

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/message"
)

// testMsg is a Message over a raw message held in memory.
type testMsg struct {
	seq              uint32
	uid              mail.UID
	flags            mail.Flags
	modSeq           mail.ModSeq
	internal, saved  time.Time
	size             int64
	recent           bool
	emailID, thrID   string
	raw              string
	part             *message.Part
	noStructure      bool  // Structure returns nil
	bodyErr          error // Body fails
	bodyCalls        int
	structureRequest int
}

func (m *testMsg) Seq() uint32             { return m.seq }
func (m *testMsg) UID() mail.UID           { return m.uid }
func (m *testMsg) Flags() mail.Flags       { return m.flags }
func (m *testMsg) ModSeq() mail.ModSeq     { return m.modSeq }
func (m *testMsg) InternalDate() time.Time { return m.internal }
func (m *testMsg) SaveDate() time.Time     { return m.saved }
func (m *testMsg) Size() int64             { return m.size }
func (m *testMsg) Recent() bool            { return m.recent }
func (m *testMsg) EmailID() string         { return m.emailID }
func (m *testMsg) ThreadID() string        { return m.thrID }

func (m *testMsg) Structure() *message.Part {
	m.structureRequest++
	if m.noStructure {
		return nil
	}
	return m.part
}

func (m *testMsg) Body() (io.ReaderAt, error) {
	m.bodyCalls++
	if m.bodyErr != nil {
		return nil, m.bodyErr
	}
	return strings.NewReader(m.raw), nil
}

// crlf turns the LF line ends of a test message into CRLF.
func crlf(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\n", "\r\n")
}

// newMsg scans raw (LF line ends allowed) into a test message.
func newMsg(t testing.TB, seq uint32, raw string) *testMsg {
	t.Helper()
	raw = crlf(raw)
	p, err := message.Scan(strings.NewReader(raw), message.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return &testMsg{
		seq: seq, uid: mail.UID(seq * 10), raw: raw, part: p, size: int64(len(raw)),
		internal: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(seq) * time.Hour),
	}
}

type nopCont struct{}

func (nopCont) Continue(string) error { return nil }

// command parses one client command line (without CRLF).
func command(t testing.TB, line string) any {
	t.Helper()
	r := imapwire.NewReader(bufio.NewReader(strings.NewReader(line+"\r\n")), nopCont{}, imapwire.Limits{})
	r.SetUTF8Accept(true)
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return cmd.Args
}

// program parses the search keys of a SEARCH command.
func program(t testing.TB, keys string) *imapwire.SearchKey {
	t.Helper()
	return command(t, "a SEARCH "+keys).(*imapwire.SearchArgs).Key
}

func seqs[M Message](ms []M) []uint32 {
	out := make([]uint32, len(ms))
	for i, m := range ms {
		out[i] = m.Seq()
	}
	return out
}

var errBody = errors.New("body unavailable")

func date(y int, m time.Month, d, hh, mm, ss int, zone *time.Location) time.Time {
	return time.Date(y, m, d, hh, mm, ss, 0, zone)
}

type imapwireKey = imapwire.SearchKey
