// Package bleveindex is search.Index on bleve, in the embedded store's data
// directory: one index for all users, documents named user/mailbox/uid.
// Documents bypass bleve's mapping: each text field is given as the words
// of search.EachWord (postings without positions), and the suffixes of
// every word indexed are kept once, in the vocabulary (vocab.go), which
// SweepVocabulary cuts back to the words live documents hold (sweep.go);
// a query is, for each prefix of search.Plan, the words of the
// vocabulary with a suffix beginning with it, so the answers are the
// ones package search promises. The documents of one batch with the same
// text are one shared document, named by its members, whose liveness is
// kept beside the vocabulary; answers show live members only (shared.go).
package bleveindex

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"
	index "github.com/blevesearch/bleve_index_api"

	"github.com/quiremail/quire/internal/search"
)

// Index is a search.Index. It is safe for concurrent use.
//
// Delete only queues its documents: they go with the next Put's batch,
// before the next Search, at Close, or once maxPendingDeletes are queued.
// Each bleve batch is a snapshot that the persister writes and syncs,
// and an IMAP session that expunges one message at a time made one per
// expunge. A document awaiting deletion is never a SEARCH result (SEARCH
// keeps only live messages, and a mailbox never reuses a UID), and
// Search applies the queue first, so no answer shows it either.
type Index struct {
	idx     bleve.Index
	voc     *vocab
	uids    uidCache
	rebuilt bool

	mu      sync.Mutex
	deletes []string // document IDs to delete with the next batch

	// groupMu serializes the batches that put or delete documents: each
	// reads and writes the member keys of shared documents (shared.go).
	groupMu sync.Mutex

	// sweepMu: Put holds it (read) from its look at the vocabulary's
	// known words until bleve has applied its batch; SweepVocabulary
	// holds it to check and remove a chunk of words (sweep.go).
	sweepMu sync.RWMutex
}

// maxPendingDeletes bounds the queue of Delete.
const maxPendingDeletes = 1000

var _ search.Index = (*Index)(nil)

// Options configure an Index.
type Options struct {
	// Logger receives the vocabulary database's errors (default: none).
	Logger *slog.Logger
}

// Open opens the index in dir, creating it if needed (OpenWith, no logs).
func Open(dir string) (*Index, error) { return OpenWith(dir, Options{}) }

