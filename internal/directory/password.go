// Package directory authenticates users and says where their mail lives.
// The embedded directory keeps users in the store (ms_mbox on Cassandra),
// with argon2id password hashes; it also verifies hashes imported from
// other systems (bcrypt, {SSHA}, {SHA256}/{SHA512}, {PLAIN}) so that a
// migration keeps every password working.
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

// VerifyPassword reports whether pw matches hash.
func VerifyPassword(hash, pw string) (bool, error) {
	switch {
	case strings.HasPrefix(hash, "$argon2id$"):
		return verifyArgon2id(hash, pw)
	case strings.HasPrefix(hash, "$2a$"), strings.HasPrefix(hash, "$2b$"), strings.HasPrefix(hash, "$2y$"):
		err := bcrypt.CompareHashAndPassword([]byte(hash), []byte(pw))
		if errors.Is(err, bcrypt.ErrMismatchedHashAndPassword) {
			return false, nil
		}
		return err == nil, err
	case strings.HasPrefix(hash, "{SSHA}"):
		return verifySalted(hash[6:], pw, sha1.New().Size(), func(b []byte) []byte { s := sha1.Sum(b); return s[:] })
	case strings.HasPrefix(hash, "{SSHA256}"):
		return verifySalted(hash[9:], pw, sha256.Size, func(b []byte) []byte { s := sha256.Sum256(b); return s[:] })
	case strings.HasPrefix(hash, "{SSHA512}"):
		return verifySalted(hash[9:], pw, sha512.Size, func(b []byte) []byte { s := sha512.Sum512(b); return s[:] })
	case strings.HasPrefix(hash, "{SHA256}"):
		s := sha256.Sum256([]byte(pw))
		return eq(hash[8:], base64.StdEncoding.EncodeToString(s[:])), nil
	case strings.HasPrefix(hash, "{SHA512}"):
		s := sha512.Sum512([]byte(pw))
		return eq(hash[8:], base64.StdEncoding.EncodeToString(s[:])), nil
	case strings.HasPrefix(hash, "{PLAIN}"):
		return eq(hash[7:], pw), nil
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

// argonParams parses an argon2id PHC string's parameters and its salt and
// key, refusing values that would make a verification absurdly costly.
func argonParams(hash string) (m, t uint32, p uint8, salt, key []byte, err error) {
	parts := strings.Split(hash, "$")
	if len(parts) != 6 {
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

func verifyArgon2id(hash, pw string) (bool, error) {
	m, t, p, salt, key, err := argonParams(hash)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// VerifyMemory returns the bytes VerifyPassword(hash, ...) allocates for
// the hash itself: an argon2id hash's m= parameter (RFC 9106 3.1, in KiB),
// and 0 for the other schemes, whose few KiB do not matter, and for a
// malformed hash, which VerifyPassword refuses without hashing.
func VerifyMemory(hash string) int64 {
	if !strings.HasPrefix(hash, "$argon2id$") {
		return 0
	}
	m, _, _, _, _, err := argonParams(hash)
	if err != nil {
		return 0
	}
	return int64(m) * 1024
}
