package imapsearch

import (
	"cmp"
	"slices"
	"strconv"
)

// ThreadReferences threads msgs by REFERENCES (RFC 5256 2.2): parent and
// child links from the References field (or the first In-Reply-To ID),
// dummies for referenced messages that are not among msgs, then threads
// whose top messages share a base subject merged, all siblings ordered by
// sent date.
func ThreadReferences(msgs []Message) []*Thread {
	infos := make([]*threadInfo, len(msgs))
	for i, m := range msgs {
		infos[i] = newThreadInfo(m)
	}
	// Duplicate Message-IDs: the lowest sequence number keeps the ID.
	slices.SortStableFunc(infos, func(a, b *threadInfo) int { return cmp.Compare(a.seq, b.seq) })

	table := map[string]*Thread{}
	var all []*Thread // in creation order, for a deterministic root set
	get := func(id string) *Thread {
		if t := table[id]; t != nil {
			return t
		}
		t := &Thread{}
		table[id] = t
		all = append(all, t)
		return t
	}
	for i, x := range infos {
		// Step 1: a message without a valid or unique ID gets its own,
		// which no reference can name (IDs contain no NUL).
		id := x.id
		if id == "" || table[id] != nil && table[id].info != nil {
			id = "\x00" + strconv.Itoa(i)
		}
		n := get(id)
		n.info, n.Msg = x, x.m
		// 1A: link the references in order, each the parent of the next,
		// never replacing a parent nor making a loop.
		for j := 0; j+1 < len(x.refs); j++ {
			p, c := get(x.refs[j]), get(x.refs[j+1])
			if c.parent == nil && !c.isAncestorOf(p) {
				p.adopt(c)
			}
		}
		// 1B: the last reference is the message's parent, replacing any
		// parent a truncated References field of another message gave it.
		n.unlink()
		if len(x.refs) > 0 {
			if p := get(x.refs[len(x.refs)-1]); !n.isAncestorOf(p) {
				p.adopt(n)
			}
		}
	}
	// Step 2: the root set.
	var roots []*Thread
	for _, t := range all {
		if t.parent == nil {
			roots = append(roots, t)
		}
	}
	roots = prune(roots, true) // step 3
	for _, r := range roots {  // step 4
		r.parent = nil
		if r.info == nil {
			slices.SortStableFunc(r.Children, compareDate)
		}
	}
	slices.SortStableFunc(roots, compareDate)
	roots = mergeSubjects(roots) // step 5
	sortSiblings(roots)          // step 6
	return roots
}

// isAncestorOf reports whether t is d or one of d's ancestors.
func (t *Thread) isAncestorOf(d *Thread) bool {
	for ; d != nil; d = d.parent {
		if d == t {
			return true
		}
	}
	return false
}

func (t *Thread) unlink() {
	if p := t.parent; p != nil {
		p.Children = slices.DeleteFunc(p.Children, func(c *Thread) bool { return c == t })
		t.parent = nil
	}
}

func (t *Thread) adopt(c *Thread) {
	c.unlink()
	c.parent = t
	t.Children = append(t.Children, c)
}

// prune removes dummies (RFC 5256 2.2 step 3): one without children goes;
// one with children is replaced by them, except that a top-level dummy
// keeps two or more children rather than making them top-level.
func prune(ts []*Thread, top bool) []*Thread {
	out := ts[:0:0]
	for _, t := range ts {
		t.Children = prune(t.Children, false)
		for _, c := range t.Children {
			c.parent = t
		}
		switch {
		case t.info != nil:
			out = append(out, t)
		case len(t.Children) == 0:
		case !top || len(t.Children) == 1:
			for _, c := range t.Children {
				c.parent = t.parent
			}
			out = append(out, t.Children...)
		default:
			out = append(out, t)
		}
	}
	return out
}

// mergeSubjects gathers top-level threads that share a base subject (RFC
// 5256 2.2 step 5). roots are in date order; a dummy's subject is its
// first child's.
func mergeSubjects(roots []*Thread) []*Thread {
	subject := func(t *Thread) string {
		if x := t.first(); x != nil {
			return x.subject
		}
		return ""
	}
	reply := func(t *Thread) bool { return t.info != nil && t.info.reply }
	// 5B: the subject table.
	table := map[string]*Thread{}
	for _, t := range roots {
		s := subject(t)
		if s == "" {
			continue
		}
		old := table[s]
		if old == nil || old.info != nil && t.info == nil || reply(old) && !reply(t) {
			table[s] = t
		}
	}
	// 5C: merge into the table's thread.
	out := make([]*Thread, 0, len(roots))
	slot := map[*Thread]int{} // index in out of a top-level thread
	for _, t := range roots {
		if _, placed := slot[t]; placed || t.parent != nil {
			continue // merged or placed early, below
		}
		s := subject(t)
		old := table[s]
		if s == "" || old == t {
			slot[t] = len(out)
			out = append(out, t)
			continue
		}
		if _, placed := slot[old]; !placed {
			// The table's thread comes later in date order; it takes its
			// place now, so that merging into it has a slot.
			slot[old] = len(out)
			out = append(out, old)
		}
		switch {
		case old.info == nil && t.info == nil:
			for _, c := range slices.Clone(t.Children) {
				old.adopt(c)
			}
		case old.info == nil:
			old.adopt(t)
		case reply(t) && !reply(old):
			old.adopt(t)
		default:
			d := &Thread{}
			d.adopt(old)
			d.adopt(t)
			out[slot[old]] = d
			slot[d] = slot[old]
			delete(slot, old)
			table[s] = d
		}
	}
	return slices.DeleteFunc(out, func(t *Thread) bool { return t.parent != nil })
}

// sortSiblings orders every set of siblings by sent date, the deepest
// first, so that a dummy sorts by its first child (RFC 5256 2.2 step 6).
func sortSiblings(ts []*Thread) {
	for _, t := range ts {
		sortSiblings(t.Children)
	}
	slices.SortStableFunc(ts, compareDate)
}