// OpenWith opens the index in dir, creating it if needed. An index an
// older release wrote (suffixes in the documents, no vocabulary) is
// removed and made anew, empty: Rebuilt reports it, and the caller
// reindexes every user (SEARCH reads the messages meanwhile).
func OpenWith(dir string, o Options) (*Index, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	rebuilt := false
	if hasVocab(filepath.Join(dir, vocabV1)) && !hasVocab(filepath.Join(dir, vocabDir)) {
		if err := os.Rename(filepath.Join(dir, vocabV1), filepath.Join(dir, vocabDir)); err != nil {
			return nil, fmt.Errorf("bleve: rename the vocabulary in %s: %w", dir, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "index_meta.json")); err == nil && !hasVocab(filepath.Join(dir, vocabDir)) {
		if err := os.RemoveAll(dir); err != nil {
			return nil, fmt.Errorf("bleve: remove the index of an older format in %s: %w", dir, err)
		}
		rebuilt = true
	}
	x, err := openIndex(dir)
	if err != nil {
		return nil, err
	}
	if x.voc, err = openVocab(filepath.Join(dir, vocabDir), o.Logger); err != nil {
		_ = x.idx.Close()
		return nil, err
	}
	x.rebuilt = rebuilt
	return x, nil
}

// Rebuilt reports whether OpenWith found an index of an older format and
// made it anew, empty.
func (x *Index) Rebuilt() bool { return x.rebuilt }

// openIndex opens bleve's index in dir, creating it if needed.
func openIndex(dir string) (*Index, error) {
	cfg := scorchConfig()
	idx, err := bleve.OpenUsing(dir, cfg)
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) || errors.Is(err, bleve.ErrorIndexMetaMissing) && emptyDir(dir) {
		m, merr := indexMapping()
		if merr != nil {
			return nil, merr
		}
		_ = os.Remove(dir) // an empty directory: bleve creates its own
		idx, err = bleve.NewUsing(dir, m, scorch.Name, scorch.Name, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("bleve: open %s: %w", dir, err)
	}
	return &Index{idx: idx}, nil
}

// scorchConfig is the runtime configuration of the index. Its merge plan
// counts segments of fewer than 100 documents as 100 (scorch's default
// is 2,000): the pipeline writes small batches when deliveries are few,
// and with every small segment counted as 2,000 documents the planner
// merged them over and over. BenchmarkPut, batches of 10 and of 100:
// 1,544 and 955-1,000 CPU µs a document with the default, 1,128 and 622
// with 100; batches of 1,000 are the same either way.
func scorchConfig() map[string]any {
	return map[string]any{"scorchMergePlanOptions": map[string]any{"FloorSegmentSize": 100}}
}

// Close applies the queued deletions and closes the index.
func (x *Index) Close() error {
	return errors.Join(x.flushDeletes(), x.idx.Close(), x.voc.close())
}

// takeDeletes empties the queue of deletions and returns it.
func (x *Index) takeDeletes() []string {
	x.mu.Lock()
	defer x.mu.Unlock()
	ids := x.deletes
	x.deletes = nil
	return ids
}

// requeueDeletes puts back deletions a failed batch did not apply, the
// queue kept to maxPendingDeletes: while the index fails, the oldest
// are dropped, and their documents stay until a reindex (as a failed
// Delete's did), never a SEARCH result.
func (x *Index) requeueDeletes(ids []string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.deletes = append(ids, x.deletes...)
	if n := len(x.deletes); n > maxPendingDeletes {
		x.deletes = x.deletes[n-maxPendingDeletes:]
	}
}

// flushDeletes applies the queued deletions in one batch.
func (x *Index) flushDeletes() error {
	ids := x.takeDeletes()
	if len(ids) == 0 {
		return nil
	}
	if err := x.deleteIDs(ids); err != nil {
		x.requeueDeletes(ids)
		return err
	}
	return nil
}

// deleteIDs deletes documents by ID in one batch: messages' own, and
// shared documents' members (batch).
func (x *Index) deleteIDs(ids []string) error { return x.batch(ids, nil, nil, nil) }

func emptyDir(dir string) bool {
	ents, err := os.ReadDir(dir)
	return err == nil && len(ents) == 0
}

// indexMapping is the mapping bleve records; documents are indexed with
// IndexAdvanced, which bypasses it, so it only keeps bleve from guessing.
func indexMapping() (*mapping.IndexMappingImpl, error) {
	m := bleve.NewIndexMapping()
	m.DefaultMapping = bleve.NewDocumentStaticMapping()
	m.DefaultAnalyzer = keyword.Name
	m.StoreDynamic, m.IndexDynamic = false, false
	return m, nil
}

// batchTerms analyzes the text fields of one batch (analyze), each
// distinct text once: a delivery to five recipients puts five documents
// of one message in a batch. batch analyzes each text before it hands
// the batch to bleve (the words go to the vocabulary first), and bleve's
// analysis then finds it done. The documents of one text share its term
// frequencies too, not only its terms: building the map per document was 8% of a 5-recipient
// delivery's CPU. bleve's analysis workers call it concurrently, and the
// segment builder only reads a field's frequencies (it merges into them
// only when a document has two fields of one name, which batch never
// makes), so sharing them is safe.
type batchTerms struct {
	mu    sync.Mutex
	seen  map[string]terms
	texts map[string]bool // what want saw (one goroutine: batch's)
}

// terms is one text's analysis: its term count and frequencies, and
// its words (for the vocabulary).
type terms struct {
	n     int
	freqs index.TokenFrequencies
	words []string
}

func newBatchTerms() *batchTerms {
	return &batchTerms{seen: map[string]terms{}, texts: map[string]bool{}}
}

// want reports whether text is new to the batch, and notes it.
func (m *batchTerms) want(text string) bool {
	if m.texts[text] {
		return false
	}
	m.texts[text] = true
	return true
}

// analyzeAll analyzes texts on every CPU: the words go to the vocabulary
// before the batch goes to bleve, whose own analysis workers then find
// each text done. A panic fails the batch, as an error.
func (m *batchTerms) analyzeAll(texts []string) (err error) {
	var next atomic.Int64
	var failed atomic.Pointer[error]
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(texts)) {
		wg.Go(func() {
			defer func() {
				if r := recover(); r != nil {
					e := fmt.Errorf("bleve: analysis panicked: %v", r)
					failed.CompareAndSwap(nil, &e)
				}
			}()
			for i := next.Add(1) - 1; i < int64(len(texts)); i = next.Add(1) - 1 {
				m.ofString(texts[i])
			}
		})
	}
	wg.Wait()
	if e := failed.Load(); e != nil {
		return *e
	}
	return nil
}

