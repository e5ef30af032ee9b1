package opensearch

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
)

// hitsPage is a page of hits cut to their sort values by filter_path
// (hits.hits.sort): a UID each, or -1-mark for a mailbox's mark.
type hitsPage struct {
	Hits struct {
		Hits sortValues `json:"hits"`
	} `json:"hits"`
}

// full reports whether the page holds size hits, so more may follow.
func (p *hitsPage) full(size int) bool { return len(p.Hits.Hits) == size }

// last is the sort value of the page's last hit, where the next page
// starts (search_after).
func (p *hitsPage) last() *int64 {
	v := p.Hits.Hits[len(p.Hits.Hits)-1]
	return &v
}

// read appends the page's UIDs to out, and returns the mark where the
// mark document is among the hits (a negative sort value, -1-mark). A
// mark document without a uid field (written by an older version) sorts
// last, beyond any UID, and is skipped.
func (p *hitsPage) read(out []uint32) (uids []uint32, mark uint32, marked bool) {
	out = slices.Grow(out, len(p.Hits.Hits))
	for _, v := range p.Hits.Hits {
		switch {
		case v > math.MaxUint32 || v < -1-math.MaxUint32:
		case v < 0:
			mark, marked = uint32(-1-v), true
		default:
			out = append(out, uint32(v))
		}
	}
	return out, mark, marked
}

// sortValues is the hits array of a page, each hit's one sort value.
type sortValues []int64

// UnmarshalJSON reads the hits array when encoding/json decodes the
// answer around it, that is when the answer's own scan (decode) said
// no: with scanSorts where the array is compact, the general way
// otherwise. The answer's scan is the fast path: 80,000 hits take 1.6 ms
// there, 19 ms through encoding/json and this method, and 46 ms through
// encoding/json alone (BenchmarkReadPage).
func (s *sortValues) UnmarshalJSON(data []byte) error {
	v, rest, ok := scanSorts(data, (*s)[:0])
	if !ok || len(rest) > 0 {
		var err error
		if v, err = decodeSorts(data); err != nil {
			return err
		}
	}
	*s = v
	return nil
}

// decodeSorts reads a hits array of any shape with encoding/json: each
// hit must have one integer sort value.
func decodeSorts(data []byte) ([]int64, error) {
	var hits []struct {
		Sort []json.Number `json:"sort"`
	}
	if err := decodeJSON(data, &hits); err != nil {
		return nil, err
	}
	out := make([]int64, 0, len(hits))
	for _, h := range hits {
		if len(h.Sort) != 1 {
			return nil, fmt.Errorf("a hit with %d sort values, not 1 (uid)", len(h.Sort))
		}
		v, err := strconv.ParseInt(h.Sort[0].String(), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("a hit's sort value %s: %w", h.Sort[0], err)
		}
		out = append(out, v)
	}
	return out, nil
}

// scanSorts reads [{"sort":[N]},...] at the start of b, with no white
// space and N a decimal int64, appending each N to out; ok is false for
// anything else, which the caller decodes the general way.
func scanSorts(b []byte, out []int64) (_ []int64, rest []byte, ok bool) {
	const open, close = `{"sort":[`, `]}`
	if len(b) == 0 || b[0] != '[' {
		return nil, nil, false
	}
	b = b[1:]
	if len(b) > 0 && b[0] == ']' {
		return out, b[1:], true
	}
	if i := bytes.IndexByte(b, ']'); i > 0 {
		// A hit takes at least len(`{"sort":[1]},`) bytes; the first
		// ']' is the first hit's, so this is a guess to grow by.
		out = slices.Grow(out, len(b)/(i+3))
	}
	for {
		if !bytes.HasPrefix(b, []byte(open)) {
			return nil, nil, false
		}
		v, n, ok := scanInt(b[len(open):])
		if !ok {
			return nil, nil, false
		}
		b = b[len(open)+n:]
		if !bytes.HasPrefix(b, []byte(close)) {
			return nil, nil, false
		}
		out = append(out, v)
		b = b[len(close):]
		switch {
		case len(b) > 0 && b[0] == ']':
			return out, b[1:], true
		case len(b) > 0 && b[0] == ',':
			b = b[1:]
		default:
			return nil, nil, false
		}
	}
}

