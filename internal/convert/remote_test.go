package convert

import (
	"context"
	"encoding/json"
	"errors"
	"io"
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

// TestTika: a type no extractor knows goes to the Tika server (PUT /tika,
// its content type passed on), is cached like any conversion, and a type
// Tika refuses is indexed by its name.
func TestTika(t *testing.T) {
	var calls int
	tika := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		body, _ := io.ReadAll(r.Body)
		switch {
		case r.Method != http.MethodPut || r.URL.Path != "/tika":
			http.Error(w, "wrong request", http.StatusBadRequest)
		case r.Header.Get("Content-Type") == "application/x-refused":
			http.Error(w, "unsupported", http.StatusUnsupportedMediaType)
		default:
			_, _ = io.WriteString(w, "tika text of "+r.Header.Get("Content-Type")+": "+string(body))
		}
	}))
	defer tika.Close()
	c := New(Options{Tika: tika.URL, Cache: &memCache{m: map[string][2]string{}}})
	ctx := context.Background()
	r := c.Convert(ctx, "application/vnd.ms-outlook", "", "mail.msg", []byte("MSG bytes"))
	if r.Err != nil || r.Kind != KindTika || !strings.Contains(r.Text, "tika text of application/vnd.ms-outlook: MSG bytes") || !strings.HasPrefix(r.Text, "mail.msg\n") {
		t.Fatalf("got %+v", r)
	}
	if r2 := c.Convert(ctx, "application/vnd.ms-outlook", "", "other.msg", []byte("MSG bytes")); r2.Err != nil || calls != 1 {
		t.Fatalf("second conversion of the same content: %+v after %d Tika calls, want a cache hit", r2, calls)
	}
	r = c.Convert(ctx, "application/x-refused", "", "x.bin", []byte("zz"))
	if !errors.Is(r.Err, ErrUnsupported) || r.Text != "x.bin" {
		t.Fatalf("refused type: %+v", r)
	}
	// Known types never go to Tika.
	before := calls
	if r := c.Convert(ctx, "text/html", "utf-8", "", []byte("<p>hi</p>")); r.Err != nil || calls != before {
		t.Fatalf("HTML went to Tika: %+v, %d calls", r, calls-before)
	}
}