func (m *batchTerms) of(b []byte) terms {
	m.mu.Lock()
	t, ok := m.seen[string(b)]
	m.mu.Unlock()
	if ok {
		return t
	}
	return m.ofString(string(b))
}

// ofString is of for a text as a string: analyzeAll's, no copy.
func (m *batchTerms) ofString(text string) terms {
	m.mu.Lock()
	t, ok := m.seen[text]
	m.mu.Unlock()
	if ok {
		return t
	}
	t = analyze(text)
	m.mu.Lock()
	m.seen[text] = t
	m.mu.Unlock()
	return t
}

// analyze is the term frequencies of text: the terms of its distinct
// words (distinctWords, wordTerm), each once; the frequencies and the
// term bytes are one allocation each, not one a word.
func analyze(text string) terms {
	all := distinctWords(text)
	size := 0
	for _, w := range all {
		size += min(len(w), maxWordTerm) // a long word's term is no longer
	}
	freqs := make(index.TokenFrequencies, len(all))
	tfs := make([]index.TokenFreq, 0, len(all))
	buf := make([]byte, 0, size)
	words := all[:0]
	for _, w := range all {
		t := w
		if len(w) > maxWordTerm {
			t = wordTerm(w)
			if _, ok := freqs[t]; ok {
				continue // a long word of another's hash: as rare as a collision
			}
		}
		words = append(words, w)
		buf = append(buf, t...)
		tfs = append(tfs, index.TokenFreq{Term: buf[len(buf)-len(t) : len(buf) : len(buf)]})
		tf := &tfs[len(tfs)-1]
		tf.SetFrequency(1)
		freqs[t] = tf
	}
	return terms{n: len(freqs), freqs: freqs, words: words}
}

// textField is a text field whose analysis is its batch's (batchTerms).
type textField struct {
	*document.TextField
	an *batchTerms
	t  terms
}

func newTextField(name, text string, an *batchTerms) *textField {
	return &textField{TextField: document.NewTextFieldCustom(name, nil, []byte(text), textOpts, nil), an: an}
}

func (f *textField) Analyze()                                         { f.t = f.an.of(f.Value()) }
func (f *textField) AnalyzedLength() int                              { return f.t.n }
func (f *textField) AnalyzedTokenFrequencies() index.TokenFrequencies { return f.t.freqs }

// whole is the analyzer of keyword fields: the value as one term.
type whole struct{}

func (whole) Analyze(b []byte) analysis.TokenStream {
	return analysis.TokenStream{{Term: b, Position: 1, Start: 0, End: len(b), Type: analysis.AlphaNumeric}}
}

const (
	textOpts    = index.IndexField
	keywordOpts = index.IndexField
)

// newDoc is a document with the user and mailbox keyword fields.
func newDoc(id, userID, mailboxID string) *document.Document {
	d := document.NewDocument(id)
	d.AddField(document.NewTextFieldCustom("user", nil, []byte(userID), keywordOpts, whole{}))
	d.AddField(document.NewTextFieldCustom("box", nil, []byte(box(userID, mailboxID)), keywordOpts, whole{}))
	return d
}

