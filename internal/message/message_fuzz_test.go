package message

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"testing/iotest"
)

// fuzzSeeds are small messages, well-formed and not, for both targets.
func fuzzSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	files, _ := filepath.Glob(filepath.Join("testdata", "*.eml"))
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		seeds = append(seeds, b)
	}
	for _, tc := range scanCases() {
		seeds = append(seeds, []byte(tc.raw))
	}
	for _, s := range []string{
		"",
		"\r\n",
		"\n\n\n",
		"Subject: x",
		"From: a\r\n\r\n",
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n--b--",
		"Content-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--\n--b--\n",
		"Content-Type: multipart/digest; boundary=\"\"\r\n\r\n--\r\n",
		"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: multipart/alternative; boundary=q\r\n\r\n--q\r\n\r\n",
		"Content-Type: text/plain; a*0*=utf-8'en'%; a*1=\"\\\"; a*=; *=x; ;;; =\r\n\r\n",
		"To: a:b:c;d<e<f>>@,;:\"\\(\r\nCc: (((\r\nFrom: <@a,@b:c@d>, [x\r\n\r\n",
		"\x00: \x00\r\n\t\x00\r\n\r\n\x00",
		"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\r\n--b--\r",
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// FuzzScan checks that Scan accepts anything, that its result keeps the
// package's invariants (offsets, lines, nesting, limits), that it does not
// depend on how the reader splits its input nor on whether it is read
// in place (ScanBytes), and that it survives
// MarshalBinary and Unmarshal unchanged.
func FuzzScan(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s, uint8(0), uint16(0), uint16(0))
	}
	f.Add([]byte("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--b\r\n\r\n--b--\r\n"), uint8(1), uint16(2), uint16(10))
	f.Fuzz(func(t *testing.T, data []byte, depth uint8, parts, hdr uint16) {
		lim := Limits{MaxDepth: int(depth % 8), MaxParts: int(parts % 64), MaxHeaderBytes: int(hdr)}
		p, err := Scan(bytes.NewReader(data), lim)
		if err != nil {
			t.Fatalf("Scan: %v", err)
		}
		checkInvariants(t, data, p, lim)
		q, err := Scan(iotest.OneByteReader(bytes.NewReader(data)), lim)
		if err != nil {
			t.Fatalf("Scan one byte at a time: %v", err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Errorf("result depends on read sizes")
		}
		if b := ScanBytes(data, lim); !reflect.DeepEqual(p, b) {
			t.Errorf("ScanBytes differs from Scan")
		}
	})
}

// FuzzUnmarshal checks that Unmarshal never panics, and that whatever it
// accepts encodes and decodes back to the same tree.
func FuzzUnmarshal(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		p, err := Scan(bytes.NewReader(s), Limits{})
		if err != nil {
			f.Fatal(err)
		}
		b, err := p.MarshalBinary()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{codecVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, eerr := UnmarshalEnvelope(b)
		p, err := Unmarshal(b)
		if err != nil {
			return
		}
		// What decodes whole decodes to the same envelope alone.
		if eerr != nil || !reflect.DeepEqual(e, p.Envelope) {
			t.Fatalf("UnmarshalEnvelope: %+v, %v; the tree's: %+v", e, eerr, p.Envelope)
		}
		c, err := p.MarshalBinary()
		if err != nil {
			t.Fatalf("MarshalBinary of a decoded tree: %v", err)
		}
		q, err := Unmarshal(c)
		if err != nil {
			t.Fatalf("Unmarshal of a re-encoded tree: %v", err)
		}
		if !reflect.DeepEqual(p, q) {
			t.Errorf("re-encoding changed the tree:\n got %+v\nwant %+v", q, p)
		}
	})
}
