package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// mailboxes every user's sessions share; MOVE goes between them.
var mailboxes = [2]string{"INBOX", "Work"}

const timeout = 30 * time.Second

// load runs the IMAP and LMTP clients for o.duration.
func load(ctx context.Context, o options, srv *server, res *result) {
	ctx, cancel := context.WithTimeout(ctx, o.duration)
	defer cancel()
	var wg sync.WaitGroup
	for i := range o.clients {
		wg.Go(func() { imapClient(ctx, o, srv, res, i) })
	}
	for i := range o.lmtp {
		wg.Go(func() { lmtpClient(ctx, o, srv, res, i) })
	}
	wg.Wait()
}

// message is a small message whose body holds token; one in four has an
// RTF attachment, so that the converter works too.
func message(rng *rand.Rand, to, token string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: stress@bench.test\r\nTo: %s\r\nSubject: stress %d\r\nMessage-ID: <%s@stress>\r\nX-Stress-Token: %s\r\n", to, rng.IntN(1000), token, token)
	if rng.IntN(4) == 0 {
		fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhello %s see attached\r\n"+
			"--b\r\nContent-Type: application/rtf; name=r.rtf\r\n\r\n{\\rtf1\\ansi {\\b report} quarterly}\r\n--b--\r\n", token)
		return b.Bytes()
	}
	fmt.Fprintf(&b, "Content-Type: text/plain\r\n\r\nhello %s\r\nsome words to index: alpha bravo charlie %d\r\n", token, rng.IntN(1e6))
	return b.Bytes()
}

