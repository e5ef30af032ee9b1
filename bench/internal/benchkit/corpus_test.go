package benchkit

import (
	"bytes"
	"testing"
)

func TestSplitMbox(t *testing.T) {
	mbox := "From a@x Mon Jan  1 00:00:00 2024\nSubject: one\n\n>From the start\n>>From deeper\n.dot\n\n" +
		"From b@x Mon Jan  1 00:00:00 2024\nSubject: two\n\nbody\n"
	got := SplitMbox([]byte(mbox))
	want := []string{"Subject: one\n\nFrom the start\n>From deeper\n.dot\n", "Subject: two\n\nbody\n"}
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if string(got[i]) != want[i] {
			t.Errorf("message %d = %q, want %q", i, got[i], want[i])
		}
	}
}

func TestWireForm(t *testing.T) {
	got := DotStuff(ToCRLF([]byte("Subject: x\n\n.a\r\n..b\nc")))
	want := "Subject: x\r\n\r\n..a\r\n...b\r\nc\r\n.\r\n"
	if !bytes.Equal(got, []byte(want)) {
		t.Errorf("got %q, want %q", got, want)
	}
}
