package imapserver

import (
	"strconv"
	"strings"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
)

// dispatch checks the command's state (RFC 9051 3) and runs it.
func (c *conn) dispatch(cmd *imapwire.Command) result {
	switch cmd.Name {
	case "CAPABILITY":
		c.w.Raw("* CAPABILITY " + c.capabilities() + "\r\n")
		return ok("CAPABILITY completed")
	case "NOOP", "CHECK":
		if cmd.Name == "CHECK" && c.state != selectedState {
			return bad("CHECK needs a selected mailbox")
		}
		return ok(cmd.Name + " completed")
	case "LOGOUT":
		c.w.Status("", "BYE", "", "Logging out")
		c.state = logout
		return ok("LOGOUT completed")
	case "ID":
		return c.cmdID(cmd.Args.(*imapwire.IDArgs))
	}
	if c.state == notAuthenticated {
		switch cmd.Name {
		case "STARTTLS":
			return c.cmdStartTLS()
		case "LOGIN":
			return c.cmdLogin(cmd.Args.(*imapwire.LoginArgs))
		case "AUTHENTICATE":
			return c.cmdAuthenticate(cmd.Args.(*imapwire.AuthenticateArgs))
		}
		return bad(cmd.Name + " needs authentication first (LOGIN or AUTHENTICATE)")
	}
	switch cmd.Name {
	case "STARTTLS", "LOGIN", "AUTHENTICATE":
		return bad("Already authenticated")
	case "ENABLE":
		return c.cmdEnable(cmd.Args.(*imapwire.EnableArgs))
	case "COMPRESS":
		return c.cmdCompress(cmd.Args.(*imapwire.CompressArgs))
	case "NAMESPACE":
		// RFC 2342: one personal namespace, no shared or other users'.
		c.w.Raw(`* NAMESPACE (("" "/")) NIL NIL` + "\r\n")
		return ok("NAMESPACE completed")
	case "SELECT", "EXAMINE":
		return c.cmdSelect(cmd.Args.(*imapwire.SelectArgs), cmd.Name == "EXAMINE")
	case "CREATE":
		return c.cmdCreate(cmd.Args.(*imapwire.CreateArgs))
	case "DELETE":
		return c.cmdDelete(cmd.Args.(*imapwire.MailboxArgs).Mailbox)
	case "RENAME":
		return c.cmdRename(cmd.Args.(*imapwire.RenameArgs))
	case "SUBSCRIBE", "UNSUBSCRIBE":
		return c.cmdSubscribe(cmd.Args.(*imapwire.MailboxArgs).Mailbox, cmd.Name == "SUBSCRIBE")
	case "LIST":
		return c.cmdList(cmd.Args.(*imapwire.ListArgs), false)
	case "LSUB":
		return c.cmdList(cmd.Args.(*imapwire.ListArgs), true)
	case "STATUS":
		return c.cmdStatus(cmd.Args.(*imapwire.StatusArgs))
	case "APPEND":
		return c.cmdAppend(cmd.Args.(*imapwire.AppendArgs))
	case "IDLE":
		return c.cmdIdle()
	case "GETQUOTA":
		return c.cmdGetQuota(cmd.Args.(*imapwire.QuotaRootArgs).Root)
	case "GETQUOTAROOT":
		return c.cmdGetQuotaRoot(cmd.Args.(*imapwire.MailboxArgs).Mailbox)
	case "SETQUOTA":
		// RFC 9208 4.3: users may not raise their own limits.
		return no("NOPERM", "Quota limits are set by the administrator (quire user quota)")
	}
	if c.state != selectedState {
		return bad(cmd.Name + " needs a selected mailbox (SELECT or EXAMINE first)")
	}
	switch cmd.Name {
	case "CLOSE":
		return c.cmdClose(true)
	case "UNSELECT":
		return c.cmdClose(false)
	case "EXPUNGE":
		var a *imapwire.UIDExpungeArgs
		if cmd.UID {
			a = cmd.Args.(*imapwire.UIDExpungeArgs)
		}
		return c.cmdExpunge(a)
	case "FETCH":
		return c.cmdFetch(cmd.Args.(*imapwire.FetchArgs), cmd.UID)
	case "STORE":
		return c.cmdStore(cmd.Args.(*imapwire.StoreArgs), cmd.UID)
	case "COPY", "MOVE":
		return c.cmdCopy(cmd.Args.(*imapwire.CopyArgs), cmd.UID, cmd.Name == "MOVE")
	case "SEARCH":
		return c.cmdSearch(cmd.Args.(*imapwire.SearchArgs), cmd.UID)
	case "SORT":
		return c.cmdSort(cmd.Args.(*imapwire.SortArgs), cmd.UID)
	case "THREAD":
		return c.cmdThread(cmd.Args.(*imapwire.ThreadArgs), cmd.UID)
	}
	return bad("Unknown command " + cmd.Name)
}

// capabilities lists what this session may use now (RFC 9051 7.2.2). Each
// extension is listed only where it works.
func (c *conn) capabilities() string {
	caps := []string{"IMAP4rev1", "IMAP4rev2"}
	if c.state == notAuthenticated {
		if c.srv.opts.TLS != nil && !c.secure {
			caps = append(caps, "STARTTLS")
		}
		if c.loginAllowed() {
			caps = append(caps, "AUTH=PLAIN", "AUTH=LOGIN", "SASL-IR")
		} else {
			caps = append(caps, "LOGINDISABLED")
		}
		if c.srv.opts.LoginReferrals {
			caps = append(caps, "LOGIN-REFERRALS")
		}
		return strings.Join(append(caps, "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE", "UNSELECT"), " ")
	}
	caps = append(caps, "LITERAL+", "ID", "ENABLE", "IDLE", "NAMESPACE", "UNSELECT",
		"UIDPLUS", "MOVE", "SPECIAL-USE", "CREATE-SPECIAL-USE", "LIST-EXTENDED", "LIST-STATUS", "CHILDREN",
		"STATUS=SIZE", "CONDSTORE", "QRESYNC", "QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE",
		"APPENDLIMIT="+strconv.FormatInt(c.srv.opts.MaxLiteralSize, 10), "MULTIAPPEND",
		"BINARY", "SAVEDATE", "OBJECTID", "UTF8=ACCEPT")
	caps = append(caps, searchCapabilities...)
	if !c.compress {
		caps = append(caps, "COMPRESS=DEFLATE")
	}
	return strings.Join(caps, " ")
}

// loginAllowed: over TLS, with AllowPlaintext, or from a trusted proxy
// (which holds the client's TLS).
func (c *conn) loginAllowed() bool { return c.secure || c.srv.opts.AllowPlaintext || c.viaProxy }
