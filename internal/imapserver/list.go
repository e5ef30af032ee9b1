package imapserver

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/store"
)

// match reports whether name matches an IMAP list pattern (RFC 9051
// 6.3.9): "*" matches anything, "%" anything but the separator.
func match(pattern, name string) bool {
	for len(pattern) > 0 {
		switch p := pattern[0]; p {
		case '*', '%':
			rest := pattern[1:]
			for i := 0; i <= len(name); i++ {
				if match(rest, name[i:]) {
					return true
				}
				if i < len(name) && p == '%' && name[i] == sep[0] {
					return false
				}
			}
			return false
		default:
			if len(name) == 0 || name[0] != p {
				return false
			}
			pattern, name = pattern[1:], name[1:]
		}
	}
	return name == ""
}

// canonicalPattern makes INBOX match in any case (RFC 9051 5.1).
func canonicalPattern(p string) string {
	if len(p) >= 5 && strings.EqualFold(p[:5], "INBOX") && (len(p) == 5 || p[5] == sep[0]) {
		return "INBOX" + p[5:]
	}
	return p
}

type listEntry struct {
	name   string
	mb     *store.Mailbox // nil for a placeholder (a parent that does not exist)
	subbed bool
	kids   bool // has inferior names
	subKid bool // has a subscribed inferior (CHILDINFO, RFC 5258 3.5)
}

// cmdList: LIST (RFC 9051 6.3.9) with LIST-EXTENDED (RFC 5258),
// LIST-STATUS (RFC 5819), SPECIAL-USE (RFC 6154) and CHILDREN (RFC 3348);
// LSUB for IMAP4rev1 clients (RFC 3501 6.3.9).
func (c *conn) cmdList(a *imapwire.ListArgs, lsub bool) result {
	name := "LIST"
	if lsub {
		name = "LSUB"
	}
	if len(a.Patterns) == 1 && a.Patterns[0] == "" && !lsub {
		c.w.Raw(`* LIST (\Noselect) "/" ""` + "\r\n") // RFC 9051 6.3.9: the delimiter
		return ok("LIST completed")
	}
	sel := func(o string) bool { return slices.Contains(a.Select, o) }
	ret := func(o string) bool { return slices.Contains(a.Return, o) }
	onlySubscribed := lsub || sel("SUBSCRIBED")
	ctx, cancel := c.srv.ctx()
	defer cancel()
	st := c.srv.opts.Store
	mbs, err := st.Mailboxes(ctx, c.user)
	if err != nil {
		return c.storeError("list", err, "")
	}
	subs, err := st.Subscriptions(ctx, c.user)
	if err != nil {
		return c.storeError("list", err, "")
	}
	entries := map[string]*listEntry{}
	get := func(n string) *listEntry {
		e := entries[n]
		if e == nil {
			e = &listEntry{name: n}
			entries[n] = e
		}
		return e
	}
	for i := range mbs {
		get(mbs[i].Name).mb = &mbs[i]
	}
	for _, s := range subs {
		get(s).subbed = true
	}
	for n, e := range entries {
		if e.mb == nil && !e.subbed {
			continue
		}
		for i := strings.LastIndex(n, sep); i > 0; i = strings.LastIndex(n[:i], sep) {
			p := get(n[:i])
			if e.mb != nil {
				p.kids = true
			}
			if e.subbed {
				p.subKid = true
			}
		}
	}
	names := make([]string, 0, len(entries))
	for n := range entries {
		names = append(names, n)
	}
	slices.Sort(names)
	var patterns []string
	for _, p := range a.Patterns {
		patterns = append(patterns, canonicalPattern(a.Reference+p))
	}
	for _, n := range names {
		e := entries[n]
		if !slices.ContainsFunc(patterns, func(p string) bool { return match(p, n) }) {
			continue
		}
		var attrs []string
		// RFC 5258 3.5: with RECURSIVEMATCH, a name whose subscribed
		// descendants are not themselves listed carries CHILDINFO.
		childInfo := sel("RECURSIVEMATCH") && slices.ContainsFunc(subs, func(sub string) bool {
			return strings.HasPrefix(sub, n+sep) && !slices.ContainsFunc(patterns, func(p string) bool { return match(p, sub) })
		})
		switch {
		case lsub && !e.subbed:
			// RFC 3501 6.3.9: a parent of subscribed names that "%"
			// matches is listed as \Noselect.
			if !e.subKid || !slices.ContainsFunc(patterns, func(p string) bool { return strings.HasSuffix(p, "%") }) {
				continue
			}
			attrs = append(attrs, `\Noselect`)
		case onlySubscribed && !e.subbed:
			if !childInfo {
				continue
			}
		case e.mb == nil && !e.kids && !e.subbed:
			continue
		}
		if e.mb == nil {
			if e.kids {
				attrs = append(attrs, `\Noselect`)
			} else if !lsub {
				attrs = append(attrs, `\NonExistent`)
			}
		}
		if sel("SPECIAL-USE") && (e.mb == nil || e.mb.SpecialUse == "") {
			continue
		}
		if !lsub {
			if e.kids {
				attrs = append(attrs, `\HasChildren`)
			} else if e.mb != nil {
				attrs = append(attrs, `\HasNoChildren`)
			}
			if e.subbed && (sel("SUBSCRIBED") || ret("SUBSCRIBED")) {
				attrs = append(attrs, `\Subscribed`)
			}
			if e.mb != nil && e.mb.SpecialUse != "" {
				attrs = append(attrs, e.mb.SpecialUse)
			}
		}
		c.w.Raw("* " + name + " (" + strings.Join(attrs, " ") + `) "/" `)
		c.w.Mailbox(n)
		if childInfo {
			c.w.Raw(` ("CHILDINFO" ("SUBSCRIBED"))`)
		}
		c.w.Raw("\r\n")
		if a.ReturnStatus != nil && e.mb != nil {
			if res, ok := c.writeStatus(ctx, *e.mb, a.ReturnStatus); !ok {
				return res
			}
		}
	}
	return ok(name + " completed")
}

