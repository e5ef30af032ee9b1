package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

// The large-mailbox scenario (-large N, issue 16): one user's INBOX is
// filled with N messages over LMTP, then one session times SELECT, a NOOP
// after 1,000 more deliveries, FETCH 1:* (FLAGS) and UID SEARCH UNSEEN,
// while the server's resident memory is sampled. Dovecot gets the
// maildir setting bench/search fills its 100,000-message INBOX with.

// largeSteps are the timed steps, in order, as the report names them.
var largeSteps = []string{"SELECT INBOX", "NOOP after 1,000 deliveries", "FETCH 1:* (FLAGS)", "UID SEARCH UNSEEN"}

// largeNew is how many messages arrive before the NOOP.
const largeNew = 1000

// largeRepeat is how often FETCH and SEARCH run; the report gives the
// median. SELECT and the NOOP run once: repeating them measures another
// thing (a warm SELECT, a NOOP with nothing new).
const largeRepeat = 3

// dovecotLargeMailbox keeps Dovecot's LMTP fill of one maildir linear
// (scripts/dovecot/large-mailbox.conf says why), as bench/search does.
const dovecotLargeMailbox = "DOVECOT_CONF_EXTRA=scripts/dovecot/large-mailbox.conf"

// largeStep is one measured step.
type largeStep struct {
	took      time.Duration
	rssBefore int64 // bytes, when the step started
	rssPeak   int64 // bytes, the highest sample during the step
	note      string
}

// largeResult is one target's run of the scenario.
type largeResult struct {
	target, skipped string
	fill            time.Duration
	steps           map[string]largeStep
	firstErr        string
}

func runLarge(ctx context.Context, o options, env benchkit.Env, c *benchkit.Corpus) (string, error) {
	facts := benchkit.NewFacts(env.Root, "go run ./bench/imap")
	var results []largeResult
	for _, name := range o.targets {
		if ctx.Err() != nil {
			break
		}
		results = append(results, runLargeTarget(ctx, o, env, name, c))
	}
	return largeMarkdown(o, facts, c, results), nil
}

func runLargeTarget(ctx context.Context, o options, env benchkit.Env, name string, c *benchkit.Corpus) largeResult {
	var cl benchkit.Cleanups
	defer cl.Run()
	r := largeResult{target: benchkit.Label(name), steps: map[string]largeStep{}}
	log.Printf("starting %s", r.target)
	var t *benchkit.Target
	var err error
	if name == "dovecot" {
		t, err = benchkit.StartDovecot(env.Root, o.dovecot, 1, &cl, dovecotLargeMailbox)
	} else {
		s := o.setup(env.Root, env.Tmp)
		s.Users = 1
		t, err = s.Start(ctx, name, &cl)
	}
	if err == nil {
		log.Printf("%s: delivering %d messages to one INBOX", r.target, o.large)
		t0 := time.Now()
		err = benchkit.Fill(ctx, t.LMTP, c, 1, o.large, 4)
		r.fill = time.Since(t0)
		log.Printf("%s: filled in %v (%.0f messages/s)", r.target, r.fill.Round(time.Second), float64(o.large)/r.fill.Seconds())
	}
	if err != nil {
		log.Printf("%s: skipped: %v", r.target, err)
		r.skipped = benchkit.FirstLine(err.Error())
		return r
	}
	// A bulk fill leaves the store compacting; measure on a quiet machine.
	if waited, busy, err := benchkit.WaitQuiet(ctx, 0.10, 5*time.Second, time.Minute); err == nil {
		log.Printf("%s: steps start after %v, the machine %.0f%% busy", r.target, waited.Round(time.Second), 100*busy)
	}
	if err := r.measure(ctx, o, t, c); err != nil {
		r.firstErr = err.Error()
		log.Printf("%s: %v", r.target, err)
	}
	return r
}

// measure runs the steps on one session.
func (r *largeResult) measure(ctx context.Context, o options, t *benchkit.Target, c *benchkit.Corpus) error {
	before := imapProcesses()
	conn, err := benchkit.DialIMAP(t.IMAP, 10*time.Minute, 1<<16)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.Command("LOGIN "+benchkit.User(1)+" "+benchkit.Password, nil); err != nil {
		return fmt.Errorf("LOGIN: %w", err)
	}
	pid := t.PID
	if pid == 0 {
		// Dovecot serves the session in an imap process of its own.
		if pid = newest(imapProcesses(), before); pid == 0 {
			return fmt.Errorf("no Dovecot imap process for the session")
		}
	}
	total := o.large
	step := func(name string, runs int, fn func() (string, error)) error {
		var took []time.Duration
		var s largeStep
		for range runs {
			rss, stop := sampleRSS(pid)
			t0 := time.Now()
			note, err := fn()
			d := time.Since(t0)
			peak := stop()
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			took = append(took, d)
			if s.rssBefore == 0 {
				s.rssBefore = rss
			}
			s.rssPeak, s.note = max(s.rssPeak, peak), note
		}
		slices.Sort(took)
		s.took = took[len(took)/2]
		r.steps[name] = s
		log.Printf("%s: %s %v, RSS %d MB, peak %d MB", r.target, name, s.took.Round(time.Microsecond), s.rssBefore>>20, s.rssPeak>>20)
		return nil
	}
	if err := step(largeSteps[0], 1, func() (string, error) {
		un, err := conn.Command("SELECT INBOX", nil)
		return "", expectExists(un, total, err)
	}); err != nil {
		return err
	}
	log.Printf("%s: delivering %d more", r.target, largeNew)
	if err := benchkit.Fill(ctx, t.LMTP, c, 1, largeNew, 4); err != nil {
		return err
	}
	total += largeNew
	if err := step(largeSteps[1], 1, func() (string, error) {
		un, err := conn.Command("NOOP", nil)
		return "", expectExists(un, total, err)
	}); err != nil {
		return err
	}
	if err := step(largeSteps[2], largeRepeat, func() (string, error) {
		un, err := conn.Command("FETCH 1:* (FLAGS)", nil)
		if err == nil && countPrefix(un, " FETCH ") != total {
			err = fmt.Errorf("%d FETCH responses for %d messages", countPrefix(un, " FETCH "), total)
		}
		return "", err
	}); err != nil {
		return err
	}
	return step(largeSteps[3], largeRepeat, func() (string, error) {
		un, err := conn.Command("UID SEARCH UNSEEN", nil)
		for _, l := range un {
			if bytes.HasPrefix(l, []byte("* SEARCH")) {
				return fmt.Sprintf("%d UIDs", len(bytes.Fields(l))-2), err
			}
		}
		if err == nil {
			err = fmt.Errorf("no SEARCH response")
		}
		return "", err
	})
}

