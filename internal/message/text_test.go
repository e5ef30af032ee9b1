package message

import (
	"bytes"
	"strings"
	"testing"
)

func TestDecodeHeader(t *testing.T) {
	for in, want := range map[string]string{
		"=?ISO-8859-1?Q?Caf=E9?= au lait":             "Café au lait",
		"=?UTF-8?B?w6l0w6k=?=":                        "été",
		"=?windows-1252?Q?=93quoted=94?=":             "“quoted”",
		"=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?=":          "日本語",
		"=?GB18030?B?1tDOxA==?=":                      "中文",
		"=?x-unknown?Q?abc?= plain":                   "=?x-unknown?Q?abc?= plain",
		"no words":                                    "no words",
		"=?utf-8?q?a?= =?utf-8?q?b?=":                 "ab",
		"broken =?utf-8?q?unterminated":               "broken =?utf-8?q?unterminated",
		string([]byte{'8', 'b', 'i', 't', ' ', 0xe9}): "8bit \uFFFD",
	} {
		if got := DecodeHeader(in); got != want {
			t.Errorf("DecodeHeader(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPartText(t *testing.T) {
	msg := "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
		"--b\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nd=E9j=E0 vu\r\n" +
		"--b\r\nContent-Type: text/plain; charset=shift_jis\r\nContent-Transfer-Encoding: base64\r\n\r\nk/qWe4zq\r\n" +
		"--b\r\nContent-Type: text/plain; charset=windows-1251\r\n\r\n\xcf\xf0\xe8\xe2\xe5\xf2\r\n" +
		"--b--\r\n"
	p, err := Scan(strings.NewReader(msg), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	r := bytes.NewReader([]byte(msg))
	for i, want := range []string{"déjà vu", "日本語", "Привет"} {
		got, err := PartText(r, p.Parts[i], 0)
		if err != nil || got != want {
			t.Errorf("part %d: %q %v, want %q", i+1, got, err, want)
		}
	}
	if _, err := PartText(r, p, 0); err != ErrNotText {
		t.Errorf("multipart: %v", err)
	}
}

func TestHeaderFields(t *testing.T) {
	fs := HeaderFields([]byte("Subject: a\r\n b\r\nX-Y:z\r\nbogus\r\n\r\nBody: no\r\n"))
	if len(fs) != 2 || fs[0] != (Field{"Subject", "a b"}) || fs[1] != (Field{"X-Y", "z"}) {
		t.Fatalf("%q", fs)
	}
}

func FuzzDecodeHeader(f *testing.F) {
	f.Add("=?ISO-2022-JP?B?GyRCRnxLXDhsGyhC?= x =?utf-8?q?=C3?=")
	f.Fuzz(func(t *testing.T, s string) { _ = DecodeHeader(s) })
}

func FuzzPartText(f *testing.F) {
	f.Add([]byte("Content-Type: text/plain; charset=gb18030\r\nContent-Transfer-Encoding: base64\r\n\r\n1tDOxA==\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Scan(bytes.NewReader(b), Limits{})
		if err != nil {
			return
		}
		var walk func(*Part)
		walk = func(p *Part) {
			_, _ = PartText(bytes.NewReader(b), p, 1<<20)
			for _, c := range p.Parts {
				walk(c)
			}
		}
		walk(p)
	})
}
