// Package bleveindex is search.Index on bleve, in the embedded store's data
// directory: one index for all users, documents named user/mailbox/uid,
// every text field analyzed into lower-cased character trigrams of the
// whole value (white space included), as the OpenSearch index does, so
// candidates are a superset of substring matches (package search).
package bleveindex

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/token/ngram"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/single"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/quiremail/quire/internal/search"
)

const analyzerName = "quire_tri"

// Index is a search.Index. It is safe for concurrent use.
type Index struct {
	idx bleve.Index
}

var _ search.Index = (*Index)(nil)

// Open opens the index in dir, creating it if needed.
func Open(dir string) (*Index, error) {
	idx, err := bleve.Open(dir)
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) || errors.Is(err, bleve.ErrorIndexMetaMissing) && emptyDir(dir) {
		m, merr := indexMapping()
		if merr != nil {
			return nil, merr
		}
		_ = os.Remove(dir) // an empty directory: bleve creates its own
		idx, err = bleve.New(dir, m)
	}
	if err != nil {
		return nil, fmt.Errorf("bleve: open %s: %w", dir, err)
	}
	return &Index{idx: idx}, nil
}

// Close closes the index.
func (x *Index) Close() error { return x.idx.Close() }

func emptyDir(dir string) bool {
	ents, err := os.ReadDir(dir)
	return err == nil && len(ents) == 0
}

func indexMapping() (*mapping.IndexMappingImpl, error) {
	m := bleve.NewIndexMapping()
	if err := m.AddCustomTokenFilter("quire_ngram3", map[string]any{"type": ngram.Name, "min": 3.0, "max": 3.0}); err != nil {
		return nil, err
	}
	if err := m.AddCustomAnalyzer(analyzerName, map[string]any{
		"type": custom.Name, "tokenizer": single.Name, "token_filters": []any{lowercase.Name, "quire_ngram3"},
	}); err != nil {
		return nil, err
	}
	doc := bleve.NewDocumentStaticMapping()
	kw := bleve.NewTextFieldMapping()
	kw.Analyzer, kw.Store, kw.IncludeInAll, kw.IncludeTermVectors = keyword.Name, false, false, false
	doc.AddFieldMappingsAt("user", kw)
	doc.AddFieldMappingsAt("mailbox", kw)
	mark := bleve.NewNumericFieldMapping()
	mark.Store, mark.IncludeInAll, mark.DocValues = true, false, false
	doc.AddFieldMappingsAt("mark", mark)
	for _, f := range fields() {
		tm := bleve.NewTextFieldMapping()
		tm.Analyzer, tm.Store, tm.IncludeInAll, tm.IncludeTermVectors = analyzerName, false, false, false
		doc.AddFieldMappingsAt(f, tm)
	}
	m.DefaultMapping = doc
	m.DefaultAnalyzer = keyword.Name
	m.StoreDynamic, m.IndexDynamic = false, false
	return m, nil
}

func fields() []string {
	return []string{search.FieldSubject, search.FieldFrom, search.FieldTo, search.FieldCc, search.FieldBcc, search.FieldBody, search.FieldHeaders}
}

func docID(userID, mailboxID string, uid uint32) string {
	return userID + "/" + mailboxID + "/" + strconv.FormatUint(uint64(uid), 10)
}

// markID names a mailbox's mark document; it never parses as a message's.
func markID(userID, mailboxID string) string { return userID + "/" + mailboxID + "/mark" }

// Put implements search.Index in one batch: bleve applies a batch whole,
// so marks and documents become visible together.
func (x *Index) Put(_ context.Context, docs []search.Doc, marks ...search.Mark) error {
	b := x.idx.NewBatch()
	for _, d := range docs {
		if err := b.Index(docID(d.UserID, d.MailboxID, d.UID), map[string]any{
			"user": d.UserID, "mailbox": d.MailboxID,
			search.FieldSubject: search.Canon(d.Subject), search.FieldFrom: search.Canon(d.From), search.FieldTo: search.Canon(d.To),
			search.FieldCc: search.Canon(d.Cc), search.FieldBcc: search.Canon(d.Bcc), search.FieldBody: search.Canon(d.Body),
			search.FieldHeaders: search.Canon(d.Headers),
		}); err != nil {
			return fmt.Errorf("bleve: index: %w", err)
		}
	}
	for _, m := range marks {
		if err := b.Index(markID(m.UserID, m.MailboxID), map[string]any{"user": m.UserID, "mailbox": m.MailboxID, "mark": float64(m.UID)}); err != nil {
			return fmt.Errorf("bleve: index: %w", err)
		}
	}
	if err := x.idx.Batch(b); err != nil {
		return fmt.Errorf("bleve: index: %w", err)
	}
	return nil
}

