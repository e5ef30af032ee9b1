package embedded_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/embedded"
	"github.com/quiremail/quire/internal/store/storetest"
)

// The crash test runs a workload (deliveries to two users, small bodies in
// Pebble and large ones in files, flag changes, expunges, moves, mailboxes
// created, renamed and deleted) on a crashable in-memory file system, and
// before every sync of a file or directory takes a clone of what a crash
// at that moment leaves: exactly what was synced, and once more with half
// of the unsynced writes kept at random (a torn write). It then opens the
// store on each clone and checks the conformance suite's invariants of
// every mailbox, and that every operation acknowledged before the crash is
// there: each delivered message present, byte for byte, with the flags
// and in the mailbox the acknowledged operations gave it, and each user's
// mailboxes as acknowledged (with distinct UIDVALIDITYs). The one
// operation under way at the crash may be there or not, never half (a
// move may leave the message in both mailboxes, never in neither: Write
// order in ARCHITECTURE.md). Purge passes run in the workload too: one
// that crashes half-way must leave every acknowledged message whole, and
// bodies it freed must store again.

// crashDir is the data directory inside the in-memory file system.
const crashDir = "/data"

// crashOptions keep the clones small: bodies over 512 bytes are files of
// 1 KiB chunks, so the file path is exercised with multi-chunk bodies.
func crashOptions(fs vfs.FS) embedded.Options {
	return embedded.Options{FS: fs, InlineBlobMax: 512, ChunkSize: 1024, CacheSize: 1 << 20, TextPurgeEvery: -1}
}

// crashState is what the acknowledged operations say the store holds:
// the users created, and where each message (user "/" blob ID) is, as
// "mailbox flags" strings, sorted.
type crashState struct {
	users map[string]bool
	boxes map[string][]string // user -> mailbox names, sorted
	msgs  map[string][]string
}

func newCrashState() crashState {
	return crashState{users: map[string]bool{}, boxes: map[string][]string{}, msgs: map[string][]string{}}
}

func (c crashState) clone() crashState {
	n := newCrashState()
	for k, v := range c.users {
		n.users[k] = v
	}
	for k, v := range c.boxes {
		n.boxes[k] = slices.Clone(v)
	}
	for k, v := range c.msgs {
		n.msgs[k] = slices.Clone(v)
	}
	return n
}

// renameBox moves addr's mailbox from to to (to "": deletes it), with the
// messages in it.
func (c crashState) renameBox(addr, from, to string) {
	boxes := slices.DeleteFunc(c.boxes[addr], func(n string) bool { return n == from })
	if to != "" {
		boxes = append(boxes, to)
		slices.Sort(boxes)
	}
	c.boxes[addr] = boxes
	for k, ps := range c.msgs {
		if !strings.HasPrefix(k, addr+"/") {
			continue
		}
		var out []string
		for _, p := range ps {
			if f := strings.Fields(p); f[0] != from {
				out = append(out, p)
			} else if to != "" {
				out = append(out, place(to, f[1:]))
			}
		}
		if slices.Sort(out); len(out) == 0 {
			delete(c.msgs, k)
		} else {
			c.msgs[k] = out
		}
	}
}

// crashOp is one step of the workload: run does it through the store,
// apply does it to the model. move marks an operation that may leave a
// message in both mailboxes in between.
type crashOp struct {
	name  string
	run   func(ctx context.Context, w *crashWorkload) error
	apply func(m crashState)
	move  bool
}

// crashWorkload holds the workload's operations, the model's state after
// each (states[i] after the first i), and the messages' raw bytes by blob
// ID.
type crashWorkload struct {
	s      *store.Store
	ops    []crashOp
	states []crashState
	raw    map[string][]byte
}

