// Package ldapdir is a directory on an LDAP server (OpenLDAP, 389-DS,
// Active Directory...): a user is found by a search with a configurable
// filter, and a password is verified by binding as the user's DN. The
// attributes that carry the canonical address, aliases, mailHost, quota
// and status are named by configuration.
//
// Invariants:
//   - At most Options.PoolSize connections search and at most PoolSize
//     bind at once; a request waits for one until its context ends or
//     Options.Timeout passed, then fails as mail.ErrUnavailable.
//   - A search connection is bound as Options.BindDN before its first
//     search; bind connections serve only binds, so a user's identity never
//     leaks into a search.
//   - An empty password never reaches the server: a simple bind with an
//     empty password is an unauthenticated bind, which servers accept
//     (RFC 4513 5.1.2).
//   - The address is escaped into the filter (RFC 4515 3) and the DN into
//     the service-administrator group's filter: no input changes a filter's
//     structure.
//   - An unknown status value locks the account: it never grants access.
package ldapdir

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// Attrs names the LDAP attributes of an entry's fields; "" leaves a field
// out (except Mail, which is required).
type Attrs struct {
	Mail          string // the canonical address, e.g. "mail"
	Alias         string // other addresses, e.g. "mailAlternateAddress"
	MailHost      string // e.g. "mailHost"
	QuotaStorage  string // bytes, e.g. "mailQuota"
	QuotaMessages string // e.g. "mailMessageQuota"
	Status        string // e.g. "mailUserStatus" (directory.ParseStatus)
}

// Options configure a Dir.
type Options struct {
	URLs         []string    // ldap:// or ldaps://, tried in order
	StartTLS     bool        // on ldap:// URLs (RFC 4513 3)
	TLS          *tls.Config // roots and client certificate; nil: the system's roots
	BindDN       string      // the search account; "" searches anonymously
	BindPassword string
	BaseDN       string
	// Filter finds a user; every %s is the canonical address, escaped.
	Filter string
	Attrs  Attrs
	// ServiceAdminGroupDN is a group (groupOfNames member, or
	// groupOfUniqueNames uniqueMember) whose members are service
	// administrators; "" means none from LDAP.
	ServiceAdminGroupDN string
	PoolSize            int           // connections per pool (default 8)
	ConnectTimeout      time.Duration // default 5 s
	Timeout             time.Duration // per request, and per wait for a connection (default 10 s)
	Logger              *slog.Logger
}

// DefaultFilter matches the address or one of the aliases of carrier
// directories' schema.
const DefaultFilter = "(|(mail=%s)(mailAlternateAddress=%s))"

// Dir is a directory on an LDAP server. It is safe for concurrent use.
type Dir struct {
	opts     Options
	log      *slog.Logger
	searches *pool
	binds    *pool
	attrs    []string
}

// New returns a Dir. It connects lazily; Check connects at once.
func New(opts Options) (*Dir, error) {
	if len(opts.URLs) == 0 {
		return nil, errors.New("ldapdir: no server URL (directory.ldap.urls)")
	}
	if opts.Attrs.Mail == "" {
		return nil, errors.New("ldapdir: no attribute for the address (directory.ldap.attr_mail)")
	}
	if !strings.Contains(opts.Filter, "%s") {
		return nil, fmt.Errorf("ldapdir: filter %q has no %%s for the address (directory.ldap.filter)", opts.Filter)
	}
	if _, err := ldap.CompileFilter(strings.ReplaceAll(opts.Filter, "%s", "x")); err != nil {
		return nil, fmt.Errorf("ldapdir: filter %q: %w (directory.ldap.filter)", opts.Filter, err)
	}
	if opts.PoolSize <= 0 {
		opts.PoolSize = 8
	}
	if opts.ConnectTimeout <= 0 {
		opts.ConnectTimeout = 5 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	d := &Dir{opts: opts, log: opts.Logger}
	d.searches, d.binds = newPool(d, opts.PoolSize, true), newPool(d, opts.PoolSize, false)
	a := opts.Attrs
	for _, n := range []string{a.Mail, a.Alias, a.MailHost, a.QuotaStorage, a.QuotaMessages, a.Status, "modifyTimestamp", "entryCSN"} {
		if n != "" {
			d.attrs = append(d.attrs, n)
		}
	}
	return d, nil
}

// Close closes the idle connections.
func (d *Dir) Close() {
	d.searches.close()
	d.binds.close()
}

// Check connects and binds as the search account, so a wrong bind_dn or
// bind_password shows at start, not at the first login. Its error wraps
// ErrBindRefused when a server refused the bind, and mail.ErrUnavailable
// when none could be reached.
func (d *Dir) Check(ctx context.Context) error {
	err := d.searches.do(ctx, func(*ldap.Conn) error { return nil })
	switch {
	case err == nil:
		return nil
	case errors.Is(err, ErrBindRefused):
		return fmt.Errorf("ldapdir: %w", err)
	}
	return d.unavailable("connect", err)
}

func (d *Dir) unavailable(op string, err error) error {
	return mail.Unavailable("ldap: "+op, err)
}

// Lookup searches for the entry of address (canonical address or alias).
// No entry is mail.ErrNoSuchUser; more than one is an error (the filter or
// the data is wrong, and guessing would deliver to the wrong user).
func (d *Dir) Lookup(ctx context.Context, address string) (directory.Entry, error) {
	canon, err := store.CanonicalAddress(address)
	if err != nil {
		return directory.Entry{}, fmt.Errorf("%w: %w", mail.ErrNoSuchUser, err)
	}
	filter := strings.ReplaceAll(d.opts.Filter, "%s", ldap.EscapeFilter(canon))
	req := ldap.NewSearchRequest(d.opts.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, int(d.opts.Timeout/time.Second), false, filter, d.attrs, nil)
	var res *ldap.SearchResult
	err = d.searches.do(ctx, func(c *ldap.Conn) (err error) {
		res, err = c.Search(req)
		return err
	})
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded), err == nil && len(res.Entries) > 1:
		d.log.Error("ldap: an address matches more than one entry; fix directory.ldap.filter or the directory", "address", canon)
		return directory.Entry{}, d.unavailable("look up "+canon, errors.New("the address matches more than one entry"))
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		return directory.Entry{}, d.unavailable("look up "+canon, fmt.Errorf("directory.ldap.base_dn %q does not exist: %w", d.opts.BaseDN, err))
	case err != nil:
		return directory.Entry{}, d.unavailable("look up "+canon, err)
	case len(res.Entries) == 0:
		return directory.Entry{}, fmt.Errorf("%w: %s", mail.ErrNoSuchUser, canon)
	}
	return d.entry(res.Entries[0])
}

