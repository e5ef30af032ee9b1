package opensearch

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
)

func TestSortValues(t *testing.T) {
	for _, tc := range []struct {
		in      string
		want    []int64
		scanned bool // the fast scan reads it
		bad     bool
	}{
		{in: `[]`, want: []int64{}, scanned: true},
		{in: `[{"sort":[-101]},{"sort":[1]},{"sort":[42]}]`, want: []int64{-101, 1, 42}, scanned: true},
		{in: `[{"sort":[9223372036854775807]}]`, want: []int64{9223372036854775807}, scanned: true},
		{in: `[{"sort":[-9223372036854775808]}]`, want: []int64{-9223372036854775808}, scanned: true},
		{in: `[ {"sort": [7]} ]`, want: []int64{7}},
		{in: `[{"sort":[7],"_id":"x"}]`, want: []int64{7}},
		{in: `[{"sort":[07]}]`, bad: true},
		{in: `[{"sort":[9223372036854775808]}]`, bad: true},
		{in: `[{"sort":[1,2]}]`, bad: true},
		{in: `[{"sort":[]}]`, bad: true},
		{in: `[{"sort":[1.5]}]`, bad: true},
		{in: `[{"sort":[1]},]`, bad: true},
		{in: `[{"sort":[1]}`, bad: true},
	} {
		_, rest, ok := scanSorts([]byte(tc.in), nil)
		scanned := ok && len(rest) == 0
		var s sortValues
		err := s.UnmarshalJSON([]byte(tc.in))
		switch {
		case tc.bad && err == nil:
			t.Errorf("%s: read as %v, want an error", tc.in, s)
		case !tc.bad && err != nil:
			t.Errorf("%s: %v", tc.in, err)
		case !tc.bad && !slices.Equal(s, tc.want):
			t.Errorf("%s: read %v, want %v", tc.in, s, tc.want)
		case scanned != tc.scanned:
			t.Errorf("%s: scanned %v, want %v", tc.in, scanned, tc.scanned)
		}
	}
}

