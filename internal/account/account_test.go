package account

import (
	"context"
	"errors"
	"testing"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
)

// fixedDir is a directory of fixed entries.
type fixedDir map[string]directory.Entry

func (d fixedDir) Lookup(_ context.Context, a string) (directory.Entry, error) {
	if e, ok := d[a]; ok {
		return e, nil
	}
	return directory.Entry{}, mail.ErrNoSuchUser
}
func (fixedDir) Bind(context.Context, directory.Entry, string) (bool, error) { return false, nil }
func (fixedDir) ServiceAdmin(context.Context, directory.Entry) (bool, error) { return false, nil }

// TestOpenCreatesAndSyncs: an external user new to the store is created
// with its default mailboxes at first use, with the directory's mailHost
// and quota; later changes in the directory reach the store record; a
// locked user receives nothing; a user of the store's own directory is
// never created.
func TestOpenCreatesAndSyncs(t *testing.T) {
	ctx := context.Background()
	st := store.New(backendtest.Open(t, "embedded"), store.Options{DefaultQuotaStorage: 99})
	dir := fixedDir{
		"new@x.test":    {Address: "new@x.test", External: true, MailHost: "g1", QuotaMessages: 10},
		"locked@x.test": {Address: "locked@x.test", External: true, Status: directory.StatusLocked},
		"local@x.test":  {Address: "local@x.test"},
	}
	a, err := New(dir, st, []string{"Boss@X.test"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	u, err := a.User(ctx, "new@x.test")
	if err != nil || u.MailHost != "g1" || u.QuotaMessages != 10 || u.QuotaStorage != 99 {
		t.Fatalf("first delivery: %+v %v; want mailHost g1, 10 messages, the default 99 bytes", u, err)
	}
	if _, err := st.Mailbox(ctx, u, "Sent"); err != nil {
		t.Fatalf("the default mailboxes were not made: %v", err)
	}
	stored, err := st.User(ctx, "new@x.test")
	if err != nil || stored != u {
		t.Fatalf("store record %+v %v; want %+v", stored, err, u)
	}
	e := dir["new@x.test"]
	e.MailHost, e.QuotaStorage = "g2", 1000
	dir["new@x.test"] = e
	u2, err := a.User(ctx, "new@x.test")
	if err != nil || u2.ID != u.ID || u2.MailHost != "g2" || u2.QuotaStorage != 1000 {
		t.Fatalf("after a directory change: %+v %v", u2, err)
	}
	if stored, _ := st.User(ctx, "new@x.test"); stored != u2 {
		t.Fatalf("the change did not reach the store: %+v", stored)
	}
	if _, err := a.User(ctx, "locked@x.test"); !errors.Is(err, mail.ErrNoSuchUser) {
		t.Fatalf("locked: %v; want ErrNoSuchUser", err)
	}
	if _, err := st.User(ctx, "locked@x.test"); !errors.Is(err, mail.ErrNoSuchUser) {
		t.Fatalf("a locked user was created: %v", err)
	}
	if _, err := a.User(ctx, "local@x.test"); !errors.Is(err, mail.ErrNoSuchUser) {
		t.Fatalf("a user of the store's directory missing from the store: %v; want ErrNoSuchUser", err)
	}
	if ok, _ := a.ServiceAdmin(ctx, directory.Entry{Address: "boss@x.test"}); !ok {
		t.Fatal("a configured service administrator is not one")
	}
}

// racingStore loses the race to create: the user appears between its
// lookup and its creation.
type racingStore struct {
	*store.Store
	lookups int
}

func (r *racingStore) User(ctx context.Context, a string) (store.User, error) {
	r.lookups++
	if r.lookups == 1 {
		return store.User{}, mail.ErrNoSuchUser
	}
	return r.Store.User(ctx, a)
}

func (r *racingStore) CreateUser(ctx context.Context, a, h string) (store.User, error) {
	if _, err := r.Store.CreateUser(ctx, a, h); err != nil { // the other session's
		return store.User{}, err
	}
	return r.Store.CreateUser(ctx, a, h)
}

// TestOpenRace: two first uses at once end in one store record.
func TestOpenRace(t *testing.T) {
	ctx := context.Background()
	st := store.New(backendtest.Open(t, "embedded"), store.Options{})
	rs := &racingStore{Store: st}
	a, _ := New(fixedDir{"r@x.test": {Address: "r@x.test", External: true}}, rs, nil, nil)
	u, err := a.User(ctx, "r@x.test")
	if err != nil {
		t.Fatalf("lost race: %v; want the winner's record", err)
	}
	if stored, _ := st.User(ctx, "r@x.test"); stored.ID != u.ID {
		t.Fatalf("got %s, the store holds %s", u.ID, stored.ID)
	}
}
