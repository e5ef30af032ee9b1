package imapwire

import (
	"slices"
	"testing"
)

func TestModifiedUTF7(t *testing.T) {
	tests := []struct{ utf8, mutf7 string }{
		{"INBOX", "INBOX"},
		{"&", "&-"},
		{"a&b", "a&-b"},
		// RFC 3501 5.1.3.
		{"~peter/mail/台北/日本語", "~peter/mail/&U,BTFw-/&ZeVnLIqe-"},
		{"Entwürfe", "Entw&APw-rfe"},
		{"😀", "&2D3eAA-"},
		{"Ω&Ω", "&A6k-&-&A6k-"},
	}
	for _, tt := range tests {
		if got := EncodeMailbox(tt.utf8); got != tt.mutf7 {
			t.Errorf("encode %q = %q, want %q", tt.utf8, got, tt.mutf7)
		}
		if got, err := DecodeMailbox(tt.mutf7); err != nil || got != tt.utf8 {
			t.Errorf("decode %q = %q %v, want %q", tt.mutf7, got, err, tt.utf8)
		}
	}
	for _, bad := range []string{"&", "&U,BTF-", "&AGE-", "&2D0-", "&3gA-", "a\x01", "caf\xc3\xa9", "&U,BTFw", "&Jj!-"} {
		if got, err := DecodeMailbox(bad); err == nil {
			t.Errorf("decode %q = %q, want error", bad, got)
		}
	}
}

func TestUTF8AcceptMailbox(t *testing.T) {
	r, _ := newTestReader("a SELECT \"台北&-\"\r\n", Limits{})
	r.SetUTF8Accept(true)
	cmd, err := r.ReadCommand()
	if err != nil || cmd.Args.(*SelectArgs).Mailbox != "台北&-" {
		t.Fatal(cmd, err)
	}
	r, _ = newTestReader("a SELECT \"\xff\"\r\n", Limits{})
	r.SetUTF8Accept(true)
	if _, err := r.ReadCommand(); err == nil {
		t.Fatal("invalid UTF-8 accepted")
	}
}

func TestSeqSet(t *testing.T) {
	s, err := ParseSeqSet("7:5,1,*,10:*,2:2")
	if err != nil {
		t.Fatal(err)
	}
	if s.String() != "7:5,1,*,10:*,2" {
		t.Errorf("String = %q", s.String())
	}
	for n, want := range map[uint32]bool{1: true, 2: true, 3: false, 5: true, 6: true, 7: true, 8: false, 10: true, 12: true, 13: false} {
		if s.Contains(n, 12) != want {
			t.Errorf("Contains(%d, 12) = %v", n, !want)
		}
	}
	// "10:*" with * = 4 is 4:10.
	if !s.Contains(9, 4) || s.Contains(11, 4) {
		t.Error("reversed star range")
	}
	if got := slices.Collect(s.All(12)); !slices.Equal(got, []uint32{1, 2, 5, 6, 7, 10, 11, 12}) {
		t.Errorf("All = %v", got)
	}
	if got := s.Normalize(12); !slices.Equal(got, []SeqRange{{1, 2}, {5, 7}, {10, 12}}) {
		t.Errorf("Normalize = %v", got)
	}
	empty, _ := ParseSeqSet("1:*")
	if got := empty.Normalize(0); len(got) != 1 || got[0] != (SeqRange{1, 1}) {
		// In an empty mailbox "1:*" is "1:0", i.e. 0:1; only 1 is a valid number.
		t.Errorf("Normalize(0) = %v", got)
	}
	if s, _ := ParseSeqSet("*"); len(s.Normalize(0)) != 0 {
		t.Error("* in empty mailbox")
	}
	if s, _ := ParseSeqSet("4294967295:*"); !s.Contains(4294967295, 4294967295) || len(slices.Collect(s.All(4294967295))) != 1 {
		t.Error("max uint32")
	}
	if d, _ := ParseSeqSet("$"); !d.Saved || d.String() != "$" || d.Contains(1, 1) {
		t.Error("$")
	}
	for _, bad := range []string{"", ",", "1,", "0", "1:0", "01", "1:2:3", "a", "4294967296", "*:"} {
		if _, err := ParseSeqSet(bad); err == nil {
			t.Errorf("ParseSeqSet(%q) succeeded", bad)
		}
	}
}
