package main

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// query is one timed search: a program, with its last string as a
// LITERAL+ so that non-ASCII words need no quoting.
type query struct {
	field, words string // report row: "BODY", "one word"
	prefix, lit  string // "BODY", "köln"
}

func (q query) name() string { return q.field + ", " + q.words }

func (q query) program() string {
	if q.lit == "" {
		return q.prefix
	}
	return q.prefix + " " + q.lit
}

// queries cover TEXT, BODY, SUBJECT and FROM, one word and two words (two
// keys, as clients send them), and a phrase (one key of two words). The corpus draws body text from a small
// vocabulary, so body words are frequent; the hits column says how many.
var queries = []query{
	{"SUBJECT", "one word", "SUBJECT", "invoice"},
	{"SUBJECT", "two words", "SUBJECT meeting SUBJECT", "notes"},
	{"FROM", "one word", "FROM", "nakamura"},
	{"FROM", "two words", "FROM grace FROM", "svensson"},
	{"BODY", "one word", "BODY", "köln"},
	{"BODY", "two words", "BODY replication BODY", "latency"},
	{"BODY", "phrase", "BODY", "server meeting"}, // one key: the words adjacent, in order
	{"TEXT", "one word", "TEXT", "throughput"},
	{"TEXT", "two words", "TEXT quota TEXT", "cluster"},
}

// probeWord is only in the DOCX attachment of the probe message.
const probeWord = "zorblaxian"

