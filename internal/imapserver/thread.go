package imapserver

import (
	"cmp"
	"slices"
	"strconv"
	"strings"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/message"
)

// tnode is a thread tree node; msg nil is a dummy (a missing parent).
type tnode struct {
	msg    *candidate
	id     string
	parent *tnode
	kids   []*tnode
}

// cmdThread: THREAD and UID THREAD (RFC 5256 3), ORDEREDSUBJECT and
// REFERENCES.
func (c *conn) cmdThread(a *imapwire.ThreadArgs, byUID bool) result {
	if a.Algorithm != "REFERENCES" && a.Algorithm != "ORDEREDSUBJECT" {
		return bad("Unknown thread algorithm " + a.Algorithm + "; REFERENCES and ORDEREDSUBJECT are supported")
	}
	if !charsetOK(a.Charset) {
		return no("BADCHARSET (US-ASCII UTF-8)", "Unsupported charset "+a.Charset)
	}
	ctx, cancel := c.srv.ctx()
	defer cancel()
	found, err := c.search(ctx, a.Key)
	if err != nil {
		return c.storeError("thread", err, "")
	}
	var roots []*tnode
	if a.Algorithm == "ORDEREDSUBJECT" {
		roots = threadOrderedSubject(found)
	} else {
		roots = threadReferences(found)
	}
	var b strings.Builder
	b.WriteString("* THREAD ")
	for _, r := range roots {
		b.WriteString("(" + formatThread(r, byUID) + ")")
	}
	c.w.Raw(strings.TrimRight(b.String(), " ") + "\r\n")
	return ok("THREAD completed")
}

// formatThread writes a node and its descendants in RFC 5256 4 syntax:
// a chain of only children as "1 2 3", several children nested.
func formatThread(n *tnode, byUID bool) string {
	var parts []string
	for cur := n; ; {
		if cur.msg != nil {
			id := uint64(cur.msg.seq)
			if byUID {
				id = uint64(cur.msg.row().UID)
			}
			parts = append(parts, strconv.FormatUint(id, 10))
		}
		if len(cur.kids) == 1 {
			cur = cur.kids[0]
			continue
		}
		if len(cur.kids) > 1 {
			var nested strings.Builder
			for _, k := range cur.kids {
				nested.WriteString("(" + formatThread(k, byUID) + ")")
			}
			parts = append(parts, nested.String())
		}
		return strings.Join(parts, " ")
	}
}

// threadDate is a node's sort date: its message's sent date, or for a
// dummy its first child's.
func threadCompare(p, q *tnode) int {
	a, b := firstMsg(p), firstMsg(q)
	if a == nil || b == nil {
		return 0
	}
	if r := a.sentDate().Compare(b.sentDate()); r != 0 {
		return r
	}
	return cmp.Compare(a.seq, b.seq)
}

func firstMsg(n *tnode) *candidate {
	for n != nil {
		if n.msg != nil {
			return n.msg
		}
		if len(n.kids) == 0 {
			return nil
		}
		n = n.kids[0]
	}
	return nil
}

// sortTree sorts every set of siblings by sent date, deepest first
// (RFC 5256 2.2 step 6).
func sortTree(ns []*tnode) {
	for _, n := range ns {
		sortTree(n.kids)
	}
	slices.SortStableFunc(ns, threadCompare)
}

// threadOrderedSubject (RFC 5256 2.1 ORDEREDSUBJECT): messages grouped by
// base subject, each group's first message the parent of the others.
func threadOrderedSubject(found []*candidate) []*tnode {
	msgs := slices.Clone(found)
	slices.SortStableFunc(msgs, func(p, q *candidate) int {
		if r := p.sentDate().Compare(q.sentDate()); r != 0 {
			return r
		}
		return cmp.Compare(p.seq, q.seq)
	})
	bySubj := map[string]*tnode{}
	var roots []*tnode
	for _, x := range msgs {
		s, _ := baseSubject(envelope(x).Subject)
		s = asciiUpper(s)
		if r := bySubj[s]; r != nil {
			r.kids = append(r.kids, &tnode{msg: x, parent: r})
			continue
		}
		r := &tnode{msg: x}
		bySubj[s] = r
		roots = append(roots, r)
	}
	return roots
}

func envelope(x *candidate) *message.Envelope {
	if e := x.m.structure().Envelope; e != nil {
		return e
	}
	return &message.Envelope{}
}

// msgIDs extracts <...> message IDs from a header value.
func msgIDs(s string) []string {
	var out []string
	for {
		i := strings.IndexByte(s, '<')
		if i < 0 {
			return out
		}
		j := strings.IndexByte(s[i:], '>')
		if j < 0 {
			return out
		}
		out = append(out, s[i:i+j+1])
		s = s[i+j+1:]
	}
}

