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

const usage = `usage: quire COMMAND [--config FILE] ...

Server:
  serve                          run the IMAP/POP3/LMTP access host
  init                           create keyspaces and tables (Cassandra) and print the CQL

Configuration:
  config check                   validate the configuration file
  config dump                    print the effective configuration, defaults filled in
  config get KEY | set KEY VALUE read or change one key

Users and mailboxes (work while the server runs):
  user add ADDRESS [--password-stdin | --password PW]
  user del ADDRESS
  user list
  user passwd ADDRESS [--password-stdin | --password PW]
  user quota ADDRESS [--storage N] [--messages N]   (0 = unlimited; sizes take KB/MB/GB)
  mailbox list ADDRESS           mailboxes with message, unseen and size totals
  user mailhost ADDRESS [GROUP]  the store affinity group serving the user

Search converter:
  isc convert FILE [--type CT] [--charset CS]
                                 print the text search will find in a file
                                 (PDF, DOCX, XLSX, PPTX, ODF, RTF, HTML, text, .eml)
  isc serve [--listen ADDR] [--tls] run the converter as an HTTP service
  reindex [ADDRESS]              rebuild the full-text index of one user or all,
                                 with a progress bar (works while the server runs)

Every command takes --config FILE; without it, the embedded defaults apply
(data in ./quire-data).
`

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
// tests can drive it.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	c := &cli{stdin: stdin, stdout: stdout, stderr: stderr}
	switch cmd {
	case "serve":
		return c.serve(ctx, rest)
	case "init":
		return c.initSchema(ctx, rest)
	case "config":
		return c.config(rest)
	case "user":
		return c.user(ctx, rest)
	case "reindex":
		return c.reindex(ctx, rest)
	case "mailbox":
		return c.mailbox(ctx, rest)
	case "isc":
		return c.isc(ctx, rest)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

// parse parses flags that may appear before, between or after positional
// arguments, and returns the positionals.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	fs.SetOutput(io.Discard)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%s: %w", fs.Name(), err)
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