// newSharedDoc is the shared document id of the documents g of docs: the
// user and box terms of each member, once each.
func newSharedDoc(id string, docs []search.Doc, g []int) *document.Document {
	d := document.NewDocument(id)
	users, boxes := map[string]bool{}, map[string]bool{}
	for _, i := range g {
		u, b := docs[i].UserID, box(docs[i].UserID, docs[i].MailboxID)
		if !users[u] {
			users[u] = true
			d.AddField(document.NewTextFieldCustom("user", nil, []byte(u), keywordOpts, whole{}))
		}
		if !boxes[b] {
			boxes[b] = true
			d.AddField(document.NewTextFieldCustom("box", nil, []byte(b), keywordOpts, whole{}))
		}
	}
	return d
}

func docID(userID, mailboxID string, uid uint32) string {
	return userID + "/" + mailboxID + "/" + strconv.FormatUint(uint64(uid), 10)
}

// markID names a mailbox's mark document; it never parses as a message's.
func markID(userID, mailboxID string) string { return userID + "/" + mailboxID + "/mark" }

// Put implements search.Index in one batch: bleve applies a batch whole,
// so marks and documents become visible together.
func (x *Index) Put(_ context.Context, docs []search.Doc, marks ...search.Mark) error {
	// The queued deletions go first: a batch applies its last operation
	// on an ID, so a document put again after its deletion stays.
	deletes := x.takeDeletes()
	if err := x.batch(deletes, nil, docs, marks); err != nil {
		x.requeueDeletes(deletes)
		return err
	}
	return nil
}

// batch writes deletions, documents and marks in one bleve batch. The
// documents of one text become one shared document (shared.go). Each of
// deletes names a message's own document and, if it is in a shared
// document, leaves that too; members names more members to leave their
// shared documents (a mailbox's or a user's deletion).
func (x *Index) batch(deletes, members []string, docs []search.Doc, marks []search.Mark) error {
	x.groupMu.Lock()
	defer x.groupMu.Unlock()
	pending, err := x.pendingDeletes()
	if err != nil {
		return err
	}
	docs = lastVersions(docs)
	groups := groupDocs(docs)
	m := &membership{set: map[string]string{}, unset: append(slices.Clip(deletes), members...)}
	shared := make([]string, len(groups))
	for gi, g := range groups {
		if len(g) == 1 {
			d := docs[g[0]]
			m.unset = append(m.unset, docID(d.UserID, d.MailboxID, d.UID))
			continue
		}
		members := make([]string, len(g))
		for i, di := range g {
			d := docs[di]
			members[i] = docID(d.UserID, d.MailboxID, d.UID)
		}
		shared[gi] = sharedID(members)
		for _, member := range members {
			m.set[member] = shared[gi]
		}
	}
	if err := x.plan(m); err != nil {
		return err
	}
	b := x.idx.NewBatch()
	for _, ids := range [][]string{deletes, pending, m.emptied} {
		for _, id := range ids {
			b.Delete(id)
		}
	}
	for member := range m.set {
		b.Delete(member) // its message's own document, put before
	}
	an := newBatchTerms()
	var texts []string // distinct
	for gi, g := range groups {
		var doc *document.Document
		if shared[gi] == "" {
			d := docs[g[0]]
			doc = newDoc(docID(d.UserID, d.MailboxID, d.UID), d.UserID, d.MailboxID)
		} else {
			doc = newSharedDoc(shared[gi], docs, g)
		}
		for name, text := range docs[g[0]].Fields() {
			if text == "" {
				continue
			}
			if an.want(text) {
				texts = append(texts, text)
			}
			doc.AddField(newTextField(name, text, an))
		}
		if err := b.IndexAdvanced(doc); err != nil {
			return fmt.Errorf("bleve: index: %w", err)
		}
	}
	if err := an.analyzeAll(texts); err != nil {
		return err
	}
	seen := map[string]bool{}
	var words []string
	for _, text := range texts {
		for _, w := range an.ofString(text).words {
			if !seen[w] {
				seen[w] = true
				words = append(words, w)
			}
		}
	}
	// The words and the members before the documents: a search that
	// sees a document finds its words (vocab.go) and its live members
	// (shared.go). From the vocabulary's write until bleve has applied
	// the batch, no sweep checks words (sweep.go).
	x.sweepMu.RLock()
	defer x.sweepMu.RUnlock()
	mb, err := x.membershipBatch(m)
	if err != nil {
		return err
	}
	if err := x.voc.add(words, mb); err != nil {
		return err
	}
	for _, m := range marks {
		doc := newDoc(markID(m.UserID, m.MailboxID), m.UserID, m.MailboxID)
		doc.AddField(document.NewNumericFieldWithIndexingOptions("mark", nil, float64(m.UID), index.StoreField))
		if err := b.IndexAdvanced(doc); err != nil {
			return fmt.Errorf("bleve: index: %w", err)
		}
	}
	if err := x.idx.Batch(b); err != nil {
		return fmt.Errorf("bleve: index: %w", err)
	}
	return x.clearPending(append(pending, m.emptied...))
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
	return x.deleteMatching(ctx, u, func(m string) bool { return strings.HasPrefix(m, userID+"/") })
}