// lmtpClient delivers to random users until ctx ends.
func lmtpClient(ctx context.Context, o options, srv *server, res *result, id int) {
	rng := rand.New(rand.NewPCG(o.seed, uint64(1000+id)))
	var c *benchkit.LMTPClient
	defer func() {
		if c != nil {
			_ = c.Close()
		}
	}()
	for seq := 0; ctx.Err() == nil; seq++ {
		if c == nil {
			var err error
			if c, err = benchkit.DialLMTP(srv.t.LMTP, timeout); err != nil {
				res.fail("lmtp %d: connect: %v", id, err)
				sleep(ctx, time.Second)
				continue
			}
		}
		to := benchkit.User(rng.IntN(o.users) + 1)
		token := fmt.Sprintf("stkl%02d%07d", id, seq)
		n, err := c.Deliver("stress@bench.test", []string{to}, benchkit.DotStuff(message(rng, to, token)))
		res.ops.Add(1)
		switch {
		case err != nil && !benchkit.IsReply(err):
			res.fail("lmtp %d: connection broken: %v", id, err)
			_ = c.Abort()
			c = nil
		case err != nil || n != 1:
			res.fail("lmtp %d: delivery to %s rejected: %v", id, to, err)
		default:
			res.delivered.Add(1)
		}
		sleep(ctx, time.Duration(rng.IntN(20))*time.Millisecond)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// client is one IMAP session of the load.
type client struct {
	id   int
	user string
	o    options
	res  *result
	rng  *rand.Rand
	conn *benchkit.IMAPConn
	seq  int
	mbox string   // selected
	uids []uint32 // of mbox, as last fetched, plus what this client appended
	toks []string // tokens this client appended lately
}

// imapClient runs sessions until ctx ends; a broken one is a violation,
// and the client starts another.
func imapClient(ctx context.Context, o options, srv *server, res *result, id int) {
	c := &client{id: id, user: benchkit.User(id%o.users + 1), o: o, res: res, rng: rand.New(rand.NewPCG(o.seed, uint64(id)))}
	for ctx.Err() == nil {
		if err := c.session(ctx, srv.t.IMAP); err != nil {
			res.fail("imap %d (%s): %v", id, c.user, err)
			sleep(ctx, time.Second)
		}
	}
}

func (c *client) session(ctx context.Context, addr string) error {
	conn, err := benchkit.DialIMAP(addr, timeout, 64<<10)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	c.conn = conn
	if _, err := c.do("LOGIN "+c.user+" "+benchkit.Password, nil); err != nil {
		return err
	}
	if _, _, err := conn.Do("CREATE Work", nil); err != nil { // NO [ALREADYEXISTS] but for the first session
		if _, ok := errors.AsType[*benchkit.ErrNo](err); !ok || !strings.Contains(err.Error(), "[ALREADYEXISTS]") {
			return fmt.Errorf("CREATE Work: %w", err)
		}
	}
	if err := c.selectBox(mailboxes[c.rng.IntN(2)]); err != nil {
		return err
	}
	for ctx.Err() == nil {
		if err := c.step(); err != nil {
			return err
		}
	}
	_, _, _ = conn.Do("LOGOUT", nil)
	return nil
}

// do runs one command. A tagged NO [EXPUNGEISSUED] is allowed (another
// session expunged a message this one named); any other NO or BAD is a
// violation; an error means the connection broke.
func (c *client) do(line string, lit []byte) ([][]byte, error) {
	untagged, _, err := c.conn.Do(line, lit)
	c.res.ops.Add(1)
	for _, u := range untagged {
		if bytes.HasPrefix(u, []byte("* BYE")) {
			return untagged, fmt.Errorf("%s: the server said %q", line, u)
		}
	}
	if no, ok := errors.AsType[*benchkit.ErrNo](err); ok {
		if strings.Contains(no.Error(), " NO [EXPUNGEISSUED]") {
			c.res.expungeIssued.Add(1)
		} else {
			c.res.fail("imap %d (%s): %.100s -> %s", c.id, c.user, line, no.Error())
		}
		return untagged, nil
	}
	if err != nil {
		return untagged, fmt.Errorf("%.100s: connection broken: %w", line, err)
	}
	return untagged, nil
}

func (c *client) selectBox(name string) error {
	if _, err := c.do("SELECT "+name, nil); err != nil {
		return err
	}
	c.mbox, c.uids = name, nil
	return c.fetchAll()
}

// fetchAll refreshes the UIDs and checks they ascend.
func (c *client) fetchAll() error {
	untagged, err := c.do("UID FETCH 1:* (UID FLAGS)", nil)
	if err != nil {
		return err
	}
	uids, err := ascending(untagged)
	if err != nil {
		c.res.fail("imap %d (%s): %s: %v", c.id, c.user, c.mbox, err)
	}
	c.uids = uids
	return nil
}

// ascending returns the UIDs of a FETCH's responses in the order of
// their sequence numbers, and an error unless they strictly ascend. The
// server may add unsolicited FETCH responses (flags others changed) for
// messages the command also returned: the same sequence number must then
// name the same UID. EXPUNGE responses (a UID command may carry them,
// RFC 9051 7.5.1) renumber the messages; the check is then skipped.
func ascending(untagged [][]byte) ([]uint32, error) {
	bySeq := map[uint32]uint32{}
	for _, u := range untagged {
		if bytes.HasSuffix(u, []byte(" EXPUNGE")) {
			return nil, nil
		}
	}
	for _, u := range untagged {
		seq, uid, ok := parseFetch(u)
		if !ok {
			continue
		}
		if prev, dup := bySeq[seq]; dup && prev != uid {
			return nil, fmt.Errorf("message %d is UID %d and UID %d in one FETCH", seq, prev, uid)
		}
		bySeq[seq] = uid
	}
	seqs := slices.Sorted(maps.Keys(bySeq))
	uids := make([]uint32, len(seqs))
	for i, s := range seqs {
		uids[i] = bySeq[s]
		if i > 0 && uids[i] <= uids[i-1] {
			return uids, fmt.Errorf("UIDs not strictly ascending: message %d is UID %d, message %d UID %d", seqs[i-1], uids[i-1], s, uids[i])
		}
	}
	return uids, nil
}

// parseFetch parses "* seq FETCH (... UID uid ...)".
func parseFetch(u []byte) (seq, uid uint32, ok bool) {
	f := bytes.Fields(u)
	if len(f) < 4 || string(f[0]) != "*" || string(f[2]) != "FETCH" {
		return 0, 0, false
	}
	s, err := strconv.ParseUint(string(f[1]), 10, 32)
	if err != nil {
		return 0, 0, false
	}
	i := bytes.Index(u, []byte("UID "))
	if i < 0 {
		return 0, 0, false
	}
	rest := u[i+4:]
	j := 0
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	n, err := strconv.ParseUint(string(rest[:j]), 10, 32)
	if err != nil {
		return 0, 0, false
	}
	return uint32(s), uint32(n), true
}

func (c *client) some() (uint32, bool) {
	if len(c.uids) == 0 {
		return 0, false
	}
	return c.uids[c.rng.IntN(len(c.uids))], true
}

// step runs one random operation.
func (c *client) step() error {
	switch r := c.rng.IntN(100); {
	case r < 22:
		return c.append()
	case r < 34:
		return c.fetchAll()
	case r < 44:
		if u, ok := c.some(); ok {
			_, err := c.do(fmt.Sprintf("UID FETCH %d (BODY.PEEK[] FLAGS)", u), nil)
			return err
		}
	case r < 54:
		if u, ok := c.some(); ok {
			flag := [...]string{"+FLAGS (\\Seen)", "-FLAGS (\\Seen)", "+FLAGS (\\Flagged $Stress)", "-FLAGS ($Stress)"}[c.rng.IntN(4)]
			_, err := c.do(fmt.Sprintf("UID STORE %d %s", u, flag), nil)
			return err
		}
	case r < 68:
		return c.expunge()
	case r < 76:
		if u, ok := c.some(); ok {
			untagged, err := c.do(fmt.Sprintf("UID MOVE %d %s", u, other(c.mbox)), nil)
			if len(untagged) > 0 {
				c.res.moved.Add(1)
			}
			return err
		}
	case r < 86:
		return c.search()
	case r < 91:
		return c.idle()
	case r < 95:
		return c.selectBox(mailboxes[c.rng.IntN(2)])
	default:
		_, err := c.do("NOOP", nil)
		return err
	}
	return nil
}

func other(mbox string) string {
	if mbox == mailboxes[0] {
		return mailboxes[1]
	}
	return mailboxes[0]
}

func (c *client) append() error {
	c.seq++
	token := fmt.Sprintf("stki%02d%07d", c.id, c.seq)
	box := mailboxes[c.rng.IntN(2)]
	_, st, err := c.conn.Do("APPEND "+box, message(c.rng, c.user, token))
	c.res.ops.Add(1)
	if no, ok := errors.AsType[*benchkit.ErrNo](err); ok {
		c.res.fail("imap %d (%s): APPEND %s -> %s", c.id, c.user, box, no.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("APPEND: connection broken: %w", err)
	}
	c.res.appended.Add(1)
	c.toks = append(c.toks, token)
	if len(c.toks) > 32 {
		c.toks = c.toks[1:]
	}
	if box == c.mbox {
		// [APPENDUID uidvalidity uid] (RFC 4315)
		if f := strings.Fields(st); len(f) >= 4 && f[1] == "[APPENDUID" {
			if n, err := strconv.ParseUint(strings.TrimSuffix(f[3], "]"), 10, 32); err == nil {
				c.uids = append(c.uids, uint32(n))
			}
		}
	}
	return nil
}

// expunge flags some messages \Deleted and expunges: many when the
// mailbox holds more than keep, so mailboxes stay small and messages go
// while the indexer is still catching up on them.
func (c *client) expunge() error {
	if len(c.uids) == 0 {
		return nil
	}
	n := 1
	if len(c.uids) > c.o.keep {
		n = len(c.uids) - c.o.keep/2
	}
	var set []string
	for _, i := range c.rng.Perm(len(c.uids))[:n] {
		set = append(set, strconv.FormatUint(uint64(c.uids[i]), 10))
	}
	if _, err := c.do("UID STORE "+strings.Join(set, ",")+" +FLAGS.SILENT (\\Deleted)", nil); err != nil {
		return err
	}
	untagged, err := c.do("EXPUNGE", nil)
	for _, u := range untagged {
		if bytes.HasSuffix(u, []byte(" EXPUNGE")) {
			c.res.expunged.Add(1)
		}
	}
	if err != nil {
		return err
	}
	return c.fetchAll()
}

// search looks for a token this client appended lately (or a word every
// message has); what it finds may be gone already, so only errors count.
func (c *client) search() error {
	word := "hello"
	if len(c.toks) > 0 {
		word = c.toks[c.rng.IntN(len(c.toks))]
	}
	_, err := c.do("UID SEARCH BODY "+word, nil)
	c.res.searched.Add(1)
	return err
}

// idle idles a moment (the server pushes what others change), then DONE.
func (c *client) idle() error {
	if err := c.conn.Idle(); err != nil {
		return fmt.Errorf("IDLE: %w", err)
	}
	time.Sleep(time.Duration(50+c.rng.IntN(450)) * time.Millisecond)
	_, err := c.conn.EndIdle()
	c.res.ops.Add(1)
	c.res.idles.Add(1)
	if no, ok := errors.AsType[*benchkit.ErrNo](err); ok {
		c.res.fail("imap %d (%s): IDLE -> %s", c.id, c.user, no.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("IDLE: connection broken: %w", err)
	}
	return nil
}
