package directory

import (
	"strings"
	"testing"
)

// Hashes made by Dovecot 2.3's "doveadm pw -s SCHEME" and by glibc's
// crypt(3), and the test vectors of Drepper's SHA-crypt specification:
// each must verify with its password and refuse another.
var schemeVectors = []struct{ hash, pw string }{
	// doveadm pw, password "secret".
	{"{SHA512-CRYPT}$6$ZcEqt0neCML0u7Qb$eS606c1s89LmBDh5x32HSeXNso3Nulbww3KxEuumv7xPO/yquGrjIJcJMY4HMLvdY5FC9gkKkz/h.lqH/agD4/", "secret"},
	{"{SHA256-CRYPT}$5$R14R44i3gQcEoFjB$3DI.ZX/KDcYMXKlTdam1UYtMLJsHtLUXikKjMuX/9s.", "secret"},
	{"{BLF-CRYPT}$2y$05$Lv8cEhAK43Un60G.l08QluyYfNxQLdBt2fWI21dvr0eglhLvx8cnS", "secret"},
	{"{CRYPT}$2y$05$r/He2bI5CGhz6/TyzgRVxe2VOwC3J1EhpLOtMHz2SpqaQ8VkLrtF2", "secret"},
	{"{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$BtZTIT6jb7bUcWKHUkSKSw$Pl5o2oO3It/tBQTGUt4P70FXNAL2bh+xRPV2mZdeLvw", "secret"},
	{"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$mk8oa8vY8HMmLcPVa4MaiA$mxuhtHPtHJB0A/dTJDPFIPwQ2Z5zIyrdCmlaNpIVQmw", "secret"},
	{"{SSHA512}CVia3pIR0BbcCZDouDfzw9ry3rF19GShkqBYi13fE/1JgH2PrN/i1TdqJcM9hA8TMXmd7o/FJVRzy0V4oIk20m758Uw=", "secret"},
	{"{SHA512-CRYPT}$6$rounds=12000$TTieA8qsdYP9/u3B$MvpLO8aEMPz0sZ.Hk20aILTQdnXjq.oChWXiXmZ2r6n/vAI511txXlduCuPRtyK3WeUj67fUYS1kO/.8Hx7ZI1", "x"},
	{"{SHA256-CRYPT}$5$rounds=1000$qy.DlbOMPRMO01a7$bTlPzZIaoPcaqdxUGYuYFv1VZy7Z3R4FtAiNmTjeDG2", ""},
	// doveadm pw, a longer password with non-ASCII characters (UTF-8).
	{"{SHA512-CRYPT}$6$uBIBxpdkp.ac4OLQ$lEtd22p/8BW8SDI2jXMhtgsFM0jQViOSBgQnL8HsT8T23ohrW2JCBFUPyRr5TuSjyCZe5TUgpJb51VtS082Am/", "pässwörd with 24+ chars!"},
	{"{SHA256-CRYPT}$5$Z0l7beKxM4CRTb26$/Z.9.Hw2zfb3vs86.yPc63CKj3et7yMvXoYS.n9EFs4", "pässwörd with 24+ chars!"},
	{"{BLF-CRYPT}$2y$05$B2wBBfiZvxLQgSq1vlsf8eAlqhiWfZYdxcai/d1odua1rn7GcrBWC", "pässwörd with 24+ chars!"},
	{"{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$jVKVW72G35Hg4MM0JKrjYA$vk+3RFLPxHifA9JMJ642pUpkFm+XddY383ZMYAYCvaQ", "pässwörd with 24+ chars!"},
	{"{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$mGR+dc+VZx5CPchO4bH2GQ$w++/mZSt25HaUeHf7nx2Y4gkRgt+1Ej0vNTwWb2Q6rI", "pässwörd with 24+ chars!"},
	{"{SSHA512}9AnOwHPM1q3ynZ8gfoJ3HzVMG8CVUjXAjkKACPYNej7TYGSUV+aFUR2rLT4SY+TFCJNNQciId6/vLV8O64cTr2L2YxQ=", "pässwörd with 24+ chars!"},
	{"{SSHA256}ikewAptiGkD6DHQ+EI3yHCRrUw4Vca+uddariv8l+obKNwjw", "pässwörd with 24+ chars!"},
	{"{SSHA}J+6d9A0LuRLJo8WW9+ievhWQvor4GspT", "pässwörd with 24+ chars!"},
	{"{SHA}ZUdvHyir10SNRlcShpUIG5oTqoA=", "pässwörd with 24+ chars!"},
	{"{SHA512-CRYPT.B64}JDYkVE55OGw2NkRTbmR0UjRqeSRod3V2V2w0OGtFRTNkbWlvRFdERXZmbWsyMjd0Uk5vcktackZaZko3LmhrbWVpLnBjb2ZhTzM5T1ozREFHQVdHOUc0QVFVcE1EYnhsdVlMcTdWYWVoMQ==", "pässwörd with 24+ chars!"},
	{"{SHA256-CRYPT.HEX}243524326741584b476e674674302e7a51554c246f4441526f59745561507754502e36357469594a47666f393979316a75544a33624d384734796168703938", "pässwörd with 24+ chars!"},
	// Drepper's specification, through glibc's crypt(3).
	{"$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v.", "Hello world!"},
	{"$5$rounds=5000$toolongsaltstrin$Un/5jzAHMgOGZ5.mWJpuVolil07guHPvOW8mGRcvxa5", "This is just a test"},
	{"$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1", "a very much longer text to encrypt.  This one even stretches over morethan one line."},
	{"$5$rounds=77777$short$JiO1O3ZpDAxGJeaDIuqCoEFysAe1mZNJRs3pw0KQRd/", "we have a short salt string but not a short password"},
	{"$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1", "Hello world!"},
	{"$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA", "Hello world!"},
	// The specification's own vectors for a salt longer than 16 (cut) and
	// for rounds below the minimum (raised to 1000).
	{"$6$rounds=5000$toolongsaltstringtoolong$lQ8jolhgVRVhY4b5pZKaysCLi0QBxGoNeKQzQ3glMhwllF7oGDZxUhx1yxdYcz/e1JSbq3y6JMxxl8audkUEm0", "This is just a test"},
	{"$6$rounds=1000$roundstoolow$kUMsbe306n21p9R.FRkW3IGn.S9NPN0x50YhH1xhLsPuWGsUSklZt58jaTfF4ZEQpyUNGc0dqbpBYYBaHHrsX.", "the minimum number is still observed"},
	{"$5$rounds=10$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC", "the minimum number is still observed"},
}

