package main

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// client is one simulated user agent. It owns the tokens (messages) it
// created and the mailboxes named ck<id>-<n>: only the owner expunges,
// moves, copies its tokens and creates, renames or deletes its mailboxes,
// so it knows exactly where each of its messages must be. Everyone shares
// INBOX, reads everything and changes flags (never \Deleted) on anything.
type client struct {
	id   int
	run  string // unique per run, in every token
	user string
	imap string   // its host's IMAP address
	lmtp []string // every host's LMTP address
	rnd  *rand.Rand
	log  *history
	bad  *violations

	conn *benchkit.IMAPConn
	sel  string // the selected mailbox, "" if none

	tokens    map[string]map[string]int // token → mailbox → expected copies
	uncertain map[string]bool           // tokens whose last operation's outcome is unknown
	own       []string                  // own mailboxes that certainly exist
	lostMB    map[string]bool           // own mailbox names whose existence is unknown
	nextTok   int
	nextMB    int
	seen      map[string]*view // per mailbox name: the last full view
	maxUID    map[string]uint32
	ops, errs int
	prog      *progress // shared by all clients
}

// view is what a client last saw of a mailbox: enough to check the next
// QRESYNC against and to see that nothing went backwards.
type view struct {
	uidValidity, uidNext uint32
	modSeq               uint64
	flags                map[uint32]string // UID → sorted flags
}

func (c *client) token() string {
	c.nextTok++
	return fmt.Sprintf("ck-%s-%d-%d", c.run, c.id, c.nextTok)
}

func message(user, tok string) []byte {
	return []byte(fmt.Sprintf("From: checker <ck@bench.test>\r\nTo: %s\r\nSubject: %s\r\nMessage-ID: <%s@checker>\r\n"+
		"Date: Tue, 1 Dec 2026 00:00:00 +0000\r\n\r\nbody of %s\r\n", user, tok, tok, tok))
}

// loop runs random operations until ctx ends.
func (c *client) loop(ctx context.Context) {
	type op struct {
		weight int
		fn     func() error
	}
	ops := []op{
		{15, c.opDeliver}, {15, c.opAppend}, {20, c.opSync}, {15, c.opFlags},
		{8, c.opExpunge}, {8, c.opMove}, {5, c.opCopy}, {4, c.opCreate}, {3, c.opRename}, {2, c.opDelete},
	}
	total := 0
	for _, o := range ops {
		total += o.weight
	}
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		if c.conn == nil {
			if err := c.connect(); err != nil {
				c.errs++
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
				}
				backoff = min(2*backoff, 2*time.Second)
				continue
			}
			backoff = 50 * time.Millisecond
		}
		n := c.rnd.IntN(total)
		for _, o := range ops {
			if n -= o.weight; n < 0 {
				c.ops++
				if err := o.fn(); err != nil {
					c.errs++
					c.broken(err)
				} else {
					c.prog.ok.Add(1)
				}
				break
			}
		}
	}
	if c.conn != nil {
		c.conn.Close()
	}
}

// broken drops the connection after an error that was not a NO or BAD.
func (c *client) broken(err error) {
	var no *benchkit.ErrNo
	if errors.As(err, &no) || c.conn == nil {
		return
	}
	c.log.note(c.id, "connection dropped: "+err.Error())
	c.conn.Close()
	c.conn, c.sel = nil, ""
}

func (c *client) connect() error {
	conn, err := benchkit.DialIMAP(c.imap, 30*time.Second, 16<<10)
	if err != nil {
		return err
	}
	conn.Trace = func(dir, line string) { c.log.line(c.id, dir, line) }
	for _, cmd := range []string{fmt.Sprintf("LOGIN %q %q", c.user, benchkit.Password), "ENABLE QRESYNC"} {
		if _, err := conn.Command(cmd, nil); err != nil {
			conn.Close()
			return err
		}
	}
	c.conn, c.sel = conn, ""
	return nil
}

// do runs one command on the connection.
func (c *client) do(line string, lit []byte) ([][]byte, string, error) {
	return c.conn.Do(line, lit)
}

