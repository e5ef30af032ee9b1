package indexer

import (
	"context"
	"time"
)

// VocabularySweeper is an index that keeps the words of its documents
// apart from them and keeps a word until swept (the embedded index's
// vocabulary): deleting documents leaves their words, and a sweep
// removes the words no live document holds.
type VocabularySweeper interface {
	SweepVocabulary(ctx context.Context) (removed int, err error)
}

// vocabularyFirst bounds the wait before the first periodic sweep: a
// server restarted more often than VocabularyEvery still sweeps.
const vocabularyFirst = 10 * time.Minute

// SweepVocabulary sweeps the index's vocabulary now, logging and counting
// what it removed; ok is false when the index has none (OpenSearch).
func (s *Service) SweepVocabulary(ctx context.Context, why string) (removed int, ok bool, err error) {
	vs, ok := s.o.Index.(VocabularySweeper)
	if !ok {
		return 0, false, nil
	}
	start := time.Now()
	removed, err = vs.SweepVocabulary(ctx)
	s.stats.vocabSweeps.Add(1)
	s.stats.vocabRemoved.Add(int64(removed))
	took := time.Since(start).Round(time.Millisecond)
	if err != nil {
		if ctx.Err() == nil {
			s.stats.errors.Add(1)
			s.log.Warn("indexer: sweeping the vocabulary failed; the next sweep goes on", "why", why, "removed", removed, "took", took, "err", err)
		}
		return removed, true, err
	}
	s.log.Info("indexer: vocabulary swept of the words no document holds", "why", why, "removed", removed, "took", took)
	return removed, true, nil
}

// vocabularyLoop sweeps the vocabulary after each user deletion (one
// sweep for the deletions that came while one ran) and every
// VocabularyEvery, the first within vocabularyFirst, until ctx ends.
func (s *Service) vocabularyLoop(ctx context.Context) {
	if _, ok := s.o.Index.(VocabularySweeper); !ok {
		return
	}
	t := time.NewTimer(min(s.o.VocabularyEvery, vocabularyFirst))
	defer t.Stop()
	for {
		why := "periodic"
		select {
		case <-ctx.Done():
			return
		case <-s.vocabWake:
			why = "user deleted"
		case <-t.C:
			t.Reset(s.o.VocabularyEvery)
		}
		_, _, _ = s.SweepVocabulary(ctx, why)
	}
}

// wakeVocabulary asks vocabularyLoop for a sweep.
func (s *Service) wakeVocabulary() {
	select {
	case s.vocabWake <- struct{}{}:
	default: // one is asked already
	}
}
