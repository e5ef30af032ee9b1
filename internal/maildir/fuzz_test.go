package maildir

import (
	"reflect"
	"testing"
)

func FuzzParseUIDList(f *testing.F) {
	f.Add([]byte("3 V1700000000 N12 G00112233445566778899aabbccddeeff\n3 :1.Q3,S=10\n11 W12 :2.Q11\n"))
	f.Add([]byte("3 V1 N2\n"))
	f.Add([]byte("3 V1 N1\n1 :a\n")) // records past the header's NEXTUID
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := ParseUIDList(data)
		if err != nil {
			return
		}
		// What parses marshals to a file that parses to the same list,
		// the fields normalised by Marshal's spacing.
		again, err := ParseUIDList(l.Marshal())
		if err != nil {
			t.Fatalf("Marshal of a parsed list does not parse: %v", err)
		}
		if again.UIDValidity != l.UIDValidity || again.UIDNext != l.UIDNext || len(again.Entries) != len(l.Entries) {
			t.Fatalf("round trip changed the list: %+v -> %+v", l, again)
		}
	})
}

func FuzzParseKeywords(f *testing.F) {
	f.Add([]byte("0 $Forwarded\n2 work\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kw, err := ParseKeywords(data)
		if err != nil {
			return
		}
		again, err := ParseKeywords(kw.Marshal())
		if err != nil || len(again) > MaxKeywords {
			t.Fatalf("Marshal of parsed keywords: %q, %v", again, err)
		}
		for i, w := range kw {
			if w != "" && again[i] != w {
				t.Fatalf("keyword %d: %q became %q", i, w, again[i])
			}
		}
	})
}

func FuzzParseFileName(f *testing.F) {
	f.Add("1700000000.Q3V7.quire,S=10,W=12:2,DFRSTab")
	f.Add("plain")
	f.Fuzz(func(t *testing.T, name string) {
		base, letters, err := ParseFileName(name)
		if err != nil {
			return
		}
		if letters != "" && FileName(base, letters) != name {
			t.Fatalf("FileName(%q, %q) != %q", base, letters, name)
		}
		// Flags of any letters either fail or come back as the same
		// letters (less P, which no IMAP flag holds).
		kw := Keywords{"a0", "b1", "c2"}
		flags, err := kw.Flags(letters)
		if err != nil {
			return
		}
		back, rest := kw.Letters(flags)
		if len(rest) != 0 || len(back) > len(letters) {
			t.Fatalf("letters %q -> flags %q -> letters %q rest %q", letters, flags, back, rest)
		}
	})
}

func FuzzFolderName(f *testing.F) {
	f.Add(".a.b")
	f.Add(".Entw&APw-rfe")
	f.Add(".v1&ICQ-2")
	f.Fuzz(func(t *testing.T, dir string) {
		name, err := FolderName(dir)
		if err != nil {
			return
		}
		back, err := FolderName(FolderDir(name))
		if err != nil || back != name {
			t.Fatalf("%q -> %q -> %q -> %q, %v", dir, name, FolderDir(name), back, err)
		}
	})
}

func FuzzParseSubscriptions(f *testing.F) {
	f.Add([]byte("INBOX\nArchive.2024\n"))
	f.Add([]byte("V\t2\n\nINBOX\nArchive\t2024\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		names, err := ParseSubscriptions(data)
		if err != nil {
			return
		}
		again, err := ParseSubscriptions(MarshalSubscriptions(names))
		if err != nil || !reflect.DeepEqual(again, names) {
			t.Fatalf("%q -> %q -> %q, %v", data, names, again, err)
		}
	})
}
