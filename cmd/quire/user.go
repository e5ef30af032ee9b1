package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/quiremail/quire/internal/config"
	"github.com/quiremail/quire/internal/directory"
)

func (c *cli) user(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("user: expected add, del, list, passwd, quota or mailhost")
	}
	sub := args[0]
	fs := flag.NewFlagSet("user "+sub, flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file")
	pwStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	pw := fs.String("password", "", "the password (visible to other local users; prefer --password-stdin)")
	pwHash := fs.String("password-hash", "", "store this hash as is, for migrations: {SSHA}, {SHA512}, $2y$ (bcrypt), $argon2id$, {PLAIN}...")
	storage := fs.String("storage", "", "storage quota in bytes (KB, MB, GB, KiB, MiB, GiB allowed); 0 = unlimited")
	messages := fs.String("messages", "", "message-count quota; 0 = unlimited")
	mailHost := fs.String("mailhost", "", "with add: the store affinity group (or a host of it) serving the user")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	// Check arguments before touching the store.
	st, err := sizeFlag("--storage", *storage)
	if err != nil {
		return err
	}
	ms, err := sizeFlag("--messages", *messages)
	if err != nil {
		return err
	}
	a, closeFn, err := c.admin(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer closeFn()
	switch sub {
	case "add", "passwd":
		if err := want(pos, 1, "one ADDRESS"); err != nil {
			return err
		}
		hash := *pwHash
		if hash != "" {
			if *pw != "" || *pwStdin {
				return errors.New("give a password or --password-hash, not both")
			}
			if _, err := directory.VerifyPassword(hash, "probe"); err != nil {
				return fmt.Errorf("--password-hash: %w", err)
			}
		} else {
			p, err := c.password(*pw, *pwStdin)
			if err != nil {
				return err
			}
			if hash, err = directory.HashPassword(p); err != nil {
				return err
			}
		}
		if sub == "passwd" {
			if err := a.SetPassword(ctx, pos[0], hash); err != nil {
				return err
			}
			fmt.Fprintf(c.stdout, "password changed for %s\n", pos[0])
			return nil
		}
		u, err := a.AddUser(ctx, pos[0], hash)
		if err != nil {
			return err
		}
		if *mailHost != "" {
			if err := a.SetMailHost(ctx, u.Address, *mailHost); err != nil {
				return err
			}
		}
		fmt.Fprintf(c.stdout, "created %s with INBOX, Drafts, Sent, Trash, Junk and Archive\n", u.Address)
		return nil
	case "del":
		if err := want(pos, 1, "one ADDRESS"); err != nil {
			return err
		}
		if err := a.DeleteUser(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "deleted %s\n", pos[0])
		return nil
	case "list":
		if err := want(pos, 0, "no arguments"); err != nil {
			return err
		}
		us, err := a.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ADDRESS\tQUOTA STORAGE\tQUOTA MESSAGES\tMAILHOST")
		for _, u := range us {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Address, limit(u.QuotaStorage), limit(u.QuotaMessages), u.MailHost)
		}
		return tw.Flush()
	case "quota":
		if err := want(pos, 1, "one ADDRESS"); err != nil {
			return err
		}
		if *storage == "" && *messages == "" {
			return errors.New("user quota: give --storage N and/or --messages N")
		}
		if err := a.SetQuota(ctx, pos[0], st, ms); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "quota set for %s\n", pos[0])
		return nil
	case "mailhost":
		// The user's store affinity group; with no GROUP, this host's group.
		if len(pos) != 1 && len(pos) != 2 {
			return errors.New("user mailhost: expected ADDRESS [GROUP-OR-HOST]")
		}
		mh := ""
		if len(pos) == 2 {
			mh = pos[1]
		}
		if err := a.SetMailHost(ctx, pos[0], mh); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "mailhost of %s set to %q\n", pos[0], mh)
		return nil
	}
	return fmt.Errorf("user: unknown subcommand %q (expected add, del, list, passwd, quota or mailhost)", sub)
}

func (c *cli) password(pw string, fromStdin bool) (string, error) {
	switch {
	case fromStdin && pw != "":
		return "", errors.New("give either --password or --password-stdin, not both")
	case fromStdin:
		line, err := bufio.NewReader(c.stdin).ReadString('\n')
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return "", fmt.Errorf("no password on standard input: %v", err)
		}
		return line, nil
	case pw != "":
		return pw, nil
	}
	return "", errors.New("a password is required: --password-stdin (recommended) or --password PW")
}

func limit(v int64) string {
	if v <= 0 {
		return "unlimited"
	}
	return strconv.FormatInt(v, 10)
}

// sizeFlag parses a size with an optional unit (KB, MB, GB, KiB, MiB, GiB:
// the config file's syntax); "" means unchanged (-1).
func sizeFlag(name, s string) (int64, error) {
	if s == "" {
		return -1, nil
	}
	var v config.Size
	if err := v.UnmarshalText([]byte(s)); err != nil {
		return 0, fmt.Errorf("%s: %w (want a non-negative number with an optional unit: KB, MB, GB, KiB, MiB, GiB)", name, err)
	}
	return int64(v), nil
}

func (c *cli) mailbox(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] != "list" {
		return errors.New("mailbox: expected list ADDRESS")
	}
	fs := flag.NewFlagSet("mailbox list", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file")
	pos, err := parse(fs, args[1:])
	if err != nil {
		return err
	}
	if err := want(pos, 1, "one ADDRESS"); err != nil {
		return err
	}
	a, closeFn, err := c.admin(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer closeFn()
	mbs, err := a.Mailboxes(ctx, pos[0])
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "MAILBOX\tMESSAGES\tUNSEEN\tSIZE\tUIDVALIDITY\tUIDNEXT\tHIGHESTMODSEQ\t")
	for _, m := range mbs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", m.Name, m.Messages, m.Unseen, m.Size, m.UIDValidity, m.UIDNext, m.HighestModSeq)
	}
	return tw.Flush()
}