// expectExists checks that a SELECT or NOOP announced n messages.
func expectExists(untagged [][]byte, n int, err error) error {
	if err != nil {
		return err
	}
	want := []byte(fmt.Sprintf("* %d EXISTS", n))
	for _, l := range untagged {
		if bytes.Equal(l, want) {
			return nil
		}
	}
	return fmt.Errorf("no %q among %d responses", want, len(untagged))
}

// countPrefix counts the untagged responses holding s after their number.
func countPrefix(untagged [][]byte, s string) int {
	n := 0
	for _, l := range untagged {
		if bytes.Contains(l[:min(len(l), 24)], []byte(s)) {
			n++
		}
	}
	return n
}

// sampleRSS samples pid's resident memory every 5 ms until stop is called,
// and returns the first sample and, from stop, the highest.
func sampleRSS(pid int) (first int64, stop func() int64) {
	first, _ = benchkit.RSS(pid)
	peak := first
	var mu sync.Mutex
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if v, err := benchkit.RSS(pid); err == nil {
				mu.Lock()
				peak = max(peak, v)
				mu.Unlock()
			}
		}
	}()
	return first, func() int64 {
		close(done)
		<-exited
		if v, err := benchkit.RSS(pid); err == nil {
			peak = max(peak, v)
		}
		return peak
	}
}

// imapProcesses returns the PIDs of this user's processes named imap
// (Dovecot's per-session processes).
func imapProcesses() []int {
	var out []int
	paths, _ := filepath.Glob("/proc/[0-9]*/comm")
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil || strings.TrimSpace(string(b)) != "imap" {
			continue
		}
		var pid int
		if _, err := fmt.Sscanf(p, "/proc/%d/comm", &pid); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// newest returns the highest PID in now that is not in before, or 0.
func newest(now, before []int) int {
	best := 0
	for _, p := range now {
		if !slices.Contains(before, p) && p > best {
			best = p
		}
	}
	return best
}

func largeMarkdown(o options, facts benchkit.Facts, c *benchkit.Corpus, results []largeResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "## IMAP, one large mailbox: Quire vs Dovecot\n\n")
	facts.Write(&b)
	fmt.Fprintf(&b, "- mailbox: %d messages delivered over LMTP to one INBOX (corpus of %d messages from bench/corpus/gen_mbox.py, average %.1f KB, repeated), then %d more before the NOOP\n",
		o.large, len(c.Msgs), c.AvgSize/1000, largeNew)
	fmt.Fprintf(&b, "- one session; SELECT and NOOP run once, FETCH and SEARCH %d times (median); RSS is the serving process's (quire, or Dovecot's imap process of the session), sampled every 5 ms: at the step's start and its peak. Quire's RSS also counts the store's block cache, which the first FETCH after the fill fills: the heap a FETCH holds is measured by TestFetchLargeMailboxStreams\n\n", largeRepeat)
	b.WriteString("| target | fill |")
	for _, s := range largeSteps {
		b.WriteString(" " + s + " |")
	}
	b.WriteString("\n|---|---:|")
	for range largeSteps {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, r := range results {
		if r.skipped != "" {
			fmt.Fprintf(&b, "| %s | skipped: %s |\n", r.target, r.skipped)
			continue
		}
		fmt.Fprintf(&b, "| %s | %v (%.0f/s) |", r.target, r.fill.Round(time.Second), float64(o.large)/r.fill.Seconds())
		for _, name := range largeSteps {
			s, ok := r.steps[name]
			if !ok {
				b.WriteString(" – |")
				continue
			}
			fmt.Fprintf(&b, " %s, RSS %d → %d MB", benchkit.Ms(s.took), s.rssBefore>>20, s.rssPeak>>20)
			if s.note != "" {
				fmt.Fprintf(&b, " (%s)", s.note)
			}
			b.WriteString(" |")
		}
		b.WriteString("\n")
	}
	for _, r := range results {
		if r.firstErr != "" {
			fmt.Fprintf(&b, "\n%s: %s\n", r.target, r.firstErr)
		}
	}
	return b.String()
}
