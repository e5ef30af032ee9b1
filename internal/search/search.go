// Package search defines the full-text index that answers IMAP SEARCH's
// text criteria (DESIGN.md section 4) with RFC 9051's case-insensitive
// substring meaning.
//
// Invariants:
//   - Each field is indexed as the suffixes of its words (Terms) that
//     are at least MinQuery runes long: a word is a maximal run of
//     letters, digits and marks of the field's Canon text, and each
//     suffix is cut to MaxTerm runes. A string without separators, at
//     least MinQuery runes long, is in the text exactly when it is in one
//     of its words, that is, a prefix of one of those suffixes: a query
//     for a prefix of the terms (Plan) answers it exactly when it is at
//     most MaxTerm runes long. Canon folds case as SEARCH does, so the
//     answer is SEARCH's own for the text the indexer stored.
//   - An index may store each field's words (EachWord) instead, and
//     find the terms through the suffixes of every word it stored
//     (EachSuffix): a field has a term exactly when one of its words
//     has it as a suffix, so the answers are the same.
//   - Any other query is answered with a superset: each of its words of
//     at least MinQuery runes must be in the text. The caller then reads
//     those messages (Exact tells which queries are exact).
//   - Suffixes shorter than MinQuery are not stored because no query
//     asks for them, and they are the densest postings of all (every
//     message has "e" and "es"): a third of the terms of a message.
//   - A query shorter than MinQuery runes is not asked: Search reports it
//     with ok == false, and the caller reads the messages.
//   - Flags are never indexed: they change too often and come from
//     metadata.
//   - Watermark: each mailbox has a mark, the UID through which every
//     message is indexed. Put writes marks after its documents, in the
//     same request, so a reader that sees a mark also sees the documents
//     it covers. Messages above the mark are not yet indexed: callers
//     read them.
package search

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Fields of a document, as SEARCH's criteria name them (RFC 9051 6.4.4).
const (
	FieldSubject     = "subject"
	FieldFrom        = "from"
	FieldTo          = "to"
	FieldCc          = "cc"
	FieldBcc         = "bcc"
	FieldBody        = "body"        // BODY: the text parts (convert.SearchBody)
	FieldAttachments = "attachments" // BODY too: the attachments, converted (convert.Attachments)
	FieldHeaders     = "headers"     // TEXT's header half, and HEADER: every field, decoded (convert.SearchHeader)
)

// Doc is one message's text.
type Doc struct {
	UserID, MailboxID string
	UID               uint32
	Subject, From     string
	To, Cc, Bcc       string
	Body, Attachments string
	Headers           string
}

// Fields are the text fields of a Doc, by name.
func (d Doc) Fields() map[string]string {
	return map[string]string{
		FieldSubject: d.Subject, FieldFrom: d.From, FieldTo: d.To, FieldCc: d.Cc, FieldBcc: d.Bcc,
		FieldBody: d.Body, FieldAttachments: d.Attachments, FieldHeaders: d.Headers,
	}
}

// Mark says that every message of a mailbox with UID <= UID is indexed.
type Mark struct {
	UserID, MailboxID string
	UID               uint32
}

// Index is a full-text index of messages, per user and mailbox.
type Index interface {
	// Put indexes docs, replacing earlier versions of the same messages,
	// then sets marks, visible no sooner than the documents.
	Put(ctx context.Context, docs []Doc, marks ...Mark) error
	// Indexed returns the mailbox's mark: 0 when nothing is indexed.
	Indexed(ctx context.Context, userID, mailboxID string) (uint32, error)
	// Delete removes messages (expunged).
	Delete(ctx context.Context, userID, mailboxID string, uids []uint32) error
	// DeleteMailbox removes every message of a mailbox, and its mark.
	DeleteMailbox(ctx context.Context, userID, mailboxID string) error
	// DeleteUser removes every message and mark of a user.
	DeleteUser(ctx context.Context, userID string) error
	// Search returns the UIDs of the mailbox's indexed messages one of
	// whose fields may contain text (Plan): exactly those that do when
	// Exact(text), a superset otherwise; ok is false when the text cannot
	// be asked. One request serves all the fields.
	Search(ctx context.Context, userID, mailboxID, text string, fields ...string) (uids []uint32, ok bool, err error)
	// SearchAll answers the queries of one SEARCH program on a mailbox,
	// as Search would each, and returns a mark: every message with UID
	// <= mark was in the index each answer came from, so the answers are
	// complete up to it (it may lag Indexed). Backends that can answer
	// all of them, mark included, in one request do; Sequential is the
	// plain form.
	SearchAll(ctx context.Context, userID, mailboxID string, qs []Query) (mark uint32, answers []Answer, err error)
}

