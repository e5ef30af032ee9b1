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
		return &base64Reader{r: r}, true
	case "QUOTED-PRINTABLE":
		return quotedprintable.NewReader(r), true
	}
	return nil, false
}

// base64Reader decodes base64 leniently: it drops everything but the
// alphabet (line breaks, spaces, stray characters), as mail readers do,
// and a last quantum cut short. Data after a padded quantum is an error
// (base64.CorruptInputError), after the bytes before it. It runs on every
// byte of every base64 attachment a delivery converts or hashes, so it
// filters and decodes in large chunks: the standard decoder reads at most
// 1 KB a call, and cost three times as much per byte here.
type base64Reader struct {
	r   io.Reader
	in  [32 << 10]byte // alphabet bytes not decoded yet: in[:nin]
	nin int
	dec [24 << 10]byte // decoded, not yet read: out
	out []byte
	err error
	// padded: a quantum with padding was decoded, which ends the data;
	// an alphabet byte after it is corrupt input, as for the standard
	// decoder on the whole, wherever the source's chunks end.
	padded bool
}

// base64Alphabet marks the bytes base64Reader keeps. Read only.
var base64Alphabet = func() (t [256]bool) {
	for _, c := range []byte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") {
		t[c] = true
	}
	return t
}()

func (d *base64Reader) Read(p []byte) (int, error) {
	for len(d.out) == 0 {
		if d.err != nil {
			return 0, d.err
		}
		d.fill()
	}
	n := copy(p, d.out)
	d.out = d.out[n:]
	return n, nil
}

// fill reads the next chunk, keeps its alphabet bytes and decodes every
// whole quantum of them into out.
func (d *base64Reader) fill() {
	n, err := d.r.Read(d.in[d.nin:])
	d.nin += keepAlphabet(d.in[d.nin : d.nin+n])
	if d.padded && d.nin > 0 {
		d.out, d.err = nil, base64.CorruptInputError(0)
		return
	}
	q := d.nin / 4 * 4
	m, derr := base64.StdEncoding.Decode(d.dec[:], d.in[:q])
	d.out = d.dec[:m]
	if derr == nil && q > 0 && d.in[q-1] == '=' {
		d.padded = true
	}

	d.nin = copy(d.in[:], d.in[q:d.nin])
	switch {
	case derr != nil:
		d.err = derr
	case err != nil:
		d.err = err // at io.EOF, a quantum cut short is dropped
	}
}

// keepAlphabet moves the base64 alphabet bytes of b to its front, in
// runs, and returns how many there are.
func keepAlphabet(b []byte) int {
	k := 0
	for i := 0; i < len(b); {
		j := i
		for j < len(b) && base64Alphabet[b[j]] {
			j++
		}
		k += copy(b[k:], b[i:j])
		for j < len(b) && !base64Alphabet[b[j]] {
			j++
		}
		i = j
	}
	return k
}
