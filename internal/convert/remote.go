package convert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Remote converter hosts ("quire isc"): a Converter with Options.Hosts
// sends each part to the first host that answers, skips a host that failed
// for a while, and converts in process when none answers. A host's
// answer, conversion failure included, is final; only an unreachable or
// failing host (transport error, HTTP 5xx) moves on to the next.

// hostDown is how long a failed host is skipped.
const hostDown = 10 * time.Second

type hosts struct {
	mu   sync.Mutex
	down map[string]time.Time
}

func (h *hosts) usable(host string, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return now.After(h.down[host])
}

func (h *hosts) fail(host string, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.down[host] = now.Add(hostDown)
}

// remoteAnswer is the service's JSON answer.
type remoteAnswer struct {
	Kind  string `json:"kind"`
	Text  string `json:"text"`
	Error string `json:"error,omitempty"`
}

// remote tries the converter hosts in order; ok is false when there are
// none or none answered.
func (c *Converter) remote(ctx context.Context, kind, contentType, charset, filename string, data []byte) (Result, bool) {
	if len(c.o.Hosts) == 0 || local(kind) || kind == KindTika {
		return Result{}, false
	}
	for _, h := range c.o.Hosts {
		now := time.Now()
		if !c.hosts.usable(h, now) {
			continue
		}
		r, err := c.post(ctx, h, contentType, charset, filename, data)
		if err == nil {
			c.stats.remote(h, false)
			return r, true
		}
		if ctx.Err() != nil {
			return Result{Kind: kind, Err: ctx.Err()}, true
		}
		c.hosts.fail(h, now)
		c.stats.remote(h, true)
		c.stats.noteFailure(fmt.Sprintf("converter host %s: %v", h, err))
	}
	c.stats.fallback()
	return Result{}, false
}

func (c *Converter) post(ctx context.Context, host, contentType, charset, filename string, data []byte) (Result, error) {
	q := url.Values{"type": {contentType}, "charset": {charset}, "name": {filename}}
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout+5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "POST", strings.TrimSuffix(host, "/")+"/converter/convert?"+q.Encode(), bytes.NewReader(data))
	if err != nil {
		return Result{}, err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := c.o.HTTP.Do(req)
	if err != nil {
		return Result{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return Result{}, fmt.Errorf("HTTP %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	var a remoteAnswer
	if err := json.NewDecoder(io.LimitReader(resp.Body, int64(c.o.MaxOutput)*2+4096)).Decode(&a); err != nil {
		return Result{}, fmt.Errorf("unreadable answer: %w", err)
	}
	r := Result{Kind: a.Kind, Text: a.Text}
	if a.Error != "" {
		r.Err = errors.New(a.Error)
	}
	return r, nil
}

// Handler serves the converter over HTTP, for "quire isc":
//
//	POST /converter/convert?type=CT&charset=CS&name=FILE   body: the part's decoded content
//	GET  /converter/statistics                              the counters, as JSON
//
// The answer to a conversion is {"kind", "text", "error"}; a conversion
// that failed is still 200 (the caller must not try another host for it).
func Handler(c *Converter) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /converter/convert", func(w http.ResponseWriter, r *http.Request) {
		data, err := io.ReadAll(io.LimitReader(r.Body, c.o.MaxInput+1))
		if err != nil {
			http.Error(w, "reading the part: "+err.Error(), http.StatusBadRequest)
			return
		}
		if int64(len(data)) > c.o.MaxInput {
			http.Error(w, fmt.Sprintf("the part exceeds %d bytes", c.o.MaxInput), http.StatusRequestEntityTooLarge)
			return
		}
		q := r.URL.Query()
		res := c.leaf(r.Context(), q.Get("type"), q.Get("charset"), q.Get("name"), data, 0)
		a := remoteAnswer{Kind: res.Kind, Text: res.Text}
		if res.Err != nil {
			a.Error = res.Err.Error()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(a)
	})
	mux.HandleFunc("GET /converter/statistics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(c.Stats())
	})
	return mux
}

// tika asks the Apache Tika server for the text of content no extractor
// here knows (PUT /tika, Accept: text/plain).
func (c *Converter) tika(ctx context.Context, w *textWriter, contentType string, data []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, strings.TrimSuffix(c.o.Tika, "/")+"/tika", bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("convert: tika: %w", err)
	}
	req.Header.Set("Accept", "text/plain; charset=UTF-8")
	if ct := strings.TrimSpace(contentType); ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.o.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("convert: tika at %s: %w (check isc.tika)", c.o.Tika, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if resp.StatusCode == http.StatusUnsupportedMediaType || resp.StatusCode == http.StatusUnprocessableEntity {
			return fmt.Errorf("%w (%s, refused by tika: %s)", ErrUnsupported, strings.TrimSpace(contentType), resp.Status)
		}
		return fmt.Errorf("convert: tika at %s answered %s", c.o.Tika, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, int64(c.o.MaxOutput)+1))
	if err != nil {
		return fmt.Errorf("convert: tika: %w", err)
	}
	w.write(ToUTF8("utf-8", b))
	return nil
}
