// Command login measures IMAP logins per second with real password hashes:
// each session connects, logs in and logs out, C clients (-clients, default
// 8) back to back for -duration, client i as user i of -users (default 20).
// bench/imap stores {PLAIN} passwords to measure the servers without their
// key-derivation functions; this one measures the functions, and what the
// servers do around them.
//
// Four rows, one after the other in one run:
//   - quire (embedded), argon2id as "quire user add --password" makes it
//     (m=64 MiB, t=3, p=2), login.cache_ttl = 0: every login hashes;
//   - the same with Quire's default login cache (5 minutes): after each
//     user's first login, none does;
//   - Dovecot 2.3 (Debian's packages) with the default scheme of "doveadm
//     pw" ({CRYPT}, which there is bcrypt $2y$ with cost 5) and its default
//     auth cache (auth_cache_size = 0: off);
//   - Dovecot with "doveadm pw -s ARGON2ID" (m=64 MiB, t=3, p=1).
//
// Run it from the repository root after make build:
//
//	go run ./bench/login
//	go run ./bench/login -targets embedded -duration 20s -out bench/out/login.md
//
// Quire runs as a subprocess of bin/quire with a config in a temp dir;
// Dovecot runs through scripts/dovecot.sh (which installs it if missing)
// with DOVECOT_PASS_SCHEME, in run/dovecot-login; give it ports of its own
// (-dovecot-*-port) when another benchmark's Dovecot may be running.
// Everything listens on 127.0.0.1.
package main

import (
	"context"
	"errors"
	"flag"
	"path/filepath"
	"strings"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

const log = benchkit.Logger("login bench")

type options struct {
	clients, users int
	duration       time.Duration
	targets        []string
	out, quireBin  string
	dovecot        benchkit.DovecotPorts
}

// row is one configuration measured.
type row struct {
	label  string
	target string // embedded or dovecot
	scheme string // what the users' passwords are hashed with
	quire  string // extra quire config
	env    []string
}

func rows() []row {
	return []row{
		{"quire (embedded), cache off", "embedded", "argon2id m=64MiB,t=3,p=2", "\n[login]\ncache_ttl = \"0s\"\n", nil},
		{"quire (embedded), default cache", "embedded", "argon2id m=64MiB,t=3,p=2", "", nil},
		{"dovecot, default scheme", "dovecot", "{CRYPT} bcrypt $2y$05 (doveadm pw default)", "", []string{"DOVECOT_PASS_SCHEME=default"}},
		{"dovecot, ARGON2ID", "dovecot", "{ARGON2ID} m=64MiB,t=3,p=1 (doveadm pw -s ARGON2ID)", "", []string{"DOVECOT_PASS_SCHEME=ARGON2ID"}},
	}
}

func main() {
	var o options
	var targets string
	flag.IntVar(&o.clients, "clients", 8, "concurrent IMAP clients")
	flag.IntVar(&o.users, "users", 20, "number of users; client i logs in as user i mod users, session after session")
	flag.DurationVar(&o.duration, "duration", 15*time.Second, "how long the clients run on each row")
	flag.StringVar(&targets, "targets", "embedded,dovecot", "targets to run: embedded, dovecot")
	flag.StringVar(&o.out, "out", "", "also write the Markdown report to this file")
	flag.StringVar(&o.quireBin, "quire", "bin/quire", "the quire binary (relative to the repository root)")
	benchkit.DovecotFlags(flag.CommandLine, &o.dovecot)
	flag.Parse()
	for _, t := range strings.Split(targets, ",") {
		if t = strings.TrimSpace(t); t != "embedded" && t != "dovecot" {
			benchkit.Usage("login bench", errors.New("-targets: want embedded and/or dovecot, got "+t))
		}
		o.targets = append(o.targets, strings.TrimSpace(t))
	}
	if o.clients < 1 || o.users < 1 || o.duration <= 0 {
		benchkit.Usage("login bench", errors.New("-clients, -users and -duration must be positive"))
	}
	benchkit.Main("login bench", o.quireBin, o.out, func(ctx context.Context, env benchkit.Env) (string, error) {
		rep := &report{opts: o, facts: benchkit.NewFacts(env.Root, "go run ./bench/login")}
		for i, r := range rows() {
			if ctx.Err() != nil || !wanted(o.targets, r.target) {
				continue
			}
			rep.results = append(rep.results, runRow(ctx, o, env, r, i))
		}
		return rep.markdown(), nil
	})
}

func wanted(targets []string, t string) bool {
	for _, x := range targets {
		if x == t {
			return true
		}
	}
	return false
}

// runRow starts the row's server, runs the clients and stops it.
func runRow(ctx context.Context, o options, env benchkit.Env, r row, i int) result {
	var cl benchkit.Cleanups
	defer cl.Run()
	log.Printf("starting %s", r.label)
	var t *benchkit.Target
	var err error
	if r.target == "dovecot" {
		// A Dovecot of its own, beside any other benchmark's run/dovecot
		// (under the repository: its mail processes run as nobody and
		// cannot enter the private temp dir).
		dir := "DOVECOT_DIR=" + filepath.Join(env.Root, "run", "dovecot-login")
		t, err = benchkit.StartDovecot(env.Root, o.dovecot, o.users, &cl, append(r.env, dir)...)
	} else {
		t, err = benchkit.StartQuire(ctx, benchkit.QuireOptions{Bin: env.Bin, DBType: "embedded", Users: o.users,
			Dir: filepath.Join(env.Tmp, r.target+string(rune('0'+i))), Argon2id: true, Extra: r.quire}, &cl)
	}
	if err != nil {
		log.Printf("%s: skipped: %v", r.label, err)
		return result{row: r, skipped: benchkit.FirstLine(err.Error())}
	}
	log.Printf("%s: %d clients for %v", r.label, o.clients, o.duration)
	st := load{addr: t.IMAP, clients: o.clients, users: o.users, duration: o.duration, timeout: 60 * time.Second}.run(ctx)
	res := result{row: r, st: st, note: t.Note}
	if t.PID != 0 {
		res.rss, _ = benchkit.RSS(t.PID)
	}
	log.Printf("%s: %d logins, %.1f/s, %d errors %s", r.label, len(st.login), st.perSec(), st.errs, st.firstErr)
	return res
}
