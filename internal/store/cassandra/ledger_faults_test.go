//go:build quirefaults

package cassandra

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/lmtpserver"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// lmtpTimeout is the LMTP servers' timeout in these tests: the budget of
// a delivery's settling. Their backends' request timeout is 1 s.
const lmtpTimeout = 4 * time.Second

// ledgerRig is a Store on a Cassandra backend behind an LMTP server, with
// one user.
type ledgerRig struct {
	b    *Backend
	st   *store.Store
	addr string // LMTP
	user store.User
}

func newLedgerRig(t *testing.T) *ledgerRig {
	t.Helper()
	b := openTest(t, func(o *Options) { o.RequestTimeout = time.Second })
	st := store.New(b, store.Options{})
	u, err := st.CreateUser(context.Background(), "u"+randID()[:12]+"@example.org", "{PLAIN}pw")
	if err != nil {
		t.Fatal(err)
	}
	srv := lmtpserver.New(lmtpserver.Options{Store: st, Hostname: "quire.test", Timeout: lmtpTimeout})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close() })
	return &ledgerRig{b: b, st: st, addr: ln.Addr().String(), user: u}
}

// deliver runs one LMTP transaction of msg to the rig's user and returns
// the reply to DATA (one recipient: one line) and how long it took.
func (r *ledgerRig) deliver(t *testing.T, msg string) (string, time.Duration) {
	t.Helper()
	c, err := net.Dial("tcp", r.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * lmtpTimeout))
	br := bufio.NewReader(c)
	reply := func() string { // the last line of a reply
		for {
			l, err := br.ReadString('\n')
			if err != nil {
				t.Fatalf("read reply: %v", err)
			}
			if len(l) < 4 || l[3] != '-' {
				return strings.TrimRight(l, "\r\n")
			}
		}
	}
	send := func(cmd, want string) {
		fmt.Fprintf(c, "%s\r\n", cmd)
		if got := reply(); !strings.HasPrefix(got, want) {
			t.Fatalf("%s: %q, want %s", cmd, got, want)
		}
	}
	reply() // greeting
	send("LHLO client.test", "250 ")
	send("MAIL FROM:<sender@example.net>", "250 ")
	send("RCPT TO:<"+r.user.Address+">", "250 ")
	send("DATA", "354 ")
	start := time.Now()
	fmt.Fprintf(c, "%s.\r\n", msg)
	got := reply()
	return got, time.Since(start)
}