// Query is one text key of a SEARCH program: the messages one of whose
// Fields may contain Text. A query with All is their conjunction
// instead: the messages that match every one (Text and Fields unused),
// which an engine answers as one list, shorter than its parts.
type Query struct {
	Text   string
	Fields []string
	All    []Query
}

// Answer is an index's answer to a Query: as Search returns it.
type Answer struct {
	UIDs []uint32
	OK   bool // false when the text cannot be asked (Plan)
}

// Sequential is SearchAll for an index whose searches see at least what
// an earlier Indexed saw: it reads the mark, then asks each query.
func Sequential(ctx context.Context, x Index, userID, mailboxID string, qs []Query) (uint32, []Answer, error) {
	mark, err := x.Indexed(ctx, userID, mailboxID)
	if err != nil {
		return 0, nil, err
	}
	answers := make([]Answer, len(qs))
	for i, q := range qs {
		if answers[i], err = ask(ctx, x, userID, mailboxID, q); err != nil {
			return 0, nil, err
		}
	}
	return mark, answers, nil
}

// ask answers one query with Search; a conjunction intersects its
// parts' answers.
func ask(ctx context.Context, x Index, userID, mailboxID string, q Query) (Answer, error) {
	if q.All == nil {
		uids, ok, err := x.Search(ctx, userID, mailboxID, q.Text, q.Fields...)
		return Answer{UIDs: uids, OK: ok}, err
	}
	var acc Answer
	for i, sub := range q.All {
		a, err := ask(ctx, x, userID, mailboxID, sub)
		if err != nil || !a.OK {
			return Answer{}, err
		}
		if i == 0 {
			acc = a
			continue
		}
		acc.UIDs = intersect(acc.UIDs, a.UIDs)
	}
	return acc, nil
}

// intersect returns the UIDs in both ascending lists, in a's memory.
func intersect(a, b []uint32) []uint32 {
	out := a[:0]
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// MinQuery is the shortest query, in characters, an index can narrow.
const MinQuery = 3

// Canon maps text to the form an index stores and queries: each rune
// becomes one representative of its case-folding orbit, the fold SEARCH
// compares under (RFC 9051 6.4.4: ſ, s and S are one letter, as are the
// Kelvin sign and k) — the orbit's lower case where it has one. Two runes
// have the same Canon exactly when SEARCH finds them equal, and Canon maps
// rune by rune, so "a contains b" holds for the Canon texts exactly when
// it holds for SEARCH.
func Canon(s string) string {
	ascii, upper := true, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
		upper = upper || 'A' <= c && c <= 'Z'
	}
	if ascii {
		if !upper {
			return s
		}
		// Lowered in place in a copy: strings.ToLower writes a byte at a
		// time through a Builder, a third of analyzing a message.
		b := []byte(s)
		for i, c := range b {
			if 'A' <= c && c <= 'Z' {
				b[i] = c + 'a' - 'A'
			}
		}
		return string(b)
	}
	// Mostly ASCII, as mail is: its bytes are copied, the rest mapped
	// rune by rune (strings.Map cost twice as much, a call a byte).
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b = append(b, c)
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:]) // an invalid byte is U+FFFD, as for strings.Map
		b = utf8.AppendRune(b, canonRune(r))
		i += n
	}
	return string(b)
}

func canonRune(r rune) rune {
	if 0 <= r && r < rune(len(canonLatin)) {
		return canonLatin[r]
	}
	return canonSlow(r)
}