func newCrashWorkload() *crashWorkload {
	w := &crashWorkload{raw: map[string][]byte{}}
	rng := rand.New(rand.NewPCG(1, 2))
	msg := func(tag string, size int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "From: A <a@example.test>\r\nTo: b@example.test\r\nSubject: %s\r\nMessage-ID: <%s@example.test>\r\n\r\n", tag, tag)
		for b.Len() < size {
			for range 60 {
				b.WriteByte("abcdefghijklmnopqrstuvwxyz0123456789 "[rng.IntN(37)])
			}
			b.WriteString("\r\n")
		}
		sum := sha256.Sum256([]byte(b.String()))
		w.raw[hex.EncodeToString(sum[:])] = []byte(b.String())
		return hex.EncodeToString(sum[:])
	}
	const a, b = "a@example.test", "b@example.test"
	m1, m2, m3 := msg("m1", 200), msg("m2", 3000), msg("m3", 5000)
	m4, m5, m6 := msg("m4", 300), msg("m5", 2500), msg("m6", 1500)
	w.ops = []crashOp{
		w.createUser(a),
		w.createUser(b),
		w.deliver(m1, a, b),
		w.deliver(m2, a),
		w.deliver(m3, b),
		w.flags(a, "INBOX", m1, `\Seen`),
		w.deliver(m4, a),
		w.moveOp(a, "INBOX", "Archive", m2),
		w.flags(b, "INBOX", m1, `\Deleted`),
		w.expunge(b, "INBOX", m1),
		w.deliver(m5, a, b),
		w.flags(a, "Archive", m2, `\Flagged`),
		w.moveOp(b, "INBOX", "Archive", m3),
		w.deliver(m6, b),
		w.expunge(a, "INBOX", m4),
		w.purge(), // marks m4's body unreferenced
		w.purge(), // frees it
		w.flags(b, "INBOX", m5, `\Seen`),
		w.createBox(a, "Work"),
		w.moveOp(a, "INBOX", "Work", m5),
		w.renameBox(a, "Work", "Projects"),
		w.deleteBox(b, "Archive"),
		w.purge(),
		w.purge(),        // frees m3's body file, which the deleted Archive held
		w.deliver(m4, b), // a body the purge freed, stored again
		w.deliver(m3, a),
	}
	st := newCrashState()
	w.states = []crashState{st}
	for _, op := range w.ops {
		st = st.clone()
		op.apply(st)
		w.states = append(w.states, st)
	}
	return w
}

// place says where a message is: its mailbox and its flags, in
// canonical order.
func place(mailbox string, flags []string) string {
	fs := slices.Clone(mail.NewFlags(flags...))
	slices.Sort(fs)
	return strings.TrimSpace(mailbox + " " + strings.Join(fs, " "))
}

func (w *crashWorkload) createUser(addr string) crashOp {
	return crashOp{
		name: "create " + addr,
		run: func(ctx context.Context, w *crashWorkload) error {
			_, err := w.s.CreateUser(ctx, addr, "$test$")
			return err
		},
		apply: func(m crashState) {
			m.users[addr] = true
			m.boxes[addr] = []string{"Archive", "Drafts", "INBOX", "Junk", "Sent", "Trash"}
		},
	}
}

func (w *crashWorkload) createBox(addr, name string) crashOp {
	return crashOp{
		name: fmt.Sprintf("create %s %s", addr, name),
		run: func(ctx context.Context, w *crashWorkload) error {
			u, err := w.s.User(ctx, addr)
			if err == nil {
				_, err = w.s.CreateMailbox(ctx, u, name, "")
			}
			return err
		},
		apply: func(m crashState) {
			m.boxes[addr] = append(m.boxes[addr], name)
			slices.Sort(m.boxes[addr])
		},
	}
}

// renameBox renames addr's mailbox from to to, or deletes it if to is "".
func (w *crashWorkload) renameBox(addr, from, to string) crashOp {
	return crashOp{
		name: fmt.Sprintf("rename %s %s to %s", addr, from, to),
		run: func(ctx context.Context, w *crashWorkload) error {
			u, err := w.s.User(ctx, addr)
			if err != nil {
				return err
			}
			mb, err := w.s.Mailbox(ctx, u, from)
			if err != nil {
				return err
			}
			if to == "" {
				return w.s.DeleteMailbox(ctx, mb)
			}
			_, err = w.s.RenameMailbox(ctx, mb, to)
			return err
		},
		apply: func(m crashState) { m.renameBox(addr, from, to) },
	}
}

