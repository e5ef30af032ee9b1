package proxy

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// Logins decides, for IMAP and POP3, who logs in where and with what. It
// is safe for concurrent use.
type Logins struct {
	Router *Router
	// Dir looks users up, for routing (proxy.login = "user").
	Dir Directory
	// Guard delays and counts failed logins per user and client address
	// (login.free_failures, login.max_delay), from the access host's
	// answers (proxy.login = "user").
	Guard *login.Guard
	// Unknown checks the password of a login the proxy refuses as
	// unknown the way the access host checks a known user's
	// (proxy.login = "user"), so that both refusals take the same time:
	// *login.Authenticator over the same directory. It is told of every
	// entry looked up (Seen), whose hash scheme the check follows.
	Unknown Unknowns
	// Auth checks passwords at the proxy (proxy.login = "service_admin"):
	// the access host is then logged in to as AdminUser, with the user as
	// authorization identity. nil: the client's credentials are passed on.
	Auth                     *login.Authenticator
	AdminUser, AdminPassword string
	sleep                    func(context.Context, time.Duration) error
}

// Unknowns is what Logins needs to refuse an unknown user in the time a
// wrong password takes (*login.Authenticator).
type Unknowns interface {
	CheckUnknown(ctx context.Context, username, password string) error
	Seen(e directory.Entry)
}

// credentials are what a client logged in with: SASL PLAIN's three parts
// (RFC 4616 2); IMAP LOGIN and POP3 USER/PASS have no authzid.
type credentials struct{ authzid, user, pass string }

// admission is a login the proxy let through: where it goes, what to
// send, and what to tell the Guard of the access host's answer.
type admission struct {
	user  string // canonical address of the store opened
	group string
	plain []byte // the SASL PLAIN message for the access host
	// done reports the access host's answer: ok, refused (a wrong
	// password), or neither (no answer: unavailable).
	done func(ok, refused bool)
}

// admit checks what the proxy can of a login, throttling first, and
// returns where it goes. Its errors: mail.ErrAuthFailed, ErrNoGroup,
// login.ErrBusy or mail.ErrUnavailable (wrapped), or ctx's.
func (l *Logins) admit(ctx context.Context, c credentials, ip string) (admission, error) {
	if l.Auth != nil {
		e, err := l.Auth.Verify(ctx, c.authzid, c.user, c.pass, ip)
		if err != nil {
			return admission{}, err
		}
		g, err := l.Router.Group(e)
		if err != nil {
			return admission{}, err
		}
		return admission{user: e.Address, group: g, done: func(bool, bool) {},
			plain: plainMessage(e.Address, l.AdminUser, l.AdminPassword)}, nil
	}
	canon, err := store.CanonicalAddress(c.user)
	if err != nil {
		canon = c.user // still counted and delayed like any other name
	}
	if d := l.Guard.Attempt(canon, ip); d > 0 {
		sleep := l.sleep
		if sleep == nil {
			sleep = login.Sleep
		}
		if err := sleep(ctx, d); err != nil {
			l.Guard.Abandoned(canon, ip)
			return admission{}, err
		}
	}
	target := c.user
	if c.authzid != "" {
		target = c.authzid
	}
	e, err := l.Dir.Lookup(ctx, target)
	switch {
	case errors.Is(err, mail.ErrNoSuchUser):
		// The access host would have checked the password; so does the
		// proxy, against the entry an unknown user's is checked against.
		if err := l.Unknown.CheckUnknown(ctx, canon, c.pass); !errors.Is(err, mail.ErrAuthFailed) {
			l.Guard.Abandoned(canon, ip)
			return admission{}, err
		}
		l.Guard.Failed(canon, ip)
		return admission{}, mail.ErrAuthFailed
	case err != nil:
		l.Guard.Abandoned(canon, ip)
		return admission{}, mail.Unavailable("proxy: look up user", err)
	}
	l.Unknown.Seen(e)
	g, err := l.Router.Group(e)
	if err != nil {
		l.Guard.Abandoned(canon, ip)
		return admission{}, err
	}
	done := func(ok, refused bool) {
		switch {
		case ok:
			l.Guard.Passed(canon, ip)
		case refused:
			l.Guard.Failed(canon, ip)
		default:
			l.Guard.Abandoned(canon, ip)
		}
	}
	return admission{user: e.Address, group: g, done: done, plain: plainMessage(c.authzid, c.user, c.pass)}, nil
}

// plainMessage is SASL PLAIN's message (RFC 4616 2).
func plainMessage(authzid, authcid, passwd string) []byte {
	return fmt.Appendf(nil, "%s\x00%s\x00%s", authzid, authcid, passwd)
}

// refusal is the Observer's login result for an error of admit: "failed"
// for a wrong password or an unknown user, "unavailable" for the rest
// (the directory, an unroutable user, busy password checks, the client
// gone).
func refusal(err error) string {
	if errors.Is(err, mail.ErrAuthFailed) {
		return "failed"
	}
	return "unavailable"
}
