// Command checker tests DESIGN.md section 3's invariants under many hosts:
// it starts -hosts access hosts (separate quire processes, default 3) in
// one store affinity group on one real Cassandra, and runs -clients clients
// (default 30) for -duration, each with a random mix of APPEND, LMTP
// delivery, SELECT with QRESYNC and a full FETCH, STORE of flags and
// keywords, EXPUNGE, UID MOVE, COPY, and mailbox create, rename and delete.
// The users (-users, default 3) are served by every host at once. Halfway
// through, one host is killed with SIGKILL and started again.
//
// Every command and response goes to a history file. The clients check as
// they go, and a final pass checks the quiet store from every host:
//
//   - UIDs unique and ascending in order of visibility: a UID allocated
//     (APPENDUID, COPYUID) after a client saw UID n is above n, and UIDNEXT
//     never goes back for any client;
//   - HIGHESTMODSEQ never goes back for any client;
//   - QRESYNC from a client's earlier view gives exactly what a full FETCH
//     shows (UIDs and flags);
//   - STATUS counts exact (MESSAGES, UNSEEN, UIDNEXT above every UID);
//   - every acknowledged delivery and APPEND present exactly once, where its
//     owner last put it; none lost or duplicated by MOVE; no message nobody
//     sent; every host shows the same store.
//
// Run it from the repository root after make build:
//
//	go run ./bench/checker                 # 60 s
//	go run ./bench/checker -duration 10m   # make check-long
//
// -break builds quire with the test-only fault switches (go build -tags
// quirefaults) and runs it with QUIRE_TEST_BREAK_UID_ALLOCATION=1, which
// makes the hosts allocate UIDs without their lightweight transaction; the
// checker must then fail. A production build ignores the variable. The Cassandra node is $QUIRE_BENCH_CASSANDRA or
// scripts/cassandra.sh's.
//
// -scenario chooses what goes wrong meanwhile (scenario.go): host-kill
// (the default, above) on any Cassandra, or, on the three-node cluster of
// scripts/cassandra-cluster.sh ($QUIRE_TEST_CLUSTER, or the one the script
// reports running), node-kill (SIGKILL one node, start it again),
// two-down (SIGKILL two nodes: the fallback consistency; then start them,
// repair, and compare the replicas row by row) and partition (SIGSTOP one
// node, then SIGCONT). make check-cluster runs the three.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/quiremail/quire/bench/internal/benchkit"
)

const log = benchkit.Logger("checker")

type options struct {
	hosts, clients, users int
	duration              time.Duration
	kill, brk             bool
	quireBin, history     string
	seed                  uint64
	casAddr               string // the Cassandra node; "" finds or starts one
	scenario              string
	readFallback          string   // the hosts' read fallback level on the cluster
	cluster               []string // the cluster's CQL addresses, for a cluster scenario; nil finds them
}

