package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
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

// importMail adds mail from another server: `quire import maildir ADDRESS
// DIR` (a Dovecot Maildir++ tree); mbox and IMAP are refused, not built.
func (c *cli) importMail(ctx context.Context, args []string) error {
	fs, cfgPath := adminFlags("import")
	hash := fs.String("password-hash", "", "create a missing user with this password hash (as Dovecot's passdb holds it) and the Maildir's UIDVALIDITYs")
	return c.withAdmin(ctx, fs, cfgPath, args, 3, "maildir ADDRESS DIR", func(pos []string) error {
		switch pos[0] {
		case "maildir":
			if *hash != "" {
				if _, err := directory.VerifyPassword(*hash, "probe"); err != nil {
					return fmt.Errorf("import --password-hash: %w", err)
				}
			}
			return nil
		case "mbox", "imap":
			return fmt.Errorf("import: %s import is not built yet: copy the mail into a Maildir++ tree first (Dovecot's doveadm sync, or mbsync), then run quire import maildir", pos[0])
		}
		return fmt.Errorf("import: unknown source %q: want maildir", pos[0])
	}, func(a adminapi.Admin, pos []string) error {
		dir, err := filepath.Abs(pos[2])
		if err != nil {
			return err
		}
		opt := backup.ImportOptions{PasswordHash: *hash}
		drawn := false
		if isTerminal(c.stdout) {
			opt.Progress = func(mailbox string, done, total int) {
				fmt.Fprintf(c.stdout, "\r\033[Kimporting %s: %d/%d messages", mailbox, done, total)
				drawn = true
			}
		}
		rep, err := a.Import(ctx, pos[1], dir, opt)
		if drawn {
			fmt.Fprint(c.stdout, "\r\033[K")
		}
		if err != nil {
			return err
		}
		c.printBackup(rep, true)
		fmt.Fprintf(c.stdout, "imported %s into %s (run it again after an interruption: it resumes)\n", dir, pos[1])
		return nil
	})
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