// canonLatin is canonRune of the Latin blocks (U+0000 to U+024F), which
// most mail's letters are in: Canon looks them up. Read only.
var canonLatin = func() (t [0x250]rune) {
	for r := range t {
		t[r] = canonSlow(rune(r))
	}
	return t
}()

// canonSlow is canonRune by its definition.
func canonSlow(r rune) rune {
	if r < utf8.RuneSelf { // ASCII: the orbits of k and s reach past it, but start in it
		if 'A' <= r && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}
	m := r // the orbit's smallest rune: SEARCH's fold
	for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
		m = min(m, f)
	}
	// Its lower case stands for the orbit when it is in the orbit (not
	// so for İ, whose lower case i belongs to I).
	for l, f := unicode.ToLower(m), m; ; {
		if f == l {
			return l
		}
		if f = unicode.SimpleFold(f); f == m {
			return m
		}
	}
}

// MaxTerm is the longest indexed term, in runes.
const MaxTerm = 16

// inWord reports whether a rune belongs to a word: letters, digits and
// combining marks. Everything else separates words.
func inWord(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || '0' <= r && r <= '9' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r)
}

// words splits Canon(s) into its words.
func words(s string) []string {
	return strings.FieldsFunc(Canon(s), func(r rune) bool { return !inWord(r) })
}

// Terms returns the distinct terms an index stores for a field's text:
// every suffix of at least MinQuery runes of every word, cut to MaxTerm
// runes. The terms are substrings of one Canon string, so they cost no
// copies. A word met again adds nothing, so the suffixes of a text cost
// its distinct words, not its length.
func Terms(s string) []string {
	seen := map[string]struct{}{}
	var out []string
	EachTerm(s, func(t string) {
		if _, ok := seen[t]; !ok {
			seen[t] = struct{}{}
			out = append(out, t)
		}
	})
	return out
}

// EachTerm calls fn with each of Terms(s), in the same order, but
// repeats a term that is a suffix of two distinct words ("eting" of
// "meeting" and "greeting"): a caller that builds a set of the terms
// anyway (an index's term frequencies) dedupes them there, without
// Terms' set of its own.
func EachTerm(s string, fn func(string)) {
	var offs []int
	eachDistinctWord(s, func(w string, ascii bool) { offs = eachSuffix(w, ascii, offs, fn) })
}

// EachWord calls fn with each distinct word of Canon(s) of at least
// MinQuery runes, in the order they first appear: the words whose
// suffixes Terms holds (a shorter word holds no query). An index that
// stores words, not their suffixes, finds a query's words through
// EachSuffix of each word it stored: the same answers, since a field
// holds a term exactly when one of its words has it as a suffix.
func EachWord(s string, fn func(string)) {
	eachDistinctWord(s, func(w string, _ bool) { fn(w) })
}

