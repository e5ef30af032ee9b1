package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/store"
)

// TestISCConvert: quire isc convert prints what search will find in a
// file, part by part for a message, and fails naming what it could not
// convert.
func TestISCConvert(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	out, err := quire(t, "", "isc", "convert", write("memo.rtf", `{\rtf1{\fonttbl{\f0 Arial;}}Budget {\b zeppelin}\par}`))
	if err != nil || !strings.Contains(out, "Budget zeppelin") || strings.Contains(out, "Arial") {
		t.Fatalf("rtf: %q, %v", out, err)
	}
	out, err = quire(t, "", "isc", "convert", write("m.eml", "Subject: =?UTF-8?Q?caf=C3=A9?=\r\nContent-Type: text/html\r\n\r\n<p>fjord</p>\r\n"))
	if err != nil || !strings.Contains(out, "café") || !strings.Contains(out, "--- html\nfjord") {
		t.Fatalf("eml: %q, %v", out, err)
	}
	out, err = quire(t, "", "isc", "convert", write("latin.txt", "na\xefve"), "--charset", "iso-8859-1")
	if err != nil || !strings.Contains(out, "naïve") {
		t.Fatalf("charset: %q, %v", out, err)
	}
	if _, err := quire(t, "", "isc", "convert", write("pic.png", "\x89PNG")); err == nil || !strings.Contains(err.Error(), "name only") {
		t.Fatalf("png: %v", err)
	}
	if _, err := quire(t, "", "isc", "convert", write("bad.docx", "PK not a zip")); err == nil || !strings.Contains(err.Error(), "docx") {
		t.Fatalf("broken docx: %v", err)
	}
	if _, err := quire(t, "", "isc", "frobnicate"); err == nil {
		t.Fatal("isc frobnicate accepted")
	}
}

// TestStoreIsTheConverterCache: the store's text cache (ms_cache, or the
// embedded data directory) is what the converter caches in.
func TestStoreIsTheConverterCache(t *testing.T) {
	var c convert.Cache = (*store.Store)(nil)
	_ = c
}
