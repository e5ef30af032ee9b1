package imapsearch

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Thread is a node of a THREAD result (RFC 5256 2). Msg is nil for a
// dummy: a message that is referenced but not among the threaded ones, or
// the common parent of threads merged by subject. Children are ordered by
// sent date.
type Thread struct {
	Msg      Message
	Children []*Thread

	parent *Thread
	info   *threadInfo
}

// threadInfo is what threading reads of one message, computed once.
type threadInfo struct {
	m       Message
	seq     uint32
	date    time.Time
	subject string // base subject, i;ascii-casemap folded
	reply   bool   // the subject marked a reply or forward
	id      string // Message-ID, "" if none is valid
	refs    []string
}

func newThreadInfo(m Message) *threadInfo {
	env := envelopeOf(m)
	s, reply := baseSubject(env.Subject)
	x := &threadInfo{m: m, seq: m.Seq(), subject: asciiUpper(s), reply: reply}
	x.date = m.InternalDate()
	if t, ok := parseDate(env.Date); ok {
		x.date = t
	}
	if ids := messageIDs(env.MessageID); len(ids) > 0 {
		x.id = ids[0]
	}
	for _, r := range env.References {
		x.refs = append(x.refs, messageIDs(r)...)
	}
	if len(x.refs) == 0 { // RFC 5256 2.2: else the first In-Reply-To ID
		if ids := messageIDs(env.InReplyTo); len(ids) > 0 {
			x.refs = ids[:1]
		}
	}
	return x
}

// messageIDs returns the "<...>" message IDs in a header value, without
// white space inside them.
func messageIDs(v string) []string {
	var ids []string
	for {
		i := strings.IndexByte(v, '<')
		if i < 0 {
			return ids
		}
		j := strings.IndexByte(v[i:], '>')
		if j < 0 {
			return ids
		}
		if id := strings.Join(strings.Fields(v[i:i+j+1]), ""); len(id) > 2 {
			ids = append(ids, id)
		}
		v = v[i+j+1:]
	}
}

// compareDate orders threads by the sent date of their message, a dummy
// by its first child's (RFC 5256 2.2), then by sequence number.
func compareDate(a, b *Thread) int {
	x, y := a.first(), b.first()
	switch {
	case x == nil && y == nil:
		return 0
	case x == nil:
		return 1
	case y == nil:
		return -1
	}
	if r := x.date.Compare(y.date); r != 0 {
		return r
	}
	return cmp.Compare(x.seq, y.seq)
}

// first is the message a node sorts and is named by: its own, or a
// dummy's first child's.
func (t *Thread) first() *threadInfo {
	for t != nil {
		if t.info != nil {
			return t.info
		}
		if len(t.Children) == 0 {
			return nil
		}
		t = t.Children[0]
	}
	return nil
}

func newNode(x *threadInfo) *Thread {
	t := &Thread{info: x}
	if x != nil {
		t.Msg = x.m
	}
	return t
}

// ThreadOrderedSubject threads msgs by ORDEREDSUBJECT (RFC 5256 2.1):
// messages with the same base subject form a thread, the earliest (by
// sent date, then sequence number) the parent of all others, which are
// siblings in date order. Threads are ordered by their first message's
// sent date.
func ThreadOrderedSubject(msgs []Message) []*Thread {
	infos := make([]*threadInfo, len(msgs))
	for i, m := range msgs {
		infos[i] = newThreadInfo(m)
	}
	slices.SortStableFunc(infos, func(a, b *threadInfo) int {
		if r := strings.Compare(a.subject, b.subject); r != 0 {
			return r
		}
		if r := a.date.Compare(b.date); r != 0 {
			return r
		}
		return cmp.Compare(a.seq, b.seq)
	})
	var roots []*Thread
	var top *Thread
	for _, x := range infos {
		n := newNode(x)
		if top != nil && top.info.subject == x.subject {
			n.parent = top
			top.Children = append(top.Children, n)
			continue
		}
		top = n
		roots = append(roots, n)
	}
	slices.SortStableFunc(roots, compareDate)
	return roots
}

// FormatThreads writes threads in the syntax of the THREAD response (RFC
// 5256 4), without "* THREAD": "(2)(3 6 (4 23)(44 7 96))". id gives the
// number to write for a message: its sequence number or its UID.
func FormatThreads(threads []*Thread, id func(Message) uint32) string {
	var b strings.Builder
	for _, t := range threads {
		b.WriteByte('(')
		writeThread(&b, t, id)
		b.WriteByte(')')
	}
	return b.String()
}

// writeThread writes thread-members or, for a dummy, thread-nested.
func writeThread(b *strings.Builder, t *Thread, id func(Message) uint32) {
	wrote := false
	for {
		if t.Msg != nil {
			if wrote {
				b.WriteByte(' ')
			}
			b.WriteString(strconv.FormatUint(uint64(id(t.Msg)), 10))
			wrote = true
		}
		switch len(t.Children) {
		case 0:
			return
		case 1:
			t = t.Children[0]
			continue
		}
		if wrote {
			b.WriteByte(' ')
		}
		for _, c := range t.Children {
			b.WriteByte('(')
			writeThread(b, c, id)
			b.WriteByte(')')
		}
		return
	}
}
