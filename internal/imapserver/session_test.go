package imapserver

import "testing"

func TestLoginAndCapability(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.dial()
		has(t, c.ok("CAPABILITY"), "IMAP4rev2", "AUTH=PLAIN")
		c.expect("NO [AUTHENTICATIONFAILED]", "LOGIN %s wrong", quoteArg(e.user.Address))
		c.expect("BAD", "SELECT INBOX")
		c.ok("LOGIN %s %s", quoteArg(e.user.Address), e.pass)
		has(t, c.ok("CAPABILITY"), "CONDSTORE")
		c.expect("BAD", "LOGIN a b")
		c.ok("NOOP")
		has(t, c.ok("LOGOUT"), "* BYE")
	})
}

func TestSelectFetchStore(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.deliver(testMsg("one"))
		e.deliver(testMsg("two"))
		c := e.login()
		has(t, c.ok("SELECT INBOX"), "* 2 EXISTS", "UIDVALIDITY", "UIDNEXT 3")
		has(t, c.ok("FETCH 1:* (UID FLAGS ENVELOPE)"), `* 1 FETCH (UID 1 FLAGS (\Recent) ENVELOPE ("Mon, 2 Feb 2026 10:00:00 +0000" "one"`, "* 2 FETCH (UID 2")
		has(t, c.ok("FETCH 2 BODY.PEEK[HEADER.FIELDS (SUBJECT)]"), "Subject: two\r\n\r\n")
		has(t, c.ok("FETCH 1 BODY[TEXT]"), "Hello one", `\Seen`)
		has(t, c.ok("STORE 2 +FLAGS (\\Flagged)"), `* 2 FETCH (FLAGS (\Flagged \Recent))`)
		has(t, c.ok("UID STORE 1 -FLAGS.SILENT (\\Seen)"))
		has(t, c.ok("FETCH 1:2 FLAGS"), `* 1 FETCH (FLAGS (\Recent))`, `* 2 FETCH (FLAGS (\Flagged \Recent))`)
		c.ok("STORE 1 +FLAGS (\\Deleted)")
		has(t, c.ok("EXPUNGE"), "* 1 EXPUNGE")
		has(t, c.ok("FETCH 1 UID"), "* 1 FETCH (UID 2)")
		hasNot(t, c.expect("BAD", "FETCH 5 UID"), "FETCH")
	})
}

func TestUpdatesFromOtherSession(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		e.deliver(testMsg("one"))
		a, b := e.login(), e.login()
		a.ok("SELECT INBOX")
		b.ok("SELECT INBOX")
		e.deliver(testMsg("two"))
		has(t, a.ok("NOOP"), "* 2 EXISTS")
		has(t, b.ok("STORE 1 +FLAGS (\\Deleted)"), "* 2 EXISTS")
		b.ok("EXPUNGE")
		// No EXPUNGE during FETCH by sequence number, which still serves
		// the expunged message (RFC 2180 4.1.1), then at NOOP.
		lines := a.ok("FETCH 1 FLAGS")
		has(t, lines, `* 1 FETCH (FLAGS (\Deleted \Recent))`)
		hasNot(t, lines, "EXPUNGE")
		has(t, a.ok("NOOP"), "* 1 EXPUNGE")
		has(t, a.ok("FETCH 1 UID"), "UID 2")
	})
}