func (w *crashWorkload) deleteBox(addr, name string) crashOp {
	op := w.renameBox(addr, name, "")
	op.name = fmt.Sprintf("delete %s %s", addr, name)
	return op
}

func (w *crashWorkload) deliver(blob string, to ...string) crashOp {
	return crashOp{
		name: fmt.Sprintf("deliver %s to %v", blob[:8], to),
		run: func(ctx context.Context, w *crashWorkload) error {
			var us []store.User
			for _, addr := range to {
				u, err := w.s.User(ctx, addr)
				if err != nil {
					return err
				}
				us = append(us, u)
			}
			sp, err := w.s.Spool(bytes.NewReader(w.raw[blob]), 0)
			if err != nil {
				return err
			}
			defer sp.Close()
			if string(sp.ID) != blob {
				return fmt.Errorf("spooled as %s, want %s", sp.ID, blob)
			}
			return errors.Join(w.s.Deliver(ctx, sp, "sender@example.test", us)...)
		},
		apply: func(m crashState) {
			for _, addr := range to {
				m.msgs[addr+"/"+blob] = []string{"INBOX"}
			}
		},
	}
}

func (w *crashWorkload) flags(addr, mailbox, blob, flag string) crashOp {
	return crashOp{
		name: fmt.Sprintf("flag %s %s %s", addr, blob[:8], flag),
		run: func(ctx context.Context, w *crashWorkload) error {
			mb, uid, err := w.find(ctx, addr, mailbox, blob)
			if err != nil {
				return err
			}
			_, err = w.s.StoreFlags(ctx, mb, []mail.UID{uid}, store.FlagsAdd, mail.NewFlags(flag), 0)
			return err
		},
		apply: func(m crashState) {
			k := addr + "/" + blob
			m.msgs[k] = []string{place(mailbox, append(strings.Fields(m.msgs[k][0])[1:], flag))}
		},
	}
}

func (w *crashWorkload) expunge(addr, mailbox, blob string) crashOp {
	return crashOp{
		name: fmt.Sprintf("expunge %s %s", addr, blob[:8]),
		run: func(ctx context.Context, w *crashWorkload) error {
			mb, uid, err := w.find(ctx, addr, mailbox, blob)
			if err != nil {
				return err
			}
			_, err = w.s.Expunge(ctx, mb, []mail.UID{uid})
			return err
		},
		apply: func(m crashState) { delete(m.msgs, addr+"/"+blob) },
	}
}

// purge runs a purge pass with no grace: the second pass after an
// expunge frees the body (ARCHITECTURE.md, "Purge"), and with a history
// of a nanosecond each pass trims the change logs to the head the pass
// before marked (so a clone's CheckMailbox replays from a floor). It
// changes no message: a crash in it must leave every acknowledged message
// whole.
func (w *crashWorkload) purge() crashOp {
	return crashOp{
		name: "purge",
		run: func(ctx context.Context, w *crashWorkload) error {
			_, err := w.s.Purge(ctx, store.PurgeOptions{LogHistory: time.Nanosecond})
			return err
		},
		apply: func(crashState) {},
	}
}

func (w *crashWorkload) moveOp(addr, from, to, blob string) crashOp {
	return crashOp{
		name: fmt.Sprintf("move %s %s to %s", addr, blob[:8], to),
		run: func(ctx context.Context, w *crashWorkload) error {
			src, uid, err := w.find(ctx, addr, from, blob)
			if err != nil {
				return err
			}
			u, err := w.s.User(ctx, addr)
			if err != nil {
				return err
			}
			dst, err := w.s.Mailbox(ctx, u, to)
			if err != nil {
				return err
			}
			_, _, err = w.s.Move(ctx, u, src, dst, []mail.UID{uid})
			return err
		},
		apply: func(m crashState) {
			k := addr + "/" + blob
			m.msgs[k] = []string{strings.Replace(m.msgs[k][0], from, to, 1)}
		},
		move: true,
	}
}