// attachmentProbe is one more message for the mailbox: a DOCX whose text
// holds probeWord, base64-encoded, so only a server that converts
// attachments finds it.
func attachmentProbe() []byte {
	var zb bytes.Buffer
	zw := zip.NewWriter(&zb)
	for name, body := range map[string]string{
		"[Content_Types].xml": "<Types/>",
		"word/document.xml": `<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Budget ` +
			probeWord + ` forecast</w:t></w:r></w:p></w:body></w:document>`,
	} {
		w, _ := zw.Create(name)
		_, _ = w.Write([]byte(body))
	}
	_ = zw.Close()
	b64 := base64.StdEncoding.EncodeToString(zb.Bytes())
	var lines strings.Builder
	for len(b64) > 76 {
		lines.WriteString(b64[:76] + "\r\n")
		b64 = b64[76:]
	}
	lines.WriteString(b64 + "\r\n")
	return []byte("From: Probe <probe@bench.test>\r\nTo: user1@bench.test\r\nSubject: forecast attached\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"p\"\r\n\r\n--p\r\nContent-Type: text/plain\r\n\r\nSee the attachment.\r\n" +
		"--p\r\nContent-Type: application/vnd.openxmlformats-officedocument.wordprocessingml.document; name=\"forecast.docx\"\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + lines.String() + "--p--\r\n")
}

// result is one target's run.
type result struct {
	target, skipped string
	fill            time.Duration // LMTP deliveries
	indexed         time.Duration // from the first delivery until the index held every message; 0: no index
	indexSpan       string        // what indexed measures
	indexBytes      int64
	lat             map[string]benchkit.Latencies
	hits            map[string]int
	first           map[string]time.Duration // the untimed first run: it makes what a query caches (phrase filters)
	probe           int
	notes           []string
	firstErr        string
}

// largeMailbox keeps Dovecot's LMTP fill of one maildir linear (the
// file says why); both Dovecot targets use it.
const largeMailbox = "DOVECOT_CONF_EXTRA=scripts/dovecot/large-mailbox.conf"

// osIndex is the Cassandra target's OpenSearch index.
const osIndex = "quirebench-msgs"

func runTarget(ctx context.Context, o options, env benchkit.Env, name string, c *benchkit.Corpus) result {
	var cl benchkit.Cleanups
	defer cl.Run()
	r := result{target: label(name), lat: map[string]benchkit.Latencies{}, hits: map[string]int{}}
	n := len(c.Msgs)
	log.Printf("starting %s", r.target)
	t, sizer, err := start(ctx, o, env, name, &cl)
	if err == nil {
		log.Printf("%s: delivering %d messages", r.target, n)
		t0 := time.Now()
		if err = benchkit.Fill(ctx, t.LMTP, c, 1, n, o.conns); err == nil {
			r.fill = time.Since(t0)
			log.Printf("%s: filled in %v (%.0f messages/s)", r.target, r.fill.Round(time.Millisecond), float64(n)/r.fill.Seconds())
			r.indexed, r.indexSpan, err = waitIndexed(ctx, env, name, t, n, t0)
		}
	}
	if err != nil {
		log.Printf("%s: skipped: %v", r.target, err)
		r.skipped = benchkit.FirstLine(err.Error())
		return r
	}
	if r.indexed > 0 {
		log.Printf("%s: indexed %d messages in %v (%s)", r.target, n, r.indexed.Round(time.Millisecond), r.indexSpan)
	}
	if sizer != nil {
		if r.indexBytes, err = sizer(); err != nil {
			r.notes = append(r.notes, "index size unknown: "+err.Error())
		}
	}
	if t.Note != "" {
		r.notes = append(r.notes, t.Note)
	}
	// Queries start on a quiet machine: a bulk fill leaves every store
	// compacting for a while (WaitQuiet).
	waited, busy, err := benchkit.WaitQuiet(ctx, 0.10, 5*time.Second, o.settle)
	if err != nil {
		r.firstErr = "waiting for a quiet machine: " + err.Error()
		return r
	}
	log.Printf("%s: queries start after %v, the machine %.0f%% busy", r.target, waited.Round(time.Second), 100*busy)
	r.notes = append(r.notes, fmt.Sprintf("queries started %v after indexing, the CPUs %.0f%% busy over the last 5 s", waited.Round(time.Second), 100*busy))
	profDone := benchkit.StartProfile(ctx, o.pprof, env.Root, "search", name, t)
	r.measure(ctx, o, t.IMAP)
	if msg := <-profDone; msg != "" {
		r.notes = append(r.notes, msg)
	}
	return r
}

// start starts a target and returns what measures its index's size.
func start(ctx context.Context, o options, env benchkit.Env, name string, cl *benchkit.Cleanups) (*benchkit.Target, func() (int64, error), error) {
	q := benchkit.QuireOptions{Bin: env.Bin, DBType: name, Users: 1, Dir: filepath.Join(env.Tmp, name),
		Extra: fmt.Sprintf("\n[isc]\nmode = \"deferred\"\n\n[log]\nlevel = %q\n", o.logLevel)}
	switch name {
	case "embedded":
		t, err := benchkit.StartQuire(ctx, q, cl)
		return t, func() (int64, error) { return duBytes(filepath.Join(q.Dir, "data", "search")) }, err
	case "cassandra":
		addr, err := benchkit.CassandraAddr(env.Root, cl)
		if err != nil {
			return nil, nil, err
		}
		url, err := benchkit.OpenSearchURL(env.Root, cl)
		if err != nil {
			return nil, nil, err
		}
		if err := httpDo(http.MethodDelete, url+"/"+osIndex, nil); err != nil && !strings.Contains(err.Error(), "404") {
			return nil, nil, err
		}
		q.CasAddr = addr
		q.Extra += fmt.Sprintf("\n[search]\nurl = %q\nindex = %q\n", url, osIndex)
		t, err := benchkit.StartQuire(ctx, q, cl)
		return t, func() (int64, error) { return openSearchBytes(url) }, err
	case "dovecot":
		t, err := benchkit.StartDovecot(env.Root, o.dovecot, 1, cl, largeMailbox)
		return t, nil, err
	case "dovecot-xapian":
		t, err := benchkit.StartDovecot(env.Root, o.dovecot, 1, cl, largeMailbox, "DOVECOT_FTS=xapian")
		return t, func() (int64, error) {
			return duBytes(filepath.Join(env.Root, "run", "dovecot", "mail", benchkit.User(1), "Maildir", "xapian-indexes"))
		}, err
	}
	return nil, nil, fmt.Errorf("unknown target %q", name)
}

// waitIndexed waits until the target's index holds all n messages and
// returns how long that took from t0, and what that span covers.
func waitIndexed(ctx context.Context, env benchkit.Env, name string, t *benchkit.Target, n int, t0 time.Time) (time.Duration, string, error) {
	switch name {
	case "embedded", "cassandra":
		deadline := time.Now().Add(2 * time.Hour)
		for {
			var st struct {
				Indexed int64 `json:"indexed"`
				Queued  int   `json:"queued"`
				Errors  int64 `json:"errors"`
			}
			req, err := t.AdminRequest(ctx, "GET", "/indexer/statistics")
			if err != nil {
				return 0, "", err
			}
			if err := getJSONReq(req, &st); err != nil {
				return 0, "", err
			}
			if st.Indexed >= int64(n) && st.Queued == 0 {
				return time.Since(t0), "deliveries and background indexing, overlapped", nil
			}
			if time.Now().After(deadline) || ctx.Err() != nil {
				return 0, "", fmt.Errorf("the index holds %d of %d messages after %v (%d errors)", st.Indexed, n, time.Since(t0).Round(time.Second), st.Errors)
			}
			time.Sleep(200 * time.Millisecond)
		}
	case "dovecot-xapian":
		conf := filepath.Join(env.Root, "run", "dovecot", "dovecot.conf")
		t1 := time.Now()
		out, err := exec.CommandContext(ctx, "doveadm", "-c", conf, "index", "-u", benchkit.User(1), "INBOX").CombinedOutput()
		if err != nil {
			return 0, "", fmt.Errorf("doveadm index: %v: %s", err, benchkit.Tail(out, 2000))
		}
		return time.Since(t1), "doveadm index, after the deliveries", nil
	}
	return 0, "", nil
}

// measure runs every query -reps times (within -per-query), after one
// untimed run that also counts the hits, and the attachment probe.
func (r *result) measure(ctx context.Context, o options, addr string) {
	c, err := benchkit.DialIMAP(addr, 30*time.Minute, 1<<20)
	if err != nil {
		r.firstErr = err.Error()
		return
	}
	defer c.Close()
	for _, cmd := range []string{"LOGIN " + benchkit.User(1) + " " + benchkit.Password, "SELECT INBOX"} {
		if _, err := c.Command(cmd, nil); err != nil {
			r.firstErr = cmd + ": " + err.Error()
			return
		}
	}
	search := func(q query) (int, time.Duration, error) {
		t0 := time.Now()
		lines, err := c.Command("UID SEARCH CHARSET UTF-8 "+q.prefix, []byte(q.lit))
		d := time.Since(t0)
		hits := 0
		for _, l := range lines {
			if rest, ok := bytes.CutPrefix(l, []byte("* SEARCH")); ok {
				hits += len(bytes.Fields(rest))
			}
		}
		return hits, d, err
	}
	for _, q := range queries {
		if ctx.Err() != nil {
			return
		}
		hits, d, err := search(q) // warms caches; counts hits
		if err != nil {
			r.firstErr = q.program() + ": " + err.Error()
			return
		}
		r.hits[q.name()] = hits
		if r.first == nil {
			r.first = map[string]time.Duration{}
		}
		r.first[q.name()] = d
		budget := time.Now().Add(o.perQuery)
		for i := 0; i < o.reps && time.Now().Before(budget) && ctx.Err() == nil; i++ {
			_, d, err := search(q)
			if err != nil {
				r.firstErr = q.program() + ": " + err.Error()
				return
			}
			r.lat[q.name()] = append(r.lat[q.name()], d)
		}
		p50, p99 := r.lat[q.name()].P50P99()
		log.Printf("%s: %s: %d hits, p50 %s, p99 %s over %d runs", r.target, q.program(), hits, benchkit.Ms(p50), benchkit.Ms(p99), len(r.lat[q.name()]))
	}
	r.probe, _, err = search(query{prefix: "BODY", lit: probeWord})
	if err != nil {
		r.firstErr = "probe: " + err.Error()
	}
}

func getJSON(url string, v any) error {
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return err
	}
	return getJSONReq(req, v)
}

func getJSONReq(req *http.Request, v any) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s %s: %s", req.Method, req.URL, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func httpDo(method, url string, body []byte) error {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	return nil
}

// openSearchBytes is the index's size on disk, after a flush.
func openSearchBytes(url string) (int64, error) {
	if err := httpDo(http.MethodPost, url+"/"+osIndex+"/_flush", nil); err != nil {
		return 0, err
	}
	var st struct {
		Indices map[string]struct {
			Total struct {
				Store struct {
					Bytes int64 `json:"size_in_bytes"`
				} `json:"store"`
			} `json:"total"`
		} `json:"indices"`
	}
	if err := getJSON(url+"/"+osIndex+"/_stats/store", &st); err != nil {
		return 0, err
	}
	return st.Indices[osIndex].Total.Store.Bytes, nil
}

// duBytes sums the sizes of the files under dir.
func duBytes(dir string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			n += info.Size()
		}
		return nil
	})
	return n, err
}
