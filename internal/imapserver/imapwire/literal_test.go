package imapwire

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestSyncLiteralContinuation(t *testing.T) {
	r, cont := newTestReader("a LOGIN {4}\r\nfred {6}\r\nsecret\r\n", Limits{})
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	if a := cmd.Args.(*LoginArgs); a.Username != "fred" || a.Password != "secret" || cont.n != 2 {
		t.Fatalf("got %+v, %d continuations", a, cont.n)
	}
}

func TestLiteralPlusNoContinuation(t *testing.T) {
	r, cont := newTestReader("a LOGIN {4+}\r\nfred {0+}\r\n\r\n", Limits{})
	cmd, err := r.ReadCommand()
	if err != nil || cont.n != 0 || cmd.Args.(*LoginArgs).Password != "" {
		t.Fatalf("%v %v %d", cmd, err, cont.n)
	}
}

func TestLineTooLong(t *testing.T) {
	in := "a LOGIN " + strings.Repeat("x", 200) + " y\r\nb NOOP\r\n"
	r, _ := newTestReader(in, Limits{MaxLine: 100})
	_, err := r.ReadCommand()
	var le *LimitError
	if !errors.As(err, &le) || le.Code != "TOOBIG" || le.Status != "BAD" || le.Fatal {
		t.Fatalf("got %#v", err)
	}
	if cmd, err := r.ReadCommand(); err != nil || cmd.Name != "NOOP" {
		t.Fatalf("not resynchronized: %v %v", cmd, err)
	}
	// A long line announcing a non-synchronizing literal cannot be skipped.
	r, _ = newTestReader("a LOGIN "+strings.Repeat("x", 200)+" {5+}\r\nhello\r\n", Limits{MaxLine: 100})
	if _, err := r.ReadCommand(); !errors.As(err, &le) || !le.Fatal {
		t.Fatalf("got %#v", err)
	}
}

func TestLiteralLimits(t *testing.T) {
	lim := Limits{MaxStringLiterals: 10, MaxLiterals: 2, MaxNonSyncLiteral: 4096, MaxLiteral: 100}
	tests := []struct {
		in           string
		status, code string
		fatal        bool
		conts        int
	}{
		{"a LOGIN {11}\r\n", "BAD", "TOOBIG", false, 0},
		{"a LOGIN {11+}\r\n", "BAD", "TOOBIG", true, 0},
		{"a LOGIN {5}\r\nhello {6}\r\n", "BAD", "TOOBIG", false, 1},
		{"a LOGIN {5000+}\r\n", "BAD", "TOOBIG", true, 0},
		{"a SEARCH TEXT {1+}\r\na TEXT {1+}\r\nb TEXT {1+}\r\nc\r\n", "BAD", "LIMIT", true, 0},
		{"a SEARCH TEXT {1}\r\na TEXT {1}\r\nb TEXT {1}\r\n", "BAD", "LIMIT", false, 2},
		{"a APPEND INBOX {101}\r\n", "NO", "TOOBIG", false, 0},
		{"a APPEND INBOX ~{101+}\r\n", "NO", "TOOBIG", true, 0},
	}
	for _, tt := range tests {
		r, cont := newTestReader(tt.in+"b NOOP\r\n", lim)
		_, err := r.ReadCommand()
		var le *LimitError
		if !errors.As(err, &le) || le.Status != tt.status || le.Code != tt.code || le.Fatal != tt.fatal || cont.n != tt.conts {
			t.Errorf("%q: got %v (%d continuations)", tt.in, err, cont.n)
			continue
		}
		if !tt.fatal {
			if cmd, err := r.ReadCommand(); err != nil || cmd.Name != "NOOP" {
				t.Errorf("%q: not resynchronized: %v %v", tt.in, cmd, err)
			}
		}
	}
}

func TestMultiAppend(t *testing.T) {
	in := "a APPEND Drafts (\\Seen) \" 1-Feb-2024 10:11:12 +0100\" {5}\r\nhello ~{3+}\r\nb\x00c (\\Draft) {2}\r\nhi\r\nb NOOP\r\n"
	r, cont := newTestReader(in, Limits{})
	cmd, err := r.ReadCommand()
	if err != nil {
		t.Fatal(err)
	}
	a := cmd.Args.(*AppendArgs)
	if a.Mailbox != "Drafts" || len(a.Message.Flags) != 1 || a.Message.Date.Day() != 1 || a.Message.Body.Size() != 5 {
		t.Fatalf("got %+v %+v", a, a.Message)
	}
	if _, off := a.Message.Date.Zone(); off != 3600 {
		t.Errorf("zone offset %d", off)
	}
	if cont.n != 0 {
		t.Fatal("continuation sent before the session read the literal")
	}
	var bodies []string
	for m := a.Message; m != nil; m, err = r.NextAppend() {
		b, err := io.ReadAll(m.Body)
		if err != nil {
			t.Fatal(err)
		}
		bodies = append(bodies, string(b))
	}
	if err != nil || strings.Join(bodies, "|") != "hello|b\x00c|hi" || cont.n != 2 {
		t.Fatalf("got %q %v, %d continuations", bodies, err, cont.n)
	}
	if cmd, err := r.ReadCommand(); err != nil || cmd.Name != "NOOP" {
		t.Fatalf("%v %v", cmd, err)
	}
}

func TestAppendDiscard(t *testing.T) {
	// A refused synchronizing literal is never requested.
	r, cont := newTestReader("a APPEND Nope {5}\r\nb NOOP\r\n", Limits{})
	if _, err := r.ReadCommand(); err != nil {
		t.Fatal(err)
	}
	if err := r.Discard(); err != nil {
		t.Fatal(err)
	}
	if cmd, err := r.ReadCommand(); err != nil || cmd.Name != "NOOP" || cont.n != 0 {
		t.Fatalf("%v %v %d", cmd, err, cont.n)
	}
	// A refused non-synchronizing literal, and the message after it, are skipped.
	r, _ = newTestReader("a APPEND Nope {5+}\r\nhello {3+}\r\nabc\r\nb NOOP\r\n", Limits{})
	if _, err := r.ReadCommand(); err != nil {
		t.Fatal(err)
	}
	if cmd, err := r.ReadCommand(); err != nil || cmd.Name != "NOOP" {
		t.Fatalf("%v %v", cmd, err)
	}
}

func TestReadLine(t *testing.T) {
	r, _ := newTestReader("DONE\r\n", Limits{})
	if l, err := r.ReadLine(); err != nil || l != "DONE" {
		t.Fatal(l, err)
	}
	if _, err := r.ReadLine(); err != io.EOF {
		t.Fatal(err)
	}
}