// find returns the mailbox of addr and the UID in it of the message blob.
func (w *crashWorkload) find(ctx context.Context, addr, mailbox, blob string) (store.Mailbox, mail.UID, error) {
	u, err := w.s.User(ctx, addr)
	if err != nil {
		return store.Mailbox{}, 0, err
	}
	mb, err := w.s.Mailbox(ctx, u, mailbox)
	if err != nil {
		return store.Mailbox{}, 0, err
	}
	var uid mail.UID
	err = w.s.Messages(ctx, mb, 1, 0, func(r store.MessageRow) error {
		if string(r.Meta.Blob) == blob {
			uid = r.UID
		}
		return nil
	})
	if err == nil && uid == 0 {
		err = fmt.Errorf("%s: no message %s in %s", addr, blob[:8], mailbox)
	}
	return mb, uid, err
}

// crashPoint is the file system a crash left, and how many operations
// had been acknowledged when it happened.
type crashPoint struct {
	fs    *vfs.MemFS
	acked int
	at    string // the sync the crash came before
}

// crashRecorder takes the clones: before each sync, one of exactly the
// synced state and one with half the unsynced writes kept at random (a
// torn write).
type crashRecorder struct {
	mu     sync.Mutex
	mem    *vfs.MemFS
	rng    *rand.Rand
	acked  int
	doing  string
	points []crashPoint
}

func (r *crashRecorder) MaybeError(op errorfs.Op) error {
	if op.Kind != errorfs.OpFileSync && op.Kind != errorfs.OpFileSyncData {
		return nil
	}
	r.crash(fmt.Sprintf("the sync of %s during %s", op.Path, r.doingNow()))
	return nil
}

func (r *crashRecorder) String() string { return "crash recorder" }

func (r *crashRecorder) doingNow() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.doing
}

func (r *crashRecorder) crash(at string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.points = append(r.points, crashPoint{fs: r.mem.CrashClone(vfs.CrashCloneCfg{}), acked: r.acked, at: at})
	// Pebble's creation of a new store survives a crash that keeps exactly
	// what was synced, not one that keeps a later directory entry (its
	// marker) without an earlier one (the manifest): no torn crash while
	// the store is first opened, when nothing is acknowledged yet.
	if r.doing != "Open" {
		r.points = append(r.points, crashPoint{fs: r.mem.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: 50, RNG: r.rng}),
			acked: r.acked, at: at + " (torn)"})
	}
}

func (r *crashRecorder) step(acked int, doing string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acked, r.doing = acked, doing
}

// crashRun runs the workload, with setup applied to the backend first,
// and returns the crash points.
func crashRun(t *testing.T, w *crashWorkload, setup func(*embedded.Backend)) []crashPoint {
	t.Helper()
	mem := vfs.NewCrashableMem()
	rec := &crashRecorder{mem: mem, rng: rand.New(rand.NewPCG(3, 4)), doing: "Open"}
	b, err := embedded.Open(crashDir, crashOptions(errorfs.Wrap(mem, rec)))
	if err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(b)
	}
	w.s = store.New(b, store.Options{})
	ctx := context.Background()
	for i, op := range w.ops {
		rec.step(i, op.name)
		if err := op.run(ctx, w); err != nil {
			b.Close()
			t.Fatalf("workload: %s: %v", op.name, err)
		}
	}
	rec.step(len(w.ops), "Close")
	rec.crash("the end of the workload")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	return rec.points
}

