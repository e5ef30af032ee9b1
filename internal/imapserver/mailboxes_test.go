package imapserver

import (
	"context"
	"strconv"
	"testing"
)

func TestCmdCreateDeleteRename(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.login()
		has(t, []string{c.do("CREATE Projects/2026/Q1")}, "OK [MAILBOXID (")
		has(t, c.ok(`LIST "" "Projects*"`), `(\HasChildren) "/" Projects`, `(\HasChildren) "/" Projects/2026`, `(\HasNoChildren) "/" Projects/2026/Q1`)
		c.expect("NO [ALREADYEXISTS]", "CREATE Projects")
		c.expect("NO [ALREADYEXISTS]", "CREATE inbox")
		c.ok("CREATE Saved (USE (\\Archive))")
		has(t, c.ok(`LIST "" Saved`), `\Archive`)
		c.expect("NO [USEATTR]", `CREATE Other (USE (\Bogus))`)
		c.expect("NO [NONEXISTENT]", "DELETE Nope")
		c.expect("NO", "DELETE INBOX")
		// Deleting a parent keeps its children; the name stays as a
		// \Noselect placeholder.
		c.ok("DELETE Projects/2026")
		has(t, c.ok(`LIST "" "Projects/%%"`), `(\Noselect \HasChildren) "/" Projects/2026`)
		c.expect("NO [NONEXISTENT]", "SELECT Projects/2026")
		// RENAME moves children along.
		c.ok("RENAME Projects Work")
		lines := c.ok(`LIST "" "*"`)
		has(t, lines, `"/" Work/2026/Q1`)
		hasNot(t, lines, "Projects")
		c.expect("NO [ALREADYEXISTS]", "RENAME Work Saved")
		c.expect("NO [NONEXISTENT]", "RENAME Nope Other")
		// RENAME INBOX moves its messages and leaves it empty.
		e.deliver(testMsg("a"))
		e.deliver(testMsg("b"))
		c.ok("RENAME INBOX Old")
		has(t, c.ok("STATUS INBOX (MESSAGES)"), "MESSAGES 0")
		has(t, c.ok("STATUS Old (MESSAGES)"), "MESSAGES 2")
	})
}

func TestCmdListExtended(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.login()
		c.ok("CREATE A/B")
		c.ok("CREATE A/C")
		c.ok("SUBSCRIBE A/B")
		c.expect("NO [NONEXISTENT]", "SUBSCRIBE Missing")
		has(t, c.ok(`LIST "" ""`), `* LIST (\Noselect) "/" ""`)
		has(t, c.ok(`LIST "" %%`), `"/" A`, `"/" INBOX`)
		hasNot(t, c.ok(`LIST "" %%`), "A/B")
		has(t, c.ok(`LIST "A/" %%`), `"/" A/B`, `"/" A/C`)
		has(t, c.ok(`LIST (SUBSCRIBED) "" "*"`), `(\HasNoChildren \Subscribed) "/" A/B`)
		hasNot(t, c.ok(`LIST (SUBSCRIBED) "" "*"`), `A/C`)
		has(t, c.ok(`LIST (SUBSCRIBED RECURSIVEMATCH) "" "%%"`), `"/" A ("CHILDINFO" ("SUBSCRIBED"))`)
		has(t, c.ok(`LSUB "" "*"`), `* LSUB () "/" A/B`)
		has(t, c.ok(`LSUB "" "%%"`), `* LSUB (\Noselect) "/" A`)
		su := c.ok(`LIST (SPECIAL-USE) "" "*"`)
		has(t, su, `\Drafts`, `\Sent`, `\Trash`)
		hasNot(t, su, "INBOX")
		has(t, c.ok(`LIST "" ("INBOX" "A/*") RETURN (SUBSCRIBED CHILDREN)`), `"/" A/B`, `"/" INBOX`)
		lines := c.ok(`LIST "" "INBOX" RETURN (STATUS (MESSAGES UNSEEN))`)
		has(t, lines, `* LIST (\HasNoChildren) "/" INBOX`, `* STATUS INBOX (MESSAGES 0 UNSEEN 0)`)
		c.ok("UNSUBSCRIBE A/B")
		hasNot(t, c.ok(`LSUB "" "*"`), "A/B")
		has(t, c.ok("NAMESPACE"), `(("" "/"))`)
	})
}

func TestCmdInternationalNames(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.login()
		c.ok("CREATE Entw&APw-rfe")
		has(t, c.ok(`LIST "" Entw*`), `"/" Entw&APw-rfe`)
		c.ok("SELECT Entw&APw-rfe")
		c.ok("ENABLE UTF8=ACCEPT")
		has(t, c.ok(`LIST "" Entw*`), `"/" "Entwürfe"`)
		c.ok(`CREATE "Ünïcødé"`)
		has(t, c.ok(`STATUS "Ünïcødé" (MESSAGES)`), `* STATUS "Ünïcødé" (MESSAGES 0)`)
		d := e.login()
		has(t, d.ok(`LIST "" *`), `&ANw-n&AO8-c&APg-d&AOk-`)
	})
}

func TestCmdStatusAndQuota(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		msg := testMsg("s")
		e.deliver(msg)
		e.deliver(msg)
		e.deliver(msg)
		c := e.login()
		c.ok("SELECT INBOX")
		c.ok("STORE 1 +FLAGS (\\Seen)")
		c.ok("STORE 2 +FLAGS (\\Deleted)")
		mb, _ := e.st.Mailbox(context.Background(), e.user, "INBOX")
		lines := c.ok("STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT MAILBOXID DELETED-STORAGE)")
		want := []string{"MESSAGES 3", "UIDNEXT 4", "UIDVALIDITY " + itoa(int(mb.UIDValidity)), "UNSEEN 2", "DELETED 1",
			"SIZE " + itoa(3*len(msg)), "RECENT 0", "HIGHESTMODSEQ ", "APPENDLIMIT 10485760", "MAILBOXID (" + mb.ID + ")", "DELETED-STORAGE " + itoa(len(msg))}
		has(t, lines, want...)
		c.ok("EXPUNGE")
		has(t, c.ok("STATUS INBOX (MESSAGES DELETED SIZE)"), "MESSAGES 2 DELETED 0 SIZE "+itoa(2*len(msg)))
		// Quota (RFC 9208).
		u := e.user
		u.QuotaStorage, u.QuotaMessages = 1<<20, 10
		if err := e.st.UpdateUser(context.Background(), u); err != nil {
			t.Fatal(err)
		}
		has(t, c.ok("GETQUOTAROOT INBOX"), `* QUOTAROOT INBOX ""`, `* QUOTA "" (STORAGE 1 1024 MESSAGE 2 10)`)
		has(t, c.ok(`GETQUOTA ""`), `STORAGE 1 1024`)
		c.expect("NO [NONEXISTENT]", "GETQUOTA other")
		c.expect("NO [NOPERM]", `SETQUOTA "" (STORAGE 99999)`)
	})
}

func itoa(n int) string { return strconv.Itoa(n) }
