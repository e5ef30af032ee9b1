package main

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"text/tabwriter"

	"github.com/quiremail/quire/internal/adminapi"
	"github.com/quiremail/quire/internal/backup"
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