func (c *client) opDeliver() error {
	tok := c.token()
	addr := c.lmtp[c.rnd.IntN(len(c.lmtp))]
	lc, err := benchkit.DialLMTP(addr, 30*time.Second)
	if err != nil {
		return nil // nothing sent: the token does not exist
	}
	defer lc.Close()
	n, err := lc.Deliver("ck@bench.test", []string{c.user}, benchkit.DotStuff(message(c.user, tok)))
	c.log.note(c.id, fmt.Sprintf("LMTP %s %s → %d %v", addr, tok, n, err))
	if err != nil || n != 1 {
		c.uncertain[tok] = true
		return nil
	}
	c.tokens[tok] = map[string]int{"INBOX": 1}
	c.prog.acked.Add(1)
	return nil
}

// pickMailbox returns INBOX or one of the client's own mailboxes.
func (c *client) pickMailbox() string {
	if len(c.own) == 0 || c.rnd.IntN(2) == 0 {
		return "INBOX"
	}
	return c.own[c.rnd.IntN(len(c.own))]
}

func (c *client) opAppend() error {
	tok, mb := c.token(), c.pickMailbox()
	before := c.maxUID[mb]
	_, tagged, err := c.do("APPEND "+strconv.Quote(mb), message(c.user, tok))
	if err != nil {
		c.uncertain[tok] = true
		return err
	}
	c.tokens[tok] = map[string]int{mb: 1}
	c.prog.acked.Add(1)
	if uv, uid, ok := appendUID(tagged); ok {
		c.checkNewUID(mb, uv, uid, before, "APPEND")
	} else {
		c.bad.add("APPEND into %s answered without APPENDUID: %q", mb, tagged)
	}
	return nil
}

// checkNewUID: a UID allocated after the client saw UID before in the
// same mailbox must be above it (UIDs ascend in order of visibility).
func (c *client) checkNewUID(mb string, uv, uid, before uint32, what string) {
	if v := c.seen[mb]; v != nil && v.uidValidity != uv {
		return // the view is of an older incarnation of the mailbox
	}
	if uid <= before {
		c.bad.add("client %d: %s into %s got UID %d, but UID %d was already visible (UIDs must ascend in order of visibility)", c.id, what, mb, uid, before)
	}
	c.maxUID[mb] = max(c.maxUID[mb], uid)
}

// opSync selects a mailbox (with QRESYNC from the last view), fetches every
// message's UID, flags and MODSEQ, and checks the two against each other
// and against the last view.
func (c *client) opSync() error {
	return c.sync(c.pickMailbox())
}

func (c *client) sync(mb string) error {
	last := c.seen[mb]
	cmd := "SELECT " + strconv.Quote(mb)
	if last != nil {
		cmd += fmt.Sprintf(" (QRESYNC (%d %d))", last.uidValidity, last.modSeq)
	}
	c.sel = ""
	un, _, err := c.do(cmd, nil)
	if err != nil {
		return err
	}
	c.sel = mb
	s := parseSelect(un)
	if last != nil && s.uidValidity == last.uidValidity {
		if s.modSeq < last.modSeq {
			c.bad.add("client %d: %s HIGHESTMODSEQ went back from %d to %d", c.id, mb, last.modSeq, s.modSeq)
		}
		if s.uidNext < last.uidNext {
			c.bad.add("client %d: %s UIDNEXT went back from %d to %d", c.id, mb, last.uidNext, s.uidNext)
		}
	} else if last != nil && mb == "INBOX" {
		c.bad.add("client %d: INBOX UIDVALIDITY changed from %d to %d", c.id, last.uidValidity, s.uidValidity)
	}
	var fetchLines [][]byte
	if s.exists > 0 {
		un, _, err := c.do(fmt.Sprintf("FETCH 1:%d (UID FLAGS MODSEQ)", s.exists), nil)
		if err != nil && strings.Contains(err.Error(), "[EXPUNGEISSUED]") {
			// Another session expunged some of them since the SELECT
			// (RFC 9051 7.5.1 allows NO [EXPUNGEISSUED]): this view is
			// incomplete, so it is neither checked nor kept.
			delete(c.seen, mb)
			return nil
		}
		if err != nil {
			return err
		}
		fetchLines = un
	}
	v := judgeSync(c.id, mb, last, s, fetchLines, c.bad.add)
	for u := range v.flags {
		c.maxUID[mb] = max(c.maxUID[mb], u)
	}
	c.seen[mb] = v
	c.prog.synced.Add(1)
	return nil
}

