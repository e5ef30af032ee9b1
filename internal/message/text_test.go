package message

import (
	"bytes"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"testing/iotest"
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

// FuzzBase64 holds the chunked base64 decoder to the standard one on the
// input's alphabet bytes, whatever the chunks the source returns.
func FuzzBase64(f *testing.F) {
	for _, s := range []string{"aGVs\r\nbG8=\r\n", "aGV*sb!G8=", "aGVsbG8=aGk=", "aGVsbG", "====", strings.Repeat("QUJD\r\n", 9000)} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, in string, oneByte bool) {
		var kept strings.Builder
		for i := 0; i < len(in); i++ {
			if base64Alphabet[in[i]] {
				kept.WriteByte(in[i])
			}
		}
		want, _ := io.ReadAll(base64.NewDecoder(base64.StdEncoding, strings.NewReader(kept.String())))
		var src io.Reader = strings.NewReader(in)
		if oneByte {
			src = iotest.OneByteReader(src)
		}
		r, _ := TransferDecoder("base64", src)
		got, _ := io.ReadAll(r)
		if !bytes.Equal(got, want) {
			t.Fatalf("decoded %q, the standard decoder %q", got, want)
		}
	})
}
