package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one form of quire's command line. The table commands returns
// is the one list of them: run dispatches on it, quire's usage is printed
// from it, and a command's -h prints its line, its summary and its flags.
type command struct {
	group   string // the heading it is listed under in quire's usage
	name    string // the words that select it: "serve", "user quota"
	args    string // what follows the name, flags included ("" for none)
	summary string // what it does
	run     func(c *cli, ctx context.Context, args []string) error
}

// commands lists every command, in the order quire's usage shows them.
// Every command but isc convert also takes --config FILE.
func commands() []command {
	const (
		server = "Server"
		conf   = "Configuration"
		users  = "Users and mailboxes (work while the server runs)"
		search = "Search"
		bak    = "Backup (works while the server runs)"
	)
	pw := "[--password-stdin | --password PW | --password-hash HASH]"
	return []command{
		{server, "serve", "", "run the IMAP/POP3/LMTP access host", (*cli).serve},
		{server, "proxy", "", "run the IMAP/POP3/LMTP front end: each user to the first live access host of their store affinity group", (*cli).proxyServe},
		{server, "init", "[--print]", "create keyspaces and tables (Cassandra) and print the CQL", (*cli).initSchema},

		{conf, "config check", "[--offline]", "validate the configuration file: errors, a listener nobody can log in on, warnings (with Cassandra: RF against its nodes)", (*cli).configCheck},
		{conf, "config dump", "[--show-secrets]", "print the effective configuration, defaults filled in; passwords and secrets masked", (*cli).configDump},
		{conf, "config get", "KEY [--show-secrets]", "print one key's value (a secret only with --show-secrets)", (*cli).configGet},
		{conf, "config set", "KEY VALUE --config FILE", "change one key in the file", (*cli).configSet},

		{users, "user add", "ADDRESS " + pw + " [--mailhost GROUP]", "create a user with INBOX, Drafts, Sent, Trash, Junk and Archive", (*cli).userAdd},
		{users, "user del", "ADDRESS", "delete a user and its mail", (*cli).userDel},
		{users, "user list", "", "list users with their quotas and mailhost", (*cli).userList},
		{users, "user passwd", "ADDRESS " + pw, "change a user's password", (*cli).userPasswd},
		{users, "user quota", "ADDRESS [--storage N] [--messages N]", "set a user's quota (0 = unlimited; sizes take KB, MB, GB, KiB, MiB, GiB)", (*cli).userQuota},
		{users, "user mailhost", "ADDRESS [GROUP]", "set the store affinity group (or host) serving the user; none: this host's group", (*cli).userMailhost},
		{users, "mailbox list", "ADDRESS", "mailboxes with message, unseen and size totals", (*cli).mailboxList},
		{users, "purge", "[--dry-run]", "free the bodies no message references any more, after store.purge.grace; print what was freed", (*cli).purge},
		{users, "check", "[ADDRESS] [--repair] [--bodies]", "verify heads, change log, bodies, search index and quota usage against the rows; --repair fixes what is derived (exit 1: problems left)", (*cli).check},

		{bak, "export", "ADDRESS DIR", "write a user's mailboxes to DIR (new or empty): a Dovecot Maildir, plus quire-backup.json", (*cli).exportUser},
		{bak, "restore", "ADDRESS DIR [--uid-offset N]", "add an export to a user's mailboxes: UIDs kept in new mailboxes, offset above existing ones", (*cli).restoreUser},
		{bak, "import", "maildir ADDRESS DIR | mbox ADDRESS PATH [--mailbox NAME] [--quoting mboxrd|mboxo|none] | imap ADDRESS --host H[:PORT] --user U --password-file F [--admin A] [--tls|--starttls|--plain] [--ca-file F] [--fetch-batch N] [--fetch-batch-bytes SIZE] [--password-hash HASH]",
			"add mail to a user (created if missing with --password-hash): a Dovecot Maildir++ tree or an IMAP server (UIDVALIDITY, UIDs, flags, keywords, dates, subscriptions kept), or an mbox file or tree (Status/X-Status/X-Keywords flags, From_ dates); resumable, with progress", (*cli).importMail},

		{search, "isc convert", "FILE [--type CT] [--charset CS]", "print the text search will find in a file (PDF, DOCX, XLSX, PPTX, ODF, RTF, HTML, text, .eml)", (*cli).iscConvert},
		{search, "isc serve", "[--listen ADDR] [--tls]", "run the converter as an HTTP service", (*cli).iscServe},
		{search, "reindex", "[ADDRESS]", "rebuild the full-text index of one user or all, with a progress bar (works while the server runs)", (*cli).reindex},
	}
}

