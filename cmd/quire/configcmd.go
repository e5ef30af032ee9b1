package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/quiremail/quire/internal/config"
	"github.com/quiremail/quire/internal/store/cassandra"
)

// configFlags parses a config command's arguments: --config, and
// --show-secrets when secrets is set.
func configFlags(name string, args []string, secrets bool) (pos []string, path string, show bool, err error) {
	fs, cfgPath := adminFlags(name)
	var showSecrets *bool
	if secrets {
		showSecrets = fs.Bool("show-secrets", false, "print passwords and shared secrets instead of "+config.Mask)
	}
	pos, err = parse(fs, args)
	if showSecrets != nil {
		show = *showSecrets
	}
	return pos, *cfgPath, show, err
}

// configCheck validates the file, fails when a protocol listens where
// nobody can log in, and prints warnings: settings that contradict each
// other (config.Warnings) and, on Cassandra unless --offline, replication
// factors above the nodes the cluster has.
func (c *cli) configCheck(ctx context.Context, args []string) error {
	fs, cfgPath := adminFlags("config check")
	offline := fs.Bool("offline", false, "do not connect to Cassandra (its replication factors are then not compared with its nodes)")
	pos, err := parse(fs, args)
	if err == nil {
		err = want(pos, 0, "no arguments")
	}
	if err != nil {
		return err
	}
	path := *cfgPath
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	if err := cfg.LoginCheck(); err != nil {
		return err
	}
	warns := cfg.Warnings()
	if cfg.TLS.CertFile != "" {
		if _, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile); err != nil {
			warns = append(warns, fmt.Sprintf("tls.cert_file and tls.key_file: %v: serve does not start until they can be read (put the certificate's paths there)", err))
		}
	}
	if cfg.Store.DBType == "cassandra" && !*offline {
		warns = append(warns, rfWarnings(ctx, cfg)...)
	}
	name := nameOr(path, "defaults")
	for _, w := range warns {
		fmt.Fprintf(c.stdout, "%s: warning: %s\n", name, w)
	}
	if len(warns) > 0 {
		fmt.Fprintf(c.stdout, "%s: ok, with %d warning(s)\n", name, len(warns))
		return nil
	}
	fmt.Fprintf(c.stdout, "%s: ok\n", name)
	return nil
}

// rfWarnings compares each keyspace's replication factor with the nodes
// its cluster has (in its data center, with NetworkTopologyStrategy), as
// the keyspace's connect points report them.
func rfWarnings(ctx context.Context, cfg Config) []string {
	log := slog.New(slog.DiscardHandler)
	o := cassandraOptions(cfg, log)
	nts := o.Strategy == cassandra.NetworkTopology
	type result struct {
		nodes map[string]int
		err   error
	}
	seen := map[string]result{}
	var warns []string
	for _, k := range []struct {
		name string
		ks   cassandra.KeyspaceOptions
	}{{"meta", o.Meta}, {"msg", o.Msg}, {"cache", o.Cache}} {
		where := strings.Join(k.ks.ConnectPoints, ",")
		asked := where + "\x00" + k.ks.Username // another user of the cluster may be refused
		r, ok := seen[asked]
		if !ok {
			cctx, cancel := context.WithTimeout(ctx, cfg.Store.CasConnectTimeout.Duration()+cfg.Store.CasRequestTimeout.Duration())
			r.nodes, r.err = cassandra.Nodes(cctx, o, k.ks)
			cancel()
			seen[asked] = r
			if r.err != nil {
				warns = append(warns, fmt.Sprintf("could not ask Cassandra at %s how many nodes it has, to compare with the replication factors: %v (config check --offline skips this)", where, r.err))
			}
		}
		if r.err != nil {
			continue
		}
		rfKey := "store.cas" + k.name + "rf"
		if !nts {
			total := 0
			for _, n := range r.nodes {
				total += n
			}
			if k.ks.RF > total {
				warns = append(warns, fmt.Sprintf("%s = %d but the cluster at %s has %d node(s): writes at QUORUM fail, and each row has only %d replica(s); lower %s or add nodes",
					rfKey, k.ks.RF, where, total, total, rfKey))
			}
			continue
		}
		n := r.nodes[k.ks.DataCenter]
		switch {
		case n == 0:
			warns = append(warns, fmt.Sprintf("store.cas%sdc = %q but the cluster at %s has no such data center (it has %s); set store.cas%sdc to one of them",
				k.name, k.ks.DataCenter, where, dcList(r.nodes), k.name))
		case k.ks.RF > n:
			warns = append(warns, fmt.Sprintf("%s = %d but data center %q of the cluster at %s has %d node(s): writes at LOCAL_QUORUM fail; lower %s or add nodes",
				rfKey, k.ks.RF, k.ks.DataCenter, where, n, rfKey))
		}
	}
	return warns
}

