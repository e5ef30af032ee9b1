package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/quiremail/quire/internal/adminapi"
	"github.com/quiremail/quire/internal/backup"
	"github.com/quiremail/quire/internal/directory"
)

// exportUser writes a user's mailboxes to a Maildir archive. The
// directory is made absolute here: with the embedded store held by a
// running server, that server writes it.
func (c *cli) exportUser(ctx context.Context, args []string) error {
	fs, cfgPath := adminFlags("export")
	return c.withAdmin(ctx, fs, cfgPath, args, 2, "ADDRESS DIR", nil, func(a adminapi.Admin, pos []string) error {
		dir, err := filepath.Abs(pos[1])
		if err != nil {
			return err
		}
		rep, err := a.Export(ctx, pos[0], dir)
		if err != nil {
			return err
		}
		c.printBackup(rep, false)
		fmt.Fprintf(c.stdout, "exported %s to %s (a Dovecot Maildir: mail_location = maildir:%s)\n", pos[0], dir, dir)
		return nil
	})
}

// restoreUser adds an archive to a user's mailboxes.
func (c *cli) restoreUser(ctx context.Context, args []string) error {
	fs, cfgPath := adminFlags("restore")
	offset := fs.Uint("uid-offset", 0, "add N to every restored UID and UIDNEXT, and raise MODSEQs as much: for an archive older than what clients saw (a restored snapshot)")
	return c.withAdmin(ctx, fs, cfgPath, args, 2, "ADDRESS DIR", nil, func(a adminapi.Admin, pos []string) error {
		dir, err := filepath.Abs(pos[1])
		if err != nil {
			return err
		}
		if *offset > math.MaxUint32 {
			return fmt.Errorf("restore: --uid-offset %d: at most %d", *offset, uint32(math.MaxUint32))
		}
		rep, err := a.Restore(ctx, pos[0], dir, backup.Options{UIDOffset: uint32(*offset)})
		if err != nil {
			return err
		}
		c.printBackup(rep, true)
		fmt.Fprintf(c.stdout, "restored %s from %s\n", pos[0], dir)
		return nil
	})
}

// importMail adds mail from another server: `quire import maildir
// ADDRESS DIR` (a Dovecot Maildir++ tree), `quire import mbox ADDRESS
// PATH` (an mbox file or tree), `quire import imap ADDRESS --host H ...`
// (every mailbox of an IMAP server).
func (c *cli) importMail(ctx context.Context, args []string) error {
	fs, cfgPath := adminFlags("import")
	hash := fs.String("password-hash", "", "create a missing user with this password hash (as Dovecot's passdb holds it) and the source's UIDVALIDITYs")
	mailbox := fs.String("mailbox", "", "mbox: the mailbox a file goes into (default INBOX), or the parent of a tree's mailboxes")
	quoting := fs.String("quoting", "mboxrd", `mbox: how "From " lines in bodies are quoted: mboxrd (every >*From line got one more ">"; mutt, most tools), mboxo (only From lines) or none (Dovecot's mbox, which relies on Content-Length)`)
	host := fs.String("host", "", "imap: the server, HOST or HOST:PORT (default port 993 with --tls, else 143)")
	user := fs.String("user", "", "imap: the user whose mail is read")
	pwFile := fs.String("password-file", "", "imap: a file holding the password (of --admin when given), read where the import runs (the server's host, over the admin API)")
	admin := fs.String("admin", "", "imap: log in as this administrator (SASL PLAIN) with --user as the authorization identity (Dovecot master user, Cyrus admin)")
	useTLS := fs.Bool("tls", false, "imap: implicit TLS (the default)")
	startTLS := fs.Bool("starttls", false, "imap: plain connection upgraded with STARTTLS")
	plain := fs.Bool("plain", false, "imap: no TLS at all (a server on this host or a trusted network only)")
	caFile := fs.String("ca-file", "", "imap: verify the server's certificate against the PEM certificates in this file instead of the system's roots (read where the import runs)")
	fetchN := fs.Int("fetch-batch", backup.DefaultFetchMessages, "imap: the most messages one UID FETCH of bodies asks for (one round trip a batch)")
	fetchBytes := fs.String("fetch-batch-bytes", "16MiB", "imap: the most bytes (by RFC822.SIZE) one UID FETCH of bodies asks for; a larger message is fetched alone (KB, MB, GB, KiB, MiB, GiB)")
	kind, n, what := "", 3, "maildir ADDRESS DIR, mbox ADDRESS PATH or imap ADDRESS --host H --user U --password-file F"
	if len(args) > 0 {
		kind = args[0]
	}
	if kind == "imap" {
		n = 2
	}
	var opt backup.ImportOptions
	return c.withAdmin(ctx, fs, cfgPath, args, n, what, func(pos []string) error {
		if *hash != "" {
			if _, err := directory.VerifyPassword(*hash, "probe"); err != nil {
				return fmt.Errorf("import --password-hash: %w", err)
			}
		}
		opt = backup.ImportOptions{Source: pos[0], PasswordHash: *hash}
		fetchSet := false
		fs.Visit(func(f *flag.Flag) { fetchSet = fetchSet || strings.HasPrefix(f.Name, "fetch-batch") })
		imapSet := *host != "" || *user != "" || *pwFile != "" || *admin != "" || *caFile != "" || *useTLS || *startTLS || *plain || fetchSet
		switch pos[0] {
		case "maildir":
			if *mailbox != "" || imapSet {
				return errors.New("import maildir: takes no --mailbox and no IMAP flags: a Maildir's folders keep their names")
			}
		case "mbox":
			if imapSet {
				return errors.New("import mbox: --host, --user, --password-file, --admin, --ca-file, --tls, --starttls, --plain and --fetch-batch(-bytes) are for imap")
			}
			if *quoting != "mboxrd" && *quoting != "mboxo" && *quoting != "none" {
				return fmt.Errorf("import mbox --quoting %q: want mboxrd, mboxo or none", *quoting)
			}
			opt.Mailbox, opt.MboxQuoting = *mailbox, *quoting
		case "imap":
			if *mailbox != "" {
				return errors.New("import imap: takes no --mailbox: every mailbox of the server is imported under its name")
			}
			src, err := imapSource(*host, *user, *pwFile, *admin, *useTLS, *startTLS, *plain)
			if err != nil {
				return err
			}
			if *caFile != "" {
				if *plain {
					return errors.New("import imap: --ca-file is for --tls and --starttls")
				}
				if src.CAFile, err = filepath.Abs(*caFile); err != nil {
					return err
				}
			}
			if src.FetchMessages, src.FetchBytes, err = fetchBounds(*fetchN, *fetchBytes); err != nil {
				return err
			}
			opt.IMAP = src
		default:
			return fmt.Errorf("import: unknown source %q: want maildir, mbox or imap", pos[0])
		}
		return nil
	}, func(a adminapi.Admin, pos []string) error {
		path, from := "", opt.IMAP.Addr
		if pos[0] != "imap" {
			var err error
			if path, err = filepath.Abs(pos[2]); err != nil {
				return err
			}
			from = path
		}
		drawn := false
		if isTerminal(c.stdout) {
			opt.Progress = func(mailbox string, done, total int) {
				fmt.Fprintf(c.stdout, "\r\033[Kimporting %s: %d/%d messages", mailbox, done, total)
				drawn = true
			}
		}
		rep, err := a.Import(ctx, pos[1], path, opt)
		if drawn {
			fmt.Fprint(c.stdout, "\r\033[K")
		}
		if err != nil {
			return err
		}
		c.printBackup(rep, true)
		fmt.Fprintf(c.stdout, "imported %s into %s (run it again after an interruption: it resumes)\n", from, pos[1])
		return nil
	})
}