// Delete implements search.Index: it queues the documents (see Index).
func (x *Index) Delete(_ context.Context, userID, mailboxID string, uids []uint32) error {
	x.mu.Lock()
	for _, u := range uids {
		x.deletes = append(x.deletes, docID(userID, mailboxID, u))
	}
	full := len(x.deletes) >= maxPendingDeletes
	x.mu.Unlock()
	if full {
		return x.flushDeletes()
	}
	return nil
}

// DeleteMailbox implements search.Index.
func (x *Index) DeleteMailbox(ctx context.Context, userID, mailboxID string) error {
	return x.deleteMatching(ctx, scope(userID, mailboxID), func(m string) bool {
		b, _, ok := memberBox(m)
		return ok && b == box(userID, mailboxID)
	})
}

// deleteMatching deletes the documents q matches, marks included: the
// messages' own, and the members of shared ones that inScope holds (the
// rest stay).
func (x *Index) deleteMatching(ctx context.Context, q query.Query, inScope func(member string) bool) error {
	ids, err := x.ids(ctx, q)
	if err != nil {
		return err
	}
	var own, members []string
	for _, id := range ids {
		if !isShared(id) {
			own = append(own, id)
			continue
		}
		for _, m := range membersOf(id) {
			if inScope(m) {
				members = append(members, m)
			}
		}
	}
	return x.batch(own, members, nil, nil)
}

// Search implements search.Index: per field, for each prefix of the
// text's plan, one of the words of the vocabulary that have a suffix
// beginning with it; any field. On scorch (always, for indexes Open
// makes) the query runs on the segments' posting lists (segments.go);
// the bleve query below serves any other index.
func (x *Index) Search(ctx context.Context, userID, mailboxID, text string, fields ...string) ([]uint32, bool, error) {
	prefixes, _, ok := search.Plan(text)
	if !ok || len(fields) == 0 {
		return nil, false, nil
	}
	if err := x.flushDeletes(); err != nil {
		return nil, false, err
	}
	// The vocabulary is read before the segments: a document a segment
	// shows had its words written first.
	terms := make([][]string, len(prefixes))
	sets := make([]*termSet, len(prefixes))
	for i, p := range prefixes {
		t, err := x.voc.terms(p)
		if err != nil {
			return nil, false, err
		}
		if len(t) == 0 {
			return nil, true, nil // no word has it: no message does
		}
		terms[i], sets[i] = t, newTermSet(t)
	}
	if uids, ok, err := x.snapshotSearch(ctx, box(userID, mailboxID), sets, fields); ok || err != nil {
		return uids, err == nil, err
	}
	return x.querySearch(ctx, userID, mailboxID, terms, fields)
}

