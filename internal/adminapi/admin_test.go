package adminapi_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/adminapi"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/embedded"
)

// TestRemoteMatchesLocal drives every operation through the HTTP handler and
// the Remote client, and checks errors keep their identity across the wire.
func TestRemoteMatchesLocal(t *testing.T) {
	b, err := embedded.Open(t.TempDir(), embedded.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	srv := httptest.NewServer(adminapi.Handler(adminapi.Local(store.New(b, store.Options{})), "tok"))
	defer srv.Close()
	ctx := context.Background()
	a := adminapi.Remote(srv.URL, "tok")

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

	bad := adminapi.Remote(srv.URL, "wrong")
	if _, err := bad.ListUsers(ctx); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := adminapi.Remote("http://127.0.0.1:1", "tok").ListUsers(ctx); err == nil || !strings.Contains(err.Error(), "cannot reach") {
		t.Fatalf("unreachable server: %v", err)
	}
}