// usage is quire's usage, printed from the table.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: quire COMMAND [--config FILE] ...\n")
	group := ""
	for _, cmd := range commands() {
		if cmd.group != group {
			group = cmd.group
			fmt.Fprintf(&b, "\n%s:\n", group)
		}
		fmt.Fprintf(&b, "  %s\n      %s\n", strings.TrimSpace(cmd.name+" "+cmd.args), cmd.summary)
	}
	b.WriteString("\nEvery command but isc convert takes --config FILE; without it, the embedded\n" +
		"defaults apply (data in ./quire-data). quire COMMAND -h describes a command.\n")
	return b.String()
}

// lookup finds the command args start with (two words, then one) and
// returns it with the rest of args.
func lookup(args []string) (command, []string, bool) {
	for _, n := range []int{2, 1} {
		if len(args) < n {
			continue
		}
		name := strings.Join(args[:n], " ")
		for _, cmd := range commands() {
			if cmd.name == name {
				return cmd, args[n:], true
			}
		}
	}
	return command{}, nil, false
}

// family returns the commands whose name starts with word and a second
// word ("user" gives user add, user del...).
func family(word string) []command {
	var out []command
	for _, cmd := range commands() {
		if strings.HasPrefix(cmd.name, word+" ") {
			out = append(out, cmd)
		}
	}
	return out
}

// isHelp reports whether arg asks for help.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// helpRequest is the error parse returns for -h or --help: run prints the
// command's help to stdout, and quire exits 0 (errors.Is(err,
// flag.ErrHelp)).
type helpRequest struct{ fs *flag.FlagSet }

func (h *helpRequest) Error() string        { return h.fs.Name() + ": help requested" }
func (h *helpRequest) Is(target error) bool { return target == flag.ErrHelp }

// printHelp writes a command's help: its line, its summary, its flags.
func printHelp(w io.Writer, cmd command, fs *flag.FlagSet) {
	fmt.Fprintf(w, "usage: quire %s\n\n%s\n", strings.TrimSpace(cmd.name+" "+cmd.args), cmd.summary)
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintf(w, "\nflags:\n")
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
}

// printFamily writes the lines of a family of commands.
func printFamily(w io.Writer, word string, cmds []command) {
	fmt.Fprintf(w, "usage: quire %s COMMAND ...\n\n", word)
	for _, cmd := range cmds {
		fmt.Fprintf(w, "  quire %s\n      %s\n", strings.TrimSpace(cmd.name+" "+cmd.args), cmd.summary)
	}
	fmt.Fprintf(w, "\nquire %s COMMAND -h describes a command.\n", word)
}

// dispatch runs the command args name, or prints help.
func (c *cli) dispatch(ctx context.Context, args []string) error {
	if len(args) == 0 {
		fmt.Fprint(c.stderr, usage())
		return errors.New("no command given")
	}
	if isHelp(args[0]) {
		fmt.Fprint(c.stdout, usage())
		return nil
	}
	cmd, rest, ok := lookup(args)
	if !ok {
		if fam := family(args[0]); len(fam) > 0 {
			if len(args) > 1 && isHelp(args[1]) {
				printFamily(c.stdout, args[0], fam)
				return nil
			}
			printFamily(c.stderr, args[0], fam)
			if len(args) == 1 {
				return fmt.Errorf("%s: expected a command: %s", args[0], familyWords(fam))
			}
			return fmt.Errorf("%s: unknown command %q (expected %s)", args[0], args[1], familyWords(fam))
		}
		fmt.Fprint(c.stderr, usage())
		return fmt.Errorf("unknown command %q", args[0])
	}
	err := cmd.run(c, ctx, rest)
	if h := (*helpRequest)(nil); errors.As(err, &h) {
		printHelp(c.stdout, cmd, h.fs)
	}
	return err
}

// familyWords lists the second words of a family: "add, del or list".
func familyWords(cmds []command) string {
	var ws []string
	for _, cmd := range cmds {
		ws = append(ws, cmd.name[strings.IndexByte(cmd.name, ' ')+1:])
	}
	if len(ws) == 1 {
		return ws[0]
	}
	return strings.Join(ws[:len(ws)-1], ", ") + " or " + ws[len(ws)-1]
}