// SearchAll implements search.Index: the mark, then each query, which
// sees every document Put before the mark was read.
func (x *Index) SearchAll(ctx context.Context, userID, mailboxID string, qs []search.Query) (uint32, []search.Answer, error) {
	return search.Sequential(ctx, x, userID, mailboxID, qs)
}

// querySearch is Search as a bleve query, given the terms of each
// prefix of the plan.
func (x *Index) querySearch(ctx context.Context, userID, mailboxID string, terms [][]string, fields []string) ([]uint32, bool, error) {
	q := bleve.NewConjunctionQuery(scope(userID, mailboxID))
	anyField := bleve.NewDisjunctionQuery()
	for _, f := range fields {
		all := bleve.NewConjunctionQuery()
		for _, ts := range terms {
			one := bleve.NewDisjunctionQuery()
			for _, t := range ts {
				tq := bleve.NewTermQuery(t)
				tq.SetField(f)
				one.AddQuery(tq)
			}
			all.AddQuery(one)
		}
		if len(fields) == 1 {
			q.AddQuery(all.Conjuncts...) // no one-legged disjunction to walk
		} else {
			anyField.AddQuery(all)
		}
	}
	if len(fields) > 1 {
		q.AddQuery(anyField)
	}
	ids, err := x.ids(ctx, q)
	if err != nil {
		return nil, false, err
	}
	out, err := x.uidsOf(ids, box(userID, mailboxID))
	return out, err == nil, err
}

// box names a user's mailbox in one term, so that one posting list
// scopes a query (each leg of a conjunction costs a walk of its postings).
func box(userID, mailboxID string) string { return userID + "/" + mailboxID }

func scope(userID, mailboxID string) query.Query {
	q := bleve.NewTermQuery(box(userID, mailboxID))
	q.SetField("box")
	return q
}

// ids returns every matching document ID, in one search: bleve pages by
// running the query again per page, so a page as large as the index
// (which bleve does not allocate ahead) costs one run.
func (x *Index) ids(ctx context.Context, q query.Query) ([]string, error) {
	n, err := x.idx.DocCount()
	if err != nil {
		return nil, fmt.Errorf("bleve: count documents: %w", err)
	}
	req := bleve.NewSearchRequestOptions(q, int(min(n, 1<<30))+1, 0, false)
	req.Score = "none"
	res, err := x.idx.SearchInContext(ctx, req)
	if err != nil {
		return nil, fmt.Errorf("bleve: search: %w", err)
	}
	out := make([]string, len(res.Hits))
	for i, h := range res.Hits {
		out[i] = h.ID
	}
	return out, nil
}

// UIDs returns the UIDs of the mailbox's message documents, ascending
// (the mark is not one), after the queued deletions are applied: what a
// check compares with the store (quire check).
func (x *Index) UIDs(ctx context.Context, userID, mailboxID string) ([]uint32, error) {
	if err := x.flushDeletes(); err != nil {
		return nil, err
	}
	ids, err := x.ids(ctx, scope(userID, mailboxID))
	if err != nil {
		return nil, err
	}
	return x.uidsOf(ids, box(userID, mailboxID))
}

// uidsOf returns the UIDs in box of the documents ids names: a message's
// own, and the live members in box of a shared one.
func (x *Index) uidsOf(ids []string, box string) ([]uint32, error) {
	prefix := box + "/"
	out := make([]uint32, 0, len(ids))
	for _, id := range ids {
		if isShared(id) {
			uids, err := x.liveUIDs(id, box)
			if err != nil {
				return nil, err
			}
			out = append(out, uids...)
			continue
		}
		n, err := strconv.ParseUint(strings.TrimPrefix(id, prefix), 10, 32)
		if err != nil || !strings.HasPrefix(id, prefix) || n == 0 {
			continue // the mark
		}
		out = append(out, uint32(n))
	}
	slices.Sort(out)
	return slices.Compact(out), nil // a message may be in a shared document too, not live
}
