package directory

import (
	"crypto/sha1"
	"encoding/base64"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestArgon2idRoundTrip(t *testing.T) {
	h, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := VerifyPassword(h, "correct horse"); !ok || err != nil {
		t.Fatalf("verify good: %v %v", ok, err)
	}
	if ok, _ := VerifyPassword(h, "correct hors"); ok {
		t.Fatal("verify bad password succeeded")
	}
	h2, _ := HashPassword("correct horse")
	if h == h2 {
		t.Fatal("two hashes of one password are equal: salt not random")
	}
	if _, err := HashPassword(""); err == nil {
		t.Fatal("empty password hashed")
	}
}

func TestImportedSchemes(t *testing.T) {
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw1"), bcrypt.MinCost)
	salt := []byte("salt")
	d := sha1.Sum(append([]byte("pw2"), salt...))
	ssha := "{SSHA}" + base64.StdEncoding.EncodeToString(append(d[:], salt...))
	for _, c := range []struct{ hash, good string }{
		{string(bc), "pw1"},
		{ssha, "pw2"},
		{"{SHA256}XohImNooBHFR0OVvjcYpJ3NgPQ1qq73WKhHvch0VQtg=", "password"},
		{"{PLAIN}pw3", "pw3"},
	} {
		if ok, err := VerifyPassword(c.hash, c.good); !ok || err != nil {
			t.Errorf("%s: good password refused: %v", c.hash[:6], err)
		}
		if ok, _ := VerifyPassword(c.hash, c.good+"x"); ok {
			t.Errorf("%s: bad password accepted", c.hash[:6])
		}
	}
	if _, err := VerifyPassword("$md5$xyz", "a"); err != ErrUnknownScheme {
		t.Fatalf("unknown scheme: %v", err)
	}
	for _, bad := range []string{"$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA", "$argon2id$garbage", "{SSHA}!!!"} {
		if ok, _ := VerifyPassword(bad, "x"); ok {
			t.Fatalf("malformed hash %q verified", bad)
		}
	}
}

func TestVerifyMemory(t *testing.T) {
	h, err := HashPassword("pw")
	if err != nil {
		t.Fatal(err)
	}
	bc, _ := bcrypt.GenerateFromPassword([]byte("pw"), bcrypt.MinCost)
	for _, c := range []struct {
		hash string
		want int64
	}{
		{h, argonMemory * 1024},
		{"$argon2id$v=19$m=1048576,t=1,p=1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", 1 << 30},
		{"$argon2id$v=19$m=0,t=1,p=1$AAAA$AAAA", 0}, // refused without hashing
		{"$argon2id$garbage", 0},
		{string(bc), 0},
		{"{PLAIN}pw", 0},
	} {
		if got := VerifyMemory(c.hash); got != c.want {
			t.Errorf("VerifyMemory(%.30q) = %d, want %d", c.hash, got, c.want)
		}
	}
}