func main() {
	var o options
	flag.IntVar(&o.hosts, "hosts", 3, "access hosts (quire processes) in one group")
	flag.IntVar(&o.clients, "clients", 30, "concurrent clients, spread over the hosts")
	flag.IntVar(&o.users, "users", 3, "users; every host serves every user")
	flag.DurationVar(&o.duration, "duration", 60*time.Second, "how long the clients run")
	flag.BoolVar(&o.kill, "kill", true, "SIGKILL one host halfway and start it again")
	flag.BoolVar(&o.brk, "break", false, "break UID allocation (a quirefaults build of quire, QUIRE_TEST_BREAK_UID_ALLOCATION=1): the check must fail")
	flag.StringVar(&o.quireBin, "quire", "bin/quire", "the quire binary (relative to the repository root); -break builds its own")
	flag.StringVar(&o.history, "history", "", "write every command and response here (default: a file in the temp directory)")
	flag.Uint64Var(&o.seed, "seed", uint64(time.Now().UnixNano()), "random seed of the clients")
	flag.StringVar(&o.scenario, "scenario", scenHostKill, "what goes wrong: "+strings.Join(scenarios, ", ")+" (all but host-kill on scripts/cassandra-cluster.sh's cluster)")
	flag.StringVar(&o.readFallback, "read-fallback", "LOCAL_ONE", `casreadfallbackconsistency of the hosts in a cluster scenario ("" for none)`)
	flag.Parse()
	if !slices.Contains(scenarios, o.scenario) {
		fmt.Fprintf(os.Stderr, "checker: -scenario %q: want one of %s\n", o.scenario, strings.Join(scenarios, ", "))
		os.Exit(2)
	}
	if o.hosts < 1 || o.hosts > 200 || o.clients < 1 || o.users < 1 || o.duration <= 0 {
		fmt.Fprintln(os.Stderr, "checker: -hosts (1 to 200), -clients, -users and -duration must be positive")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "checker:", err)
		os.Exit(1)
	}
	fmt.Print(res.summary())
	if len(res.violations) > 0 {
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) (res *result, err error) {
	root, err := benchkit.RepoRoot()
	if err != nil {
		return nil, err
	}
	if !filepath.IsAbs(o.quireBin) {
		o.quireBin = filepath.Join(root, o.quireBin)
	}
	tmp, err := os.MkdirTemp("", "quire-checker-")
	if err != nil {
		return nil, err
	}
	// A failed run keeps the hosts' configs and logs for the diagnosis.
	defer func() {
		switch {
		case err != nil:
			err = fmt.Errorf("%w (the hosts' configs and logs are kept in %s)", err, tmp)
		case len(res.violations) == 0:
			os.RemoveAll(tmp)
		}
	}()
	if o.history == "" {
		o.history = filepath.Join(os.TempDir(), fmt.Sprintf("quire-checker-%s.history", time.Now().Format("20060102-150405")))
	}
	var cl benchkit.Cleanups
	defer cl.Run()
	if o.brk {
		if o.quireBin, err = buildFaulty(ctx, root, tmp); err != nil {
			return nil, err
		}
	}
	var cas *cluster
	casAddr := o.casAddr
	switch {
	case clusterScenario(o.scenario):
		if cas, err = clusterPoints(root, o.cluster); err != nil {
			return nil, err
		}
		casAddr = cas.points[0]
	case casAddr == "":
		if casAddr, err = benchkit.CassandraAddr(root, &cl); err != nil {
			return nil, err
		}
	}
	hosts, err := startHosts(ctx, o, casAddr, cas, tmp, &cl)
	if err != nil {
		return nil, err
	}
	if res, err = check(ctx, o, hosts, cas); res != nil {
		res.dir = tmp
	}
	return res, err
}

// clusterPoints finds the cluster: the given addresses,
// $QUIRE_TEST_CLUSTER, or scripts/cassandra-cluster.sh's if all its nodes
// serve. It does not start one (that takes minutes: make check-cluster
// does).
func clusterPoints(root string, points []string) (*cluster, error) {
	if len(points) == 0 {
		if env := os.Getenv("QUIRE_TEST_CLUSTER"); env != "" {
			points = strings.Split(env, ",")
		}
	}
	if len(points) == 0 {
		if err := benchkit.Script(root, nil, "cassandra-cluster.sh", "status"); err != nil {
			return nil, fmt.Errorf("no Cassandra cluster: start one with scripts/cassandra-cluster.sh start (%w)", err)
		}
		out, err := exec.Command(filepath.Join(root, "scripts", "cassandra-cluster.sh"), "points").Output()
		if err != nil {
			return nil, fmt.Errorf("scripts/cassandra-cluster.sh points: %w", err)
		}
		points = strings.Split(strings.TrimSpace(string(out)), ",")
	}
	if len(points) != 3 {
		return nil, fmt.Errorf("the cluster scenarios need 3 nodes of one data center, got %q", points)
	}
	return &cluster{root: root, points: points}, nil
}

// buildFaulty builds quire with the test-only fault switches into dir: only
// such a build reads QUIRE_TEST_BREAK_UID_ALLOCATION.
func buildFaulty(ctx context.Context, root, dir string) (string, error) {
	bin := filepath.Join(dir, "quire-faults")
	cmd := exec.CommandContext(ctx, "go", "build", "-tags", "quirefaults", "-o", bin, "./cmd/quire")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build -tags quirefaults ./cmd/quire: %w\n%s", err, out)
	}
	return bin, nil
}

// startHosts starts the access hosts on 127.0.0.2, .3, ... in one group.
func startHosts(ctx context.Context, o options, casAddr string, cas *cluster, tmp string, cl *benchkit.Cleanups) ([]*benchkit.Target, error) {
	var env []string
	if o.brk {
		env = []string{"QUIRE_TEST_BREAK_UID_ALLOCATION=1"}
	}
	g := benchkit.GroupOptions{Bin: o.quireBin, CasAddr: casAddr, Dir: tmp, Hosts: o.hosts,
		Users: o.users, Env: env, Recheck: "2s", MaxConns: 1000}
	if cas != nil {
		g.CasPoints, g.CasStore = cas.points, clusterStore(o.readFallback)
	}
	log.Printf("starting %d hosts", o.hosts)
	return benchkit.StartGroup(ctx, g, cl)
}
