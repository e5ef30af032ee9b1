package imapserver

import (
	"errors"
	"strings"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

const sep = store.Separator

// specialUses are the RFC 6154 attributes CREATE (USE ...) accepts.
var specialUses = map[string]string{
	`\ALL`: `\All`, `\ARCHIVE`: `\Archive`, `\DRAFTS`: `\Drafts`, `\FLAGGED`: `\Flagged`,
	`\JUNK`: `\Junk`, `\SENT`: `\Sent`, `\TRASH`: `\Trash`,
}

// cmdCreate: RFC 9051 6.3.4, with USE (RFC 6154 5.1). Missing superior
// names are created too.
func (c *conn) cmdCreate(a *imapwire.CreateArgs) result {
	name, err := store.CanonicalMailboxName(a.Mailbox)
	if err != nil {
		return c.storeError("create", err, "")
	}
	var use string
	switch len(a.SpecialUse) {
	case 0:
	case 1:
		if use = specialUses[strings.ToUpper(a.SpecialUse[0])]; use == "" {
			return no("USEATTR", "Unknown special-use attribute "+a.SpecialUse[0])
		}
	default:
		return no("USEATTR", "One special-use attribute per mailbox")
	}
	ctx, cancel := c.srv.ctx()
	defer cancel()
	st := c.srv.opts.Store
	parts := strings.Split(name, sep)
	for i := 1; i < len(parts); i++ {
		parent := strings.Join(parts[:i], sep)
		if _, err := st.CreateMailbox(ctx, c.user, parent, ""); err != nil && !errors.Is(err, mail.ErrMailboxExists) {
			return c.storeError("create", err, "")
		}
	}
	mb, err := st.CreateMailbox(ctx, c.user, name, use)
	if err != nil {
		return c.storeError("create", err, "")
	}
	return okCode("MAILBOXID ("+mb.ID+")", "CREATE completed") // RFC 8474 4.1
}

// cmdDelete: RFC 9051 6.3.5. Inferior names stay; the deleted name remains
// as a hierarchy placeholder while they exist.
func (c *conn) cmdDelete(name string) result {
	ctx, cancel := c.srv.ctx()
	defer cancel()
	st := c.srv.opts.Store
	mb, err := st.Mailbox(ctx, c.user, name)
	if err != nil {
		return c.storeError("delete", err, "NONEXISTENT")
	}
	if c.sel != nil && c.sel.mb.ID == mb.ID {
		return no("INUSE", "Mailbox is selected in this session; CLOSE or UNSELECT it first")
	}
	if err := st.DeleteMailbox(ctx, mb); err != nil {
		return c.storeError("delete", err, "NONEXISTENT")
	}
	return ok("DELETE completed")
}

// cmdRename: RFC 9051 6.3.6. Inferior names move along. Renaming INBOX
// moves its messages into a new mailbox and leaves INBOX empty.
func (c *conn) cmdRename(a *imapwire.RenameArgs) result {
	ctx, cancel := c.srv.ctx()
	defer cancel()
	st := c.srv.opts.Store
	to, err := store.CanonicalMailboxName(a.To)
	if err != nil {
		return c.storeError("rename", err, "")
	}
	mb, err := st.Mailbox(ctx, c.user, a.From)
	if err != nil {
		return c.storeError("rename", err, "NONEXISTENT")
	}
	if to == "INBOX" || strings.HasPrefix(to+sep, mb.Name+sep) && mb.Name != "INBOX" {
		return no("CANNOT", "Cannot rename a mailbox to INBOX or into itself")
	}
	if _, err := st.Mailbox(ctx, c.user, to); err == nil {
		return no("ALREADYEXISTS", "Mailbox "+to+" already exists")
	}
	parts := strings.Split(to, sep)
	for i := 1; i < len(parts); i++ {
		parent := strings.Join(parts[:i], sep)
		if _, err := st.CreateMailbox(ctx, c.user, parent, ""); err != nil && !errors.Is(err, mail.ErrMailboxExists) {
			return c.storeError("rename", err, "")
		}
	}
	if mb.Name == "INBOX" {
		return c.renameInbox(mb, to)
	}
	all, err := st.Mailboxes(ctx, c.user)
	if err != nil {
		return c.storeError("rename", err, "")
	}
	if _, err := st.RenameMailbox(ctx, mb, to); err != nil {
		return c.storeError("rename", err, "NONEXISTENT")
	}
	for _, child := range all {
		if strings.HasPrefix(child.Name, mb.Name+sep) {
			if _, err := st.RenameMailbox(ctx, child, to+strings.TrimPrefix(child.Name, mb.Name)); err != nil {
				return c.storeError("rename", err, "")
			}
		}
	}
	if c.sel != nil && c.sel.mb.ID == mb.ID {
		c.sel.mb.Name = to
	}
	return ok("RENAME completed")
}

func (c *conn) renameInbox(inbox store.Mailbox, to string) result {
	ctx, cancel := c.srv.ctx()
	defer cancel()
	st := c.srv.opts.Store
	dst, err := st.CreateMailbox(ctx, c.user, to, "")
	if err != nil {
		return c.storeError("rename", err, "")
	}
	var uids []mail.UID
	if err := st.States(ctx, inbox, 1, 0, func(r store.MessageState) error {
		uids = append(uids, r.UID)
		return nil
	}); err != nil {
		return c.storeError("rename", err, "")
	}
	if len(uids) > 0 {
		if _, _, err := st.Move(ctx, c.user, inbox, dst, uids); err != nil {
			return c.storeError("rename", err, "")
		}
	}
	return ok("RENAME completed; INBOX's messages moved")
}

func (c *conn) cmdSubscribe(name string, on bool) result {
	ctx, cancel := c.srv.ctx()
	defer cancel()
	if on {
		// RFC 9051 6.3.7 allows subscribing to a name that does not exist;
		// Dovecot and most servers refuse, which catches typos.
		if _, err := c.srv.opts.Store.Mailbox(ctx, c.user, name); err != nil {
			return c.storeError("subscribe", err, "NONEXISTENT")
		}
	}
	if err := c.srv.opts.Store.SetSubscribed(ctx, c.user, name, on); err != nil {
		return c.storeError("subscribe", err, "")
	}
	if on {
		return ok("SUBSCRIBE completed")
	}
	return ok("UNSUBSCRIBE completed")
}
