package login

import (
	"fmt"

	"github.com/quiremail/quire/internal/directory"
)

// Placement is where an access host stands among the store affinity
// groups (DESIGN.md section 5). A user of another group logging in here
// would be served with stale IDLE (the notifier tells only the user's
// group), so with Refer the login is refused with the right group's hosts,
// which IMAP turns into a LOGIN referral (RFC 2221) and POP3 into
// -ERR [SYS/TEMP].
type Placement struct {
	Groups directory.Groups
	// Own is this host's group; "" (a host in no group) refers no one.
	Own string
	// Refer refuses users of other groups (login.other_group = "refer");
	// false serves them (login.other_group = "serve").
	Refer bool
}

// WrongGroupError is a login that succeeded for a user another store
// affinity group serves. Hosts are that group's, in storehostlist order.
type WrongGroupError struct {
	User  string
	Group string
	Hosts []string
}

func (e *WrongGroupError) Error() string {
	return fmt.Sprintf("login: %s is served by store affinity group %s (hosts %v), not this host's", e.User, e.Group, e.Hosts)
}

// check returns a *WrongGroupError when e's mailHost names another group
// and users of other groups are referred. An empty mailHost is this
// host's group; one that names no group is served (config validation and
// "quire user mailhost" keep such names out of the store; a directory may
// still hold one, and refusing it would lock the user out everywhere).
func (p Placement) check(e directory.Entry) *WrongGroupError {
	if !p.Refer || p.Own == "" {
		return nil
	}
	g, ok := p.Groups.Resolve(e.MailHost)
	if !ok || g == p.Own {
		return nil
	}
	return &WrongGroupError{User: e.Address, Group: g, Hosts: p.Groups.Hosts(g)}
}
