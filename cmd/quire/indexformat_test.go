package main

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestIndexOfOlderFormatRebuilt: a server that finds the index an older
// release wrote (datadir/index, suffixes, no vocabulary) removes it and
// reindexes every user into datadir/search in the background, unasked;
// SEARCH answers right after.
func TestIndexOfOlderFormatRebuilt(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startSearchServer(t, fmt.Sprintf("dbtype = \"embedded\"\ndatadir = %q\n", data), "")
	words := []string{"alpacaword", "bisonword", "camelword"}
	for _, w := range words {
		s.deliverTo(t, fmt.Sprintf("From: a@example.org\r\nTo: %s\r\nSubject: %s\r\n\r\nthe %s here\r\n", s.user, w, w), s.user)
	}
	s.waitIndexed(t, int64(len(words)))
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Wait()
	// The older release's layout: its index (no vocabulary) in
	// datadir/index, none in datadir/search.
	if err := os.Rename(filepath.Join(data, "search"), filepath.Join(data, "index")); err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(filepath.Join(data, "index", "vocab.v2")); err != nil {
		t.Fatal(err)
	}
	// Long indexed: the store's queue holds none of the mailboxes, so
	// that only the rebuild indexes them again.
	cfg, err := loadConfig(s.cfg)
	if err != nil {
		t.Fatal(err)
	}
	clearUnindexed(t, cfg)
	s.cmd = startServer(t, s.bin, s.cfg, s.lmtp)
	// No session before the rebuild is done: a SEARCH would queue its
	// mailbox for indexing by itself.
	s.waitIndexed(t, int64(len(words))) // this process's count: the rebuild
	is := s.session(t, s.user)
	for i, w := range words {
		if got, want := is.uidSearch("BODY "+w), fmt.Sprint(i+1); got != want {
			t.Errorf("after the rebuild, BODY %s found %q, want %q", w, got, want)
		}
	}
	if _, err := os.Stat(filepath.Join(data, "search", "vocab.v2")); err != nil {
		t.Errorf("the rebuilt index has no vocabulary: %v", err)
	}
	if _, err := os.Stat(filepath.Join(data, "index")); !os.IsNotExist(err) {
		t.Errorf("the older release's index is still there: %v", err)
	}
}
