package message

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

type scanCase struct {
	name   string
	raw    string
	shape  string
	bodies map[string]string // part number ("" for the message) -> BODY[n] (TEXT for the message)
	heads  map[string]string // part number -> BODY[n.MIME] (HEADER for the message)
	check  func(t *testing.T, p *Part)
}

func TestScan(t *testing.T) {
	for _, tc := range scanCases() {
		t.Run(tc.name, func(t *testing.T) {
			p := scan(t, tc.raw)
			if got := shape(p); got != tc.shape {
				t.Errorf("shape %s, want %s", got, tc.shape)
			}
			for n, want := range tc.bodies {
				q := p.Find(path(n))
				if q == nil {
					t.Errorf("part %q not found", n)
					continue
				}
				if got := tc.raw[q.BodyStart:q.End]; got != want {
					t.Errorf("BODY[%s] = %q, want %q", n, got, want)
				}
			}
			for n, want := range tc.heads {
				q := p.Find(path(n))
				if q == nil {
					t.Errorf("part %q not found", n)
					continue
				}
				if got := tc.raw[q.HeaderStart:q.BodyStart]; got != want {
					t.Errorf("header of %q = %q, want %q", n, got, want)
				}
			}
			if tc.check != nil {
				tc.check(t, p)
			}
		})
	}
}

