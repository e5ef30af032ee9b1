package storetest

import (
	"errors"
	"slices"
	"testing"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

func testUsers(t testing.TB, e *env) {
	u := e.user()
	if _, err := e.s.CreateUser(e.ctx, u.Address, "x"); !errors.Is(err, mail.ErrUserExists) {
		t.Fatalf("second CreateUser: got %v, want ErrUserExists", err)
	}
	local, domain, _ := cut(u.Address)
	got, err := e.s.User(e.ctx, local+"+detail@"+upper(domain))
	if err != nil || got.ID != u.ID || got.PasswordHash != "$test$" || !got.Created.Equal(u.Created) {
		t.Fatalf("User(+detail): %+v, %v; want %+v", got, err, u)
	}
	got.QuotaStorage, got.QuotaMessages, got.PasswordHash, got.MailHost = 1000, 10, "$new$", "group1"
	if err := e.s.UpdateUser(e.ctx, got); err != nil {
		t.Fatal(err)
	}
	again, err := e.s.User(e.ctx, u.Address)
	if err != nil {
		t.Fatal(err)
	}
	if again.QuotaStorage != 1000 || again.QuotaMessages != 10 || again.PasswordHash != "$new$" || again.MailHost != "group1" {
		t.Fatalf("after UpdateUser: %+v", again)
	}
	found := false
	if err := e.s.ListUsers(e.ctx, func(x store.User) error {
		found = found || x.ID == u.ID
		return nil
	}); err != nil || !found {
		t.Fatalf("ListUsers: found=%v err=%v", found, err)
	}
	if err := e.s.DeleteUser(e.ctx, again); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.User(e.ctx, u.Address); !errors.Is(err, mail.ErrNoSuchUser) {
		t.Fatalf("User after delete: %v", err)
	}
	if mbs, err := e.b.ListMailboxes(e.ctx, u.ID); err != nil || len(mbs) != 0 {
		t.Fatalf("mailboxes after DeleteUser: %v %v", mbs, err)
	}
	// The address can be reused; the new user is a different user.
	u2, err := e.s.CreateUser(e.ctx, u.Address, "y")
	if err != nil || u2.ID == u.ID {
		t.Fatalf("recreate: %+v %v", u2, err)
	}
	e.track(u2)
	if _, err := e.s.CreateUser(e.ctx, "not-an-address", "x"); err == nil {
		t.Fatal("CreateUser accepted an address without @")
	}
}

func testUIDValidity(t testing.TB, e *env) {
	u := e.user()
	seen := map[uint32]bool{}
	var last uint32
	for range 20 {
		v, err := e.b.NextUIDValidity(e.ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v == 0 || seen[v] || v <= last {
			t.Fatalf("UIDVALIDITY %d repeated, zero or not increasing (last %d)", v, last)
		}
		seen[v], last = true, v
	}
}

func testMailboxes(t testing.TB, e *env) {
	u := e.user()
	mbs, err := e.s.Mailboxes(e.ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	uses := map[string]string{}
	for _, mb := range mbs {
		uses[mb.Name] = mb.SpecialUse
		if h := e.head(mb); h != store.EmptyHead() {
			t.Fatalf("new %s head %+v", mb.Name, h)
		}
	}
	want := map[string]string{"INBOX": "", "Drafts": `\Drafts`, "Sent": `\Sent`, "Trash": `\Trash`, "Junk": `\Junk`, "Archive": `\Archive`}
	if len(uses) != len(want) {
		t.Fatalf("default mailboxes %v, want %v", uses, want)
	}
	for k, v := range want {
		if uses[k] != v {
			t.Fatalf("default mailboxes %v, want %v", uses, want)
		}
	}
	if _, err := e.s.Mailbox(e.ctx, u, "inbox"); err != nil {
		t.Fatalf("INBOX is case-insensitive: %v", err)
	}
	a, err := e.s.CreateMailbox(e.ctx, u, "Projects/2026", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.CreateMailbox(e.ctx, u, "Projects/2026", ""); !errors.Is(err, mail.ErrMailboxExists) {
		t.Fatalf("duplicate create: %v", err)
	}
	for _, bad := range []string{"", "a//b", "/x", "a*b", "a%b", "a\x00b", "a\rb"} {
		if _, err := e.s.CreateMailbox(e.ctx, u, bad, ""); !errors.Is(err, mail.ErrBadMailboxName) {
			t.Fatalf("CreateMailbox(%q): %v, want ErrBadMailboxName", bad, err)
		}
	}
	e.appendN(u, a, e.msg("one"))
	r, err := e.s.RenameMailbox(e.ctx, a, "Projects/Done")
	if err != nil {
		t.Fatal(err)
	}
	if r.ID != a.ID || r.UIDValidity != a.UIDValidity {
		t.Fatalf("rename changed identity: %+v -> %+v", a, r)
	}
	if _, err := e.s.Mailbox(e.ctx, u, "Projects/2026"); !errors.Is(err, mail.ErrNoSuchMailbox) {
		t.Fatalf("old name after rename: %v", err)
	}
	if got := e.mailbox(u, "Projects/Done"); got.ID != a.ID || len(e.rows(got)) != 1 {
		t.Fatalf("renamed mailbox lost its messages")
	}
	if _, err := e.s.RenameMailbox(e.ctx, r, "Sent"); !errors.Is(err, mail.ErrMailboxExists) {
		t.Fatalf("rename onto existing: %v", err)
	}
	if err := e.s.DeleteMailbox(e.ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := e.s.DeleteMailbox(e.ctx, e.mailbox(u, "INBOX")); !errors.Is(err, mail.ErrCannot) {
		t.Fatalf("delete INBOX: %v", err)
	}
	again, err := e.s.CreateMailbox(e.ctx, u, "Projects/Done", "")
	if err != nil {
		t.Fatal(err)
	}
	if again.ID == a.ID || again.UIDValidity == a.UIDValidity {
		t.Fatalf("recreated mailbox kept ID or UIDVALIDITY: %+v vs %+v", again, a)
	}
	if n := len(e.rows(again)); n != 0 {
		t.Fatalf("recreated mailbox has %d old messages", n)
	}
	names := []string{}
	if mbs, err = e.s.Mailboxes(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	for _, mb := range mbs {
		names = append(names, mb.Name)
	}
	if !slices.IsSorted(names) || !slices.Contains(names, "Projects/Done") {
		t.Fatalf("Mailboxes not sorted or missing: %v", names)
	}
}

func testSubscriptions(t testing.TB, e *env) {
	u := e.user()
	subs, err := e.s.Subscriptions(e.ctx, u)
	if err != nil || len(subs) != 6 {
		t.Fatalf("default subscriptions %v %v", subs, err)
	}
	if err := e.s.SetSubscribed(e.ctx, u, "Nonexistent/Child", true); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetSubscribed(e.ctx, u, "Junk", false); err != nil {
		t.Fatal(err)
	}
	if subs, err = e.s.Subscriptions(e.ctx, u); err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(subs, "Nonexistent/Child") || slices.Contains(subs, "Junk") || !slices.IsSorted(subs) {
		t.Fatalf("subscriptions %v", subs)
	}
}

func cut(addr string) (string, string, bool) {
	for i := len(addr) - 1; i >= 0; i-- {
		if addr[i] == '@' {
			return addr[:i], addr[i+1:], true
		}
	}
	return addr, "", false
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 32
		}
	}
	return string(b)
}