func TestSchemeVectors(t *testing.T) {
	for _, v := range schemeVectors {
		name := v.hash[:min(len(v.hash), 24)]
		if ok, err := VerifyPassword(v.hash, v.pw); !ok || err != nil {
			t.Errorf("%s: right password refused (ok %v, err %v)", name, ok, err)
		}
		if ok, err := VerifyPassword(v.hash, v.pw+"x"); ok || err != nil {
			t.Errorf("%s: wrong password: ok %v, err %v; want false, nil", name, ok, err)
		}
	}
}

// TestSchemeMismatch: a {SCHEME} prefix must name the hash that follows,
// so a stored hash cannot smuggle in another scheme's rules.
func TestSchemeMismatch(t *testing.T) {
	for _, h := range []string{
		"{SHA512-CRYPT}$5$R14R44i3gQcEoFjB$3DI.ZX/KDcYMXKlTdam1UYtMLJsHtLUXikKjMuX/9s.",
		"{ARGON2I}$argon2id$v=19$m=65536,t=3,p=1$mk8oa8vY8HMmLcPVa4MaiA$mxuhtHPtHJB0A/dTJDPFIPwQ2Z5zIyrdCmlaNpIVQmw",
		"{BLF-CRYPT}$6$ZcEqt0neCML0u7Qb$eS606c1s89LmBDh5x32HSeXNso3Nulbww3KxEuumv7xPO/yquGrjIJcJMY4HMLvdY5FC9gkKkz/h.lqH/agD4/",
		"{MD5-CRYPT}$1$abc$def",
		"{SHA512-CRYPT.ZIP}xyz",
	} {
		if ok, err := VerifyPassword(h, "secret"); ok || err != ErrUnknownScheme {
			t.Errorf("%.30s: ok %v, err %v; want false, ErrUnknownScheme", h, ok, err)
		}
	}
}

// TestSHACryptLimits: the rounds a hash may ask for are bounded, and
// malformed strings are refused without hashing.
func TestSHACryptLimits(t *testing.T) {
	digest := strings.Repeat("a", 86)
	for _, h := range []string{
		"$6$rounds=10000001$salt$" + digest,
		"$6$rounds=99999999999$salt$" + digest,
		"$6$rounds=$salt$" + digest,
		"$6$rounds=-5$salt$" + digest,
		"$6$salt$" + digest[:85],
		"$5$salt$" + digest,
		"$6$sa$lt$" + digest,
		"$6$",
	} {
		if ok, err := VerifyPassword(h, "x"); ok || err == nil {
			t.Errorf("%.40s: ok %v, err %v; want a refusal", h, ok, err)
		}
	}
	if VerifyMemory("{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$BtZTIT6jb7bUcWKHUkSKSw$Pl5o2oO3It/tBQTGUt4P70FXNAL2bh+xRPV2mZdeLvw") != 32768*1024 {
		t.Error("VerifyMemory of {ARGON2I}: want its m= in bytes")
	}
	if VerifyMemory("{SHA512-CRYPT}$6$ZcEqt0neCML0u7Qb$x") != 0 {
		t.Error("VerifyMemory of SHA-crypt: want 0")
	}
}

// FuzzVerifyPassword: no hash string makes the verifier panic or accept
// a password the scheme does not produce from it.
func FuzzVerifyPassword(f *testing.F) {
	for _, v := range schemeVectors {
		if !strings.Contains(v.hash, "argon2") { // keep each run cheap
			f.Add(v.hash, v.pw)
		}
	}
	f.Add("{SHA512-CRYPT.B64}", "")
	f.Add("$6$rounds=1000$$", "")
	f.Fuzz(func(t *testing.T, hash, pw string) {
		if strings.Contains(hash, "argon2") || strings.Contains(hash, "$2") {
			return // costly by design; their parsers are fuzzed through argonParams and bcrypt's own
		}
		ok, err := VerifyPassword(hash, pw)
		if ok && err != nil {
			t.Fatalf("ok with error %v", err)
		}
		_ = VerifyMemory(hash)
	})
}

// BenchmarkVerifySHA512Crypt: one login's cost for a Dovecot
// {SHA512-CRYPT} hash at its default 5000 rounds.
func BenchmarkVerifySHA512Crypt(b *testing.B) {
	h := schemeVectors[0].hash
	for b.Loop() {
		if ok, _ := VerifyPassword(h, "secret"); !ok {
			b.Fatal("refused")
		}
	}
}
