package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"

	"github.com/quiremail/quire/internal/store/cassandra"
)

func (c *cli) config(args []string) error {
	if len(args) == 0 {
		return errors.New("config: expected check, dump, get KEY or set KEY VALUE")
	}
	sub := args[0]
	fs := flag.NewFlagSet("config "+sub, flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	switch sub {
	case "check":
		if err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s: ok\n", nameOr(*cfgPath, "defaults"))
		return nil
	case "dump":
		if err != nil {
			return err
		}
		return cfg.Dump(c.stdout)
	case "get":
		if err != nil {
			return err
		}
		if err := want(pos, 1, "one KEY"); err != nil {
			return err
		}
		v, err := cfg.Get(pos[0])
		if err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, v)
		return nil
	case "set":
		if err := want(pos, 2, "KEY VALUE"); err != nil {
			return err
		}
		if *cfgPath == "" {
			return errors.New("config set: give --config FILE, the file to change")
		}
		if err != nil {
			return err
		}
		if err := cfg.Set(pos[0], pos[1]); err != nil {
			return err
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		f, err := os.CreateTemp(dirOf(*cfgPath), ".quire-config-*")
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
		if err := os.Rename(f.Name(), *cfgPath); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "%s: %s = %s\n", *cfgPath, pos[0], pos[1])
		return nil
	}
	return fmt.Errorf("config: unknown subcommand %q (expected check, dump, get or set)", sub)
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
