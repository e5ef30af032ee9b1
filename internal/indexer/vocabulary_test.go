package indexer

import (
	"testing"
	"time"
)

// TestUserDeletedSweepsVocabulary: deleting a user sweeps the index's
// vocabulary in the background, long before the periodic sweep, and the
// sweep removes the words only the user's mail held; the periodic sweep
// runs too.
func TestUserDeletedSweepsVocabulary(t *testing.T) {
	r := newRig(t)
	s := r.service(Options{Deferred: true, VocabularyEvery: time.Hour}, true)
	inbox := r.mailbox("INBOX")
	r.deliver(withAttachment("quixotic", "zanzibarian"))
	eventually(t, "INBOX indexed", func() bool { return r.mark(inbox) == 1 })
	if st := s.Stats(); st.VocabularySweeps != 0 {
		t.Fatalf("%d vocabulary sweeps before any deletion, with the first periodic one 10 minutes away", st.VocabularySweeps)
	}
	if err := r.st.DeleteUser(r.ctx, r.u); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the vocabulary swept after the user's deletion", func() bool { return s.Stats().VocabularySweeps == 1 })
	if st := s.Stats(); st.VocabularyRemoved < 2 || st.Errors != 0 {
		t.Fatalf("the sweep removed %d words (%d errors), want the user's words (quixotic, zanzibarian, ...)", st.VocabularyRemoved, st.Errors)
	}
	if n, ok, err := s.SweepVocabulary(r.ctx, "test"); err != nil || !ok || n != 0 {
		t.Fatalf("a second sweep: %d %v %v, want nothing left to remove", n, ok, err)
	}
}

// TestPeriodicVocabularySweep: the vocabulary is swept every
// VocabularyEvery.
func TestPeriodicVocabularySweep(t *testing.T) {
	r := newRig(t)
	s := r.service(Options{VocabularyEvery: 20 * time.Millisecond}, true)
	eventually(t, "three periodic sweeps", func() bool { return s.Stats().VocabularySweeps >= 3 })
}