// Indexed implements search.Index.
func (x *Index) Indexed(_ context.Context, userID, mailboxID string) (uint32, error) {
	d, err := x.idx.Document(markID(userID, mailboxID))
	if err != nil {
		return 0, fmt.Errorf("bleve: read the mark of %s: %w", mailboxID, err)
	}
	var mark uint32
	if d != nil {
		d.VisitFields(func(f index.Field) {
			if nf, ok := f.(index.NumericField); ok && f.Name() == "mark" {
				if n, err := nf.Number(); err == nil {
					mark = uint32(n)
				}
			}
		})
	}
	return mark, nil
}

// DeleteUser implements search.Index.
func (x *Index) DeleteUser(ctx context.Context, userID string) error {
	u := bleve.NewTermQuery(userID)
	u.SetField("user")
	return x.deleteMatching(ctx, u)
}

// Delete implements search.Index.
func (x *Index) Delete(_ context.Context, userID, mailboxID string, uids []uint32) error {
	b := x.idx.NewBatch()
	for _, u := range uids {
		b.Delete(docID(userID, mailboxID, u))
	}
	if err := x.idx.Batch(b); err != nil {
		return fmt.Errorf("bleve: delete: %w", err)
	}
	return nil
}

// DeleteMailbox implements search.Index.
func (x *Index) DeleteMailbox(ctx context.Context, userID, mailboxID string) error {
	return x.deleteMatching(ctx, scope(userID, mailboxID))
}

// deleteMatching deletes every document q matches, marks included.
func (x *Index) deleteMatching(ctx context.Context, q query.Query) error {
	ids, err := x.ids(ctx, q)
	if err != nil {
		return err
	}
	b := x.idx.NewBatch()
	for _, id := range ids {
		b.Delete(id)
	}
	if err := x.idx.Batch(b); err != nil {
		return fmt.Errorf("bleve: delete: %w", err)
	}
	return nil
}

// Search implements search.Index.
func (x *Index) Search(ctx context.Context, userID, mailboxID, field, text string) ([]uint32, bool, error) {
	if utf8.RuneCountInString(text) < search.MinQuery {
		return nil, false, nil
	}
	an := x.idx.Mapping().AnalyzerNamed(analyzerName)
	if an == nil {
		return nil, false, errors.New("bleve: the trigram analyzer is missing from the index mapping")
	}
	q := scope(userID, mailboxID)
	for _, tok := range an.Analyze([]byte(search.Canon(text))) {
		tq := bleve.NewTermQuery(string(tok.Term))
		tq.SetField(field)
		q.AddQuery(tq)
	}
	ids, err := x.ids(ctx, q)
	if err != nil {
		return nil, false, err
	}
	out := make([]uint32, 0, len(ids))
	for _, id := range ids {
		if i := strings.LastIndexByte(id, '/'); i >= 0 {
			if u, err := strconv.ParseUint(id[i+1:], 10, 32); err == nil {
				out = append(out, uint32(u))
			}
		}
	}
	return out, true, nil
}

func scope(userID, mailboxID string) *query.ConjunctionQuery {
	u := bleve.NewTermQuery(userID)
	u.SetField("user")
	m := bleve.NewTermQuery(mailboxID)
	m.SetField("mailbox")
	return bleve.NewConjunctionQuery(u, m)
}

// ids returns every matching document ID, page by page.
func (x *Index) ids(ctx context.Context, q query.Query) ([]string, error) {
	const page = 10000
	var out []string
	for from := 0; ; from += page {
		req := bleve.NewSearchRequestOptions(q, page, from, false)
		req.Score = "none"
		res, err := x.idx.SearchInContext(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("bleve: search: %w", err)
		}
		for _, h := range res.Hits {
			out = append(out, h.ID)
		}
		if len(res.Hits) < page {
			return out, nil
		}
	}
}