func scanCases() []scanCase {
	return []scanCase{
		{
			name: "simple text",
			raw: crlf(`Return-Path: <alice@example.com>
Received: from mx.example.com (mx.example.com [192.0.2.1])
	by mail.example.org with ESMTPS id 4Xy2; Tue, 04 Mar 2025 12:00:01 +0000
From: Alice Example <alice@example.com>
To: Bob <bob@example.org>
Subject: Lunch?
Date: Tue, 04 Mar 2025 12:00:00 +0000
Message-ID: <CAF=1234@mail.example.com>

Are we still on for 12:30?
See you.
`),
			shape:  "text/plain",
			bodies: map[string]string{"": "Are we still on for 12:30?\r\nSee you.\r\n", "1": "Are we still on for 12:30?\r\nSee you.\r\n"},
			check: func(t *testing.T, p *Part) {
				if p.Lines != 2 || p.Encoding != "7BIT" || !reflect.DeepEqual(p.Params, []Param{{"charset", "us-ascii"}}) {
					t.Errorf("lines %d encoding %q params %v", p.Lines, p.Encoding, p.Params)
				}
				alice := []Address{{Name: "Alice Example", Mailbox: "alice", Host: "example.com"}}
				want := &Envelope{
					Date: "Tue, 04 Mar 2025 12:00:00 +0000", Subject: "Lunch?",
					From: alice, Sender: alice, ReplyTo: alice,
					To:        []Address{{Name: "Bob", Mailbox: "bob", Host: "example.org"}},
					MessageID: "<CAF=1234@mail.example.com>",
				}
				if !reflect.DeepEqual(p.Envelope, want) {
					t.Errorf("envelope\n got %+v\nwant %+v", p.Envelope, want)
				}
				if p.Find([]int{1}) != p || p.Find([]int{2}) != nil || p.Find([]int{1, 1}) != nil {
					t.Errorf("Find on a single-part message")
				}
			},
		},
		{
			name: "multipart/alternative",
			raw: crlf(`From: news@example.com
Subject: =?UTF-8?Q?Caf=C3=A9?= news
MIME-Version: 1.0
Content-Type: multipart/alternative;
	boundary="----=_Part_17_1804289383.1741089600000"

This is a preamble.
------=_Part_17_1804289383.1741089600000
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 news
------=_Part_17_1804289383.1741089600000
Content-Type: text/html; charset=utf-8

<p>Caf&eacute; news</p>

------=_Part_17_1804289383.1741089600000--
This is an epilogue.
`),
			shape: "multipart/alternative[text/plain text/html]",
			bodies: map[string]string{
				"1": "Caf=C3=A9 news",
				"2": "<p>Caf&eacute; news</p>\r\n",
				"": crlf(`This is a preamble.
------=_Part_17_1804289383.1741089600000
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

Caf=C3=A9 news
------=_Part_17_1804289383.1741089600000
Content-Type: text/html; charset=utf-8

<p>Caf&eacute; news</p>

------=_Part_17_1804289383.1741089600000--
This is an epilogue.
`),
			},
			heads: map[string]string{
				"1": "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
				"2": "Content-Type: text/html; charset=utf-8\r\n\r\n",
			},
			check: func(t *testing.T, p *Part) {
				if p.Envelope.Subject != "=?UTF-8?Q?Caf=C3=A9?= news" {
					t.Errorf("subject %q", p.Envelope.Subject)
				}
				if p.Param("boundary") != "----=_Part_17_1804289383.1741089600000" {
					t.Errorf("boundary %q", p.Param("boundary"))
				}
				if e := p.Parts[0].Encoding; e != "QUOTED-PRINTABLE" {
					t.Errorf("encoding %q", e)
				}
				if l := p.Parts[0].Lines; l != 1 {
					t.Errorf("lines of part 1: %d", l)
				}
			},
		},
		{
			name: "multipart/mixed with base64 attachment",
			raw: crlf(`From: "Doe, Jane" <jane@example.com>
To: accounts@example.org
Subject: Invoice 2025-0042
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=000000000000a1b2c3d4e5f6

--000000000000a1b2c3d4e5f6
Content-Type: text/plain; charset="UTF-8"

Please find the invoice attached.

--000000000000a1b2c3d4e5f6
Content-Type: application/pdf; name="invoice-2025-0042.pdf"
Content-Disposition: attachment; filename="invoice-2025-0042.pdf"
Content-Transfer-Encoding: base64
Content-ID: <f_m7x1q2w30>
X-Attachment-Id: f_m7x1q2w30

JVBERi0xLjcKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURl
Y29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMFAwALJMLU31jBQsTAz1LBSKUrnCtQrzuQIAdYgHAAoK
--000000000000a1b2c3d4e5f6--
`),
			shape: "multipart/mixed[text/plain application/pdf]",
			bodies: map[string]string{
				"1": "Please find the invoice attached.\r\n",
				"2": "JVBERi0xLjcKJcOkw7zDtsOfCjIgMCBvYmoKPDwvTGVuZ3RoIDMgMCBSL0ZpbHRlci9GbGF0ZURl\r\nY29kZT4+CnN0cmVhbQp4nDPQM1Qo5ypUMFAwALJMLU31jBQsTAz1LBSKUrnCtQrzuQIAdYgHAAoK",
			},
			check: func(t *testing.T, p *Part) {
				a := p.Parts[1]
				if a.Encoding != "BASE64" || a.Disposition != "attachment" || a.ID != "<f_m7x1q2w30>" || a.Lines != 2 {
					t.Errorf("attachment: %+v", a)
				}
				if !reflect.DeepEqual(a.DispositionParams, []Param{{"filename", "invoice-2025-0042.pdf"}}) ||
					!reflect.DeepEqual(a.Params, []Param{{"name", "invoice-2025-0042.pdf"}}) {
					t.Errorf("params %v %v", a.Params, a.DispositionParams)
				}
				if want := []Address{{Name: "Doe, Jane", Mailbox: "jane", Host: "example.com"}}; !reflect.DeepEqual(p.Envelope.From, want) {
					t.Errorf("from %+v", p.Envelope.From)
				}
			},
		},
		{
			name: "nested message/rfc822",
			raw: crlf(`From: bob@example.org
To: carol@example.net
Subject: Fwd: Lunch?
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain

See below.
--outer
Content-Type: message/rfc822
Content-Description: forwarded message

From: Alice <alice@example.com>
Subject: Lunch?
Message-ID: <inner@example.com>
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain

Are we still on?
--inner
Content-Type: text/html

<p>Are we still on?</p>
--inner--

--outer--
`),
			shape: "multipart/mixed[text/plain message/rfc822[multipart/alternative[text/plain text/html]]]",
			bodies: map[string]string{
				"1":   "See below.",
				"2.1": "Are we still on?",
				"2.2": "<p>Are we still on?</p>",
				"2": crlf(`From: Alice <alice@example.com>
Subject: Lunch?
Message-ID: <inner@example.com>
Content-Type: multipart/alternative; boundary="inner"

--inner
Content-Type: text/plain

Are we still on?
--inner
Content-Type: text/html

<p>Are we still on?</p>
--inner--
`),
			},
			heads: map[string]string{"2": "Content-Type: message/rfc822\r\nContent-Description: forwarded message\r\n\r\n"},
			check: func(t *testing.T, p *Part) {
				m := p.Find([]int{2})
				if m.Description != "forwarded message" || m.Envelope != nil || m.Lines != 14 {
					t.Errorf("message part: %+v", m)
				}
				inner := m.Parts[0]
				if inner.Envelope == nil || inner.Envelope.Subject != "Lunch?" || inner.Envelope.MessageID != "<inner@example.com>" {
					t.Errorf("inner envelope %+v", inner.Envelope)
				}
				if p.Find([]int{2, 3}) != nil || p.Find([]int{2, 1, 1}) != nil || p.Find([]int{0}) != nil {
					t.Errorf("Find accepted a bad part number")
				}
			},
		},
		{
			name: "multipart/digest default type",
			raw: crlf(`From: list-owner@lists.example.org
Subject: example-list Digest, Vol 12, Issue 3
Content-Type: multipart/digest; boundary="===============1234=="

--===============1234==

From: a@example.com
Subject: first

First message.
--===============1234==

From: b@example.com
Subject: second

Second message.
--===============1234==
Content-Type: text/plain

Not a message.
--===============1234==--
`),
			shape:  "multipart/digest[message/rfc822[text/plain] message/rfc822[text/plain] text/plain]",
			bodies: map[string]string{"1.1": "First message.", "2.1": "Second message.", "3": "Not a message."},
			heads:  map[string]string{"1": "\r\n"},
			check: func(t *testing.T, p *Part) {
				if s := p.Find([]int{2}).Parts[0].Envelope.Subject; s != "second" {
					t.Errorf("subject %q", s)
				}
				if p.Parts[0].Params != nil {
					t.Errorf("digest default has params %v", p.Parts[0].Params)
				}
			},
		},
		{
			name: "RFC 2231 parameters",
			raw: crlf(`From: a@example.com
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain; name*=iso-8859-1'de'%E4rger.txt
Content-Disposition: attachment;
 filename*0*=utf-8''%E2%82%AC%20rates;
 filename*1*=%20for%20;
 filename*2="2025.pdf";
 filename="fallback.pdf"

x
--b
Content-Type: application/octet-stream; name*1="second"; name*0="first-"; title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A
Content-Disposition: inline; filename="C:\\dir\\file.bin"; size=1234

y
--b--
`),
			shape: "multipart/mixed[text/plain application/octet-stream]",
			check: func(t *testing.T, p *Part) {
				a, b := p.Parts[0], p.Parts[1]
				if !reflect.DeepEqual(a.Params, []Param{{"name", "ärger.txt"}}) {
					t.Errorf("params %q", a.Params)
				}
				if !reflect.DeepEqual(a.DispositionParams, []Param{{"filename", "€ rates for 2025.pdf"}}) {
					t.Errorf("disposition params %q", a.DispositionParams)
				}
				if !reflect.DeepEqual(b.Params, []Param{{"name", "first-second"}, {"title", "This is ***fun***"}}) {
					t.Errorf("params %q", b.Params)
				}
				if !reflect.DeepEqual(b.DispositionParams, []Param{{"filename", `C:\dir\file.bin`}, {"size", "1234"}}) {
					t.Errorf("disposition params %q", b.DispositionParams)
				}
			},
		},
		{
			name: "group addresses",
			raw: crlf(`From: "Alerts" <alerts@example.com>
Sender: Mailer <mailer@example.com>
Reply-To: 
To: undisclosed-recipients:;
Cc: Team: a@example.com, "B. Person" <b@example.com>;, c@example.com
Subject: groups

body
`),
			shape: "text/plain",
			check: func(t *testing.T, p *Part) {
				e := p.Envelope
				if want := []Address{{Mailbox: "undisclosed-recipients"}, {}}; !reflect.DeepEqual(e.To, want) {
					t.Errorf("to %+v", e.To)
				}
				want := []Address{{Mailbox: "Team"}, {Mailbox: "a", Host: "example.com"},
					{Name: "B. Person", Mailbox: "b", Host: "example.com"}, {}, {Mailbox: "c", Host: "example.com"}}
				if !reflect.DeepEqual(e.Cc, want) {
					t.Errorf("cc %+v", e.Cc)
				}
				if !reflect.DeepEqual(e.ReplyTo, e.From) || reflect.DeepEqual(e.Sender, e.From) {
					t.Errorf("sender %+v reply-to %+v", e.Sender, e.ReplyTo)
				}
			},
		},
		{
			name:  "missing final boundary",
			raw:   mustRead("missing-final-boundary.eml"),
			shape: "multipart/alternative[text/plain text/html]",
			bodies: map[string]string{
				"1": "Spring sale: 20% off.",
				"2": "<html><body><h1>Spring sale</h1><p>20% off.</p></body></html>\r\n",
			},
		},
		{
			name:   "truncated header",
			raw:    "From: a@example.com\r\nSubject: cut off in the mid",
			shape:  "text/plain",
			bodies: map[string]string{"": ""},
			heads:  map[string]string{"": "From: a@example.com\r\nSubject: cut off in the mid"},
			check: func(t *testing.T, p *Part) {
				if p.Envelope.Subject != "cut off in the mid" {
					t.Errorf("subject %q", p.Envelope.Subject)
				}
			},
		},
		{
			name:  "LF only",
			raw:   mustRead("lf-only.eml"),
			shape: "multipart/alternative[text/plain text/html]",
			bodies: map[string]string{
				"1": "Plain text line one.\nPlain text line two.\n",
				"2": "<p>HTML line.</p>",
			},
			heads: map[string]string{"2": "Content-Type: text/html; charset=utf-8\n\n"},
			check: func(t *testing.T, p *Part) {
				if s := p.Envelope.Subject; s != "lf only with a folded subject" {
					t.Errorf("subject %q", s)
				}
				if p.Parts[0].Lines != 2 {
					t.Errorf("lines %d", p.Parts[0].Lines)
				}
			},
		},
		{
			name:  "8-bit headers",
			raw:   mustRead("8bit-headers.eml"),
			shape: "text/plain",
			check: func(t *testing.T, p *Part) {
				e := p.Envelope
				if e.Subject != "Grüße aus München – Angebot" || e.From[0].Name != "Jürgen Müller" {
					t.Errorf("subject %q from %+v", e.Subject, e.From)
				}
				want := []Address{{Name: "Ren\xe9e Fran\xe7ois", Mailbox: "renee", Host: "example.fr"},
					{Name: "=?utf-8?q?Zo=C3=AB?=", Mailbox: "zoe", Host: "example.org"}}
				if !reflect.DeepEqual(e.To, want) {
					t.Errorf("to %q", e.To)
				}
				if p.Encoding != "8BIT" {
					t.Errorf("encoding %q", p.Encoding)
				}
			},
		},
	}
}

