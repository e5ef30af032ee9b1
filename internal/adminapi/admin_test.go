package adminapi_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/adminapi"
	"github.com/quiremail/quire/internal/backup"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/embedded"
)

// remote serves a store on an embedded backend over HTTP, for the test,
// and returns its Remote client and its URL.
func remote(t *testing.T) (adminapi.Admin, string) {
	t.Helper()
	b, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	srv := httptest.NewServer(adminapi.Handler(adminapi.Local(store.New(b, store.Options{})), "tok"))
	t.Cleanup(srv.Close)
	return adminapi.Remote(srv.URL, "tok"), srv.URL
}

// TestRemoteMatchesLocal drives every operation through the HTTP handler and
// the Remote client, and checks errors keep their identity across the wire.
func TestRemoteMatchesLocal(t *testing.T) {
	a, url := remote(t)
	ctx := context.Background()

	u, err := a.AddUser(ctx, "Frank@Example.org", "$hash$")
	if err != nil || u.Address != "frank@example.org" || u.ID == "" {
		t.Fatalf("AddUser: %+v %v", u, err)
	}
	if _, err := a.AddUser(ctx, "frank@example.org", "$hash$"); !errors.Is(err, mail.ErrUserExists) {
		t.Fatalf("duplicate AddUser: %v, want ErrUserExists", err)
	}
	if err := a.SetQuota(ctx, "frank@example.org", 1000, -1); err != nil {
		t.Fatal(err)
	}
	if err := a.SetPassword(ctx, "frank@example.org", "$new$"); err != nil {
		t.Fatal(err)
	}
	us, err := a.ListUsers(ctx)
	if err != nil || len(us) != 1 || us[0].QuotaStorage != 1000 || us[0].QuotaMessages != 0 {
		t.Fatalf("ListUsers: %+v %v", us, err)
	}
	mbs, err := a.Mailboxes(ctx, "frank@example.org")
	if err != nil || len(mbs) != 6 || mbs[0].UIDNext != 1 {
		t.Fatalf("Mailboxes: %+v %v", mbs, err)
	}
	if err := a.DeleteUser(ctx, "frank@example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Mailboxes(ctx, "frank@example.org"); !errors.Is(err, mail.ErrNoSuchUser) {
		t.Fatalf("Mailboxes of deleted user: %v", err)
	}
	if err := a.SetPassword(ctx, "x@example.org", ""); err == nil {
		t.Fatal("empty hash accepted")
	}

	bad := adminapi.Remote(url, "wrong")
	if _, err := bad.ListUsers(ctx); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := adminapi.Remote("http://127.0.0.1:1", "tok").ListUsers(ctx); err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("unreachable server: %v", err)
	}
}

// TestRemoteImport checks that an import's source and options cross the
// wire: an mbox goes into the mailbox asked for, and an IMAP import's
// password file must be an absolute path (the server reads it).
func TestRemoteImport(t *testing.T) {
	a, _ := remote(t)
	ctx := context.Background()
	file := filepath.Join(t.TempDir(), "saved")
	if err := os.WriteFile(file, []byte("From a@example.test Sat Jan  3 01:05:34 2004\nSubject: one\n\nbody\n\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := a.Import(ctx, "gina@example.org", file, backup.ImportOptions{Source: "mbox", Mailbox: "Old/Saved", MboxQuoting: "mboxo", PasswordHash: "{PLAIN}pw"})
	if err != nil || len(rep.Mailboxes) != 1 || rep.Mailboxes[0].Name != "Old/Saved" || rep.Mailboxes[0].Messages != 1 {
		t.Fatalf("mbox import: %+v %v", rep, err)
	}
	for _, tc := range []struct{ file, want string }{
		{"pw", "not an absolute path"},
		{"/nonexistent/pw", "password file"},
	} {
		_, err := a.Import(ctx, "gina@example.org", "", backup.ImportOptions{Source: "imap",
			IMAP: backup.IMAPSource{Addr: "127.0.0.1:1", Security: "plain", User: "gina", PasswordFile: tc.file}})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("imap import with the password file %q: %v, want %q", tc.file, err, tc.want)
		}
	}
}
