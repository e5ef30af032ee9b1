// Package notify wakes sessions when a user's mail changes. A Hub is the
// in-process notifier: the store publishes every committed change to it,
// and IDLE sessions and selected mailboxes subscribe per user.
//
// Invariants:
//   - Publish never blocks: a subscriber's wake-up channel holds one
//     signal, and signals coalesce. A woken session re-reads the change
//     log, which is the truth; the signal only says "look now".
//   - A subscriber is told of every change published after Subscribe
//     returned (possibly coalesced with others), and of no other user's.
package notify

import (
	"sync"

	"github.com/quiremail/quire/internal/mail"
)

// Hub fans events out to subscribers by user. It is safe for concurrent
// use; the zero value is not usable, call NewHub.
type Hub struct {
	mu struct {
		sync.Mutex
		subs map[string]map[*Sub]struct{}
	}
}

// Sub is one subscription. C receives a value after each published change
// of the user (coalesced).
type Sub struct {
	C      <-chan struct{}
	c      chan struct{}
	userID string
	hub    *Hub
}

// NewHub returns an empty Hub.
func NewHub() *Hub {
	h := &Hub{}
	h.mu.subs = make(map[string]map[*Sub]struct{})
	return h
}

// Subscribe starts a subscription to the user's changes. The caller must
// Close it.
func (h *Hub) Subscribe(userID string) *Sub {
	c := make(chan struct{}, 1)
	s := &Sub{C: c, c: c, userID: userID, hub: h}
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.mu.subs[userID]
	if m == nil {
		m = make(map[*Sub]struct{})
		h.mu.subs[userID] = m
	}
	m[s] = struct{}{}
	return s
}

// Close ends the subscription. It is safe to call more than once.
func (s *Sub) Close() {
	h := s.hub
	h.mu.Lock()
	defer h.mu.Unlock()
	if m := h.mu.subs[s.userID]; m != nil {
		delete(m, s)
		if len(m) == 0 {
			delete(h.mu.subs, s.userID)
		}
	}
}

// Publish wakes every subscriber of ev.UserID. It never blocks.
func (h *Hub) Publish(ev mail.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.mu.subs[ev.UserID] {
		select {
		case s.c <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}