func (c *conn) cmdStatus(a *imapwire.StatusArgs) result {
	ctx, cancel := c.srv.ctx()
	defer cancel()
	mb, err := c.srv.opts.Store.Mailbox(ctx, c.user, a.Mailbox)
	if err != nil {
		return c.storeError("status", err, "NONEXISTENT")
	}
	if res, ok := c.writeStatus(ctx, mb, a.Items); !ok {
		return res
	}
	return ok("STATUS completed")
}

// writeStatus writes "* STATUS" for mb (RFC 9051 7.3.2) with the counts
// from its head; RECENT and DELETED-STORAGE read the message rows.
func (c *conn) writeStatus(ctx context.Context, mb store.Mailbox, items []string) (result, bool) {
	st := c.srv.opts.Store
	head, err := st.Status(ctx, mb)
	if err != nil {
		return c.storeError("status", err, ""), false
	}
	var recent, deletedSize int64
	if slices.Contains(items, "RECENT") || slices.Contains(items, "DELETED-STORAGE") {
		mark := c.srv.recent.claim(mb.ID, 0, false)
		err := st.Messages(ctx, mb, 1, 0, func(r store.MessageRow) error {
			if r.UID > mark {
				recent++
			}
			if r.Flags.Has(`\Deleted`) {
				deletedSize += r.Meta.Size
			}
			return nil
		})
		if err != nil {
			return c.storeError("status", err, ""), false
		}
	}
	var out []string
	num := func(k string, v int64) { out = append(out, k+" "+strconv.FormatInt(v, 10)) }
	for _, it := range items {
		switch it {
		case "MESSAGES":
			num(it, head.Messages)
		case "UIDNEXT":
			num(it, int64(head.UIDNext))
		case "UIDVALIDITY":
			num(it, int64(mb.UIDValidity))
		case "UNSEEN":
			num(it, head.Unseen)
		case "DELETED":
			num(it, head.Deleted)
		case "SIZE":
			num(it, head.Size)
		case "RECENT":
			num(it, recent)
		case "HIGHESTMODSEQ":
			num(it, int64(head.ModSeq))
		case "APPENDLIMIT":
			num(it, c.srv.opts.MaxLiteralSize)
		case "MAILBOXID":
			out = append(out, "MAILBOXID ("+mb.ID+")")
		case "DELETED-STORAGE":
			num(it, deletedSize)
		}
	}
	c.w.Raw("* STATUS ")
	c.w.Mailbox(mb.Name)
	c.w.Raw(" (" + strings.Join(out, " ") + ")\r\n")
	return result{}, true
}

// quotaRoot is the one quota root of every user (RFC 9208 3.2): "" covers
// all of the user's mailboxes.
const quotaRoot = ""

func (c *conn) cmdGetQuotaRoot(name string) result {
	ctx, cancel := c.srv.ctx()
	defer cancel()
	mb, err := c.srv.opts.Store.Mailbox(ctx, c.user, name)
	if err != nil {
		return c.storeError("getquotaroot", err, "NONEXISTENT")
	}
	c.w.Raw("* QUOTAROOT ")
	c.w.Mailbox(mb.Name)
	c.w.Raw(` ""` + "\r\n")
	if res, ok := c.writeQuota(ctx); !ok {
		return res
	}
	return ok("GETQUOTAROOT completed")
}

func (c *conn) cmdGetQuota(root string) result {
	if root != quotaRoot {
		return no("NONEXISTENT", `No such quota root; the user's quota root is ""`)
	}
	ctx, cancel := c.srv.ctx()
	defer cancel()
	if res, ok := c.writeQuota(ctx); !ok {
		return res
	}
	return ok("GETQUOTA completed")
}

// writeQuota writes "* QUOTA" (RFC 9208 5.1): STORAGE in KiB, MESSAGE in
// messages, only for the limits that are set.
func (c *conn) writeQuota(ctx context.Context) (result, bool) {
	st := c.srv.opts.Store
	u, err := st.User(ctx, c.user.Address)
	if err != nil {
		return c.storeError("quota", err, ""), false
	}
	use, err := st.Usage(ctx, u)
	if err != nil {
		return c.storeError("quota", err, ""), false
	}
	var res []string
	if u.QuotaStorage > 0 {
		res = append(res, "STORAGE "+strconv.FormatInt((use.Storage+1023)/1024, 10)+" "+strconv.FormatInt(u.QuotaStorage/1024, 10))
	}
	if u.QuotaMessages > 0 {
		res = append(res, "MESSAGE "+strconv.FormatInt(use.Messages, 10)+" "+strconv.FormatInt(u.QuotaMessages, 10))
	}
	c.w.Raw(`* QUOTA "" (` + strings.Join(res, " ") + ")\r\n")
	return result{}, true
}