// ensure selects mb unless it is selected.
func (c *client) ensure(mb string) error {
	if c.sel == mb {
		return nil
	}
	return c.sync(mb)
}

func (c *client) opFlags() error {
	mb := c.pickMailbox()
	if err := c.ensure(mb); err != nil {
		return err
	}
	v := c.seen[mb]
	if v == nil || len(v.flags) == 0 {
		return nil
	}
	uids := make([]uint32, 0, len(v.flags))
	for u := range v.flags {
		uids = append(uids, u)
	}
	slices.Sort(uids)
	u := uids[c.rnd.IntN(len(uids))]
	flag := []string{`\Flagged`, `\Seen`, "$kw1", "$kw2", "$kw3"}[c.rnd.IntN(5)]
	sign := []string{"+", "-"}[c.rnd.IntN(2)]
	_, _, err := c.do(fmt.Sprintf("UID STORE %d %sFLAGS (%s)", u, sign, flag), nil)
	return err
}

// ownInstance picks one of the client's certain tokens and a mailbox
// holding it.
func (c *client) ownInstance() (string, string, bool) {
	var toks []string
	for t, where := range c.tokens {
		if !c.uncertain[t] && len(where) > 0 {
			toks = append(toks, t)
		}
	}
	if len(toks) == 0 {
		return "", "", false
	}
	slices.Sort(toks)
	t := toks[c.rnd.IntN(len(toks))]
	var mbs []string
	for mb := range c.tokens[t] {
		mbs = append(mbs, mb)
	}
	slices.Sort(mbs)
	return t, mbs[c.rnd.IntN(len(mbs))], true
}

// locate selects mb and finds the token's UIDs there, checking that there
// are as many as the model says.
func (c *client) locate(tok, mb string) ([]uint32, error) {
	if err := c.ensure(mb); err != nil {
		return nil, err
	}
	// SEARCH sees the session's view (RFC 9051 7.5.1): NOOP first takes in
	// what was committed since the SELECT, such as the client's own LMTP
	// deliveries on another connection.
	if _, _, err := c.do("NOOP", nil); err != nil {
		return nil, err
	}
	un, _, err := c.do(fmt.Sprintf("UID SEARCH HEADER Message-ID %q", "<"+tok+"@checker>"), nil)
	if err != nil {
		return nil, err
	}
	uids := parseSearch(un)
	if want := c.tokens[tok][mb]; len(uids) != want {
		c.bad.add("client %d: message %s: %d cop(ies) in %s expected, SEARCH finds %d (UIDs %v)", c.id, tok, want, mb, len(uids), uids)
		c.uncertain[tok] = true // do not report it again
		return nil, nil
	}
	return uids, nil
}

func (c *client) opExpunge() error {
	tok, mb, ok := c.ownInstance()
	if !ok {
		return nil
	}
	uids, err := c.locate(tok, mb)
	if err != nil || len(uids) == 0 {
		return err
	}
	c.uncertain[tok] = true // until the expunge is answered
	if _, _, err := c.do(fmt.Sprintf("UID STORE %d +FLAGS.SILENT (\\Deleted)", uids[0]), nil); err != nil {
		return err
	}
	if _, _, err := c.do(fmt.Sprintf("UID EXPUNGE %d", uids[0]), nil); err != nil {
		return err
	}
	c.dec(tok, mb)
	delete(c.uncertain, tok)
	return nil
}

func (c *client) dec(tok, mb string) {
	if c.tokens[tok][mb]--; c.tokens[tok][mb] == 0 {
		delete(c.tokens[tok], mb)
	}
}

// target picks a mailbox other than mb among INBOX and the own ones.
func (c *client) target(mb string) (string, bool) {
	cands := []string{}
	for _, m := range append([]string{"INBOX"}, c.own...) {
		if m != mb {
			cands = append(cands, m)
		}
	}
	if len(cands) == 0 {
		return "", false
	}
	return cands[c.rnd.IntN(len(cands))], true
}

