package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

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

func (c *cli) configCheck(_ context.Context, args []string) error {
	pos, path, _, err := configFlags("config check", args, false)
	if err == nil {
		err = want(pos, 0, "no arguments")
	}
	if err != nil {
		return err
	}
	if _, err := loadConfig(path); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s: ok\n", nameOr(path, "defaults"))
	return nil
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

// configSet changes one key and writes the whole file back (secrets
// included), through a temporary file and a rename.
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
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	if err := cfg.Set(pos[0], pos[1]); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	f, err := os.CreateTemp(dirOf(path), ".quire-config-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := cfg.Dump(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	shown := pos[1]
	if config.Secret(pos[0]) {
		shown = config.Mask
	}
	fmt.Fprintf(c.stdout, "%s: %s = %s\n", path, pos[0], shown)
	return nil
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func dirOf(path string) string {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i] == '/' {
			return path[:i+1]
		}
	}
	return "."
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
