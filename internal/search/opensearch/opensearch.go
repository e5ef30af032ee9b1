// Package opensearch is search.Index on OpenSearch 1 to 3 or Elasticsearch
// 7 to 9, over a small REST client of our own: the official Elasticsearch
// client refuses to talk to OpenSearch. It uses only what both have kept
// stable: _index_template, _bulk, _search with search_after, _msearch
// and _delete_by_query.
//
// Invariants:
//   - Every field is sent as its search.Terms joined by spaces, which the
//     engine's whitespace analyzer takes apart again, and a query is the
//     conjunction of prefix queries of search.Plan: the answers are the
//     ones package search promises, computed by the same Go code as on
//     the embedded index.
//   - Documents are routed by user: one user's messages live in one shard,
//     and every request names the routing, so a query touches one shard.
//   - A mailbox's mark is a document of its own, with uid -1-mark: a
//     search that also matches it finds it first, on the same point in
//     time of the shard as its hits (SearchAll), so one request gives
//     the answers and the mark that covers them.
//   - _source is off: the index holds only what searching needs; it is
//     rebuilt from the store, never read back.
package opensearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/quiremail/quire/internal/search"
)

// Options configure the client.
type Options struct {
	URL      string // e.g. http://127.0.0.1:9200
	Index    string // index name (default "quire-msgs")
	Shards   int    // at index creation (default 1)
	Replicas int    // at index creation
	// Refresh makes writes visible to searches before they return (tests);
	// otherwise the engine's refresh interval (1 s) applies.
	Refresh            bool
	Username, Password string
	// PageSize is the most hits one search request returns (default
	// 100,000); the index's max_result_window is set to it (to 10,000
	// at least). A SEARCH for a common word returns most of a mailbox,
	// and every page of search_after runs the query again.
	PageSize int
	HTTP     *http.Client
}

// transport is the HTTP transport of a client made by New. Answers come
// uncompressed: the engine gzips an answer of 80,000 hits (1.4 MB) in
// about 10 ms and Go spends as long again inflating it, where the
// engine is near (a data center's network, or the same host), which is
// where it belongs. Idle connections are kept for concurrent searches
// and the indexer's bulks: the default keeps 2, and a third concurrent
// request would open and close a connection each time.
func transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableCompression = true
	t.MaxIdleConnsPerHost = 64
	return t
}

// Client is a search.Index.
type Client struct {
	o Options
}

var _ search.Index = (*Client)(nil)

