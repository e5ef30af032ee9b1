package convert

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestRemoteFailover: parts go to the first converter host; when it dies,
// to the next; when all are gone, they are converted in process. No
// conversion fails on the way.
func TestRemoteFailover(t *testing.T) {
	a := httptest.NewServer(Handler(New(Options{})))
	b := httptest.NewServer(Handler(New(Options{})))
	defer b.Close()
	c := New(Options{Hosts: []string{a.URL, b.URL}})
	ctx := context.Background()
	rtf := []byte(`{\rtf1 remote {\b zeppelin}\par}`)
	convert := func(step string) {
		t.Helper()
		r := c.Convert(ctx, "application/rtf", "", "memo.rtf", rtf)
		if r.Err != nil || r.Text != "memo.rtf\nremote zeppelin" {
			t.Fatalf("%s: %q, %v", step, r.Text, r.Err)
		}
	}
	convert("first host")
	a.Close()
	convert("first host down")
	convert("first host still down")
	b.Close()
	convert("all hosts down")
	s := c.Stats()
	if s.Remote[a.URL] != 1 || s.Remote[b.URL] != 2 || s.RemoteFailed[a.URL] != 1 || s.RemoteFailed[b.URL] != 1 || s.Fallbacks != 1 {
		t.Fatalf("stats %+v", s)
	}
}

// TestRemoteAnswersAreFinal: a host's failure to convert is the answer (no
// other host, no local retry), while an HTTP 500 moves on.
func TestRemoteAnswersAreFinal(t *testing.T) {
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "overloaded", http.StatusInternalServerError)
	}))
	defer broken.Close()
	good := httptest.NewServer(Handler(New(Options{})))
	defer good.Close()
	c := New(Options{Hosts: []string{broken.URL, good.URL}})
	r := c.Convert(context.Background(), "", "", "bad.docx", []byte("not a zip"))
	if r.Err == nil || r.Text != "bad.docx" {
		t.Fatalf("a broken file converted remotely: %q, %v", r.Text, r.Err)
	}
	s := c.Stats()
	if s.Remote[good.URL] != 1 || s.RemoteFailed[broken.URL] != 1 || s.Fallbacks != 0 {
		t.Fatalf("stats %+v", s)
	}
	resp, err := http.Get(good.URL + "/converter/statistics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var hs Stats
	if err := json.NewDecoder(resp.Body).Decode(&hs); err != nil || hs.Failures[KindDOCX] != 1 {
		t.Fatalf("the host's statistics: %+v, %v", hs, err)
	}
	big := httptest.NewServer(Handler(New(Options{MaxInput: 10})))
	defer big.Close()
	resp, err = http.Post(big.URL+"/converter/convert?type=text/plain", "application/octet-stream", strings.NewReader(strings.Repeat("x", 11)))
	if err != nil || resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("an oversized part: %v %v", resp.Status, err)
	}
	resp.Body.Close()
}
