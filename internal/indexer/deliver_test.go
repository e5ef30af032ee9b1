package indexer

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/quiremail/quire/internal/store"
)

// TestDeliveredTextBounded: the attachments' text held for the pipeline
// stays within maxDeliveredText and maxKeptText, is given back only while
// its body is remembered, and its bytes are returned when the entry
// expires or is replaced.
func TestDeliveredTextBounded(t *testing.T) {
	var d deliveredBodies
	ctx := context.Background()
	t0 := time.Unix(1_000_000, 0)
	big := strings.Repeat("x", maxKeptText)
	var n int
	for i := 0; ; i++ {
		id := store.BlobID(strings.Repeat("b", 8) + string(rune('a'+i%26)) + strings.Repeat("c", i/26))
		b, first := d.claim(id, t0)
		if !first {
			t.Fatalf("body %d claimed twice", i)
		}
		d.keep(id, b, big)
		close(b.done)
		if !b.kept {
			break
		}
		n++
		if got, ok := d.attachments(ctx, id, t0); !ok || got != big {
			t.Fatalf("body %d: its text is not given back", i)
		}
	}
	if want := maxDeliveredText / maxKeptText; n != want || d.text != n*maxKeptText {
		t.Fatalf("kept %d texts (%d bytes), want %d", n, d.text, want)
	}
	// Too long for one body.
	b, _ := d.claim("long", t0)
	d.keep("long", b, big+"x")
	close(b.done)
	if _, ok := d.attachments(ctx, "long", t0); ok {
		t.Error("a text over maxKeptText was kept")
	}
	// Expired: not given back, and pruned on the next claim.
	later := t0.Add(deliveredFor)
	if _, ok := d.attachments(ctx, "bbbbbbbba", later); ok {
		t.Error("an expired body's text was given back")
	}
	d.claim("fresh", later)
	if d.text != 0 {
		t.Errorf("%d bytes of text held after every entry expired, want 0", d.text)
	}
}

// TestDeliveredTextWaits: the pipeline asks for a body whose delivery is
// still converting it (the reply did not wait): it waits for that
// conversion and takes its text, or gives up when its context ends.
func TestDeliveredTextWaits(t *testing.T) {
	var d deliveredBodies
	t0 := time.Unix(1_000_000, 0)
	b, _ := d.claim("busy", t0)
	got := make(chan string, 1)
	go func() {
		text, _ := d.attachments(context.Background(), "busy", t0)
		got <- text
	}()
	select {
	case text := <-got:
		t.Fatalf("the text of a conversion under way came back at once: %q", text)
	case <-time.After(50 * time.Millisecond):
	}
	d.keep("busy", b, "walrus")
	close(b.done)
	if text := <-got; text != "walrus" {
		t.Fatalf("after the conversion: %q, want its text", text)
	}
	d.claim("stuck", t0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, ok := d.attachments(ctx, "stuck", t0); ok {
		t.Error("a conversion under way gave text to a caller whose context ended")
	}
}
