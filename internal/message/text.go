package message

import (
	"encoding/base64"
	"io"
	"mime/quotedprintable"
	"strings"
)

// TransferDecoder returns a reader that undoes a content transfer
// encoding (RFC 2045 6), or false for one it does not know (x-uuencode
// and other private ones). Base64 is decoded leniently: characters
// outside its alphabet are skipped, as mail readers do.
func TransferDecoder(encoding string, r io.Reader) (io.Reader, bool) {
	switch strings.ToUpper(encoding) {
	case "", "7BIT", "8BIT", "BINARY":
		return r, true
	case "BASE64":
		return base64.NewDecoder(base64.StdEncoding, &base64Filter{r: r}), true
	case "QUOTED-PRINTABLE":
		return quotedprintable.NewReader(r), true
	}
	return nil, false
}

// base64Filter drops everything but the base64 alphabet, as lenient mail
// readers do (line breaks, spaces, stray characters).
type base64Filter struct{ r io.Reader }

func (f *base64Filter) Read(p []byte) (int, error) {
	for {
		n, err := f.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			if c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}
