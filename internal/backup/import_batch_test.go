package backup_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/backup"
	"github.com/quiremail/quire/internal/mail"
)

// TestImportIMAPBatches imports a real Dovecot's INBOX of 69 messages
// (and a folder of one) through a tap that records what the client
// sends, under several fetch bounds, and checks that the bodies come in
// batches: one UID FETCH first:last per batch, the batches taking the
// messages in UID order, each message once, each batch within the
// bounds (a message larger than the byte bound alone) and as large as
// they allow. Every import ends with what Dovecot served, byte for byte.
func TestImportIMAPBatches(t *testing.T) {
	d := startDovecot(t, "")
	d.fill()
	d.deliver(5, 70)
	served := d.served()
	inbox := served["INBOX"]
	if len(inbox.Messages) != 69 {
		t.Fatalf("Dovecot serves %d messages in INBOX, want 69", len(inbox.Messages))
	}
	uids := map[string][]mail.UID{}
	for name, b := range served {
		for uid := range b.Messages {
			uids[name] = append(uids[name], uid)
		}
		slices.Sort(uids[name])
	}
	// Three of INBOX's messages, by size.
	three := int64(inbox.Messages[5].ModSeq + inbox.Messages[6].ModSeq + inbox.Messages[7].ModSeq)
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	for i, tc := range []struct {
		n       int
		bytes   int64
		fetches int // UID FETCHes of bodies, both mailboxes; 0: not checked
	}{
		{0, 0, 2},     // the defaults: 100 messages, 16 MiB
		{10, 0, 8},    // INBOX in 7 batches
		{1000, 1, 70}, // every message larger than the bound: each alone
		{1000, three, 0},
	} {
		n, size := tc.n, tc.bytes
		if n == 0 {
			n = backup.DefaultFetchMessages
		}
		if size == 0 {
			size = backup.DefaultFetchBytes
		}
		tp := startTap(t, "127.0.0.1:"+d.IMAPPort, "")
		src := backup.IMAPSource{Addr: tp.addr(), Security: "plain", User: dovecotUser, PasswordFile: pwFile, FetchMessages: tc.n, FetchBytes: tc.bytes}
		who := fmt.Sprintf("batch%d@example.org", i)
		if _, err := backup.Import(ctx, s, who, "", backup.ImportOptions{Source: "imap", IMAP: src, PasswordHash: "{PLAIN}pw"}); err != nil {
			t.Fatalf("bounds %d messages %d bytes: %v", n, size, err)
		}
		u, err := s.User(ctx, who)
		if err != nil {
			t.Fatal(err)
		}
		compareServed(t, s, u, served, true)
		fetches := bodyFetches(t, tp.commands())
		total := 0
		for name, box := range served {
			want, k := uids[name], 0
			for _, r := range fetches[name] {
				var batch []mail.UID
				var sum int64
				for _, uid := range want {
					if uid >= mail.UID(r[0]) && uid <= mail.UID(r[1]) {
						batch = append(batch, uid)
						sum += int64(box.Messages[uid].ModSeq)
					}
				}
				switch {
				case len(batch) == 0 || k+len(batch) > len(want) || !slices.Equal(batch, want[k:k+len(batch)]):
					t.Errorf("bounds %d/%d: %s: UID FETCH %d:%d takes %v, want the UIDs from %d on, each once", n, size, name, r[0], r[1], batch, want[min(k, len(want)-1)])
				case len(batch) > n || (sum > size && len(batch) > 1):
					t.Errorf("bounds %d/%d: %s: UID FETCH %d:%d takes %d messages of %d bytes", n, size, name, r[0], r[1], len(batch), sum)
				case k+len(batch) < len(want) && len(batch) < n && sum+int64(box.Messages[want[k+len(batch)]].ModSeq) <= size:
					t.Errorf("bounds %d/%d: %s: UID FETCH %d:%d stops before UID %d, which the bounds let in", n, size, name, r[0], r[1], want[k+len(batch)])
				}
				k += len(batch)
			}
			if k != len(want) {
				t.Errorf("bounds %d/%d: %s: the UID FETCHes %v take %d of %d messages", n, size, name, fetches[name], k, len(want))
			}
			total += len(fetches[name])
		}
		if tc.fetches != 0 && total != tc.fetches {
			t.Errorf("bounds %d/%d: %d UID FETCHes of bodies %v, want %d", n, size, total, fetches, tc.fetches)
		}
	}
}