// New connects, checks the server, and creates the index template and the
// index if they do not exist.
func New(ctx context.Context, o Options) (*Client, error) {
	if o.URL == "" {
		return nil, errors.New("opensearch: no URL")
	}
	o.URL = strings.TrimSuffix(o.URL, "/")
	if o.Index == "" {
		o.Index = "quire-msgs"
	}
	if o.Shards <= 0 {
		o.Shards = 1
	}
	if o.PageSize <= 0 {
		o.PageSize = 100000
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{Timeout: 60 * time.Second, Transport: transport()}
	}
	c := &Client{o: o}
	if err := c.ensureIndex(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// mapping is the index template: trigram analysis on every text field.
func (c *Client) mapping() map[string]any {
	text := map[string]any{"type": "text", "analyzer": "whitespace", "norms": false, "index_options": "docs"}
	props := map[string]any{
		"user": map[string]any{"type": "keyword"}, "mailbox": map[string]any{"type": "keyword"},
		"uid": map[string]any{"type": "long"}, "mark": map[string]any{"type": "long"},
	}
	for f := range (search.Doc{}).Fields() {
		props[f] = text
	}
	return map[string]any{
		"index_patterns": []string{c.o.Index},
		"template": map[string]any{
			"settings": map[string]any{
				"number_of_shards": c.o.Shards, "number_of_replicas": c.o.Replicas,
				"max_result_window": c.window(),
			},
			"mappings": map[string]any{"_source": map[string]any{"enabled": false}, "properties": props},
		},
	}
}

// window is the index's max_result_window: the page size, and never
// below the engines' default, which _delete_by_query's scrolls assume.
func (c *Client) window() int { return max(c.o.PageSize, 10000) }

func (c *Client) ensureIndex(ctx context.Context) error {
	if _, err := c.do(ctx, "PUT", "/_index_template/"+c.o.Index, jsonBody(c.mapping()), nil); err != nil {
		return fmt.Errorf("opensearch: index template: %w", err)
	}
	_, err := c.do(ctx, "PUT", "/"+c.o.Index, nil, nil)
	var ee *engineError
	if errors.As(err, &ee) && ee.Type == "resource_already_exists_exception" {
		// An index made by an older version: add the fields it lacks
		// (adding a field to a mapping is allowed and idempotent).
		props := c.mapping()["template"].(map[string]any)["mappings"].(map[string]any)["properties"]
		if _, err := c.do(ctx, "PUT", "/"+c.o.Index+"/_mapping", jsonBody(map[string]any{"properties": props}), nil); err != nil {
			return fmt.Errorf("opensearch: update the mapping of %s: %w", c.o.Index, err)
		}
		win := map[string]any{"index": map[string]any{"max_result_window": c.window()}}
		if _, err := c.do(ctx, "PUT", "/"+c.o.Index+"/_settings", jsonBody(win), nil); err != nil {
			return fmt.Errorf("opensearch: set max_result_window of %s: %w", c.o.Index, err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("opensearch: create index %s: %w", c.o.Index, err)
	}
	return nil
}

// Put implements search.Index with one _bulk request. Marks come after
// the documents, routed to the same shard, which applies a bulk's items
// in order: a refresh that shows a mark shows the documents before it.
func (c *Client) Put(ctx context.Context, docs []search.Doc, marks ...search.Mark) error {
	if len(docs) == 0 && len(marks) == 0 {
		return nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// The documents of one message delivered to several recipients have
	// the same texts: their terms are computed once.
	terms := map[string]string{}
	for _, d := range docs {
		_ = enc.Encode(map[string]any{"index": map[string]any{"_index": c.o.Index, "_id": docID(d.UserID, d.MailboxID, d.UID), "routing": d.UserID}})
		src := map[string]any{"user": d.UserID, "mailbox": d.MailboxID, "uid": d.UID}
		for name, text := range d.Fields() {
			if text == "" {
				continue
			}
			t, ok := terms[text]
			if !ok {
				t = strings.Join(search.Terms(text), " ")
				terms[text] = t
			}
			src[name] = t
		}
		_ = enc.Encode(src)
	}
	for _, m := range marks {
		_ = enc.Encode(map[string]any{"index": map[string]any{"_index": c.o.Index, "_id": markID(m.UserID, m.MailboxID), "routing": m.UserID}})
		// uid: -1-mark, which sorts the mark first among a search's
		// hits (SearchAll).
		_ = enc.Encode(map[string]any{"user": m.UserID, "mailbox": m.MailboxID, "mark": m.UID, "uid": -1 - int64(m.UID)})
	}
	return c.bulk(ctx, &b)
}

// Indexed implements search.Index. It reads the mark with _search, not
// the real-time GET, so that it sees the same refresh as the documents.
func (c *Client) Indexed(ctx context.Context, userID, mailboxID string) (uint32, error) {
	q := map[string]any{
		"size": 1, "_source": false, "docvalue_fields": []string{"mark"}, "track_total_hits": false,
		"query": map[string]any{"ids": map[string]any{"values": []string{markID(userID, mailboxID)}}},
	}
	var resp struct {
		Hits struct {
			Hits []struct {
				Fields struct {
					Mark []json.Number `json:"mark"`
				} `json:"fields"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if _, err := c.do(ctx, "POST", "/"+c.o.Index+"/_search?routing="+url.QueryEscape(userID), jsonBody(q), &resp); err != nil {
		return 0, fmt.Errorf("opensearch: read the mark of %s: %w", mailboxID, err)
	}
	if len(resp.Hits.Hits) == 0 || len(resp.Hits.Hits[0].Fields.Mark) == 0 {
		return 0, nil
	}
	n, err := strconv.ParseUint(resp.Hits.Hits[0].Fields.Mark[0].String(), 10, 32)
	if err != nil {
		return 0, fmt.Errorf("opensearch: the mark of %s is %q: %w", mailboxID, resp.Hits.Hits[0].Fields.Mark[0], err)
	}
	return uint32(n), nil
}

// DeleteUser implements search.Index.
func (c *Client) DeleteUser(ctx context.Context, userID string) error {
	q := map[string]any{"query": map[string]any{"term": map[string]any{"user": userID}}}
	path := "/" + c.o.Index + "/_delete_by_query?conflicts=proceed&routing=" + url.QueryEscape(userID) + c.refresh("true")
	if _, err := c.do(ctx, "POST", path, jsonBody(q), nil); err != nil {
		return fmt.Errorf("opensearch: delete the documents of user %s: %w", userID, err)
	}
	return nil
}

// Delete implements search.Index.
func (c *Client) Delete(ctx context.Context, userID, mailboxID string, uids []uint32) error {
	if len(uids) == 0 {
		return nil
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	for _, u := range uids {
		_ = enc.Encode(map[string]any{"delete": map[string]any{"_index": c.o.Index, "_id": docID(userID, mailboxID, u), "routing": userID}})
	}
	return c.bulk(ctx, &b)
}

// DeleteMailbox implements search.Index.
func (c *Client) DeleteMailbox(ctx context.Context, userID, mailboxID string) error {
	q := map[string]any{"query": c.scope(userID, mailboxID)}
	path := "/" + c.o.Index + "/_delete_by_query?conflicts=proceed&routing=" + url.QueryEscape(userID) + c.refresh("true")
	if _, err := c.do(ctx, "POST", path, jsonBody(q), nil); err != nil {
		return fmt.Errorf("opensearch: delete mailbox %s: %w", mailboxID, err)
	}
	return nil
}

// Search implements search.Index: all hits, page by page in UID order.
func (c *Client) Search(ctx context.Context, userID, mailboxID, text string, fields ...string) ([]uint32, bool, error) {
	tq, ok := textQuery(text, fields)
	if !ok {
		return nil, false, nil
	}
	uids, err := c.pages(ctx, userID, c.scoped(userID, mailboxID, tq), nil, nil)
	return uids, err == nil, err
}

// SearchAll implements search.Index in one _msearch request. Each search
// also matches the mailbox's mark document, whose uid field holds
// -1-mark (Put): it sorts first, and the engine runs each search on one
// point in time of the shard, so the mark a search returns covers what
// that search saw. The mark returned is the lowest. A mailbox without
// such a mark (nothing indexed, or marked by an older version) is asked
// the plain way: the mark, then each query.
func (c *Client) SearchAll(ctx context.Context, userID, mailboxID string, qs []search.Query) (uint32, []search.Answer, error) {
	answers := make([]search.Answer, len(qs))
	var asked []int
	var filters [][]any
	var body bytes.Buffer
	enc := json.NewEncoder(&body)
	markQ := map[string]any{"ids": map[string]any{"values": []string{markID(userID, mailboxID)}}}
	for i, q := range qs {
		tq, ok := anyQuery(q)
		if !ok {
			continue
		}
		asked = append(asked, i)
		filters = append(filters, c.scoped(userID, mailboxID, tq))
		orMark := map[string]any{"bool": map[string]any{"should": []any{tq, markQ}, "minimum_should_match": 1}}
		_ = enc.Encode(map[string]any{"index": c.o.Index, "routing": userID})
		_ = enc.Encode(c.page(c.scoped(userID, mailboxID, orMark), nil))
	}
	if len(asked) == 0 {
		mark, err := c.Indexed(ctx, userID, mailboxID)
		return mark, answers, err
	}
	var resp msearchAnswer
	// status keeps a response with no hits in the list: filter_path
	// drops an object left empty.
	path := "/_msearch?filter_path=responses.status,responses.hits.hits.sort,responses.error.type,responses.error.reason"
	if _, err := c.do(ctx, "POST", path, &body, &resp); err != nil {
		return 0, nil, fmt.Errorf("opensearch: search: %w", err)
	}
	if len(resp.Responses) != len(asked) {
		return 0, nil, fmt.Errorf("opensearch: search: %d answers to %d searches", len(resp.Responses), len(asked))
	}
	mark := uint32(math.MaxUint32)
	for j, r := range resp.Responses {
		switch {
		case r.Error != nil:
			return 0, nil, fmt.Errorf("opensearch: search: %s: %s", r.Error.Type, r.Error.Reason)
		case r.Status >= 300:
			return 0, nil, fmt.Errorf("opensearch: search: status %d", r.Status)
		}
		uids, m, marked := r.read(nil)
		if !marked {
			return search.Sequential(ctx, c, userID, mailboxID, qs)
		}
		mark = min(mark, m)
		if r.full(c.o.PageSize) {
			var err error
			if uids, err = c.pages(ctx, userID, filters[j], uids, r.last()); err != nil {
				return 0, nil, err
			}
		}
		answers[asked[j]] = search.Answer{UIDs: uids, OK: true}
	}
	return mark, answers, nil
}

// anyQuery is q as an engine query: a text query, or the conjunction of
// its parts; ok is false when a part cannot be asked.
func anyQuery(q search.Query) (map[string]any, bool) {
	if q.All == nil {
		return textQuery(q.Text, q.Fields)
	}
	var all []any
	for _, sub := range q.All {
		sq, ok := anyQuery(sub)
		if !ok {
			return nil, false
		}
		all = append(all, sq)
	}
	if len(all) == 0 {
		return nil, false
	}
	return map[string]any{"bool": map[string]any{"filter": all}}, true
}

// textQuery is a query for the documents one of whose fields may contain
// text (search.Plan); ok is false when the text cannot be asked.
func textQuery(text string, fields []string) (q map[string]any, ok bool) {
	prefixes, _, ok := search.Plan(text)
	if !ok || len(fields) == 0 {
		return nil, false
	}
	var anyField []any
	for _, f := range fields {
		var all []any
		for _, p := range prefixes {
			all = append(all, map[string]any{"prefix": map[string]any{f: map[string]any{"value": p}}})
		}
		anyField = append(anyField, map[string]any{"bool": map[string]any{"filter": all}})
	}
	return map[string]any{"bool": map[string]any{"should": anyField, "minimum_should_match": 1}}, true
}

// UIDs lists the UIDs of a mailbox's documents, ascending, for quire
// check (indexer.DocLister): every document of the mailbox, page by page
// in UID order, as a search of everything; the mark document (a negative
// uid) is left out. It sees the index as of its last refresh: a deletion
// made less than a refresh interval (1 s) ago may still show, which
// Present, a real-time read, then tells (indexer.DocConfirmer).
func (c *Client) UIDs(ctx context.Context, userID, mailboxID string) ([]uint32, error) {
	filter := c.scope(userID, mailboxID)["bool"].(map[string]any)["filter"].([]any)
	uids, err := c.pages(ctx, userID, filter, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("opensearch: list the documents of mailbox %s: %w", mailboxID, err)
	}
	return uids, nil
}

// Present implements indexer.DocConfirmer with one real-time _mget
// (realtime is the default of the document APIs: it reads the latest
// version, refreshed or not).
func (c *Client) Present(ctx context.Context, userID, mailboxID string, uids []uint32) ([]uint32, error) {
	if len(uids) == 0 {
		return nil, nil
	}
	ids := make([]string, len(uids))
	for i, u := range uids {
		ids[i] = docID(userID, mailboxID, u)
	}
	var resp struct {
		Docs []struct {
			Found bool `json:"found"`
		} `json:"docs"`
	}
	path := "/" + c.o.Index + "/_mget?_source=false&realtime=true&routing=" + url.QueryEscape(userID)
	if _, err := c.do(ctx, "POST", path, jsonBody(map[string]any{"ids": ids}), &resp); err != nil {
		return nil, fmt.Errorf("opensearch: read documents of mailbox %s: %w", mailboxID, err)
	}
	if len(resp.Docs) != len(uids) {
		return nil, fmt.Errorf("opensearch: read %d documents of mailbox %s, got %d answers", len(uids), mailboxID, len(resp.Docs))
	}
	var out []uint32
	for i, d := range resp.Docs {
		if d.Found {
			out = append(out, uids[i])
		}
	}
	return out, nil
}

// scoped is the filter of q within one mailbox.
func (c *Client) scoped(userID, mailboxID string, q map[string]any) []any {
	return append(c.scope(userID, mailboxID)["bool"].(map[string]any)["filter"].([]any), q)
}

// page is the request for one page of hits of a filter, sorted by UID,
// after a hit's sort values (none for the first page). The answer is cut
// to the sort values (filter_path): a UID is all a hit brings, a few
// bytes where a whole hit is about 150. stored_fields _none_ skips the
// fetch phase, which loads each hit's _id from stored fields: 143 ms of
// 150 for 4,000 hits.
func (c *Client) page(filter []any, after *int64) map[string]any {
	q := map[string]any{
		"size": c.o.PageSize, "_source": false, "stored_fields": "_none_", "track_total_hits": false,
		"sort":  []any{map[string]any{"uid": "asc"}},
		"query": map[string]any{"bool": map[string]any{"filter": filter}},
	}
	if after != nil {
		q["search_after"] = []int64{*after}
	}
	return q
}

// pages appends to out the UIDs of every hit of filter after a hit's
// sort values, page by page (search_after).
func (c *Client) pages(ctx context.Context, userID string, filter []any, out []uint32, after *int64) ([]uint32, error) {
	path := "/" + c.o.Index + "/_search?filter_path=hits.hits.sort&routing=" + url.QueryEscape(userID)
	for {
		var resp hitsPage
		if _, err := c.do(ctx, "POST", path, jsonBody(c.page(filter, after)), &resp); err != nil {
			return nil, fmt.Errorf("opensearch: search: %w", err)
		}
		out, _, _ = resp.read(out)
		if !resp.full(c.o.PageSize) {
			return out, nil
		}
		after = resp.last()
	}
}

func (c *Client) scope(userID, mailboxID string) map[string]any {
	return map[string]any{"bool": map[string]any{"filter": []any{
		map[string]any{"term": map[string]any{"user": userID}},
		map[string]any{"term": map[string]any{"mailbox": mailboxID}},
	}}}
}

// markID names a mailbox's mark document.
func markID(userID, mailboxID string) string { return userID + "/" + mailboxID + "/mark" }

// docID names a message; the user is part of it so that IDs are unique
// even if two users' mailbox IDs were not.
func docID(userID, mailboxID string, uid uint32) string {
	return userID + "/" + mailboxID + "/" + strconv.FormatUint(uint64(uid), 10)
}

func (c *Client) refresh(v string) string {
	if c.o.Refresh {
		return "&refresh=" + v
	}
	return ""
}

// bulk sends a _bulk body and fails if any item failed.
func (c *Client) bulk(ctx context.Context, body *bytes.Buffer) error {
	var resp struct {
		Errors bool             `json:"errors"`
		Items  []map[string]any `json:"items"`
	}
	path := "/_bulk?" + strings.TrimPrefix(c.refresh("wait_for"), "&")
	if _, err := c.do(ctx, "POST", path, body, &resp); err != nil {
		return fmt.Errorf("opensearch: bulk: %w", err)
	}
	if resp.Errors {
		for _, it := range resp.Items {
			for op, v := range it {
				m, _ := v.(map[string]any)
				if e, ok := m["error"]; ok {
					return fmt.Errorf("opensearch: bulk %s failed: %v", op, e)
				}
			}
		}
		return errors.New("opensearch: bulk reported errors")
	}
	return nil
}

// errorBody is the error object of an engine's answer.
type errorBody struct {
	Type   string `json:"type"`
	Reason string `json:"reason"`
}

// engineError is an error the engine reported, with its type.
type engineError struct {
	Status int
	Type   string
	Reason string
}

func (e *engineError) Error() string {
	return fmt.Sprintf("HTTP %d: %s: %s", e.Status, e.Type, e.Reason)
}

// do sends one request; a status of 300 or more is an *engineError.
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.o.URL+path, body)
	if err != nil {
		return 0, err
	}
	ct := "application/json"
	if strings.HasPrefix(path, "/_bulk") {
		ct = "application/x-ndjson"
	}
	req.Header.Set("Content-Type", ct)
	if c.o.Username != "" {
		req.SetBasicAuth(c.o.Username, c.o.Password)
	}
	resp, err := c.o.HTTP.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w (is the search engine up? check search.url)", method, path, err)
	}
	defer resp.Body.Close()
	// The answer is read whole, into a buffer of its announced length
	// (growing one from 512 bytes costs 20 copies of a large answer).
	var buf bytes.Buffer
	if n := resp.ContentLength; n > 0 && n <= maxAnswer {
		buf.Grow(int(n) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(resp.Body, maxAnswer)); err != nil {
		return resp.StatusCode, err
	}
	data := buf.Bytes()
	if resp.StatusCode >= 300 {
		var e struct {
			Error errorBody `json:"error"`
		}
		_ = json.Unmarshal(data, &e)
		if e.Error.Type == "" {
			e.Error.Reason = strings.TrimSpace(string(data[:min(len(data), 300)]))
		}
		return resp.StatusCode, &engineError{Status: resp.StatusCode, Type: e.Error.Type, Reason: e.Error.Reason}
	}
	if out != nil {
		if err := decode(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// decode reads an answer into out: by its own scan where it has one and
// the answer has the compact form, with encoding/json otherwise.
func decode(data []byte, out any) error {
	if s, ok := out.(answerScanner); ok && s.scan(data) {
		return nil
	}
	return decodeJSON(data, out)
}

// decodeJSON reads an answer with encoding/json, numbers as json.Number.
func decodeJSON(data []byte, out any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	return d.Decode(out)
}

// maxAnswer is the largest answer read: 100,000 hits take 1.4 MB.
const maxAnswer = 256 << 20

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}
