// Command quire is Quire's one binary: the server (serve), the schema tool
// (init), the configuration tool (config) and the admin commands (user,
// mailbox). It is the only place that reads configuration; everything under
// internal/ takes Options.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		os.Exit(0)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "quire:", err)
		os.Exit(1)
	}
}

// run executes one command line. It returns errors rather than exiting, so
// tests can drive it; an error that Is flag.ErrHelp means help was asked
// for and printed.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	return c.dispatch(ctx, args)
}

type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// parse parses flags that may appear before, between or after positional
// arguments, and returns the positionals. For -h or --help it returns a
// helpRequest, and the dispatcher prints the command's help.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			return nil, &helpRequest{fs}
		} else if err != nil {
			return nil, fmt.Errorf("%s: %w (quire %s -h lists its flags)", fs.Name(), err, fs.Name())
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// want checks the number of positional arguments.
func want(pos []string, n int, what string) error {
	if len(pos) != n {
		return fmt.Errorf("expected %s, got %q", what, strings.Join(pos, " "))
	}
	return nil
}

// configOnly parses a command that takes --config (plus what more adds) and
// no positional arguments, and loads the configuration.
func configOnly(name string, args []string, more func(*flag.FlagSet)) (Config, string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file (default: embedded store in ./quire-data)")
	if more != nil {
		more(fs)
	}
	pos, err := parse(fs, args)
	if err == nil {
		err = want(pos, 0, "no arguments")
	}
	if err != nil {
		return Config{}, "", err
	}
	cfg, err := loadConfig(*cfgPath)
	return cfg, *cfgPath, err
}
