package maildir

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestFolderNames(t *testing.T) {
	for name, dir := range map[string]string{
		"INBOX": "", "Sent": ".Sent", "a/b": ".a.b", "Entwürfe": ".Entw&APw-rfe",
		"v1\u20242/x": ".v1&ICQ-2.x", "a&b": ".a&-b", "INBOX/sub": ".INBOX.sub",
	} {
		if got := FolderDir(name); got != dir {
			t.Errorf("FolderDir(%q) = %q, want %q", name, got, dir)
		}
		back, err := FolderName(dir)
		if err != nil || back != name {
			t.Errorf("FolderName(%q) = %q, %v; want %q", dir, back, err, name)
		}
	}
	if got := FolderDir("v1.2/x"); got != ".v1&ICQ-2.x" {
		t.Errorf("FolderDir(v1.2/x) = %q, want the dot as U+2024", got)
	}
	for _, bad := range []string{".", "Sent", ".a..b", ".&Jjo", ".a/b", ".&AC4-"} {
		if n, err := FolderName(bad); err == nil {
			t.Errorf("FolderName(%q) = %q, want an error", bad, n)
		}
	}
}

func TestLettersAndFlags(t *testing.T) {
	var kw Keywords
	letters, rest := kw.Letters([]string{`\Seen`, "$Forwarded", `\Answered`, `\Recent`, "work", `\Deleted`, `\Draft`, `\Flagged`})
	if letters != "DFRSTab" || !reflect.DeepEqual(rest, []string{`\Recent`}) {
		t.Fatalf("Letters = %q, %q", letters, rest)
	}
	letters, _ = kw.Letters([]string{"work"})
	if letters != "b" || !reflect.DeepEqual(kw, Keywords{"$Forwarded", "work"}) {
		t.Fatalf("second Letters = %q, keywords %q", letters, kw)
	}
	flags, err := kw.Flags("DFRSTab")
	want := []string{`\Draft`, `\Flagged`, `\Answered`, `\Seen`, `\Deleted`, "$Forwarded", "work"}
	if err != nil || !reflect.DeepEqual(flags, want) {
		t.Fatalf("Flags = %q, %v; want %q", flags, err, want)
	}
	if _, err := kw.Flags("c"); err == nil {
		t.Fatal("an undefined keyword letter was accepted")
	}
	// The 27th keyword does not fit a file name.
	var full Keywords
	var many []string
	for i := range 27 {
		many = append(many, "k"+string(rune('a'+i%26))+strings.Repeat("x", i/26))
	}
	letters, rest = full.Letters(many)
	if len(letters) != 26 || !reflect.DeepEqual(rest, many[26:]) {
		t.Fatalf("27 keywords: letters %q, rest %q", letters, rest)
	}
}

func TestKeywordsRoundTrip(t *testing.T) {
	kw := Keywords{"$Forwarded", "", "work"}
	got, err := ParseKeywords(kw.Marshal())
	if err != nil || !reflect.DeepEqual(got, kw) {
		t.Fatalf("ParseKeywords(Marshal) = %q, %v", got, err)
	}
	for _, bad := range []string{"26 x\n", "0 a\n0 b\n", "0 a\n1 a\n", "x y\n", "0\n", "0 a b\n"} {
		if _, err := ParseKeywords([]byte(bad)); err == nil {
			t.Errorf("ParseKeywords(%q) accepted", bad)
		}
	}
}

func TestUIDListRoundTrip(t *testing.T) {
	l := UIDList{UIDValidity: 1700000000, UIDNext: 12, GUID: "00112233445566778899aabbccddeeff", Entries: []UIDEntry{
		{UID: 3, Base: "1.Q3.quire,S=10,W=12"}, {UID: 11, Fields: []string{"W12"}, Base: "2.Q11.quire,S=10"},
	}}
	data := l.Marshal()
	if !bytes.HasPrefix(data, []byte("3 V1700000000 N12 G00112233445566778899aabbccddeeff\n3 :1.Q3.quire,S=10,W=12\n11 W12 :2.Q11")) {
		t.Fatalf("Marshal:\n%s", data)
	}
	got, err := ParseUIDList(data)
	if err != nil || !reflect.DeepEqual(got, l) {
		t.Fatalf("ParseUIDList(Marshal) = %+v, %v", got, err)
	}
	for _, bad := range []string{
		"1 V1 N2\n", "3 N2\n", "3 V1 N2\n1\n", "3 V1 N5\n2 :a\n2 :b\n", "3 V1 N5\nx :a\n", "3 V1 N5\n4294967295 :a\n",
	} {
		if _, err := ParseUIDList([]byte(bad)); err == nil {
			t.Errorf("ParseUIDList(%q) accepted", bad)
		}
	}
	// Dovecot appends records without rewriting the header: a record at
	// or past the header's NEXTUID raises UIDNext above it.
	got, err = ParseUIDList([]byte("3 V1733400000 N1 G00112233445566778899aabbccddeeff\n1 :a\n3 :b\n"))
	if err != nil || got.UIDNext != 4 || len(got.Entries) != 2 {
		t.Fatalf("a header trailing its records: %+v, %v; want UIDNext 4", got, err)
	}
}

