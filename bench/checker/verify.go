package main

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// mailboxView is one mailbox as the final pass saw it.
type mailboxView struct {
	msgs []fetched // in sequence order
}

// verify checks the quiet store from every host: the same everywhere,
// STATUS exact, and every acknowledged message where its owner put it.
func verify(o options, hosts []*benchkit.Target, clients []*client, bad *violations, res *result) error {
	type place = map[string]int           // mailbox → copies
	want := map[string]map[string]place{} // user → token → place
	mustExist := map[string][]string{}    // user → own mailboxes
	unsure := map[string]bool{}
	for _, c := range clients {
		if want[c.user] == nil {
			want[c.user] = map[string]place{}
		}
		for t := range c.uncertain {
			unsure[t] = true
		}
		for t, where := range c.tokens {
			if !c.uncertain[t] {
				want[c.user][t] = where
			}
		}
		mustExist[c.user] = append(mustExist[c.user], c.own...)
	}
	for _, w := range want {
		res.tokens += len(w)
	}
	res.uncertain = len(unsure)

	users := make([]string, 0, len(want))
	for u := range want {
		users = append(users, u)
	}
	slices.Sort(users)
	for _, user := range users {
		var first map[string]*mailboxView
		for hi, h := range hosts {
			snap, err := snapshot(h.IMAP, user, bad)
			if err != nil {
				return fmt.Errorf("final pass on %s as %s: %w", h.IMAP, user, err)
			}
			if hi == 0 {
				first = snap
				continue
			}
			if d := diff(first, snap); d != "" {
				bad.add("%s: host %s shows a different store than host %s: %s", user, h.IMAP, hosts[0].IMAP, d)
			}
		}
		for _, mb := range append([]string{"INBOX"}, mustExist[user]...) {
			if first[mb] == nil {
				bad.add("%s: mailbox %s was created (and not deleted) but does not exist", user, mb)
			}
		}
		found := map[string]place{}
		for mb, v := range first {
			for _, m := range v.msgs {
				if m.msgID == "" {
					bad.add("%s: %s UID %d is a message nobody sent (no checker Message-ID)", user, mb, m.uid)
					continue
				}
				if found[m.msgID] == nil {
					found[m.msgID] = place{}
				}
				found[m.msgID][mb]++
			}
		}
		for t, where := range want[user] {
			got := found[t]
			for _, mb := range union(where, got) {
				if where[mb] != got[mb] {
					bad.add("%s: message %s: %d cop(ies) expected in %s, found %d (everywhere: %v, expected %v)", user, t, where[mb], mb, got[mb], got, where)
				}
			}
		}
		for t, got := range found {
			if _, ok := want[user][t]; !ok && !unsure[t] {
				bad.add("%s: message %s found in %v, but it was never acknowledged (or was expunged)", user, t, got)
			}
		}
	}
	return nil
}

func union(a, b map[string]int) []string {
	var out []string
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

var (
	reList   = regexp.MustCompile(`^\* LIST \([^)]*\) (?:"[^"]*"|NIL) (.+)$`)
	reStatus = regexp.MustCompile(`\b(MESSAGES|UNSEEN|UIDNEXT) (\d+)`)
)

// snapshot lists every mailbox of user on one host and checks each one's
// STATUS against its messages.
func snapshot(addr, user string, bad *violations) (map[string]*mailboxView, error) {
	var conn *benchkit.IMAPConn
	var err error
	for try := 0; try < 20; try++ { // a host just restarted may still be busy
		if conn, err = benchkit.DialIMAP(addr, 60*time.Second, 64<<10); err == nil {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if _, err := conn.Command(fmt.Sprintf("LOGIN %q %q", user, benchkit.Password), nil); err != nil {
		return nil, err
	}
	un, err := conn.Command(`LIST "" "*"`, nil)
	if err != nil {
		return nil, err
	}
	out := map[string]*mailboxView{}
	for _, l := range un {
		m := reList.FindStringSubmatch(string(l))
		if m == nil {
			continue
		}
		name := m[1]
		if q, err := strconv.Unquote(name); err == nil {
			name = q
		}
		st, err := conn.Command(fmt.Sprintf("STATUS %q (MESSAGES UNSEEN UIDNEXT)", name), nil)
		if err != nil {
			return nil, err
		}
		status := map[string]uint32{}
		for _, s := range st {
			for _, kv := range reStatus.FindAllStringSubmatch(string(s), -1) {
				status[kv[1]] = atoi(kv[2])
			}
		}
		sel, err := conn.Command(fmt.Sprintf("SELECT %q", name), nil)
		if err != nil {
			return nil, err
		}
		s := parseSelect(sel)
		v := &mailboxView{}
		if s.exists > 0 {
			un, err := conn.Command("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])", nil)
			if err != nil {
				return nil, err
			}
			v.msgs = parseFetches(un)
		}
		unseen := 0
		for i, m := range v.msgs {
			if !slices.Contains(strings.Fields(m.flags), `\Seen`) {
				unseen++
			}
			if i > 0 && m.uid <= v.msgs[i-1].uid {
				bad.add("%s on %s: %s UIDs not ascending: %d after %d", user, addr, name, m.uid, v.msgs[i-1].uid)
			}
			if m.uid >= status["UIDNEXT"] {
				bad.add("%s on %s: %s UID %d not below STATUS UIDNEXT %d", user, addr, name, m.uid, status["UIDNEXT"])
			}
		}
		if int(status["MESSAGES"]) != len(v.msgs) || int(status["UNSEEN"]) != unseen {
			bad.add("%s on %s: %s STATUS says %d messages, %d unseen; its messages are %d, %d unseen",
				user, addr, name, status["MESSAGES"], status["UNSEEN"], len(v.msgs), unseen)
		}
		out[name] = v
	}
	if _, err := conn.Command("LOGOUT", nil); err != nil {
		return nil, err
	}
	return out, nil
}

// diff describes the first difference between two hosts' views.
func diff(a, b map[string]*mailboxView) string {
	for name, va := range a {
		vb := b[name]
		if vb == nil {
			return "mailbox " + name + " missing"
		}
		if len(va.msgs) != len(vb.msgs) {
			return fmt.Sprintf("%s has %d messages against %d", name, len(vb.msgs), len(va.msgs))
		}
		for i := range va.msgs {
			if va.msgs[i] != vb.msgs[i] {
				return fmt.Sprintf("%s message %d: %+v against %+v", name, i+1, vb.msgs[i], va.msgs[i])
			}
		}
	}
	for name := range b {
		if a[name] == nil {
			return "extra mailbox " + name
		}
	}
	return ""
}
