package imapclient

import (
	"bufio"
	"reflect"
	"strings"
	"testing"
)

func atom(s string) Value   { return Value{Kind: Atom, S: s} }
func str(s string) Value    { return Value{Kind: String, S: s} }
func list(l ...Value) Value { return Value{Kind: List, L: l} }
func sect(l ...Value) Value { return Value{Kind: Section, L: l} }

func TestReadResponse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Response
	}{
		{"* OK [UIDVALIDITY 1700000000] UIDs valid :)\r\n", Response{"*", []Value{atom("OK"), sect(atom("UIDVALIDITY"), atom("1700000000")), str("UIDs valid :)")}}},
		{"q1 NO [AUTHENTICATIONFAILED] Authentication failed (\r\n", Response{"q1", []Value{atom("NO"), sect(atom("AUTHENTICATIONFAILED")), str("Authentication failed (")}}},
		{"+ \r\n", Response{"+", []Value{str("")}}},
		{"* 3 EXISTS\r\n", Response{"*", []Value{atom("3"), atom("EXISTS")}}},
		{`* LIST (\HasNoChildren \Sent) "." "Sent \"x\""` + "\r\n", Response{"*", []Value{atom("LIST"), list(atom(`\HasNoChildren`), atom(`\Sent`)), str("."), str(`Sent "x"`)}}},
		{"* LIST () NIL {5}\r\nA B C\r\n", Response{"*", []Value{atom("LIST"), list(), atom("NIL"), str("A B C")}}},
		{"* 2 FETCH (UID 7 FLAGS (\\Seen $Work) INTERNALDATE \" 2-Jan-2006 15:04:05 +0100\" BODY[] ~{4}\r\na\r\nb)\r\n",
			Response{"*", []Value{atom("2"), atom("FETCH"), list(atom("UID"), atom("7"), atom("FLAGS"), list(atom(`\Seen`), atom("$Work")),
				atom("INTERNALDATE"), str(" 2-Jan-2006 15:04:05 +0100"), atom("BODY"), sect(), str("a\r\nb"))}}},
	} {
		got, err := ReadResponse(bufio.NewReader(strings.NewReader(tc.in)), 100)
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q:\n got %#v\nwant %#v", tc.in, got, tc.want)
		}
	}
	m, ok, err := fetched(Response{"*", []Value{atom("2"), atom("FETCH"), list(atom("UID"), atom("7"), atom("FLAGS"), list(atom(`\Seen`), atom(`\Recent`)),
		atom("INTERNALDATE"), str(" 2-Jan-2006 15:04:05 +0100"), atom("BODY"), sect(), str("a\r\nb"))}})
	if err != nil || !ok || m.UID != 7 || !reflect.DeepEqual(m.Flags, []string{`\Seen`}) || string(m.Body) != "a\r\nb" ||
		m.InternalDate.Unix() != 1136210645 {
		t.Errorf("fetched: %+v %v %v", m, ok, err)
	}
}

func TestReadResponseRefuses(t *testing.T) {
	for _, in := range []string{
		"* LIST (\r\n",
		"* 1 FETCH (BODY[] {101}\r\n",
		"* X \"a\r\n",
		"* X )\r\n",
		"* X " + strings.Repeat("(", 40) + "\r\n",
		"",
	} {
		if r, err := ReadResponse(bufio.NewReader(strings.NewReader(in)), 100); err == nil {
			t.Errorf("%q: %+v, want an error", in, r)
		}
	}
}

// FuzzReadResponse checks that no server reply panics the reader, and
// that a literal's bound holds.
func FuzzReadResponse(f *testing.F) {
	f.Add([]byte("* 2 FETCH (UID 7 FLAGS (\\Seen) BODY[] {3}\r\nabc)\r\n"))
	f.Add([]byte("* OK [UIDNEXT 4] x\r\nq1 OK done\r\n"))
	f.Add([]byte("* LIST (\\Noselect) \"/\" ~{2}\r\nab\r\n"))
	// A batch of bodies: two messages, a flag change between them.
	f.Add([]byte("* 1 FETCH (UID 3 BODY[] {3}\r\nabc)\r\n* 2 FETCH (FLAGS (\\Seen))\r\n* 4 FETCH (BODY[] {2}\r\nxy UID 9)\r\nq2 OK done\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(strings.NewReader(string(data)))
		for range 10 {
			r, err := ReadResponse(br, 64)
			if err != nil {
				return
			}
			for _, v := range r.Fields {
				if v.Kind == String && len(v.S) > len(data) {
					t.Fatalf("a string longer than the input")
				}
			}
			_, _, _ = fetched(r)
			_ = r.Code()
			_ = r.Status()
		}
	})
}
