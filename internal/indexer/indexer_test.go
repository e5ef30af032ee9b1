package indexer

import (
	"context"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/convert"
)

func TestDoc(t *testing.T) {
	raw := "From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.test>\r\nTo: Ann <a@example.test>, b@example.test\r\nCc: c@example.test\r\n" +
		"Subject: =?ISO-8859-1?Q?R=E9union?= budget\r\nX-Tag: =?UTF-8?B?w6l0w6k=?=\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain\r\n\r\nbody words here\r\n" +
		"--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner zeppelin\r\n\r\ninner text\r\n--b--\r\n"
	c := convert.New(convert.Options{})
	defer c.Close()
	d := Doc(context.Background(), c, "u", "m", 7, []byte(raw), nil)
	checks := map[string][]string{
		"subject": {d.Subject, "Réunion budget"},
		"from":    {d.From, "Jürgen <j@example.test>"},
		"to":      {d.To, "Ann <a@example.test> <b@example.test>"},
		"cc":      {d.Cc, "<c@example.test>"},
		"headers": {d.Headers, "X-Tag: été"},
		"body":    {d.Body, "body words here"},
		"nested":  {d.Body, "inner zeppelin"},
		"nested2": {d.Body, "inner text"},
	}
	for name, c := range checks {
		if !strings.Contains(c[0], c[1]) {
			t.Errorf("%s: %q lacks %q", name, c[0], c[1])
		}
	}
	if strings.Contains(d.Body, "Réunion") {
		t.Errorf("the top header leaked into the body: %q", d.Body)
	}
	if d.UserID != "u" || d.MailboxID != "m" || d.UID != 7 {
		t.Errorf("ids %+v", d)
	}
}
