package storedir

import (
	"context"
	"errors"
	"testing"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
)

// TestStoreDirectory: the store's users are entries with their hash as
// credential, active, with mailHost and quota; Open gives back the record
// Lookup read, or reads the store for an entry made elsewhere.
func TestStoreDirectory(t *testing.T) {
	ctx := context.Background()
	st := store.New(backendtest.Open(t, "embedded"), store.Options{DefaultQuotaStorage: 7})
	u, err := st.CreateUser(ctx, "Ann@x.test", "{PLAIN}pw")
	if err != nil {
		t.Fatal(err)
	}
	u.MailHost = "g1"
	if err := st.UpdateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	d := New(st)
	e, err := d.Lookup(ctx, "ann+x@X.test")
	if err != nil {
		t.Fatal(err)
	}
	if rec, ok := e.Record.(store.User); !ok || rec != u {
		t.Fatalf("Lookup's record %+v; want %+v", e.Record, u)
	}
	e.Record = nil
	want := directory.Entry{Address: "ann@x.test", MailHost: "g1", QuotaStorage: 7, Status: directory.StatusActive,
		PasswordHash: "{PLAIN}pw", Credential: "{PLAIN}pw"}
	if e.Address != want.Address || e.MailHost != want.MailHost || e.QuotaStorage != want.QuotaStorage || e.QuotaMessages != 0 ||
		e.Status != want.Status || e.PasswordHash != want.PasswordHash || e.Credential != want.Credential || e.External || e.DN != "" || e.Aliases != nil {
		t.Fatalf("Lookup = %+v\nwant %+v", e, want)
	}
	if got, err := d.Open(ctx, directory.Entry{Address: "ann@x.test"}); err != nil || got != u {
		t.Errorf("Open of an entry without record = %+v %v; want %+v", got, err, u)
	}
	if _, err := d.Lookup(ctx, "nobody@x.test"); !errors.Is(err, mail.ErrNoSuchUser) {
		t.Fatalf("unknown: %v", err)
	}
	if ok, err := d.Bind(ctx, e, "pw"); ok || err != nil {
		t.Fatalf("Bind = %v %v; the store verifies hashes, never binds", ok, err)
	}
}