// FuzzSortValues: whatever the scan reads, encoding/json reads the same.
func FuzzSortValues(f *testing.F) {
	for _, s := range []string{`[]`, `[{"sort":[-1]},{"sort":[0]}]`, `[{"sort":[9223372036854775807]}]`, `[{"sort":[01]}]`, `[{"sort":[1]},{"sort":[-0]}]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, rest, ok := scanSorts(data, nil)
		if !ok || len(rest) > 0 {
			return
		}
		want, err := decodeSorts(data)
		if err != nil {
			t.Fatalf("%q: scanned %v, encoding/json: %v", data, got, err)
		}
		if !slices.Equal(got, want) && len(got)+len(want) > 0 {
			t.Fatalf("%q: scanned %v, encoding/json %v", data, got, want)
		}
	})
}

// page80k is a search answer of 80,000 hits as filter_path cuts it.
func page80k() []byte {
	var b bytes.Buffer
	b.WriteString(`{"hits":{"hits":[{"sort":[-101]}`)
	for u := 1; u <= 80000; u++ {
		fmt.Fprintf(&b, `,{"sort":[%d]}`, u)
	}
	b.WriteString(`]}}`)
	return b.Bytes()
}

// BenchmarkReadPage: decoding one page of 80,000 UIDs, as do does.
func BenchmarkReadPage(b *testing.B) {
	data := page80k()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		var p hitsPage
		if err := decode(data, &p); err != nil {
			b.Fatal(err)
		}
		uids, mark, ok := p.read(nil)
		if len(uids) != 80000 || mark != 100 || !ok {
			b.Fatalf("%d uids, mark %d %v", len(uids), mark, ok)
		}
	}
}

func TestScanAnswers(t *testing.T) {
	for _, tc := range []struct {
		in      string
		scanned bool
	}{
		{`{}`, true},
		{`{"hits":{"hits":[{"sort":[-3]},{"sort":[1]}]}}`, true},
		{`{"hits":{"hits":[]}}`, true},
		{`{"hits":{"hits":[{"sort":[1]}]},"took":3}`, false},
		{`{"hits": {"hits":[{"sort":[1]}]}}`, false},
	} {
		var p, want hitsPage
		if got := p.scan([]byte(tc.in)); got != tc.scanned {
			t.Errorf("%s: scanned %v, want %v", tc.in, got, tc.scanned)
		}
		if err := decode([]byte(tc.in), &p); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if err := decodeJSON([]byte(tc.in), &want); err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		if !slices.Equal(p.Hits.Hits, want.Hits.Hits) {
			t.Errorf("%s: read %v, encoding/json %v", tc.in, p.Hits.Hits, want.Hits.Hits)
		}
	}
	for _, tc := range []struct {
		in      string
		scanned bool
		want    []string // per response: its sort values, or its error type
	}{
		{`{"responses":[{"hits":{"hits":[{"sort":[-3]},{"sort":[1]}]},"status":200},{"status":200}]}`, true, []string{"[-3 1]", "[]"}},
		{`{"responses":[{"status":200},{"hits":{"hits":[{"sort":[5]}]},"status":200}]}`, true, []string{"[]", "[5]"}},
		{`{"responses":[{"error":{"type":"x_exception","reason":"r"},"status":400},{"status":200}]}`, false, []string{"x_exception", "[]"}},
		{`{"responses":[{"status":200},]}`, false, nil},
		{`{"responses":[{"status":500}]}`, false, []string{"[]"}},
	} {
		var a msearchAnswer
		if got := a.scan([]byte(tc.in)); got != tc.scanned {
			t.Errorf("%s: scanned %v, want %v", tc.in, got, tc.scanned)
		}
		err := decode([]byte(tc.in), &a)
		if tc.want == nil {
			if err == nil {
				t.Errorf("%s: read, want an error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		var got []string
		for _, r := range a.Responses {
			if r.Error != nil {
				got = append(got, r.Error.Type)
				continue
			}
			got = append(got, fmt.Sprint([]int64(r.Hits.Hits)))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: read %q, want %q", tc.in, got, tc.want)
		}
	}
}

// FuzzScanAnswers: whatever the answer scans read, encoding/json reads
// the same.
func FuzzScanAnswers(f *testing.F) {
	for _, s := range []string{`{}`, `{"hits":{"hits":[{"sort":[-3]},{"sort":[1]}]}}`,
		`{"responses":[{"hits":{"hits":[{"sort":[-3]},{"sort":[1]}]},"status":200},{"status":200}]}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var p, pw hitsPage
		if p.scan(data) {
			if err := decodeJSON(data, &pw); err != nil {
				t.Fatalf("%q: scanned %v, encoding/json: %v", data, p.Hits.Hits, err)
			}
			if !slices.Equal(p.Hits.Hits, pw.Hits.Hits) {
				t.Fatalf("%q: scanned %v, encoding/json %v", data, p.Hits.Hits, pw.Hits.Hits)
			}
		}
		var a, aw msearchAnswer
		if a.scan(data) {
			if err := decodeJSON(data, &aw); err != nil {
				t.Fatalf("%q: scanned, encoding/json: %v", data, err)
			}
			if len(a.Responses) != len(aw.Responses) {
				t.Fatalf("%q: scanned %d responses, encoding/json %d", data, len(a.Responses), len(aw.Responses))
			}
			for i := range a.Responses {
				r, w := a.Responses[i], aw.Responses[i]
				if r.Status != w.Status || w.Error != nil || !slices.Equal(r.Hits.Hits, w.Hits.Hits) {
					t.Fatalf("%q: response %d scanned %+v, encoding/json %+v", data, i, r, w)
				}
			}
		}
	})
}

// TestTransportAsksNoGzip: the engine must not spend time compressing
// answers that Go then spends time inflating (transport).
func TestTransportAsksNoGzip(t *testing.T) {
	var got atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Store(r.Header.Get("Accept-Encoding"))
	}))
	defer srv.Close()
	resp, err := (&http.Client{Transport: transport()}).Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if enc := got.Load().(string); enc != "" {
		t.Fatalf("Accept-Encoding %q, want none", enc)
	}
}