func isAncestor(a, b *tnode) bool { // a is b or above it
	for ; b != nil; b = b.parent {
		if a == b {
			return true
		}
	}
	return false
}

func (n *tnode) unlink() {
	if p := n.parent; p != nil {
		p.kids = slices.DeleteFunc(p.kids, func(k *tnode) bool { return k == n })
		n.parent = nil
	}
}

func (n *tnode) adopt(k *tnode) {
	k.unlink()
	k.parent = n
	n.kids = append(n.kids, k)
}

// threadReferences is RFC 5256 2.2 REFERENCES (the JWZ algorithm).
func threadReferences(found []*candidate) []*tnode {
	table := map[string]*tnode{}
	var all []*tnode
	get := func(id string) *tnode {
		if n := table[id]; n != nil {
			return n
		}
		n := &tnode{id: id}
		table[id] = n
		all = append(all, n)
		return n
	}
	for _, x := range found { // step 1
		env := envelope(x)
		id := ""
		if ids := msgIDs(env.MessageID); len(ids) > 0 {
			id = ids[0]
		}
		if id == "" || table[id] != nil && table[id].msg != nil {
			id = "<quire-unique-" + strconv.FormatUint(uint64(x.seq), 10) + ">"
		}
		n := get(id)
		n.msg = x
		refs := env.References
		if len(refs) == 0 {
			refs = msgIDs(env.InReplyTo)[:min(1, len(msgIDs(env.InReplyTo)))]
		}
		var prev *tnode
		for _, r := range refs { // 1B: link the chain, never making loops
			rn := get(r)
			if prev != nil && rn.parent == nil && !isAncestor(rn, prev) {
				prev.adopt(rn)
			}
			prev = rn
		}
		if prev != nil && isAncestor(n, prev) { // 1C
			prev = nil
		}
		n.unlink()
		if prev != nil {
			prev.adopt(n)
		}
	}
	var roots []*tnode // step 2
	for _, n := range all {
		if n.parent == nil {
			roots = append(roots, n)
		}
	}
	roots = prune(roots, true) // step 4
	slices.SortStableFunc(roots, threadCompare)
	// Step 5: group the root set by base subject.
	type subj struct {
		n     *tnode
		reply bool
	}
	bySubj := map[string]subj{}
	subjOf := func(n *tnode) (string, bool) {
		m := firstMsg(n)
		if m == nil {
			return "", false
		}
		s, re := baseSubject(envelope(m).Subject)
		return asciiUpper(s), re && n.msg != nil
	}
	for _, r := range roots {
		s, re := subjOf(r)
		if s == "" {
			continue
		}
		old, ok := bySubj[s]
		if !ok || r.msg == nil && old.n.msg != nil || old.n.msg != nil && old.reply && r.msg != nil && !re {
			bySubj[s] = subj{r, re}
		}
	}
	var out []*tnode
	for _, r := range roots {
		s, re := subjOf(r)
		old, ok := bySubj[s]
		if s == "" || !ok || old.n == r {
			out = append(out, r)
			continue
		}
		o := old.n
		switch {
		case o.msg == nil && r.msg == nil:
			for _, k := range slices.Clone(r.kids) {
				o.adopt(k)
			}
		case o.msg == nil:
			o.adopt(r)
		case r.msg == nil:
			// The dummy holds the subject's siblings: move the table's
			// message under it and let the dummy take its place.
			r.adopt(o)
			bySubj[s] = subj{r, false}
			for i, x := range out {
				if x == o {
					out[i] = r
				}
			}
		case !old.reply && re:
			o.adopt(r)
		case old.reply && !re:
			r.adopt(o)
			bySubj[s] = subj{r, false}
			for i, x := range out {
				if x == o {
					out[i] = r
				}
			}
		default:
			d := &tnode{}
			d.adopt(o)
			d.adopt(r)
			bySubj[s] = subj{d, false}
			for i, x := range out {
				if x == o {
					out[i] = d
				}
			}
		}
	}
	sortTree(out) // step 6
	return out
}

// prune removes dummies (RFC 5256 2.2 step 4): one without children goes,
// one with children is replaced by them, except at the top level where a
// dummy with several children stays.
func prune(ns []*tnode, top bool) []*tnode {
	var out []*tnode
	for _, n := range ns {
		n.kids = prune(n.kids, false)
		for _, k := range n.kids {
			k.parent = n
		}
		switch {
		case n.msg != nil:
			out = append(out, n)
		case len(n.kids) == 0:
		case !top || len(n.kids) == 1:
			for _, k := range n.kids {
				k.parent = n.parent
				out = append(out, k)
			}
		default:
			out = append(out, n)
		}
	}
	return out
}
