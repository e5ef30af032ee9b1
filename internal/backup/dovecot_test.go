package backup_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/backup"
	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/testkit"
)

// dovecotIMAP is Debian's Dovecot IMAP server binary (dovecot-imapd).
const dovecotIMAP = "/usr/lib/dovecot/imap"

// TestDovecotReadsExport exports a user and has a real Dovecot serve the
// export over IMAP (its imap process, pre-authenticated on a pipe, with a
// private configuration): every mailbox is listed, and SELECT and FETCH
// show the same UIDVALIDITY, UIDNEXT, UIDs, flags and keywords, sizes,
// INTERNALDATEs and bodies as Quire's store.
func TestDovecotReadsExport(t *testing.T) {
	if _, err := os.Stat(dovecotIMAP); err != nil {
		if os.Getenv("QUIRE_REQUIRE_CLIENTS") == "1" {
			t.Fatalf("Dovecot is not installed (%v): make test installs dovecot-imapd with scripts/deps.sh", err)
		}
		t.Skipf("Dovecot not installed: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	s := openStore(t, t.TempDir())
	u := fill(t, s)
	want := snapshot(t, s, u)

	// Dovecot refuses to run mail access as root, and writes its index
	// into the Maildir: it gets a copy owned by nobody when this runs as
	// root, in a directory nobody can reach.
	top := testkit.DovecotTop(t)
	dir := filepath.Join(top, "mail")
	if _, err := backup.Export(ctx, s, addr, dir); err != nil {
		t.Fatal(err)
	}
	// Keywords past the 26 a folder's file names carry are in the
	// metadata only: Dovecot shows the others.
	data, err := os.ReadFile(filepath.Join(dir, backup.MetaFile))
	if err != nil {
		t.Fatal(err)
	}
	var meta backup.Meta
	if err := json.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	overflow := map[string]map[mail.UID]mail.Flags{}
	for _, mm := range meta.Mailboxes {
		overflow[mm.Name] = map[mail.UID]mail.Flags{}
		for _, m := range mm.Messages {
			overflow[mm.Name][mail.UID(m.UID)] = m.Flags
		}
	}
	if got := overflow["Archive/2024"][1]; !got.Equal(mail.Flags{"kw26", "kw27", "kw28", "kw29"}) {
		t.Fatalf("Archive/2024 UID 1: metadata holds the keywords %q, want kw26..kw29", got)
	}
	c := dovecotPreauth(t, top, "maildir:"+dir, dir)
	var listed []string
	for _, r := range c.run(`LIST "" "*"`) {
		if r.atom(1) == "LIST" {
			name, err := imapwire.DecodeMailbox(strings.ReplaceAll(r.str(4), ".", "/"))
			if err != nil {
				t.Fatalf("LIST name %q: %v", r.str(4), err)
			}
			listed = append(listed, name)
		}
	}
	// A "." inside a level, which Maildir++ cannot hold, is written as
	// U+2024, which looks alike.
	var names []string
	for n := range want {
		names = append(names, strings.ReplaceAll(n, ".", "\u2024"))
	}
	slices.Sort(names)
	slices.Sort(listed)
	if !slices.Equal(listed, names) {
		t.Fatalf("Dovecot lists %q, want %q", listed, names)
	}
	for _, name := range names {
		qname := strings.ReplaceAll(name, "\u2024", ".")
		b := want[qname]
		var got boxSnap
		ref := strings.ReplaceAll(imapwire.EncodeMailbox(name), "/", ".")
		got.UIDValidity, got.UIDNext = c.selectCodes(`SELECT "` + ref + `"`)
		if got.UIDValidity != b.UIDValidity || got.UIDNext != b.UIDNext {
			t.Errorf("%s: Dovecot shows UIDVALIDITY %d UIDNEXT %d, want %d %d", name, got.UIDValidity, got.UIDNext, b.UIDValidity, b.UIDNext)
		}
		var msgs, exp []msgSnap
		if len(b.Messages) > 0 {
			for _, r := range c.run(`UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[])`) {
				if r.atom(2) == "FETCH" {
					msgs = append(msgs, r.fetch(t))
				}
			}
		}
		for _, m := range b.Messages {
			// IMAP serves lines ending in CRLF (RFC 9051 2.3.1): Dovecot
			// adds the CR of a bare LF, and its size counts it (W=).
			body := strings.ReplaceAll(strings.ReplaceAll(m.Body, "\r\n", "\n"), "\n", "\r\n")
			exp = append(exp, msgSnap{UID: m.UID, Flags: m.Flags.Minus(overflow[qname][m.UID]), Body: body, InternalDate: m.InternalDate,
				ModSeq: mail.ModSeq(len(body))})
		}
		if !reflect.DeepEqual(msgs, exp) {
			t.Errorf("%s: Dovecot serves\n%#v\nwant\n%#v", name, msgs, exp)
		}
	}
	c.run("LOGOUT")
}

// item is a parsed IMAP response element: an atom or string (a), a
// literal's bytes (a), or a parenthesized or bracketed list (l).
type item struct {
	a    string
	l    []item
	list bool
}

// resp is one response line, parsed.
type resp []item

func (r resp) atom(i int) string {
	if i < len(r) && !r[i].list {
		return r[i].a
	}
	return ""
}

func (r resp) str(i int) string { return r.atom(i) }

// code returns the items of a response code: "* OK [UIDNEXT 7] ...".
func (r resp) code() []item {
	if len(r) > 2 && r[2].list && r[2].a == "[" {
		return r[2].l
	}
	return nil
}

// fetch reads "* n FETCH (...)" as a msgSnap, its ModSeq holding
// RFC822.SIZE (which must equal the body's length).
func (r resp) fetch(t *testing.T) msgSnap {
	t.Helper()
	var m msgSnap
	if len(r) < 4 || !r[3].list {
		t.Fatalf("FETCH response %v", r)
	}
	l := r[3].l
	for i := 0; i+1 < len(l); i += 2 {
		switch strings.ToUpper(l[i].a) {
		case "UID":
			n, _ := strconv.ParseUint(l[i+1].a, 10, 32)
			m.UID = mail.UID(n)
		case "FLAGS":
			var fs []string
			for _, f := range l[i+1].l {
				if f.a != `\Recent` {
					fs = append(fs, f.a)
				}
			}
			m.Flags = mail.NewFlags(fs...)
		case "RFC822.SIZE":
			n, _ := strconv.ParseInt(l[i+1].a, 10, 64)
			m.ModSeq = mail.ModSeq(n)
		case "INTERNALDATE":
			d, err := time.Parse("02-Jan-2006 15:04:05 -0700", strings.TrimSpace(l[i+1].a))
			if err != nil {
				t.Fatalf("INTERNALDATE %q: %v", l[i+1].a, err)
			}
			m.InternalDate = d.UTC()
		case "BODY":
			// BODY[] is the atom BODY, the section list, then the literal.
			m.Body = l[i+2].a
			i++
		}
	}
	return m
}

// imapClient speaks just enough IMAP to read a mailbox from Dovecot.
type imapClient struct {
	t   *testing.T
	w   io.Writer
	r   *bufio.Reader
	tag int
}

// run sends a command and returns its untagged responses, failing the
// test unless it completes OK.
func (c *imapClient) run(cmd string) []resp {
	c.t.Helper()
	c.tag++
	tag := fmt.Sprintf("a%d", c.tag)
	if _, err := fmt.Fprintf(c.w, "%s %s\r\n", tag, cmd); err != nil {
		c.t.Fatalf("%s: %v", cmd, err)
	}
	var out []resp
	for {
		r := c.response()
		if r.atom(0) == tag {
			if r.atom(1) != "OK" {
				c.t.Fatalf("%s: %v", cmd, r)
			}
			return out
		}
		out = append(out, r)
	}
}

// response reads one response line with its literals.
func (c *imapClient) response() resp {
	c.t.Helper()
	var stack [][]item
	var kinds []string
	cur := []item{}
	for {
		b, err := c.r.ReadByte()
		if err != nil {
			c.t.Fatalf("reading Dovecot's response: %v", err)
		}
		switch {
		case b == '\r':
		case b == '\n':
			if len(stack) != 0 {
				c.t.Fatalf("unbalanced response %v", cur)
			}
			return cur
		case b == ' ':
		case b == '(' || b == '[':
			stack, kinds, cur = append(stack, cur), append(kinds, string(b)), []item{}
		case b == ')' || b == ']':
			if len(stack) == 0 {
				c.t.Fatalf("unbalanced %q", b)
			}
			it := item{l: cur, list: true, a: kinds[len(kinds)-1]}
			cur, stack, kinds = append(stack[len(stack)-1], it), stack[:len(stack)-1], kinds[:len(kinds)-1]
		case b == '"':
			var s []byte
			for {
				ch, _ := c.r.ReadByte()
				if ch == '\\' {
					ch, _ = c.r.ReadByte()
				} else if ch == '"' {
					break
				}
				s = append(s, ch)
			}
			cur = append(cur, item{a: string(s)})
		case b == '{':
			n, _ := c.r.ReadString('}')
			size, err := strconv.Atoi(strings.TrimSuffix(n, "}"))
			if err != nil {
				c.t.Fatalf("literal size %q", n)
			}
			c.r.ReadString('\n')
			buf := make([]byte, size)
			if _, err := io.ReadFull(c.r, buf); err != nil {
				c.t.Fatal(err)
			}
			cur = append(cur, item{a: string(buf)})
		default:
			s := []byte{b}
			for {
				p, err := c.r.Peek(1)
				if err != nil || strings.IndexByte(" ()[]\r\n", p[0]) >= 0 {
					break
				}
				ch, _ := c.r.ReadByte()
				s = append(s, ch)
			}
			cur = append(cur, item{a: string(s)})
		}
	}
}

// selectCodes runs a SELECT or EXAMINE and returns the UIDVALIDITY and
// UIDNEXT its response codes give.
func (c *imapClient) selectCodes(cmd string) (uidValidity uint32, uidNext mail.UID) {
	c.t.Helper()
	for _, r := range c.run(cmd) {
		if code := r.code(); len(code) == 2 {
			n, _ := strconv.ParseUint(code[1].a, 10, 32)
			switch code[0].a {
			case "UIDVALIDITY":
				uidValidity = uint32(n)
			case "UIDNEXT":
				uidNext = mail.UID(n)
			}
		}
	}
	return uidValidity, uidNext
}

// dovecotPreauth runs Dovecot's imap process pre-authenticated on a pipe,
// with a private configuration whose mail_location is location, and
// returns a client of it, logged out and waited for when the test ends.
// Dovecot refuses to run mail access as root and writes its index into
// the mail: when this runs as root, the paths given (the mail, a copy)
// are made nobody's, under top, a directory nobody can reach.
func dovecotPreauth(t *testing.T, top, location string, paths ...string) *imapClient {
	t.Helper()
	home := filepath.Join(top, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	mailUser, mailGroup := "", ""
	if os.Getuid() == 0 {
		mailUser, mailGroup = "nobody", "nogroup"
		if _, err := user.LookupGroup(mailGroup); err != nil {
			mailGroup = "nobody"
		}
		if out, err := exec.Command("chown", append([]string{"-R", mailUser + ":" + mailGroup, home}, paths...)...).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v\n%s", err, out)
		}
	} else {
		me, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		g, err := user.LookupGroupId(me.Gid)
		if err != nil {
			t.Fatal(err)
		}
		mailUser, mailGroup = me.Username, g.Name
	}
	conf := filepath.Join(top, "dovecot.conf")
	err := os.WriteFile(conf, fmt.Appendf(nil, `# A private Dovecot for one test: nothing listens.
base_dir = %[1]s/base
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
mail_location = %[2]s
mail_uid = %[3]s
mail_gid = %[4]s
first_valid_uid = 0
first_valid_gid = 0
ssl = no
`, top, location, mailUser, mailGroup), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(dovecotIMAP, "-c", conf)
	cmd.Env = []string{"HOME=" + home, "USER=" + mailUser, "PATH=/usr/bin:/bin"}
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		stdin.Close()
		stop := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
		defer stop.Stop()
		if err := cmd.Wait(); err != nil {
			log, _ := os.ReadFile(filepath.Join(top, "dovecot.log"))
			t.Errorf("dovecot: %v\n%s\n%s", err, stderr.String(), log)
		}
	})
	c := &imapClient{t: t, w: stdin, r: bufio.NewReader(stdout)}
	if greet := c.response(); greet.atom(1) != "PREAUTH" {
		log, _ := os.ReadFile(filepath.Join(top, "dovecot.log"))
		t.Fatalf("greeting %v\n%s\n%s", greet, stderr.String(), log)
	}
	return c
}
