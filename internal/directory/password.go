// Package directory authenticates users and says where their mail lives.
// The embedded directory keeps users in the store (ms_mbox on Cassandra),
// with argon2id password hashes; it also verifies hashes imported from
// other systems (Dovecot's SHA-crypt, bcrypt, argon2i and salted SHA
// schemes, LDAP's {SSHA}, ...) so that a migration keeps every password
// working. Directory is what the access hosts and the proxy ask about a
// user; its implementations are packages below this one.
//
// Invariants: password comparisons take constant time; a hash string never
// appears in a log or an error.
package directory

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Argon2id parameters (RFC 9106 section 4, second recommended option, with
// memory scaled for a mail server that verifies many logins).
const (
	argonTime    = 3
	argonMemory  = 64 * 1024 // KiB
	argonThreads = 2
	argonKeyLen  = 32
)

// HashPassword returns an argon2id PHC string for pw.
func HashPassword(pw string) (string, error) {
	if pw == "" {
		return "", errors.New("directory: empty password")
	}
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	enc := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, argonMemory, argonTime, argonThreads, enc.EncodeToString(salt), enc.EncodeToString(key)), nil
}

// ErrUnknownScheme reports a hash in a scheme this package cannot verify.
var ErrUnknownScheme = errors.New("directory: unknown password hash scheme")

// VerifyPassword reports whether pw matches hash. hash is a PHC or crypt(3)
// string ($argon2id$, $argon2i$, $2y$ bcrypt, $6$ and $5$ SHA-crypt), or a
// string with a {SCHEME} prefix as Dovecot and LDAP servers store them:
// {ARGON2ID}, {ARGON2I}, {BLF-CRYPT}, {SHA512-CRYPT}, {SHA256-CRYPT},
// {CRYPT} (any of the crypt strings above), {SSHA512}, {SSHA256}, {SSHA},
// {SHA512}, {SHA256}, {SHA}, {PLAIN}; Dovecot's .B64 and .HEX suffixes
// ({SHA512-CRYPT.B64}) say the rest is encoded once more.
func VerifyPassword(hash, pw string) (bool, error) {
	scheme, rest, err := splitScheme(hash)
	if err != nil {
		return false, err
	}
	switch scheme {
	case "":
		return verifyCrypt(rest, pw)
	case "CRYPT":
		return verifyCrypt(rest, pw)
	case "ARGON2ID":
		return verifyPrefixed(rest, pw, "$argon2id$")
	case "ARGON2I":
		return verifyPrefixed(rest, pw, "$argon2i$")
	case "BLF-CRYPT":
		return verifyPrefixed(rest, pw, "$2")
	case "SHA512-CRYPT":
		return verifyPrefixed(rest, pw, "$6$")
	case "SHA256-CRYPT":
		return verifyPrefixed(rest, pw, "$5$")
	case "SSHA":
		return verifySalted(rest, pw, sha1.Size, func(b []byte) []byte { s := sha1.Sum(b); return s[:] })
	case "SSHA256":
		return verifySalted(rest, pw, sha256.Size, func(b []byte) []byte { s := sha256.Sum256(b); return s[:] })
	case "SSHA512":
		return verifySalted(rest, pw, sha512.Size, func(b []byte) []byte { s := sha512.Sum512(b); return s[:] })
	case "SHA":
		s := sha1.Sum([]byte(pw))
		return eq(rest, base64.StdEncoding.EncodeToString(s[:])), nil
	case "SHA256":
		s := sha256.Sum256([]byte(pw))
		return eq(rest, base64.StdEncoding.EncodeToString(s[:])), nil
	case "SHA512":
		s := sha512.Sum512([]byte(pw))
		return eq(rest, base64.StdEncoding.EncodeToString(s[:])), nil
	case "PLAIN", "CLEAR", "CLEARTEXT":
		return eq(rest, pw), nil
	}
	return false, ErrUnknownScheme
}

