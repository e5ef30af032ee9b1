package cassandra

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"os"
	"testing"
	"time"

	gocql "github.com/apache/cassandra-gocql-driver/v2"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/storetest"
	"github.com/quiremail/quire/internal/testkit"
)

// testAddr returns the node to test against (QUIRE_TEST_CASSANDRA,
// host:port). Without one the test is skipped, unless
// QUIRE_REQUIRE_CASSANDRA=1 says a missing node is a failure.
func testAddr(t testing.TB) string {
	t.Helper()
	return testkit.Env(t, "CASSANDRA", "host:port of a Cassandra node", "scripts/cassandra.sh start")
}

// testOptions are options for the shared test keyspaces. Tests never drop
// them: they isolate themselves with random users and mailboxes.
func testOptions(t testing.TB) Options {
	addr := testAddr(t)
	o := DefaultOptions()
	ks := func(name string) KeyspaceOptions {
		return KeyspaceOptions{Name: name, ConnectPoints: []string{addr}, RF: 1}
	}
	o.Meta, o.Msg, o.Cache = ks("quiretest_mbox"), ks("quiretest_msg"), ks("quiretest_cache")
	o.Strategy, o.DurableWrites = Simple, false
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return o
}

// openTest opens a backend on the test keyspaces, as a separate host
// would: its own sessions and caches.
func openTest(t testing.TB, mod func(*Options)) *Backend {
	t.Helper()
	o := testOptions(t)
	if mod != nil {
		mod(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	b, err := Open(ctx, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestConformance(t *testing.T) {
	small := func(o *Options) { o.BucketSize = 32 } // ManyCommits crosses several log buckets
	storetest.Run(t, storetest.Harness{
		New:  func(t *testing.T) store.Backend { return openTest(t, small) },
		Peer: func(t *testing.T, _ store.Backend) store.Backend { return openTest(t, small) },
		// The purge tests sweep every body: keyspaces of their own, so
		// that they never free what another test stored.
		Private:      func(t *testing.T) store.Backend { return openPrivate(t) },
		DropChange:   dropChange,
		PlantOrphans: plantOrphans,
		StoredRows:   storedRows,
		PlantStray:   plantStray,
		StrayGrace:   true,
	})
}

// storedRows counts the uids of a mailbox with a msgs or a msgmeta row.
func storedRows(t testing.TB, sb store.Backend, mailboxID string, uids []mail.UID) int {
	t.Helper()
	b := sb.(*Backend)
	n := 0
	for _, u := range uids {
		for _, table := range []string{"msgs", "msgmeta"} {
			var uid int64
			err := b.meta.Query("SELECT uid FROM "+b.opts.Meta.Name+"."+table+" WHERE mailbox_id = ? AND ubucket = ? AND uid = ?",
				mailboxID, ubucket(int64(u)), int64(u)).Scan(&uid)
			if err == nil {
				n++
				break
			}
			if err != gocql.ErrNotFound {
				t.Fatalf("read the %s row of UID %d: %v", table, u, err)
			}
		}
	}
	return n
}

// plantStray deletes a mailbox's record, leaving its log and rows as a
// creation whose record never landed leaves them, and returns a function
// counting the rows still keyed by the mailbox.
func plantStray(t testing.TB, sb store.Backend, mb store.Mailbox) func() int {
	t.Helper()
	b := sb.(*Backend)
	ks := b.opts.Meta.Name
	if err := b.meta.Query("DELETE FROM "+ks+".mailboxes WHERE user_id = ? AND name = ?", mb.UserID, mb.Name).Exec(); err != nil {
		t.Fatalf("delete the record of %s: %v", mb.Name, err)
	}
	count := func(table, where string, args ...any) int {
		var n int
		if err := b.meta.Query("SELECT count(*) FROM "+ks+"."+table+" WHERE "+where, args...).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		return n
	}
	return func() int {
		return count("mblog", "mailbox_id = ? AND bucket IN (0, 1, 2)", mb.ID) +
			count("msgs", "mailbox_id = ? AND ubucket = 0", mb.ID) +
			count("msgmeta", "mailbox_id = ? AND ubucket = 0", mb.ID) +
			count("mbcur", "mailbox_id = ?", mb.ID) +
			count("mbbuckets", "mailbox_id = ?", mb.ID) +
			count("logtrim", "mailbox_id = ?", mb.ID)
	}
}

// plantOrphans writes, dated at, the chunks of a body whose header never
// landed and a spilled metadata row no log entry refers to.
func plantOrphans(t testing.TB, sb store.Backend, mailboxID string, at time.Time) (int, func() int) {
	t.Helper()
	b := sb.(*Backend)
	id := randID() + randID()
	spill := []byte(randID())
	ts := at.UnixMicro()
	for c := range 2 {
		if err := b.msg.Query("INSERT INTO "+b.opts.Msg.Name+".blob_chunks (blob_id, chunk, data) VALUES (?, ?, ?) USING TIMESTAMP ?",
			id, c, []byte("an orphaned chunk"), ts).Exec(); err != nil {
			t.Fatalf("plant an orphaned chunk: %v", err)
		}
	}
	if err := b.meta.Query("INSERT INTO "+b.opts.Meta.Name+".metaspill (mailbox_id, meta_id, meta) VALUES (?, ?, ?) USING TIMESTAMP ?",
		mailboxID, spill, []byte("orphaned metadata"), ts).Exec(); err != nil {
		t.Fatalf("plant orphaned spilled metadata: %v", err)
	}
	return 3, func() int {
		n := 0
		for c := range 2 {
			var data []byte
			if err := b.msg.Query("SELECT data FROM "+b.opts.Msg.Name+".blob_chunks WHERE blob_id = ? AND chunk = ?", id, c).Scan(&data); err == nil {
				n++
			} else if err != gocql.ErrNotFound {
				t.Fatalf("read a planted chunk: %v", err)
			}
		}
		var meta []byte
		if err := b.meta.Query("SELECT meta FROM "+b.opts.Meta.Name+".metaspill WHERE mailbox_id = ? AND meta_id = ?", mailboxID, spill).Scan(&meta); err == nil {
			n++
		} else if err != gocql.ErrNotFound {
			t.Fatalf("read planted spilled metadata: %v", err)
		}
		return n
	}
}

// dropChange deletes one change-log row once the commit it belongs to is
// materialized (its msgs row shows m), so that the row survives it: a
// lost flags change, for the check tests.
func dropChange(t testing.TB, sb store.Backend, mailboxID string, m mail.ModSeq, uid mail.UID) {
	t.Helper()
	b := sb.(*Backend)
	ks := b.opts.Meta.Name
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got int64
		err := b.meta.Query("SELECT modseq FROM "+ks+".msgs WHERE mailbox_id = ? AND ubucket = ? AND uid = ?",
			mailboxID, ubucket(int64(uid)), int64(uid)).Scan(&got)
		if err == nil && got == int64(m) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the change at MODSEQ %d was not materialized (msgs has %d, %v)", m, got, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var bucket int64
	if err := b.meta.Query("SELECT bucket FROM "+ks+".mbbuckets WHERE mailbox_id = ? AND first_modseq <= ? LIMIT 1",
		mailboxID, int64(m)).Scan(&bucket); err != nil && err != gocql.ErrNotFound {
		t.Fatalf("find the log bucket of MODSEQ %d: %v", m, err)
	} // not found: no roll yet, bucket 0 (as bucketOf reads it)
	if err := b.meta.Query("DELETE FROM "+ks+".mblog WHERE mailbox_id = ? AND bucket = ? AND modseq = ? AND uid = ?",
		mailboxID, bucket, int64(m), int64(uid)).Exec(); err != nil {
		t.Fatalf("drop the log row: %v", err)
	}
}

// openPrivate opens a backend on keyspaces of its own, dropped when the
// test ends; mods change its options further.
func openPrivate(t *testing.T, mods ...func(*Options)) *Backend {
	t.Helper()
	tag := "quiretest_" + randID()[:12]
	b := openTest(t, func(o *Options) {
		o.BucketSize, o.PurgeSlices = 32, 16
		o.Meta.Name, o.Msg.Name, o.Cache.Name = tag+"_mbox", tag+"_msg", tag+"_cache"
		for _, m := range mods {
			m(o)
		}
	})
	t.Cleanup(func() {
		for _, ks := range []string{b.opts.Meta.Name, b.opts.Msg.Name, b.opts.Cache.Name} {
			if err := b.msg.Query("DROP KEYSPACE IF EXISTS " + ks).Exec(); err != nil {
				t.Logf("drop keyspace %s: %v", ks, err)
			}
		}
	})
	return b
}

func randID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// newMailbox creates a mailbox with a random owner and returns it.
func newMailbox(t testing.TB, b *Backend) store.Mailbox {
	t.Helper()
	mb := store.Mailbox{ID: randID(), UserID: randID(), Name: "INBOX", UIDValidity: 7,
		Created: time.Now().UTC().Truncate(time.Millisecond)}
	if err := b.CreateMailbox(context.Background(), mb); err != nil {
		t.Fatalf("CreateMailbox: %v", err)
	}
	return mb
}

// testMeta is message metadata of a given size (of Structure).
func testMeta(uid mail.UID, structure int) *store.MessageMeta {
	s := make([]byte, structure)
	for i := range s {
		s[i] = byte('a' + i%26)
	}
	return &store.MessageMeta{Blob: store.BlobID(randID() + randID()), Size: int64(100 + uid),
		InternalDate: time.Unix(1700000000, 0).UTC(), SaveDate: time.Unix(1700000001, 0).UTC(),
		ReturnPath: "a@example.test", EmailID: "M" + randID()[:12], Structure: s}
}

// appendOne commits one append on the head it reads; it returns the UID.
func appendOne(ctx context.Context, b *Backend, mb string, flags ...string) (mail.UID, error) {
	h, err := b.Head(ctx, mb)
	if err != nil {
		return 0, err
	}
	next, c := nextAppend(h, testMeta(h.UIDNext, 200), flags...)
	return h.UIDNext, b.Commit(ctx, mb, h, next, []store.Change{c})
}

// nextAppend returns the head after appending a message of meta, with
// flags, on h, and the change that does it.
func nextAppend(h store.Head, meta *store.MessageMeta, flags ...string) (store.Head, store.Change) {
	next := h
	next.ModSeq++
	next.UIDNext++
	next.Messages++
	next.Size += meta.Size
	fs := mail.NewFlags(flags...)
	if !fs.Has(mail.FlagSeen) {
		next.Unseen++
	}
	return next, store.Change{ModSeq: next.ModSeq, UID: h.UIDNext, Kind: store.ChangeAppend, Flags: fs, Meta: meta}
}

// collect returns all rows and all changes of a mailbox.
func collect(t testing.TB, b store.Backend, mb string) ([]store.MessageRow, []store.Change) {
	t.Helper()
	ctx := context.Background()
	var rows []store.MessageRow
	if err := b.Messages(ctx, mb, 1, 0, func(r store.MessageRow) error { rows = append(rows, r); return nil }); err != nil {
		t.Fatalf("Messages: %v", err)
	}
	var cs []store.Change
	if err := b.Changes(ctx, mb, 0, func(c store.Change) error { cs = append(cs, c); return nil }); err != nil {
		t.Fatalf("Changes: %v", err)
	}
	return rows, cs
}

// replay returns the live messages that the change log describes, up to
// and including MODSEQ upto (0: all), by UID.
func replay(cs []store.Change, upto mail.ModSeq) map[mail.UID]store.MessageRow {
	out := map[mail.UID]store.MessageRow{}
	for _, c := range cs {
		if upto > 0 && c.ModSeq > upto {
			break
		}
		switch c.Kind {
		case store.ChangeAppend:
			out[c.UID] = c.Row(store.MessageRow{})
		case store.ChangeFlags:
			if r, ok := out[c.UID]; ok {
				out[c.UID] = c.Row(r)
			}
		case store.ChangeExpunge:
			delete(out, c.UID)
		}
	}
	return out
}
