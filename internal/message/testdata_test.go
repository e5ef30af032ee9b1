package message

import (
	"strings"
	"testing"
)

// TestScanTestdata scans the malformed messages of testdata/, which other
// packages reuse to check byte-for-byte round trips.
func TestScanTestdata(t *testing.T) {
	for _, tc := range []struct {
		file, shape string
		check       func(t *testing.T, raw []byte, p *Part)
	}{
		{"bad-boundary.eml", "multipart/mixed", func(t *testing.T, raw []byte, p *Part) {
			if p.BodyStart >= p.End || p.Lines != 12 {
				t.Errorf("body [%d,%d) lines %d", p.BodyStart, p.End, p.Lines)
			}
		}},
		{"8bit-headers.eml", "text/plain", nil},
		{"unknown-charset.eml", "multipart/mixed[text/plain application/octet-stream]", func(t *testing.T, raw []byte, p *Part) {
			if c := p.Parts[0].Param("charset"); c != "x-klingon-tlhIngan" {
				t.Errorf("charset %q", c)
			}
			if n := p.Parts[1].Param("name"); n != "\xe4\xf6\xfc.bin" {
				t.Errorf("name %q", n)
			}
			if n := lookup(p.Parts[1].DispositionParams, "filename"); n != "\xe4\xf6\xfc.bin" {
				t.Errorf("filename %q", n)
			}
		}},
		{"truncated.eml", "multipart/mixed[text/plain application/pdf]", func(t *testing.T, raw []byte, p *Part) {
			if a := p.Parts[1]; a.End != int64(len(raw)) || a.Lines < 10 {
				t.Errorf("attachment [%d,%d) lines %d", a.BodyStart, a.End, a.Lines)
			}
		}},
		{"no-headers.eml", "text/plain", func(t *testing.T, raw []byte, p *Part) {
			if p.BodyStart != 0 || p.Envelope.From != nil {
				t.Errorf("body starts at %d, from %v", p.BodyStart, p.Envelope.From)
			}
		}},
		{"lf-only.eml", "multipart/alternative[text/plain text/html]", nil},
		{"nested-deep.eml", strings.Repeat("multipart/mixed[", 20) + "multipart/mixed" + strings.Repeat("]", 20), nil},
		{"missing-final-boundary.eml", "multipart/alternative[text/plain text/html]", nil},
		{"nul-bytes.eml", "text/plain", func(t *testing.T, raw []byte, p *Part) {
			if p.Envelope.Subject != "nul\x00byte" || p.Lines != 2 {
				t.Errorf("subject %q lines %d", p.Envelope.Subject, p.Lines)
			}
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			raw := readTestdata(t, tc.file)
			p := scan(t, string(raw))
			if got := shape(p); got != tc.shape {
				t.Errorf("shape %s, want %s", got, tc.shape)
			}
			if tc.check != nil {
				tc.check(t, raw, p)
			}
		})
	}
}