// dcList writes the data centers and their node counts, sorted.
func dcList(nodes map[string]int) string {
	names := make([]string, 0, len(nodes))
	for dc := range nodes {
		names = append(names, dc)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, dc := range names {
		parts[i] = fmt.Sprintf("%q: %d node(s)", dc, nodes[dc])
	}
	return strings.Join(parts, ", ")
}

// configDump prints every key; secrets read config.Mask unless
// --show-secrets, so the output can be pasted into a ticket.
func (c *cli) configDump(_ context.Context, args []string) error {
	pos, path, show, err := configFlags("config dump", args, true)
	if err == nil {
		err = want(pos, 0, "no arguments")
	}
	if err != nil {
		return err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	if !show {
		cfg = cfg.Masked()
	}
	return cfg.Dump(c.stdout)
}

func (c *cli) configGet(_ context.Context, args []string) error {
	pos, path, show, err := configFlags("config get", args, true)
	if err == nil {
		err = want(pos, 1, "one KEY")
	}
	if err != nil {
		return err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	v, err := cfg.Get(pos[0])
	if err != nil {
		return err
	}
	if config.Secret(pos[0]) && !show {
		return fmt.Errorf("config get: %s is a secret: add --show-secrets to print it", pos[0])
	}
	fmt.Fprintln(c.stdout, v)
	return nil
}

// configSet changes one key in the file in place (config.Edit): comments,
// order and every other line stay as they were, and no default is
// written. The new file replaces the old through a temporary file and a
// rename, with the old one's mode and owner; a symlink is followed, so
// the file it points at is the one changed.
func (c *cli) configSet(_ context.Context, args []string) error {
	pos, path, _, err := configFlags("config set", args, false)
	if err == nil {
		err = want(pos, 2, "KEY VALUE")
	}
	if err != nil {
		return err
	}
	if path == "" {
		return errors.New("config set: give --config FILE, the file to change")
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("config set: %w", err)
	}
	out, cfg, err := config.Edit(data, pos[0], pos[1])
	if err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := replaceFile(path, out); err != nil {
		return fmt.Errorf("config set: %w", err)
	}
	shown := pos[1]
	if config.Secret(pos[0]) {
		shown = config.Mask
	}
	fmt.Fprintf(c.stdout, "%s: %s = %s\n", path, pos[0], shown)
	return nil
}

// replaceFile writes data to path through a temporary file in the same
// directory and a rename, keeping path's mode and owner.
func replaceFile(path string, data []byte) error {
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".quire-config-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(fi.Mode().Perm()); err != nil {
		f.Close()
		return err
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && (int(st.Uid) != os.Getuid() || int(st.Gid) != os.Getgid()) {
		if err := f.Chown(int(st.Uid), int(st.Gid)); err != nil {
			f.Close()
			return fmt.Errorf("cannot keep the owner of %s (uid %d, gid %d): %w; run config set as that user or root", path, st.Uid, st.Gid, err)
		}
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// initSchema creates the Cassandra keyspaces and tables, printing the CQL.
func (c *cli) initSchema(ctx context.Context, args []string) error {
	var dry bool
	cfg, _, err := configOnly("init", args, func(fs *flag.FlagSet) {
		fs.BoolVar(&dry, "print", false, "print the CQL without running it")
	})
	if err != nil {
		return err
	}
	if cfg.Store.DBType != "cassandra" {
		fmt.Fprintf(c.stdout, "store.dbtype is %q: the embedded store creates itself in %s on first start; nothing to do\n", cfg.Store.DBType, cfg.Store.DataDir)
		return nil
	}
	log := slog.New(slog.NewTextHandler(c.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	o := cassandraOptions(cfg, log)
	for _, stmt := range cassandra.SchemaCQL(o) {
		fmt.Fprintf(c.stdout, "%s;\n", stmt)
	}
	if dry {
		return nil
	}
	b, err := cassandra.Open(ctx, o)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, "-- keyspaces and tables are in place")
	return b.Close()
}
