package notify

import (
	"testing"

	"github.com/quiremail/quire/internal/mail"
)

func TestHub(t *testing.T) {
	h := NewHub()
	a, b := h.Subscribe("u1"), h.Subscribe("u2")
	defer b.Close()
	for range 5 { // coalesces, never blocks
		h.Publish(mail.Event{UserID: "u1", MailboxID: "m"})
	}
	select {
	case <-a.C:
	default:
		t.Fatal("subscriber of u1 not woken")
	}
	select {
	case <-a.C:
		t.Fatal("signals did not coalesce")
	case <-b.C:
		t.Fatal("u2 woken by u1's change")
	default:
	}
	a.Close()
	a.Close()
	h.Publish(mail.Event{UserID: "u1"})
	if len(h.mu.subs) != 1 {
		t.Fatalf("closed subscription kept: %v", h.mu.subs)
	}
}