// verify opens the store a crash left and checks it against the model.
func (w *crashWorkload) verify(p crashPoint) (err error) {
	b, err := embedded.Open(crashDir, crashOptions(p.fs))
	if err != nil {
		return fmt.Errorf("reopen: %w", err)
	}
	defer func() {
		if cerr := b.Close(); err == nil {
			err = cerr
		}
	}()
	ctx := context.Background()
	s := store.New(b, store.Options{})
	before, after := w.states[p.acked], w.states[min(p.acked+1, len(w.ops))]
	move := p.acked < len(w.ops) && w.ops[p.acked].move
	got := map[string][]string{}
	for addr := range after.users {
		u, err := s.User(ctx, addr)
		if errors.Is(err, mail.ErrNoSuchUser) && !before.users[addr] {
			continue
		}
		if err != nil {
			return fmt.Errorf("user %s: %w", addr, err)
		}
		mbs, err := s.Mailboxes(ctx, u)
		if err != nil {
			return fmt.Errorf("mailboxes of %s: %w", addr, err)
		}
		var names []string
		uidv := map[uint32]string{}
		for _, mb := range mbs {
			names = append(names, mb.Name)
			if other, dup := uidv[mb.UIDValidity]; dup {
				return fmt.Errorf("%s: mailboxes %s and %s share UIDVALIDITY %d", addr, other, mb.Name, mb.UIDValidity)
			}
			uidv[mb.UIDValidity] = mb.Name
		}
		slices.Sort(names)
		// A user under creation may have some of its mailboxes.
		if creating := !before.users[addr]; !creating && !slices.Equal(names, before.boxes[addr]) && !slices.Equal(names, after.boxes[addr]) {
			return fmt.Errorf("%s has mailboxes %q; acknowledged %q, %q once the operation under way is done",
				addr, names, before.boxes[addr], after.boxes[addr])
		}
		for _, mb := range mbs {
			if err := storetest.CheckMailbox(ctx, s, mb); err != nil {
				return fmt.Errorf("%s: %w", addr, err)
			}
			err := s.Messages(ctx, mb, 1, 0, func(r store.MessageRow) error {
				k := addr + "/" + string(r.Meta.Blob)
				got[k] = append(got[k], place(mb.Name, r.Flags))
				return w.sameBody(ctx, s, r.Meta)
			})
			if err != nil {
				return fmt.Errorf("%s %s: %w", addr, mb.Name, err)
			}
		}
	}
	keys := map[string]bool{}
	for _, m := range []map[string][]string{before.msgs, after.msgs, got} {
		for k := range m {
			keys[k] = true
		}
	}
	for k := range keys {
		g := got[k]
		slices.Sort(g)
		ok := slices.Equal(g, before.msgs[k]) || slices.Equal(g, after.msgs[k])
		if both := slices.Concat(before.msgs[k], after.msgs[k]); move && !ok {
			slices.Sort(both)
			ok = slices.Equal(g, both)
		}
		if !ok {
			return fmt.Errorf("message %s: found in %q; acknowledged in %q, %q once the operation under way is done",
				k[:min(len(k), 30)], g, before.msgs[k], after.msgs[k])
		}
	}
	return nil
}

// sameBody reads the whole body of m and compares it with what was
// delivered.
func (w *crashWorkload) sameBody(ctx context.Context, s *store.Store, m store.MessageMeta) error {
	want, ok := w.raw[string(m.Blob)]
	if !ok {
		return fmt.Errorf("a message no operation delivered: %s", m.Blob)
	}
	bl, err := s.OpenBody(ctx, m)
	if err != nil {
		return fmt.Errorf("body %s: %w", m.Blob[:8], err)
	}
	defer bl.Close()
	got, err := io.ReadAll(io.NewSectionReader(bl, 0, bl.Size()))
	if err != nil {
		return fmt.Errorf("body %s: %w", m.Blob[:8], err)
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("body %s: %d bytes differ from the %d delivered", m.Blob[:8], len(got), len(want))
	}
	return nil
}

// TestCrashAtEverySync: whatever sync a crash comes before, the store
// reopens with its invariants whole and every acknowledged operation in
// it (see the top of this file).
func TestCrashAtEverySync(t *testing.T) {
	w := newCrashWorkload()
	points := crashRun(t, w, nil)
	failed := 0
	for i, p := range points {
		if err := w.verify(p); err != nil {
			failed++
			if failed <= 5 {
				t.Errorf("crash %d of %d, before %s, %d operations acknowledged: %v", i, len(points), p.at, p.acked, err)
			}
		}
	}
	if failed > 0 {
		t.Errorf("%d of %d crash points failed", failed, len(points))
	}
	t.Logf("%d crash points over %d operations", len(points), len(w.ops))
}
