package message

import (
	"io"
	"strings"
	"testing"
)

func TestTransferDecoder(t *testing.T) {
	for _, c := range []struct{ enc, in, want string }{
		{"base64", "aGVs\r\nbG8=\r\n", "hello"},
		{"BASE64", "aGV*sb!G8=", "hello"},
		{"quoted-printable", "caf=C3=A9=\r\n au", "café au"},
		{"7bit", "plain", "plain"},
		{"", "plain", "plain"},
	} {
		r, ok := TransferDecoder(c.enc, strings.NewReader(c.in))
		if !ok {
			t.Fatalf("%s: not known", c.enc)
		}
		b, _ := io.ReadAll(r)
		if string(b) != c.want {
			t.Errorf("%s(%q) = %q, want %q", c.enc, c.in, b, c.want)
		}
	}
	if _, ok := TransferDecoder("x-uuencode", strings.NewReader("")); ok {
		t.Fatal("x-uuencode claimed")
	}
}