// inbox returns the INBOX's head and its messages' blobs.
func (r *ledgerRig) inbox(t *testing.T) (store.Head, []store.BlobID) {
	t.Helper()
	ctx := context.Background()
	mb, err := r.st.Mailbox(ctx, r.user, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	h, err := r.st.Status(ctx, mb)
	if err != nil {
		t.Fatal(err)
	}
	var blobs []store.BlobID
	if err := r.st.Messages(ctx, mb, 1, 0, func(m store.MessageRow) error { blobs = append(blobs, m.Meta.Blob); return nil }); err != nil {
		t.Fatal(err)
	}
	return h, blobs
}

// ledgerRows counts the ledger's entries for the rig's INBOX.
func (r *ledgerRig) ledgerRows(t *testing.T) int {
	t.Helper()
	mb, err := r.st.Mailbox(context.Background(), r.user, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := r.b.meta.Query(`SELECT count(*) FROM `+r.b.opts.Meta.Name+`.uncertain WHERE mailbox_id = ?`, mb.ID).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// commitAndSettle injects commit into Commit's conditional batch and
// settle into the SERIAL read-backs that settle it.
func commitAndSettle(commit Fault, settle func() Fault) func(Statement) Fault {
	return func(s Statement) Fault {
		switch {
		case s.Commit():
			return commit
		case s.Serial():
			return settle()
		}
		return Pass
	}
}

func unavailable() Fault { return Unavailable }

func message(subject string) string {
	return "From: sender@example.net\r\nSubject: " + subject + " " + randID() + "\r\n\r\nbody\r\n"
}

// replies are the whole LMTP replies these tests expect.
func (r *ledgerRig) reply(code int) string {
	if code == 250 {
		return "250 2.0.0 <" + r.user.Address + "> delivered"
	}
	return "451 4.3.0 <" + r.user.Address + "> temporary failure, try again later"
}

// expect delivers msg and fails unless the reply is code's; it returns how
// long the reply took.
func (r *ledgerRig) expect(t *testing.T, what, msg string, code int) time.Duration {
	t.Helper()
	line, took := r.deliver(t, msg)
	if want := r.reply(code); line != want {
		t.Fatalf("%s: %q, want %q", what, line, want)
	}
	return took
}

// expectStored fails unless INBOX holds messages messages and the ledger
// entries entries.
func (r *ledgerRig) expectStored(t *testing.T, what string, messages, entries int) {
	t.Helper()
	h, blobs := r.inbox(t)
	if n := r.ledgerRows(t); h.Messages != int64(messages) || len(blobs) != messages || n != entries {
		t.Fatalf("%s: head %+v, %d messages, %d ledger entries; want %d messages, %d entries", what, h, len(blobs), n, messages, entries)
	}
}

// TestFaultUncertainDeliveryLanded: the commit of a delivery lands but its
// reply is lost, and the SERIAL read-back is unavailable for the whole
// LMTP timeout: the first attempt answers 451 within the timeout, the
// MTA's retry answers 250 without storing it again, and so does a retry
// of that retry. INBOX holds one copy.
func TestFaultUncertainDeliveryLanded(t *testing.T) {
	r := newLedgerRig(t)
	msg := message("landed")
	var reads atomic.Int64
	r.b.SetFaults(Faults{Inject: commitAndSettle(LostReply, func() Fault { reads.Add(1); return Unavailable })})
	took := r.expect(t, "first attempt", msg, 451)
	// Settling kept reading back (20 ms doubling to 1 s) until the LMTP
	// timeout less one request timeout for the ledger, and no longer.
	if took > lmtpTimeout || took < lmtpTimeout-2*time.Second || reads.Load() < 6 {
		t.Fatalf("first attempt answered after %v with %d read-backs; want about %v of settling, within %v",
			took, reads.Load(), lmtpTimeout-time.Second, lmtpTimeout)
	}
	r.expectStored(t, "after the lost reply", 1, 1)
	r.b.SetFaults(Faults{})
	r.expect(t, "retry", msg, 250)
	r.expect(t, "retry of the retry", msg, 250)
	// The landed entry is kept for later retries.
	r.expectStored(t, "after the retries (the MTA retried a delivery that was stored)", 1, 1)
	// Another, different body is not mistaken for it.
	r.expect(t, "another message", message("other"), 250)
	r.expectStored(t, "after another message", 2, 1)
}

// TestFaultUncertainDeliveryNotLanded: the commit never ran, and the
// read-back is unavailable: 451; while the outcome stays unknown a retry
// must not commit (451 again); then the retry settles the entry as not
// landed, removes it, and stores the message once.
func TestFaultUncertainDeliveryNotLanded(t *testing.T) {
	r := newLedgerRig(t)
	msg := message("not landed")
	r.b.SetFaults(Faults{Inject: commitAndSettle(NoResponse, unavailable)})
	r.expect(t, "first attempt", msg, 451)
	r.expectStored(t, "after the commit that never ran", 0, 1)
	r.expect(t, "retry while still unknown", msg, 451)
	r.b.SetFaults(Faults{})
	r.expect(t, "retry", msg, 250)
	r.expectStored(t, "after the retry", 1, 0)
}

// TestFaultUncertainDeliverySettlesInBudget: the read-back is unavailable
// for a while, then answers, all within the LMTP timeout: the first
// attempt settles as landed and answers 250, with one copy and no ledger
// entry.
func TestFaultUncertainDeliverySettlesInBudget(t *testing.T) {
	r := newLedgerRig(t)
	var reads atomic.Int64
	r.b.SetFaults(Faults{Inject: commitAndSettle(LostReply, func() Fault {
		if reads.Add(1) <= 6 { // about 0.6 s of backoff
			return Unavailable
		}
		return Pass
	})})
	r.expect(t, "delivery", message("in budget"), 250)
	r.expectStored(t, "after the delivery", 1, 0)
}

// TestFaultLedgerSettledInBackground: an uncertain delivery whose MTA does
// not retry is settled by the background pass (Store.RunLedger): the
// entry is marked landed, so a late retry answers from it without a
// SERIAL read (the read-back is made to fail to prove it).
func TestFaultLedgerSettledInBackground(t *testing.T) {
	r := newLedgerRig(t)
	msg := message("background")
	r.b.SetFaults(Faults{Inject: commitAndSettle(LostReply, unavailable)})
	r.expect(t, "first attempt", msg, 451)
	r.b.SetFaults(Faults{})
	mb, err := r.st.Mailbox(context.Background(), r.user, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.st.RunLedger(ctx); close(done) }()
	// Settled: the entry marked landed, then cleared from the background
	// pass's list (two writes: the pass is stopped only after both).
	deadline := time.Now().Add(30 * time.Second)
	for {
		var landed bool
		var todo int
		err := r.b.meta.Query(`SELECT landed FROM `+r.b.opts.Meta.Name+`.uncertain WHERE mailbox_id = ?`, mb.ID).Scan(&landed)
		if err == nil {
			err = r.b.meta.Query(`SELECT count(*) FROM `+r.b.opts.Meta.Name+`.uncertain_todo WHERE shard = ? AND mailbox_id = ?`,
				ledgerShard(mb.ID), mb.ID).Scan(&todo)
		}
		if err == nil && landed && todo == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the background pass did not settle the entry in 30 s (landed %v, %d entries left for it, %v)", landed, todo, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	<-done
	var serial atomic.Int64
	r.b.SetFaults(Faults{Inject: func(s Statement) Fault {
		if s.Serial() {
			serial.Add(1)
		}
		return Pass
	}})
	r.expect(t, "late retry", msg, 250)
	r.expectStored(t, "after the late retry", 1, 1)
	if n := serial.Load(); n != 0 {
		t.Fatalf("the late retry made %d SERIAL reads; the entry settled as landed needs none", n)
	}
}

// TestFaultSettleReleasesCommitLock: while one commit settles (up to its
// caller's deadline), this host's other commits to the same mailbox go on:
// they do not wait behind the commit lock.
func TestFaultSettleReleasesCommitLock(t *testing.T) {
	b := openTest(t, func(o *Options) { o.RequestTimeout = time.Second })
	mb := newMailbox(t, b)
	var first atomic.Bool // the first CAS is the settling commit's
	var once sync.Once
	settling, other := make(chan struct{}), make(chan struct{})
	b.SetFaults(Faults{Inject: func(s Statement) Fault {
		switch {
		case s.Commit() && first.CompareAndSwap(false, true):
			return LostReply
		case s.Serial():
			once.Do(func() { close(settling) })
			select {
			case <-other:
			case <-time.After(5 * time.Second):
			}
			return Unavailable
		}
		return Pass
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	firstErr := make(chan error, 1)
	go func() { _, err := appendOne(ctx, b, mb.ID); firstErr <- err }()
	<-settling
	start := time.Now()
	_, err := appendOne(context.Background(), b, mb.ID)
	took := time.Since(start)
	close(other)
	if err != nil || took > time.Second {
		t.Fatalf("a commit beside a settling one: %v after %v; want success at once", err, took)
	}
	if err := <-firstErr; !errors.Is(err, mail.ErrUnavailable) {
		t.Fatalf("the settling commit: %v, want mail.ErrUnavailable", err)
	}
	if h, _ := b.Head(context.Background(), mb.ID); h.Messages != 2 {
		t.Fatalf("head %+v: want both commits", h)
	}
}