// entry maps an LDAP entry to a directory entry.
func (d *Dir) entry(le *ldap.Entry) (directory.Entry, error) {
	a := d.opts.Attrs
	addr, err := store.CanonicalAddress(le.GetAttributeValue(a.Mail))
	if err != nil {
		return directory.Entry{}, d.unavailable("read "+le.DN, fmt.Errorf("attribute %s (directory.ldap.attr_mail): %w", a.Mail, err))
	}
	e := directory.Entry{Address: addr, DN: le.DN, External: true,
		Credential: le.DN + "\x00" + le.GetAttributeValue("modifyTimestamp") + "\x00" + le.GetAttributeValue("entryCSN")}
	if a.Alias != "" {
		for _, v := range le.GetAttributeValues(a.Alias) {
			if c, err := store.CanonicalAddress(v); err == nil && c != addr {
				e.Aliases = append(e.Aliases, c)
			}
		}
	}
	if a.MailHost != "" {
		e.MailHost = strings.TrimSpace(le.GetAttributeValue(a.MailHost))
	}
	e.QuotaStorage = d.number(le, a.QuotaStorage)
	e.QuotaMessages = d.number(le, a.QuotaMessages)
	if a.Status != "" {
		v := le.GetAttributeValue(a.Status)
		var ok bool
		if e.Status, ok = directory.ParseStatus(v); !ok {
			d.log.Warn("ldap: unknown status value; the account is treated as locked", "dn", le.DN, "attr", a.Status, "value", v)
		}
	}
	return e, nil
}

// number reads a non-negative integer attribute; absent or malformed is 0
// (no limit from the directory), the latter logged.
func (d *Dir) number(le *ldap.Entry, attr string) int64 {
	if attr == "" {
		return 0
	}
	v := strings.TrimSpace(le.GetAttributeValue(attr))
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		d.log.Warn("ldap: attribute is not a non-negative integer; ignored", "dn", le.DN, "attr", attr, "value", v)
		return 0
	}
	return n
}

// Bind verifies password by a simple bind as e.DN (RFC 4513 5.1.3) on a
// bind connection.
func (d *Dir) Bind(ctx context.Context, e directory.Entry, password string) (bool, error) {
	if password == "" || e.DN == "" {
		return false, nil // RFC 4513 5.1.2: it would be an unauthenticated bind
	}
	err := d.binds.do(ctx, func(c *ldap.Conn) error { return c.Bind(e.DN, password) })
	switch {
	case err == nil:
		return true, nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		return false, nil
	case isNetwork(err), errors.Is(err, errPoolWait), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return false, d.unavailable("bind as "+e.DN, err)
	}
	// Any other result (a password policy's lockout, unwillingToPerform)
	// refuses this login without judging the service down.
	d.log.Info("ldap: bind refused", "dn", e.DN, "err", err)
	return false, nil
}

// MissingEntry is the entry a login for an unknown address is checked
// against: a bind as a DN that does not exist under BaseDN, which the
// server refuses as invalid credentials (RFC 4513 6.3.1) after the same
// round trip a real bind takes, so the time of a failed login does not
// tell whether the address exists.
func (d *Dir) MissingEntry() directory.Entry {
	return directory.Entry{DN: "cn=quire-no-such-user," + d.opts.BaseDN, External: true}
}

// ServiceAdmin reports whether e.DN is a member of ServiceAdminGroupDN.
func (d *Dir) ServiceAdmin(ctx context.Context, e directory.Entry) (bool, error) {
	g := d.opts.ServiceAdminGroupDN
	if g == "" || e.DN == "" {
		return false, nil
	}
	dn := ldap.EscapeFilter(e.DN)
	req := ldap.NewSearchRequest(g, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, int(d.opts.Timeout/time.Second), false,
		"(|(member="+dn+")(uniqueMember="+dn+"))", []string{"1.1"}, nil)
	var res *ldap.SearchResult
	err := d.searches.do(ctx, func(c *ldap.Conn) (err error) {
		res, err = c.Search(req)
		return err
	})
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject):
		d.log.Warn("ldap: the service administrators' group does not exist", "store.serviceadmingroupdn", g)
		return false, nil
	case err != nil:
		return false, d.unavailable("read the service administrators' group", err)
	}
	return len(res.Entries) > 0, nil
}