// EachSuffix calls fn with the terms of w, a word of EachWord: its
// suffixes of at least MinQuery runes, cut to MaxTerm runes.
func EachSuffix(w string, fn func(string)) {
	ascii := true
	for i := 0; i < len(w); i++ {
		if w[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	eachSuffix(w, ascii, nil, fn)
}

// eachDistinctWord calls fn with each distinct word of Canon(s) of at least
// MinQuery runes, and whether it is all ASCII.
func eachDistinctWord(s string, fn func(w string, ascii bool)) {
	c := Canon(s)
	words := make(map[string]struct{}, len(c)/32)
	eachLongWord(c, func(w string, ascii bool) {
		if _, ok := words[w]; !ok {
			words[w] = struct{}{}
			fn(w, ascii)
		}
	})
}

// EachWordOf calls fn with each word of c, a Canon text, of at least
// MinQuery runes, each time it occurs: EachWord without its set, for a
// caller that keeps a set of its own (an index's term frequencies).
func EachWordOf(c string, fn func(string)) {
	// eachLongWord's loop, written out: an index analyzes every word of
	// every message with it, and two calls through closures a word were
	// a quarter of its cost.
	for i := 0; i < len(c); {
		if b := c[i]; b < utf8.RuneSelf && !asciiWord[b] {
			i++
			continue
		}
		start, ascii := i, true
		for i < len(c) {
			if b := c[i]; b < utf8.RuneSelf {
				if !asciiWord[b] {
					break
				}
				i++
				continue
			}
			r, n := utf8.DecodeRuneInString(c[i:])
			if !inWord(r) {
				break
			}
			ascii = false
			i += n
		}
		if start == i { // a rune outside words
			_, n := utf8.DecodeRuneInString(c[i:])
			i += n
			continue
		}
		if w := c[start:i]; len(w) >= MinQuery && (ascii || utf8.RuneCountInString(w) >= MinQuery) {
			fn(w)
		}
	}
}

// eachLongWord calls fn with each word of c, a Canon text, of at least
// MinQuery runes, and whether it is all ASCII.
func eachLongWord(c string, fn func(w string, ascii bool)) {
	eachWordSpan(c, func(start, end int, ascii bool) {
		if end-start < MinQuery { // fewer bytes than MinQuery: fewer runes
			return
		}
		w := c[start:end]
		if !ascii && utf8.RuneCountInString(w) < MinQuery {
			return
		}
		fn(w, ascii)
	})
}

// eachSuffix is EachSuffix of a word known to be ASCII or not; offs is
// scratch space for a non-ASCII word's rune offsets, returned for reuse.
func eachSuffix(w string, ascii bool, offs []int, fn func(string)) []int {
	if ascii {
		for i := range len(w) - MinQuery + 1 {
			fn(w[i:min(len(w), i+MaxTerm)])
		}
		return offs
	}
	offs = offs[:0]
	for i := range w {
		offs = append(offs, i)
	}
	n := len(offs)
	offs = append(offs, len(w))
	for i := range n - MinQuery + 1 {
		fn(w[offs[i]:offs[min(n, i+MaxTerm)]])
	}
	return offs
}

// eachWordSpan calls f with the bounds of each word of c, a Canon text
// (a maximal run of inWord runes), and whether it is all ASCII.
func eachWordSpan(c string, f func(start, end int, ascii bool)) {
	start, ascii := -1, true
	for i := 0; i < len(c); {
		b := c[i]
		if b < utf8.RuneSelf {
			if asciiWord[b] {
				if start < 0 {
					start, ascii = i, true
				}
			} else if start >= 0 {
				f(start, i, ascii)
				start = -1
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(c[i:])
		if inWord(r) {
			if start < 0 {
				start = i
			}
			ascii = false
		} else if start >= 0 {
			f(start, i, ascii)
			start = -1
		}
		i += n
	}
	if start >= 0 {
		f(start, len(c), ascii)
	}
}

// asciiWord is inWord of the ASCII bytes.
var asciiWord = func() (t [utf8.RuneSelf]bool) {
	for b := range t {
		t[b] = inWord(rune(b))
	}
	return t
}()

// Plan returns the prefixes a query for text asks an index for: a field
// matches when, for each prefix, one of its terms starts with it. The
// words of text shorter than MinQuery are not asked (no term is that
// short). exact reports whether the matches are exactly the fields
// containing text (a single word of at most MaxTerm runes, nothing
// else), or a superset. ok is false for text shorter than MinQuery runes
// or without a word of MinQuery runes.
func Plan(text string) (prefixes []string, exact, ok bool) {
	if utf8.RuneCountInString(text) < MinQuery {
		return nil, false, false
	}
	ws := words(text)
	exact = len(ws) == 1 && ws[0] == Canon(text) && utf8.RuneCountInString(ws[0]) <= MaxTerm
	for _, w := range ws {
		rs := []rune(w)
		if len(rs) >= MinQuery {
			prefixes = append(prefixes, string(rs[:min(len(rs), MaxTerm)]))
		}
	}
	if len(prefixes) == 0 {
		return nil, false, false
	}
	return prefixes, exact, true
}

// Exact reports whether an index answers a query for text exactly.
func Exact(text string) bool {
	_, exact, ok := Plan(text)
	return ok && exact
}