// NUL bytes are recorded where they are: in a header block, or in the body
// of the part that owns them (a multipart owns its preamble and epilogue).
func TestScanNUL(t *testing.T) {
	type nul struct{ hdr, body bool }
	cases := []struct {
		name, raw string
		want      map[string]nul // tree path (1-based child indexes) -> flags; others false
	}{
		{"none", crlf("Subject: a\n\nbody\n"), nil},
		{"leaf body", crlf("Subject: a\n\nbo\x00dy\n"), map[string]nul{"": {false, true}}},
		{"header", crlf("Subject: a\x00b\n\nbody\n"), map[string]nul{"": {true, false}}},
		{"second part", crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\nContent-Transfer-Encoding: binary\n\nt\x00wo\n--b--\n"),
			map[string]nul{"2": {false, true}}},
		{"epilogue", crlf("Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b--\n\x00\n"),
			map[string]nul{"": {false, true}}},
		{"encapsulated", crlf("Content-Type: message/rfc822\n\nSubject: in\n\nx\x00\n"),
			map[string]nul{"1": {false, true}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := scan(t, tc.raw)
			var walk func(p *Part, num string)
			walk = func(p *Part, num string) {
				if got, want := (nul{p.HeaderNUL, p.BodyNUL}), tc.want[num]; got != want {
					t.Errorf("part %q: NUL flags %+v, want %+v", num, got, want)
				}
				for i, c := range p.Parts {
					n := strconv.Itoa(i + 1)
					if num != "" {
						n = num + "." + n
					}
					walk(c, n)
				}
			}
			walk(root, "")
			if root.HasNUL() != (len(tc.want) > 0) {
				t.Errorf("HasNUL %v", root.HasNUL())
			}
		})
	}
}

// TestScanBytesLongLines: ScanBytes cuts lines longer than the read
// buffer where Scan's bufio.Reader does, so both give one structure, at
// every length around the buffer's size and its multiples.
func TestScanBytesLongLines(t *testing.T) {
	for _, n := range []int{bufSize - 2, bufSize - 1, bufSize, bufSize + 1, 2*bufSize - 1, 2 * bufSize, 2*bufSize + 1} {
		long := strings.Repeat("x", n)
		for _, msg := range []string{
			"Subject: " + long + "\r\n\r\nbody\r\n",
			"Subject: s\r\n\r\n" + long,
			"Subject: s\r\n\r\n" + long + "\r\n",
			"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n" + long + "\n--b\r\n\r\nx\r\n--b--" + long,
		} {
			want, err := Scan(strings.NewReader(msg), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := ScanBytes([]byte(msg), Limits{}); !reflect.DeepEqual(got, want) {
				t.Errorf("a line of %d bytes in %.40q...: ScanBytes %+v, Scan %+v", n, msg, got, want)
			}
		}
	}
}
