package message

import (
	"reflect"
	"testing"
)

func TestParseAddressList(t *testing.T) {
	mh := MissingHost
	for _, tc := range []struct {
		in   string
		want []Address
	}{
		{"", nil},
		{"   ", nil},
		{"alice@example.com", []Address{{Mailbox: "alice", Host: "example.com"}}},
		{"Alice <alice@example.com>", []Address{{Name: "Alice", Mailbox: "alice", Host: "example.com"}}},
		{`"Doe, John" <john.doe@example.com>`, []Address{{Name: "Doe, John", Mailbox: "john.doe", Host: "example.com"}}},
		{`"Say \"hi\"" <x@y>`, []Address{{Name: `Say "hi"`, Mailbox: "x", Host: "y"}}},
		{"John Q. Public <jqp@example.com>", []Address{{Name: "John Q. Public", Mailbox: "jqp", Host: "example.com"}}},
		{"=?UTF-8?B?w4lsb2TDrWU=?= =?UTF-8?Q?_M?= <e@x.fr>", []Address{{Name: "=?UTF-8?B?w4lsb2TDrWU=?= =?UTF-8?Q?_M?=", Mailbox: "e", Host: "x.fr"}}},
		{"bob@example.org (Bob Smith)", []Address{{Name: "Bob Smith", Mailbox: "bob", Host: "example.org"}}},
		{"<carol@example.net> (Carol (the boss))", []Address{{Name: "Carol (the boss)", Mailbox: "carol", Host: "example.net"}}},
		{"Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>", []Address{{Name: "Pete", Mailbox: "pete", Host: "silly.test"}}},
		{"a@b.c, d@e.f,,", []Address{{Mailbox: "a", Host: "b.c"}, {Mailbox: "d", Host: "e.f"}}},
		{`"quoted local"@example.com`, []Address{{Mailbox: "quoted local", Host: "example.com"}}},
		{"user@[192.0.2.1]", []Address{{Mailbox: "user", Host: "[192.0.2.1]"}}},
		{"<@relay1.example,@relay2.example:joe@example.com>", []Address{{ADL: "@relay1.example,@relay2.example", Mailbox: "joe", Host: "example.com"}}},
		// Missing angle brackets, bare local parts, no address at all.
		{"John Doe john@example.com", []Address{{Name: "John Doe", Mailbox: "john", Host: "example.com"}}},
		{"postmaster", []Address{{Mailbox: "postmaster", Host: mh}}},
		{"Name <local>", []Address{{Name: "Name", Mailbox: "local", Host: mh}}},
		{"<>", nil},
		{"Mailer Daemon <>", []Address{{Name: "Mailer Daemon", Host: mh}}},
		{"Broken <a@b.c", []Address{{Name: "Broken", Mailbox: "a", Host: "b.c"}}},
		{`"unterminated <a@b.c>`, []Address{{Mailbox: "unterminated <a@b.c>", Host: mh}}},
		// Groups (RFC 5322 3.4, RFC 3501 7.4.2 markers).
		{"undisclosed-recipients:;", []Address{{Mailbox: "undisclosed-recipients"}, {}}},
		{"Friends: a@x, B <b@y>; c@z", []Address{{Mailbox: "Friends"}, {Mailbox: "a", Host: "x"}, {Name: "B", Mailbox: "b", Host: "y"}, {}, {Mailbox: "c", Host: "z"}}},
		{": a@x;", []Address{{Mailbox: "a", Host: "x"}}},
		{"Open group: a@x", []Address{{Mailbox: "Open group"}, {Mailbox: "a", Host: "x"}, {}}},
		// 8-bit bytes, raw.
		{"J\xfcrgen <j@example.de>", []Address{{Name: "J\xfcrgen", Mailbox: "j", Host: "example.de"}}},
		{"Jürgen Müller <jürgen@münchen.example>", []Address{{Name: "Jürgen Müller", Mailbox: "jürgen", Host: "münchen.example"}}},
		{"a@b\x00c", []Address{{Mailbox: "a", Host: "b\x00c"}}},
	} {
		got := ParseAddressList(tc.in)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseAddressList(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
		}
		for _, a := range got {
			if a.Host == "" && a.Name+a.ADL != "" {
				t.Errorf("ParseAddressList(%q): %+v looks like a group marker", tc.in, a)
			}
		}
	}
}

func TestEnvelopeDefaults(t *testing.T) {
	p := scan(t, crlf("From: a@x\nSender:   \nTo: b@y\nIn-Reply-To: <p@x>\nReferences: <r1@x>\n <r2@x> <broken\n\nhi\n"))
	e := p.Envelope
	if !reflect.DeepEqual(e.Sender, e.From) || !reflect.DeepEqual(e.ReplyTo, e.From) || len(e.From) != 1 {
		t.Errorf("defaults: %+v", e)
	}
	if e.InReplyTo != "<p@x>" || !reflect.DeepEqual(e.References, []string{"<r1@x>", "<r2@x>"}) {
		t.Errorf("ids: %q %q", e.InReplyTo, e.References)
	}
	if got := msgIDs("a@x b@y"); !reflect.DeepEqual(got, []string{"a@x", "b@y"}) {
		t.Errorf("msgIDs without brackets: %q", got)
	}
	if got := msgIDs("<a@x\r\n >"); !reflect.DeepEqual(got, []string{"<a@x>"}) {
		t.Errorf("msgIDs folded: %q", got)
	}
}
