package imapserver

import (
	"strconv"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/notify"
	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/backendtest"
)

func TestCmdAppend(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.login()
		uv := num(t, c.ok("STATUS Drafts (UIDVALIDITY)"), "UIDVALIDITY")
		msg := "Subject: draft\r\n\r\nhello\r\n"
		tag := c.send(`APPEND Drafts (\Draft $Later) "05-Mar-2026 10:11:12 +0200" {%d}`, len(msg))
		if l := c.line(); !strings.HasPrefix(l, "+") {
			t.Fatalf("no continuation: %q", l)
		}
		c.raw(msg + "\r\n")
		if got := c.wait(tag); got != "OK [APPENDUID "+strconv.FormatUint(uv, 10)+" 1] APPEND completed" {
			t.Fatalf("APPEND: %q", got)
		}
		c.ok("EXAMINE Drafts")
		has(t, c.ok("FETCH 1 (FLAGS INTERNALDATE BODY.PEEK[])"), `FLAGS ($Later \Draft \Recent)`, `INTERNALDATE "05-Mar-2026 08:11:12 +0000"`, "BODY[] {25}\r\n"+msg)
		// MULTIAPPEND with non-synchronizing literals (RFC 3502, 7888).
		a, b, d := "Subject: a\r\n\r\na\r\n", "Subject: b\r\n\r\nb\r\n", "Subject: d\r\n\r\nd\r\n"
		tag = c.send("APPEND Drafts {%d+}\r\n%s {%d+}\r\n%s (\\Seen) {%d+}\r\n%s", len(a), a, len(b), b, len(d), d)
		got := c.wait(tag)
		if !strings.HasPrefix(got, "OK [APPENDUID "+strconv.FormatUint(uv, 10)+" 2:4]") {
			t.Fatalf("MULTIAPPEND: %q", got)
		}
		// literal8 with NUL bytes, stored byte for byte (RFC 3516 4.4).
		bin := "Subject: bin\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\x01\x02\xff\r\n"
		c.ok("APPEND Drafts ~{%d+}\r\n%s", len(bin), bin)
		has(t, c.ok("UID FETCH 5 BINARY.PEEK[]"), "BINARY[] ~{"+strconv.Itoa(len(bin))+"}\r\n"+bin)
		// APPEND to the selected mailbox: EXISTS before the tagged OK.
		c.ok("SELECT Drafts")
		has(t, c.ok("APPEND Drafts {%d+}\r\n%s", len(a), a), "* 6 EXISTS")
		// A missing mailbox: NO [TRYCREATE] before any literal is sent.
		tag = c.send("APPEND Nowhere {%d}", len(a))
		if got := c.line(); got != tag+" NO [TRYCREATE] No such mailbox" {
			t.Fatalf("APPEND to a missing mailbox: %q", got)
		}
		c.ok("NOOP")
		// A non-synchronizing literal to a missing mailbox is skipped.
		c.expect("NO [TRYCREATE]", "APPEND Nowhere {%d+}\r\n%s", len(a), a)
		c.ok("NOOP")
	})
}

func TestCmdAppendLimits(t *testing.T) {
	hub := notify.NewHub()
	st := store.New(backendtest.Open(t, "embedded"), store.Options{Publish: hub.Publish})
	e := newEnv(t, st, hub, func(o *Options) { o.MaxLiteralSize = 1000 })
	c := e.login()
	has(t, c.ok("CAPABILITY"), "APPENDLIMIT=1000")
	tag := c.send("APPEND INBOX {2000}")
	if got := c.line(); !strings.HasPrefix(got, tag+" NO [TOOBIG]") {
		t.Fatalf("APPEND over the limit: %q", got)
	}
	c.ok("NOOP")
	u := e.user
	u.QuotaMessages = 1
	if err := st.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	m := "Subject: q\r\n\r\nq\r\n"
	c.ok("APPEND INBOX {%d+}\r\n%s", len(m), m)
	c.expect("NO [OVERQUOTA]", "APPEND INBOX {%d+}\r\n%s", len(m), m)
	c.ok("NOOP")
}

func TestCmdCopyMove(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		for _, s := range []string{"a", "b", "c", "d"} {
			e.deliver(testMsg(s))
		}
		c := e.login()
		uv := num(t, c.ok("STATUS Archive (UIDVALIDITY)"), "UIDVALIDITY")
		c.ok("SELECT INBOX")
		c.ok("STORE 2 +FLAGS (\\Flagged)")
		want := "OK [COPYUID " + strconv.FormatUint(uv, 10) + " 1:2 1:2]"
		if got := c.do("COPY 1:2 Archive"); !strings.HasPrefix(got, want) {
			t.Fatalf("COPY: %q, want %q", got, want)
		}
		c.expect("NO [TRYCREATE]", "COPY 1 Nowhere")
		lines := c.ok("UID MOVE 3:4 Archive")
		has(t, lines, "* OK [COPYUID "+strconv.FormatUint(uv, 10)+" 3:4 3:4]", "* 4 EXPUNGE", "* 3 EXPUNGE")
		has(t, c.ok("MOVE 1 Archive"), "* OK [COPYUID", "* 1 EXPUNGE")
		has(t, c.ok("STATUS INBOX (MESSAGES)"), "MESSAGES 1")
		c.ok("EXAMINE Archive")
		has(t, c.ok("FETCH 1:* (UID FLAGS)"), "* 1 FETCH (UID 1 FLAGS", "* 2 FETCH (UID 2 FLAGS (\\Flagged", "* 5 FETCH (UID 5")
		c.expect("NO", "STORE 1 +FLAGS (\\Seen)")
		c.expect("NO", "EXPUNGE")
		c.expect("NO", "MOVE 1 INBOX")
		// UID EXPUNGE removes only the named \Deleted messages.
		c.ok("SELECT Archive")
		c.ok("STORE 1:3 +FLAGS.SILENT (\\Deleted)")
		has(t, c.ok("UID EXPUNGE 2"), "* 2 EXPUNGE")
		has(t, c.ok("SEARCH DELETED"), "* SEARCH 1 2")
		// UNSELECT keeps them, CLOSE expunges them.
		c.ok("UNSELECT")
		has(t, c.ok("STATUS Archive (MESSAGES)"), "MESSAGES 4")
		c.ok("SELECT Archive")
		c.ok("CLOSE")
		has(t, c.ok("STATUS Archive (MESSAGES)"), "MESSAGES 2")
	})
}