// scanInt reads a JSON integer that fits an int64 at the start of b: an
// optional minus, then digits with no leading zero; n is its length.
func scanInt(b []byte) (v int64, n int, ok bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		n = 1
	}
	start := n
	var u uint64
	for ; n < len(b) && b[n] >= '0' && b[n] <= '9'; n++ {
		if n-start >= 19 { // past 19 digits, beyond int64
			return 0, 0, false
		}
		u = u*10 + uint64(b[n]-'0')
	}
	digits := n - start
	if digits == 0 || (digits > 1 && b[start] == '0') {
		return 0, 0, false
	}
	if neg {
		if u > 1<<63 {
			return 0, 0, false
		}
		return -int64(u), n, true
	}
	if u > math.MaxInt64 {
		return 0, 0, false
	}
	return int64(u), n, true
}

// answerScanner is an answer that reads the engine's compact form
// itself; do decodes it with encoding/json when scan says no.
type answerScanner interface {
	// scan reads data into the answer and reports whether it could; on
	// false it leaves the answer as it was.
	scan(data []byte) bool
}

// scan reads the _search answer {"hits":{"hits":[...]}}, or {} when
// there are no hits (filter_path drops what is empty).
func (p *hitsPage) scan(data []byte) bool {
	const open, close = `{"hits":{"hits":`, `}}`
	data = bytes.Trim(data, jsonSpace)
	if string(data) == "{}" {
		p.Hits.Hits = nil
		return true
	}
	if !bytes.HasPrefix(data, []byte(open)) {
		return false
	}
	v, rest, ok := scanSorts(data[len(open):], nil)
	if !ok || string(rest) != close {
		return false
	}
	p.Hits.Hits = v
	return true
}

// msearchAnswer is an _msearch answer cut by filter_path to each
// search's status, sort values and error.
type msearchAnswer struct {
	Responses []msearchResponse `json:"responses"`
}

type msearchResponse struct {
	hitsPage
	Status int        `json:"status"`
	Error  *errorBody `json:"error"`
}

// scan reads the answer when every search succeeded: each response is
// {"hits":{"hits":[...]},"status":200}, or {"status":200} with no hits.
// An error, or any other shape, is left to encoding/json.
func (a *msearchAnswer) scan(data []byte) bool {
	const open, close = `{"responses":[`, `]}`
	const hits, status = `{"hits":{"hits":`, `"status":200}`
	data = bytes.Trim(data, jsonSpace)
	if !bytes.HasPrefix(data, []byte(open)) || !bytes.HasSuffix(data, []byte(close)) || len(data) < len(open)+len(close) {
		return false
	}
	b := data[len(open) : len(data)-len(close)]
	var rs []msearchResponse
	for len(b) > 0 {
		var r msearchResponse
		switch {
		case bytes.HasPrefix(b, []byte(hits)):
			v, rest, ok := scanSorts(b[len(hits):], nil)
			if !ok || !bytes.HasPrefix(rest, []byte("},")) {
				return false
			}
			r.Hits.Hits, b = v, rest[2:]
		case b[0] == '{':
			b = b[1:]
		default:
			return false
		}
		if !bytes.HasPrefix(b, []byte(status)) {
			return false
		}
		r.Status, b = 200, b[len(status):]
		rs = append(rs, r)
		if len(b) > 0 {
			if b[0] != ',' || len(b) == 1 {
				return false
			}
			b = b[1:]
		}
	}
	a.Responses = rs
	return true
}

// jsonSpace is the white space JSON allows around values (RFC 8259
// section 2): bytes.TrimSpace also trims \v, \f and Unicode spaces, which
// encoding/json refuses (FuzzScanAnswers found "\v{}").
const jsonSpace = " \t\r\n"
