package directory

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"errors"
	"hash"
	"strconv"
	"strings"
)

// SHA-crypt ($5$ SHA-256, $6$ SHA-512), as specified by Ulrich Drepper's
// "Unix crypt using SHA-256 and SHA-512" (2008), which glibc's crypt(3),
// Dovecot's {SHA256-CRYPT} and {SHA512-CRYPT} and mkpasswd implement.

const (
	shaCryptRoundsDefault = 5000
	shaCryptRoundsMin     = 1000
	// shaCryptRoundsMax bounds the work a stored hash can demand of a
	// login: the spec allows 999,999,999 rounds, minutes of CPU for one
	// attempt. 10 million is a few seconds; Dovecot's default is 5000.
	shaCryptRoundsMax = 10_000_000
	shaCryptSaltMax   = 16
)

const cryptB64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// Byte orders of the final encoding (the spec's step 22): each triple is
// encoded as 4 characters, the tail as fewer.
var (
	sha256Order = [][3]int{{0, 10, 20}, {21, 1, 11}, {12, 22, 2}, {3, 13, 23}, {24, 4, 14},
		{15, 25, 5}, {6, 16, 26}, {27, 7, 17}, {18, 28, 8}, {9, 19, 29}}
	sha512Order = [][3]int{{0, 21, 42}, {22, 43, 1}, {44, 2, 23}, {3, 24, 45}, {25, 46, 4},
		{47, 5, 26}, {6, 27, 48}, {28, 49, 7}, {50, 8, 29}, {9, 30, 51}, {31, 52, 10},
		{53, 11, 32}, {12, 33, 54}, {34, 55, 13}, {56, 14, 35}, {15, 36, 57}, {37, 58, 16},
		{59, 17, 38}, {18, 39, 60}, {40, 61, 19}, {62, 20, 41}}
)

// shaCryptHash is a parsed $5$ or $6$ string.
type shaCryptHash struct {
	id       byte // '5' or '6'
	rounds   int
	explicit bool // rounds= was given, so the output repeats it
	salt     string
	digest   string // the encoded hash, 43 or 86 characters
}

var errMalformedSHACrypt = errors.New("directory: malformed SHA-crypt hash")

// parseSHACrypt parses $5$[rounds=N$]salt$hash and $6$... (the spec's
// rules: a salt longer than 16 characters is cut to 16, rounds below 1000
// are raised to 1000; more than shaCryptRoundsMax is refused as too costly).
func parseSHACrypt(s string) (shaCryptHash, error) {
	var h shaCryptHash
	if len(s) < 3 || s[0] != '$' || (s[1] != '5' && s[1] != '6') || s[2] != '$' {
		return h, errMalformedSHACrypt
	}
	h.id, h.rounds = s[1], shaCryptRoundsDefault
	rest := s[3:]
	if r, ok := strings.CutPrefix(rest, "rounds="); ok {
		num, tail, ok := strings.Cut(r, "$")
		n, err := strconv.ParseUint(num, 10, 32)
		if !ok || err != nil {
			return h, errMalformedSHACrypt
		}
		if n > shaCryptRoundsMax {
			return h, errors.New("directory: SHA-crypt hash asks for more than 10,000,000 rounds; refused as too costly")
		}
		h.rounds, h.explicit, rest = max(int(n), shaCryptRoundsMin), true, tail
	}
	salt, digest, ok := strings.Cut(rest, "$")
	want := 43
	if h.id == '6' {
		want = 86
	}
	if !ok || len(digest) != want || strings.ContainsRune(salt, '$') {
		return h, errMalformedSHACrypt
	}
	if len(salt) > shaCryptSaltMax {
		salt = salt[:shaCryptSaltMax]
	}
	h.salt, h.digest = salt, digest
	return h, nil
}

// verifySHACrypt reports whether pw matches the $5$ or $6$ string s.
func verifySHACrypt(s, pw string) (bool, error) {
	h, err := parseSHACrypt(s)
	if err != nil {
		return false, err
	}
	got := h.compute(pw)
	return subtle.ConstantTimeCompare([]byte(got), []byte(h.digest)) == 1, nil
}

// compute returns the encoded digest of pw under h's salt and rounds.
func (h shaCryptHash) compute(pw string) string {
	newHash, order := sha256.New, sha256Order
	if h.id == '6' {
		newHash, order = sha512.New, sha512Order
	}
	raw := shaCrypt(newHash, []byte(pw), []byte(h.salt), h.rounds)
	return encodeCrypt(raw, order)
}

// shaCrypt is steps 1 to 21 of the spec.
func shaCrypt(newHash func() hash.Hash, pw, salt []byte, rounds int) []byte {
	// Digest B: password, salt, password.
	hb := newHash()
	hb.Write(pw)
	hb.Write(salt)
	hb.Write(pw)
	b := hb.Sum(nil)
	size := len(b)

	// Digest A: password, salt, B repeated over the password's length,
	// then per bit of that length B (1) or the password (0).
	ha := newHash()
	ha.Write(pw)
	ha.Write(salt)
	ha.Write(repeat(b, len(pw)))
	for n := len(pw); n > 0; n >>= 1 {
		if n&1 != 0 {
			ha.Write(b)
		} else {
			ha.Write(pw)
		}
	}
	a := ha.Sum(nil)

	// P: digest DP of the password once per its byte, over its length.
	hp := newHash()
	for range len(pw) {
		hp.Write(pw)
	}
	p := repeat(hp.Sum(nil), len(pw))

	// S: digest DS of the salt 16+A[0] times, over the salt's length.
	hs := newHash()
	for range 16 + int(a[0]) {
		hs.Write(salt)
	}
	s := repeat(hs.Sum(nil), len(salt))

	c := a
	hc := newHash()
	for i := range rounds {
		hc.Reset()
		if i&1 != 0 {
			hc.Write(p)
		} else {
			hc.Write(c)
		}
		if i%3 != 0 {
			hc.Write(s)
		}
		if i%7 != 0 {
			hc.Write(p)
		}
		if i&1 != 0 {
			hc.Write(c)
		} else {
			hc.Write(p)
		}
		c = hc.Sum(c[:0])
	}
	return c[:size]
}

// repeat returns d repeated to exactly n bytes.
func repeat(d []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, d[:min(len(d), n-len(out))]...)
	}
	return out
}

// encodeCrypt is the spec's step 22: triples of bytes in order's
// permutation, 4 characters each, least significant 6 bits first; then
// the remaining one (SHA-512) or two (SHA-256) bytes.
func encodeCrypt(raw []byte, order [][3]int) string {
	var sb strings.Builder
	put := func(w uint32, n int) {
		for range n {
			sb.WriteByte(cryptB64[w&0x3f])
			w >>= 6
		}
	}
	for _, t := range order {
		put(uint32(raw[t[0]])<<16|uint32(raw[t[1]])<<8|uint32(raw[t[2]]), 4)
	}
	if len(raw) == sha512.Size {
		put(uint32(raw[63]), 2)
	} else {
		put(uint32(raw[31])<<8|uint32(raw[30]), 3)
	}
	return sb.String()
}
