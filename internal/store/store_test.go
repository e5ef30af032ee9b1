package store

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/mail"
)

func TestCanonicalAddress(t *testing.T) {
	for in, want := range map[string]string{
		"Alice@Example.ORG":       "alice@example.org",
		" bob+lists@example.org ": "bob@example.org",
		"carol+a+b@example.org":   "carol@example.org",
		"+only@example.org":       "+only@example.org",
		"quoted@sub.example.org":  "quoted@sub.example.org",
		"x@y@example.org":         "x@y@example.org",
	} {
		got, err := CanonicalAddress(in)
		if err != nil || got != want {
			t.Errorf("CanonicalAddress(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "nobody", "@example.org", "a@", "a b@example.org", "<a@example.org>"} {
		if _, err := CanonicalAddress(bad); err == nil {
			t.Errorf("CanonicalAddress(%q) accepted", bad)
		}
	}
}

func TestCanonicalMailboxName(t *testing.T) {
	for in, want := range map[string]string{
		"inbox": "INBOX", "InBox/Sub": "INBOX/Sub", "Work/": "Work", "Inboxes": "Inboxes", "Ünïcode/日本": "Ünïcode/日本",
	} {
		got, err := CanonicalMailboxName(in)
		if err != nil || got != want {
			t.Errorf("CanonicalMailboxName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "/", "a//b", "/a", "a*", "a%", "a\nb", "\xff"} {
		if _, err := CanonicalMailboxName(bad); !errors.Is(err, mail.ErrBadMailboxName) {
			t.Errorf("CanonicalMailboxName(%q): %v", bad, err)
		}
	}
}

func TestMetaRoundTrip(t *testing.T) {
	m := MessageMeta{
		Blob: "ab12", Size: 12345, InternalDate: time.Date(2025, 1, 2, 3, 4, 5, 6e6, time.UTC),
		SaveDate: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), ReturnPath: "a@b", EmailID: "Mabc", Structure: []byte{1, 2, 3},
	}
	got, err := DecodeMeta(EncodeMeta(m))
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("round trip: %+v %v", got, err)
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add(EncodeMeta(MessageMeta{Blob: "x", Size: 3, ReturnPath: "r", Structure: []byte("s")}))
	f.Add([]byte{1, 200, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMeta(b)
		if err != nil {
			return
		}
		again, err := DecodeMeta(EncodeMeta(m))
		if err != nil || !reflect.DeepEqual(again, m) {
			t.Fatalf("re-encode changed meta: %+v vs %+v (%v)", again, m, err)
		}
	})
}