func (c *client) opMove() error { return c.transfer("MOVE") }
func (c *client) opCopy() error { return c.transfer("COPY") }

// transfer moves or copies one of the client's messages to another of its
// mailboxes (or INBOX) and checks the new UID.
func (c *client) transfer(verb string) error {
	tok, mb, ok := c.ownInstance()
	if !ok {
		return nil
	}
	dst, ok := c.target(mb)
	if !ok {
		return nil
	}
	uids, err := c.locate(tok, mb)
	if err != nil || len(uids) == 0 {
		return err
	}
	before := c.maxUID[dst]
	c.uncertain[tok] = true
	un, tagged, err := c.do(fmt.Sprintf("UID %s %d %q", verb, uids[0], dst), nil)
	if err != nil {
		return err
	}
	if verb == "MOVE" {
		c.dec(tok, mb)
	}
	c.tokens[tok][dst]++
	delete(c.uncertain, tok)
	code := tagged
	for _, l := range un {
		if strings.Contains(string(l), "[COPYUID ") {
			code = string(l)
		}
	}
	if uv, uid, ok := copyUID(code); ok {
		c.checkNewUID(dst, uv, uid, before, verb)
	} else {
		c.bad.add("client %d: UID %s answered without COPYUID: %q", c.id, verb, code)
	}
	return nil
}

func (c *client) opCreate() error {
	if len(c.own) >= 4 {
		return nil
	}
	c.nextMB++
	name := fmt.Sprintf("ck%d-%d", c.id, c.nextMB)
	c.lostMB[name] = true
	if _, _, err := c.do("CREATE "+strconv.Quote(name), nil); err != nil {
		return err
	}
	delete(c.lostMB, name)
	c.own = append(c.own, name)
	return nil
}

func (c *client) opRename() error {
	if len(c.own) == 0 {
		return nil
	}
	i := c.rnd.IntN(len(c.own))
	old := c.own[i]
	c.nextMB++
	name := fmt.Sprintf("ck%d-%d", c.id, c.nextMB)
	c.lostMB[old], c.lostMB[name] = true, true
	c.own = slices.Delete(c.own, i, i+1)
	moved := c.holding(old)
	if c.sel == old {
		c.sel = "" // RFC 9051 6.3.6 leaves the session's state to the server
	}
	if _, _, err := c.do(fmt.Sprintf("RENAME %q %q", old, name), nil); err != nil {
		for _, t := range moved {
			c.uncertain[t] = true
		}
		return err
	}
	delete(c.lostMB, old)
	delete(c.lostMB, name)
	for _, t := range moved {
		c.tokens[t][name] = c.tokens[t][old]
		delete(c.tokens[t], old)
	}
	c.seen[name], c.maxUID[name] = c.seen[old], c.maxUID[old]
	delete(c.seen, old)
	c.own = append(c.own, name)
	return nil
}

func (c *client) opDelete() error {
	if len(c.own) == 0 {
		return nil
	}
	i := c.rnd.IntN(len(c.own))
	name := c.own[i]
	c.own = slices.Delete(c.own, i, i+1)
	c.lostMB[name] = true
	inside := c.holding(name)
	if c.sel == name {
		// Quire refuses to delete the selected mailbox ([INUSE]).
		if _, _, err := c.do("UNSELECT", nil); err != nil {
			return err
		}
		c.sel = ""
	}
	if _, _, err := c.do("DELETE "+strconv.Quote(name), nil); err != nil {
		for _, t := range inside {
			c.uncertain[t] = true
		}
		return err
	}
	delete(c.lostMB, name)
	for _, t := range inside {
		delete(c.tokens[t], name)
	}
	delete(c.seen, name)
	delete(c.maxUID, name)
	return nil
}

// holding lists the client's tokens with copies in mb.
func (c *client) holding(mb string) []string {
	var out []string
	for t, where := range c.tokens {
		if where[mb] > 0 {
			out = append(out, t)
		}
	}
	return out
}