// imapSource checks the flags of quire import imap.
func imapSource(host, user, pwFile, admin string, useTLS, startTLS, plain bool) (backup.IMAPSource, error) {
	src := backup.IMAPSource{User: user, Admin: admin, Security: "tls"}
	switch {
	case host == "" || user == "" || pwFile == "":
		return src, errors.New("import imap: --host, --user and --password-file are required")
	case (useTLS && startTLS) || (useTLS && plain) || (startTLS && plain):
		return src, errors.New("import imap: give one of --tls, --starttls and --plain")
	case startTLS:
		src.Security = "starttls"
	case plain:
		src.Security = "plain"
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		port := "143"
		if src.Security == "tls" {
			port = "993"
		}
		host = net.JoinHostPort(strings.Trim(host, "[]"), port)
	}
	src.Addr = host
	// The file is read where the import runs: on the server's host over
	// the admin API, so the path sent is absolute.
	abs, err := filepath.Abs(pwFile)
	if err != nil {
		return src, err
	}
	src.PasswordFile = abs
	return src, nil
}

// fetchBounds checks --fetch-batch and --fetch-batch-bytes.
func fetchBounds(n int, size string) (int, int64, error) {
	if n < 1 {
		return 0, 0, fmt.Errorf("import imap --fetch-batch %d: want at least 1 message per UID FETCH (default %d)", n, backup.DefaultFetchMessages)
	}
	b, err := sizeFlag("import imap --fetch-batch-bytes", size)
	if err != nil {
		return 0, 0, err
	}
	if b < 1 {
		return 0, 0, fmt.Errorf("import imap --fetch-batch-bytes %s: want at least 1 byte (a message larger than the bound is fetched alone; default 16MiB)", size)
	}
	return n, b, nil
}

func (c *cli) printBackup(rep backup.Report, restore bool) {
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	if restore {
		fmt.Fprintln(tw, "MAILBOX\tRESTORED\tSKIPPED\tUIDVALIDITY\tUID OFFSET")
	} else {
		fmt.Fprintln(tw, "MAILBOX\tMESSAGES\tUIDVALIDITY")
	}
	for _, m := range rep.Mailboxes {
		if restore {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\n", m.Name, m.Messages, m.Skipped, m.UIDValidity, m.UIDOffset)
		} else {
			fmt.Fprintf(tw, "%s\t%d\t%d\n", m.Name, m.Messages, m.UIDValidity)
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(c.stdout, "%d subscriptions\n", rep.Subscriptions)
}