// TestImportIMAPCutMidBatch cuts the connection of an import inside a
// batch: INBOX's 69 messages go in batches of 50, and the connection
// breaks in the second batch, inside the body of UID 68, after the
// import committed its first 64 messages (an AppendAt every 64) and
// read two more it had not committed. The import fails; INBOX holds the
// 64, with UIDNEXT after them; run again, it takes the other 5, and the
// user ends with what Dovecot served: none lost, none twice.
func TestImportIMAPCutMidBatch(t *testing.T) {
	d := startDovecot(t, "")
	d.fill()
	d.deliver(5, 70)
	served := d.served()
	pwFile := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pwFile, []byte("pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	tp := startTap(t, "127.0.0.1:"+d.IMAPPort, "Subject: message 68\r\n")
	src := backup.IMAPSource{Addr: tp.addr(), Security: "plain", User: dovecotUser, PasswordFile: pwFile, FetchMessages: 50}
	s := openStore(t, t.TempDir())
	ctx := context.Background()
	_, err := backup.Import(ctx, s, dovecotUser, "", backup.ImportOptions{Source: "imap", IMAP: src, PasswordHash: "{PLAIN}pw"})
	if err == nil || !strings.Contains(err.Error(), "INBOX") {
		t.Fatalf("import over a connection cut in INBOX: %v, want an error naming INBOX", err)
	}
	cmds := tp.commands()
	if f := bodyFetches(t, cmds)["INBOX"]; !slices.Equal(f, [][2]uint32{{1, 51}, {52, 70}}) {
		t.Errorf("INBOX's UID FETCHes of bodies before the cut: %v, want 1:51 and 52:70", f)
	}
	if last := cmds[len(cmds)-1]; !strings.HasPrefix(last, "UID FETCH 52:70 ") {
		t.Errorf("the last command before the cut: %q, want the second batch's", last)
	}
	u, err := s.User(ctx, dovecotUser)
	if err != nil {
		t.Fatal(err)
	}
	got := snapshot(t, s, u)["INBOX"]
	if len(got.Messages) != 64 || got.UIDNext != 66 {
		t.Fatalf("after the cut INBOX holds %d messages, UIDNEXT %d: want the 64 committed (UIDs 1-65 but 3), UIDNEXT 66", len(got.Messages), got.UIDNext)
	}

	src.Addr = "127.0.0.1:" + d.IMAPPort
	rep, err := backup.Import(ctx, s, dovecotUser, "", backup.ImportOptions{Source: "imap", IMAP: src})
	if err != nil {
		t.Fatalf("resumed import: %v", err)
	}
	for _, m := range rep.Mailboxes {
		if m.Name == "INBOX" && (m.Messages != 5 || m.Skipped != 64 || m.UIDOffset != 0) {
			t.Errorf("resumed import of INBOX: %+v, want 5 imported, 64 skipped, no offset", m)
		}
	}
	compareServed(t, s, u, served, true)
}

// TestImportIMAPFetchBoundsRefused checks that bounds the command line
// would refuse are refused when they come over the admin API too, before
// any server is reached.
func TestImportIMAPFetchBoundsRefused(t *testing.T) {
	s := openStore(t, t.TempDir())
	for _, src := range []backup.IMAPSource{{FetchMessages: -1}, {FetchBytes: -5}} {
		src.Addr, src.Security, src.User, src.PasswordFile = "127.0.0.1:1", "plain", "a", "/nonexistent/pw"
		_, err := backup.Import(context.Background(), s, "a@example.org", "", backup.ImportOptions{Source: "imap", IMAP: src})
		if err == nil || !strings.Contains(err.Error(), "want positive numbers (0: the defaults, 100 and 16777216)") {
			t.Errorf("bounds %d messages %d bytes: %v, want a refusal", src.FetchMessages, src.FetchBytes, err)
		}
	}
}
