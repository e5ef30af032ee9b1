package imapserver

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// cmdAppend: APPEND (RFC 9051 6.3.12) with MULTIAPPEND (RFC 3502), literal8
// (RFC 3516 4.4) and APPENDUID (RFC 4315). Every message is spooled and
// its body stored first; then all become visible at once, in order, or
// none does (RFC 3502 5).
func (c *conn) cmdAppend(a *imapwire.AppendArgs) result {
	ctx, cancel := c.srv.ctx()
	defer cancel()
	st := c.srv.opts.Store
	mb, err := st.Mailbox(ctx, c.user, a.Mailbox)
	if err != nil {
		if derr := c.r.Discard(); derr != nil {
			return c.discardFailed(derr)
		}
		return c.storeError("append", err, "TRYCREATE")
	}
	var (
		msgs   []store.NewMessage
		spools []*store.Spooled
	)
	defer func() {
		for _, sp := range spools {
			sp.Close()
		}
	}()
	for m := a.Message; m != nil; {
		sp, err := st.Spool(m.Body, c.srv.opts.MaxLiteralSize)
		if err != nil {
			if errors.Is(err, mail.ErrTooBig) || errors.Is(err, mail.ErrUnavailable) {
				if derr := c.r.Discard(); derr != nil {
					return c.discardFailed(derr)
				}
				return c.storeError("append", err, "")
			}
			// The literal could not be read: the client went away or sent
			// less than it announced.
			c.log.Info("imap: append literal unreadable", "err", err)
			return result{close: true}
		}
		spools = append(spools, sp)
		if err := st.PutBody(ctx, sp); err != nil {
			if derr := c.r.Discard(); derr != nil {
				return c.discardFailed(derr)
			}
			return c.storeError("append", err, "")
		}
		msgs = append(msgs, store.NewMessage{
			Blob: sp.ID, Size: sp.Size, Structure: sp.Structure,
			InternalDate: m.Date, Flags: mail.NewFlags(m.Flags...),
		})
		if m, err = c.r.NextAppend(); err != nil {
			var se *imapwire.SyntaxError
			if errors.As(err, &se) {
				return bad(se.Reason)
			}
			var le *imapwire.LimitError
			if errors.As(err, &le) {
				return result{status: le.Status, code: le.Code, text: le.Reason, close: le.Fatal}
			}
			return result{close: true}
		}
	}
	owner, err := c.freshUser(ctx)
	if err != nil {
		return c.storeError("append", err, "")
	}
	uids, err := st.Append(ctx, owner, mb, msgs...)
	if err != nil {
		return c.storeError("append", err, "TRYCREATE")
	}
	return okCode("APPENDUID "+strconv.FormatUint(uint64(mb.UIDValidity), 10)+" "+uidSet(uids), "APPEND completed")
}

// discardFailed: the rest of a refused APPEND could not be skipped, so the
// connection cannot be resynchronized (RFC 7888 4).
func (c *conn) discardFailed(err error) result {
	var le *imapwire.LimitError
	if errors.As(err, &le) {
		return result{status: le.Status, code: le.Code, text: le.Reason, close: true}
	}
	return result{close: true}
}

// freshUser re-reads the session's user, so quota changes made while the
// session runs apply to its next APPEND or COPY.
func (c *conn) freshUser(ctx context.Context) (store.User, error) {
	u, err := c.srv.opts.Store.User(ctx, c.user.Address)
	if err != nil {
		return store.User{}, err
	}
	if u.ID != c.user.ID {
		return store.User{}, fmt.Errorf("%w: the account was deleted and created again", mail.ErrCannot)
	}
	return u, nil
}
