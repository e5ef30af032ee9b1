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

	"github.com/quiremail/quire/internal/adminapi"
	"github.com/quiremail/quire/internal/config"
	"github.com/quiremail/quire/internal/directory"
)

// adminFlags makes the flag set of an admin command, with --config.
func adminFlags(name string) (*flag.FlagSet, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	return fs, fs.String("config", "", "configuration file")
}

// passwordFlags are the ways user add and user passwd take a password.
type passwordFlags struct {
	stdin    *bool
	password *string
	hash     *string
}

func newPasswordFlags(fs *flag.FlagSet) passwordFlags {
	return passwordFlags{
		stdin:    fs.Bool("password-stdin", false, "read the password from the first line of standard input"),
		password: fs.String("password", "", "the password (visible to other local users; prefer --password-stdin)"),
		hash:     fs.String("password-hash", "", "store this hash as is, for migrations: {SHA512-CRYPT}, {BLF-CRYPT}, {ARGON2ID}, {SSHA512}, $6$, $2y$ (bcrypt), $argon2id$, {PLAIN}..."),
	}
}

// passwordHash returns the hash to store: --password-hash checked, or the
// password hashed. It runs before the store is opened, so a command holds
// an embedded store for as short a time as it can.
func (c *cli) passwordHash(p passwordFlags) (string, error) {
	if *p.hash != "" {
		if *p.password != "" || *p.stdin {
			return "", errors.New("give a password or --password-hash, not both")
		}
		if _, err := directory.VerifyPassword(*p.hash, "probe"); err != nil {
			return "", fmt.Errorf("--password-hash: %w", err)
		}
		return *p.hash, nil
	}
	pw, err := c.password(*p.password, *p.stdin)
	if err != nil {
		return "", err
	}
	return directory.HashPassword(pw)
}

// withAdmin parses an admin command's arguments (n positionals, described
// by what), then calls fn with the admin surface and the positionals.
func (c *cli) withAdmin(ctx context.Context, fs *flag.FlagSet, cfgPath *string, args []string, n int, what string,
	before func([]string) error, fn func(adminapi.Admin, []string) error) error {
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := want(pos, n, what); err != nil {
		return fmt.Errorf("%s: %w", fs.Name(), err)
	}
	if before != nil {
		if err := before(pos); err != nil {
			return err
		}
	}
	a, closeFn, err := c.admin(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer closeFn()
	return fn(a, pos)
}

func (c *cli) userAdd(ctx context.Context, args []string) error {
	fs, cfgPath := adminFlags("user add")
	pf := newPasswordFlags(fs)
	mailHost := fs.String("mailhost", "", "the store affinity group (or a host of it) serving the user")
	var hash string
	return c.withAdmin(ctx, fs, cfgPath, args, 1, "one ADDRESS", func([]string) (err error) {
		if err := checkMailHost(*cfgPath, *mailHost); err != nil {
			return fmt.Errorf("user add --mailhost: %w", err)
		}
		hash, err = c.passwordHash(pf)
		return err
	}, func(a adminapi.Admin, pos []string) error {
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
	})
}

func (c *cli) userPasswd(ctx context.Context, args []string) error {
	fs, cfgPath := adminFlags("user passwd")
	pf := newPasswordFlags(fs)
	var hash string
	return c.withAdmin(ctx, fs, cfgPath, args, 1, "one ADDRESS", func([]string) (err error) {
		hash, err = c.passwordHash(pf)
		return err
	}, func(a adminapi.Admin, pos []string) error {
		if err := a.SetPassword(ctx, pos[0], hash); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "password changed for %s\n", pos[0])
		return nil
	})
}

func (c *cli) userDel(ctx context.Context, args []string) error {
	fs, cfgPath := adminFlags("user del")
	return c.withAdmin(ctx, fs, cfgPath, args, 1, "one ADDRESS", nil, func(a adminapi.Admin, pos []string) error {
		if err := a.DeleteUser(ctx, pos[0]); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "deleted %s\n", pos[0])
		return nil
	})
}

func (c *cli) userList(ctx context.Context, args []string) error {
	fs, cfgPath := adminFlags("user list")
	return c.withAdmin(ctx, fs, cfgPath, args, 0, "no arguments", nil, func(a adminapi.Admin, _ []string) error {
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
	})
}

func (c *cli) userQuota(ctx context.Context, args []string) error {
	fs, cfgPath := adminFlags("user quota")
	storage := fs.String("storage", "", "storage quota in bytes (KB, MB, GB, KiB, MiB, GiB allowed); 0 = unlimited")
	messages := fs.String("messages", "", "message-count quota; 0 = unlimited")
	var st, ms int64
	return c.withAdmin(ctx, fs, cfgPath, args, 1, "one ADDRESS", func([]string) (err error) {
		// Check arguments before touching the store.
		if *storage == "" && *messages == "" {
			return errors.New("user quota: give --storage N and/or --messages N")
		}
		if st, err = sizeFlag("--storage", *storage); err != nil {
			return err
		}
		ms, err = sizeFlag("--messages", *messages)
		return err
	}, func(a adminapi.Admin, pos []string) error {
		if err := a.SetQuota(ctx, pos[0], st, ms); err != nil {
			return err
		}
		fmt.Fprintf(c.stdout, "quota set for %s\n", pos[0])
		return nil
	})
}

// userMailhost sets the user's store affinity group; with no GROUP, this
// host's group.
func (c *cli) userMailhost(ctx context.Context, args []string) error {
	fs, cfgPath := adminFlags("user mailhost")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 && len(pos) != 2 {
		return errors.New("user mailhost: expected ADDRESS [GROUP-OR-HOST]")
	}
	mh := ""
	if len(pos) == 2 {
		mh = pos[1]
	}
	if err := checkMailHost(*cfgPath, mh); err != nil {
		return fmt.Errorf("user mailhost: %w", err)
	}
	a, closeFn, err := c.admin(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer closeFn()
	if err := a.SetMailHost(ctx, pos[0], mh); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "mailhost of %s set to %q\n", pos[0], mh)
	return nil
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

func (c *cli) mailboxList(ctx context.Context, args []string) error {
	fs, cfgPath := adminFlags("mailbox list")
	return c.withAdmin(ctx, fs, cfgPath, args, 1, "one ADDRESS", nil, func(a adminapi.Admin, pos []string) error {
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
	})
}

// checkMailHost refuses a mailHost that names no group and no host of
// store.storehostlist: nothing could route the user (the proxy refuses
// them, and the notifier would tell no one). "" is this host's group.
func checkMailHost(cfgPath, mailHost string) error {
	if mailHost == "" {
		return nil
	}
	cfg, err := loadConfig(cfgPath)
	if err != nil {
		return err
	}
	groups := directory.NewGroups(cfg.Store.StoreHostList)
	if _, ok := groups.Resolve(mailHost); ok {
		return nil
	}
	if len(groups.Names()) == 0 {
		return fmt.Errorf("%q: store.storehostlist defines no store affinity group; define the group there first (every host carries the same lists)", mailHost)
	}
	return fmt.Errorf("%q names no group or host of store.storehostlist (groups: %s)", mailHost, strings.Join(groups.Names(), ", "))
}