func TestParseFileName(t *testing.T) {
	base, letters, err := ParseFileName("1.Q3.quire,S=10,W=12:2,RSa")
	if err != nil || base != "1.Q3.quire,S=10,W=12" || letters != "RSa" {
		t.Fatalf("ParseFileName = %q %q %v", base, letters, err)
	}
	if n, ok := BaseSize(base, "W"); !ok || n != 12 {
		t.Fatalf("BaseSize W = %d %v", n, ok)
	}
	for _, bad := range []string{"", ".hidden", "a:2,SS", "a:1,S", ":2,S", "a:2,S1"} {
		if _, _, err := ParseFileName(bad); err == nil {
			t.Errorf("ParseFileName(%q) accepted", bad)
		}
	}
}

func TestSubscriptions(t *testing.T) {
	names := []string{"INBOX", "Archive/2024", "Entwürfe"}
	data := MarshalSubscriptions(names)
	if string(data) != "INBOX\nArchive.2024\nEntw&APw-rfe\n" {
		t.Fatalf("MarshalSubscriptions: %q", data)
	}
	got, err := ParseSubscriptions(data)
	if err != nil || !reflect.DeepEqual(got, names) {
		t.Fatalf("ParseSubscriptions = %q, %v", got, err)
	}
	got, err = ParseSubscriptions([]byte("V\t2\n\nINBOX\nArchive\t2024\n"))
	if err != nil || !reflect.DeepEqual(got, names[:2]) {
		t.Fatalf("version 2: %q, %v", got, err)
	}
}

func TestFolderWriteRead(t *testing.T) {
	root := t.TempDir()
	dir, err := CreateFolder(root, "a/b")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CreateFolder(root, "INBOX"); err != nil {
		t.Fatal(err)
	}
	mtime := time.Unix(1700000000, 0)
	var bases []string
	for _, m := range []struct{ prefix, letters, body string }{{"2.Q9", "S", "ni\r\nne\n"}, {"1.Q4", "Fa", "four"}} {
		base, err := WriteMessage(dir, m.prefix, m.letters, strings.NewReader(m.body), mtime)
		if err != nil {
			t.Fatal(err)
		}
		bases = append(bases, base)
	}
	if !reflect.DeepEqual(bases, []string{"2.Q9,S=7,W=8", "1.Q4,S=4,W=4"}) {
		t.Fatalf("bases %q", bases)
	}
	// A file Dovecot's uidlist does not know yet, in new/.
	if err := os.WriteFile(filepath.Join(dir, "new", "3.Q0"), []byte("new"), 0o600); err != nil {
		t.Fatal(err)
	}
	l := UIDList{UIDValidity: 7, UIDNext: 10, GUID: "00", Entries: []UIDEntry{{UID: 4, Base: bases[1]}, {UID: 9, Base: bases[0]}}}
	if err := WriteFile(dir, UIDListFile, l.Marshal()); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(dir, KeywordsFile, Keywords{"work"}.Marshal()); err != nil {
		t.Fatal(err)
	}
	names, err := Folders(root)
	if err != nil || !reflect.DeepEqual(names, []string{"INBOX", "a/b"}) {
		t.Fatalf("Folders = %q, %v", names, err)
	}
	f, err := ReadFolder(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []Message{
		{UID: 4, Base: bases[1], Letters: "Fa", Path: filepath.Join(dir, "cur", bases[1]+":2,Fa")},
		{UID: 9, Base: bases[0], Letters: "S", Path: filepath.Join(dir, "cur", bases[0]+":2,S")},
		{Base: "3.Q0", Path: filepath.Join(dir, "new", "3.Q0")},
	}
	if !reflect.DeepEqual(f.Messages, want) || !reflect.DeepEqual(f.Keywords, Keywords{"work"}) || f.UIDList.UIDValidity != 7 {
		t.Fatalf("ReadFolder = %+v", f)
	}
	fi, err := os.Stat(want[0].Path)
	if err != nil || !fi.ModTime().Equal(mtime) {
		t.Fatalf("mtime %v, %v; want %v", fi.ModTime(), err, mtime)
	}
}
