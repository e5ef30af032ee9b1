package imapwire

import (
	"errors"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Modified UTF-7 (RFC 3501 5.1.3): printable US-ASCII stands for itself
// except "&", which is "&-"; anything else is UTF-16BE in modified BASE64
// ("," for "/", no padding) between "&" and "-".

const mb64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,"

func mb64Value(c byte) int {
	return strings.IndexByte(mb64, c)
}

// DecodeMailbox decodes a modified UTF-7 mailbox name to UTF-8. It rejects
// 8-bit and control characters, bad BASE64, shifted printable ASCII, bad
// padding and unpaired surrogates.
func DecodeMailbox(s string) (string, error) {
	if strings.IndexByte(s, '&') < 0 {
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] >= 0x7f {
				return "", errors.New("mailbox name has a byte that is not printable US-ASCII (modified UTF-7 expected)")
			}
		}
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f {
			return "", errors.New("mailbox name has a byte that is not printable US-ASCII (modified UTF-7 expected)")
		}
		if c != '&' {
			b.WriteByte(c)
			continue
		}
		j := strings.IndexByte(s[i+1:], '-')
		if j < 0 {
			return "", errors.New(`modified UTF-7: "&" without closing "-"`)
		}
		enc := s[i+1 : i+1+j]
		i += j + 1
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		if err := decodeShift(&b, enc); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

func decodeShift(b *strings.Builder, enc string) error {
	var units []uint16
	var acc uint32
	bits := 0
	for i := 0; i < len(enc); i++ {
		v := mb64Value(enc[i])
		if v < 0 {
			return errors.New("modified UTF-7: invalid BASE64 character")
		}
		acc = acc<<6 | uint32(v)
		bits += 6
		if bits >= 16 {
			bits -= 16
			units = append(units, uint16(acc>>bits))
			acc &= 1<<bits - 1
		}
	}
	if bits >= 6 || acc != 0 || len(units) == 0 {
		return errors.New("modified UTF-7: bad BASE64 padding")
	}
	for i := 0; i < len(units); i++ {
		u := rune(units[i])
		switch {
		case utf16.IsSurrogate(u):
			if u >= 0xdc00 || i+1 >= len(units) {
				return errors.New("modified UTF-7: unpaired surrogate")
			}
			u = utf16.DecodeRune(u, rune(units[i+1]))
			if u == utf8.RuneError {
				return errors.New("modified UTF-7: unpaired surrogate")
			}
			i++
		case u >= 0x20 && u < 0x7f:
			return errors.New("modified UTF-7: printable US-ASCII must not be encoded")
		}
		b.WriteRune(u)
	}
	return nil
}

// EncodeMailbox encodes a UTF-8 mailbox name to modified UTF-7. Invalid
// UTF-8 is encoded as U+FFFD.
func EncodeMailbox(s string) string {
	var b strings.Builder
	var run []uint16
	flush := func() {
		if len(run) == 0 {
			return
		}
		b.WriteByte('&')
		var acc uint32
		bits := 0
		for _, u := range run {
			acc = acc<<16 | uint32(u)
			bits += 16
			for bits >= 6 {
				bits -= 6
				b.WriteByte(mb64[acc>>bits&63])
			}
		}
		if bits > 0 {
			b.WriteByte(mb64[acc<<(6-bits)&63])
		}
		b.WriteByte('-')
		run = run[:0]
	}
	for _, c := range s {
		if c >= 0x20 && c < 0x7f {
			flush()
			b.WriteRune(c)
			if c == '&' {
				b.WriteByte('-')
			}
			continue
		}
		run = utf16.AppendRune(run, c)
	}
	flush()
	return b.String()
}
