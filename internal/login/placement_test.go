package login

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/mail"
)

// TestPlacement: with Refer, a user of another group is refused with the
// group's hosts once the password was checked (a wrong password is an
// ordinary failure, so a referral tells a guesser nothing); a user of the
// host's group, without a mailHost or with one no group defines is
// served; Verify, the proxy's path, never refers.
func TestPlacement(t *testing.T) {
	us := users{
		"east@x.test":  {ID: "1", Address: "east@x.test", PasswordHash: "{PLAIN}pw", MailHost: "east"},
		"west@x.test":  {ID: "2", Address: "west@x.test", PasswordHash: "{PLAIN}pw", MailHost: "b1"},
		"none@x.test":  {ID: "3", Address: "none@x.test", PasswordHash: "{PLAIN}pw"},
		"north@x.test": {ID: "4", Address: "north@x.test", PasswordHash: "{PLAIN}pw", MailHost: "north"},
	}
	groups := directory.NewGroups(map[string][]string{"east": {"a1", "a2"}, "west": {"b1:4790", "b2"}})
	opts := DefaultAuthOptions()
	opts.Placement = Placement{Groups: groups, Own: "east", Refer: true}
	a := NewAuthenticatorWith(us, NewGuard(GuardOptions{}), opts, nil)
	ctx := context.Background()
	if _, err := a.Login(ctx, "west@x.test", "wrong", "192.0.2.1"); !errors.Is(err, mail.ErrAuthFailed) {
		t.Fatalf("wrong password of another group's user: %v", err)
	}
	_, err := a.Login(ctx, "west@x.test", "pw", "192.0.2.1")
	var wg *WrongGroupError
	if !errors.As(err, &wg) || wg.User != "west@x.test" || wg.Group != "west" || !slices.Equal(wg.Hosts, []string{"b1", "b2"}) {
		t.Fatalf("another group's user: %v", err)
	}
	for _, u := range []string{"east@x.test", "none@x.test", "north@x.test"} {
		if got, err := a.Login(ctx, u, "pw", "192.0.2.1"); err != nil || got.Address != u {
			t.Fatalf("%s: %v, %v", u, got, err)
		}
	}
	if e, err := a.Verify(ctx, "", "west@x.test", "pw", "192.0.2.1"); err != nil || e.Address != "west@x.test" {
		t.Fatalf("Verify of another group's user: %v, %v", e, err)
	}
	serve := opts
	serve.Placement.Refer = false
	if _, err := NewAuthenticatorWith(us, NewGuard(GuardOptions{}), serve, nil).Login(ctx, "west@x.test", "pw", "192.0.2.1"); err != nil {
		t.Fatalf("other_group = serve: %v", err)
	}
}
