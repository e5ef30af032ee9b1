package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/cassandra"
)

// TestTwoServersOneMailbox runs two quire processes on one Cassandra, as two
// access hosts, delivering concurrently into one mailbox, and then checks
// DESIGN.md section 3: UIDs gapless and unique, counts exact, the change log
// complete, every acknowledged message present.
func TestTwoServersOneMailbox(t *testing.T) {
	addr := cassandraAddr(t)
	if testing.Short() {
		t.Skip("builds and runs the server")
	}
	bin := buildQuire(t)
	cfgA, lmtpA := casConfig(t, addr)
	cfgB, lmtpB := casConfig(t, addr)
	var r [6]byte
	_, _ = rand.Read(r[:])
	user := "multi" + hex.EncodeToString(r[:]) + "@example.org"
	if out, err := quire(t, "", "user", "add", user, "--password", "pw", "--config", cfgA); err != nil {
		t.Fatalf("user add: %v\n%s", err, out)
	}
	startServer(t, bin, cfgA, lmtpA)
	startServer(t, bin, cfgB, lmtpB)

	const perConn = 25
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for c, target := range []string{lmtpA, lmtpB, lmtpA, lmtpB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.Dial("tcp", target)
			if err != nil {
				errs <- err
				return
			}
			tp := textproto.NewConn(conn)
			defer tp.Close()
			_, _, _ = tp.ReadResponse(220)
			_ = tp.PrintfLine("LHLO multi")
			if _, _, err := tp.ReadResponse(250); err != nil {
				errs <- err
				return
			}
			for i := range perConn {
				tok := fmt.Sprintf("c%d-%d-%s", c, i, hex.EncodeToString(r[:]))
				ok, err := deliver(tp, user, "Subject: "+tok+"\r\n\r\n"+tok+"\r\n")
				if err != nil || !ok {
					errs <- fmt.Errorf("delivery %s: ok=%v err=%v", tok, ok, err)
					return
				}
				mu.Lock()
				acked[tok] = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	o := cassandra.DefaultOptions()
	ks := func(name string) cassandra.KeyspaceOptions {
		return cassandra.KeyspaceOptions{Name: name, ConnectPoints: []string{addr}, RF: 1}
	}
	o.Meta, o.Msg, o.Cache = ks("quiretest_mbox"), ks("quiretest_msg"), ks("quiretest_cache")
	o.Strategy, o.DurableWrites = cassandra.Simple, false
	ctx := context.Background()
	b, err := cassandra.Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st := store.New(b, store.Options{})
	u, err := st.User(ctx, user)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := st.Mailbox(ctx, u, "INBOX")
	h, err := st.Status(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	const total = 4 * perConn
	var uids []mail.UID
	var size int64
	seen := map[string]bool{}
	err = st.Messages(ctx, in, 1, 0, func(row store.MessageRow) error {
		uids = append(uids, row.UID)
		size += row.Meta.Size
		blob, err := st.OpenBody(ctx, row.Meta)
		if err != nil {
			return err
		}
		defer blob.Close()
		buf := make([]byte, blob.Size())
		if _, err := blob.ReadAt(buf, 0); err != nil {
			return err
		}
		tok := strings.TrimSpace(strings.SplitN(string(buf), "\r\n\r\n", 2)[1])
		seen[tok] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for i, uid := range uids {
		if uid != mail.UID(i+1) {
			t.Fatalf("UIDs not gapless from 1: position %d holds %d", i, uid)
		}
	}
	if len(uids) != total || h.Messages != total || h.Unseen != total || h.Size != size || h.UIDNext != total+1 {
		t.Fatalf("head %+v, %d rows of %d bytes; want %d messages", h, len(uids), size, total)
	}
	for tok := range acked {
		if !seen[tok] {
			t.Errorf("acknowledged message %s missing", tok)
		}
	}
	appends := 0
	var last mail.ModSeq
	err = st.Changes(ctx, in, 0, func(c store.Change) error {
		if c.ModSeq < last {
			return fmt.Errorf("change log out of order at %d", c.ModSeq)
		}
		last = c.ModSeq
		if c.Kind == store.ChangeAppend {
			appends++
		}
		return nil
	})
	if err != nil || appends != total || last != h.ModSeq {
		t.Fatalf("change log: %d appends, last MODSEQ %d (head %d), err %v", appends, last, h.ModSeq, err)
	}
}