// splitScheme splits "{SCHEME}rest" into the upper-cased scheme and rest,
// decoding rest when the scheme ends in .B64 or .HEX; a hash without a
// prefix has scheme "".
func splitScheme(hash string) (scheme, rest string, err error) {
	if !strings.HasPrefix(hash, "{") {
		return "", hash, nil
	}
	end := strings.IndexByte(hash, '}')
	if end < 0 || end > 32 {
		return "", "", ErrUnknownScheme
	}
	scheme, rest = strings.ToUpper(hash[1:end]), hash[end+1:]
	var enc string
	if i := strings.LastIndexByte(scheme, '.'); i >= 0 {
		scheme, enc = scheme[:i], scheme[i+1:]
	}
	switch enc {
	case "":
		return scheme, rest, nil
	case "B64":
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return "", "", errors.New("directory: malformed .B64 hash")
		}
		return scheme, string(b), nil
	case "HEX":
		b, err := hex.DecodeString(rest)
		if err != nil {
			return "", "", errors.New("directory: malformed .HEX hash")
		}
		return scheme, string(b), nil
	}
	return "", "", ErrUnknownScheme
}

// verifyPrefixed verifies a crypt string that its {SCHEME} says starts
// with prefix, refusing one of another scheme under that name.
func verifyPrefixed(s, pw, prefix string) (bool, error) {
	if !strings.HasPrefix(s, prefix) {
		return false, ErrUnknownScheme
	}
	return verifyCrypt(s, pw)
}

// verifyCrypt verifies a PHC or crypt(3) string by its $id$.
func verifyCrypt(hash, pw string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"), strings.HasPrefix(hash, "$argon2i$"):
		return verifyArgon2(hash, pw)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		return err == nil, err
	case strings.HasPrefix(hash, "$5$"), strings.HasPrefix(hash, "$6$"):
		return verifySHACrypt(hash, pw)
	}
	return false, ErrUnknownScheme
}

func eq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// verifySalted checks {SSHA}-style base64(digest || salt) hashes.
func verifySalted(b64, pw string, size int, sum func([]byte) []byte) (bool, error) {
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) <= size {
		return false, errors.New("directory: malformed salted hash")
	}
	digest, salt := raw[:size], raw[size:]
	got := sum(append([]byte(pw), salt...))
	return subtle.ConstantTimeCompare(got, digest) == 1, nil
}

// argonParams parses an argon2id or argon2i PHC string's parameters and
// its salt and key, refusing values that would make a verification
// absurdly costly. Only version 19 (0x13, RFC 9106) is accepted.
func argonParams(hash string) (m, t uint32, p uint8, salt, key []byte, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || (parts[1] != "argon2id" && parts[1] != "argon2i") || parts[2] != "v=19" {
		return 0, 0, 0, nil, nil, errors.New("directory: malformed argon2id hash")
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || t == 0 || p == 0 || m > 4<<20 || t > 100 {
		return 0, 0, 0, nil, nil, errors.New("directory: malformed argon2id parameters")
	}
	enc := base64.RawStdEncoding
	salt, err1 := enc.DecodeString(parts[4])
	key, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(key) == 0 || len(key) > 128 {
		return 0, 0, 0, nil, nil, errors.New("directory: malformed argon2id hash")
	}
	return m, t, p, salt, key, nil
}

func verifyArgon2(hash, pw string) (bool, error) {
	m, t, p, salt, key, err := argonParams(hash)
	if err != nil {
		return false, err
	}
	kdf := argon2.IDKey
	if strings.HasPrefix(hash, "$argon2i$") {
		kdf = argon2.Key
	}
	got := kdf([]byte(pw), salt, t, m, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// VerifyMemory returns the bytes VerifyPassword(hash, ...) allocates for
// the hash itself: an argon2 hash's m= parameter (RFC 9106 3.1, in KiB),
// and 0 for the other schemes, whose few KiB do not matter, and for a
// malformed hash, which VerifyPassword refuses without hashing.
func VerifyMemory(hash string) int64 {
	scheme, rest, err := splitScheme(hash)
	if err != nil || (scheme != "" && scheme != "CRYPT" && scheme != "ARGON2ID" && scheme != "ARGON2I") {
		return 0
	}
	m, _, _, _, _, err := argonParams(rest)
	if err != nil {
		return 0
	}
	return int64(m) * 1024
}
