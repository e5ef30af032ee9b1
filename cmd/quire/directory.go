package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/quiremail/quire/internal/account"
	"github.com/quiremail/quire/internal/directory"
	"github.com/quiremail/quire/internal/directory/ldapdir"
	"github.com/quiremail/quire/internal/directory/storedir"
	"github.com/quiremail/quire/internal/lmtpserver"
	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

// openDirectory returns the accounts of directory.type over st, and the
// function that closes the directory. An LDAP directory is connected to
// at once: a server that refuses the search account's bind fails the
// start (a configuration error); servers that cannot be reached are
// logged, and serve starts (logins answer UNAVAILABLE until one is back).
func openDirectory(ctx context.Context, cfg Config, st *store.Store, log *slog.Logger) (*account.Accounts, func(), error) {
	d := cfg.Directory
	var dir directory.Directory = storedir.New(st)
	closeFn := func() {}
	if d.Type == "ldap" {
		ld, err := openLDAP(ctx, cfg, log)
		if err != nil {
			return nil, nil, err
		}
		dir, closeFn = ld, ld.Close
	}
	acc, err := account.New(dir, st, d.ServiceAdmins, log)
	if err != nil {
		closeFn()
		return nil, nil, fmt.Errorf("directory.service_admins: %w", err)
	}
	return acc, closeFn, nil
}

// openLDAP connects to the LDAP directory: a server that refuses the
// search account's bind is an error, no reachable server a warning.
func openLDAP(ctx context.Context, cfg Config, log *slog.Logger) (*ldapdir.Dir, error) {
	ld, err := ldapDirectory(cfg, log)
	if err != nil {
		return nil, err
	}
	switch err := ld.Check(ctx); {
	case errors.Is(err, mail.ErrUnavailable):
		log.Warn("directory.ldap: no server reachable at start; logins and deliveries wait for one", "err", err)
	case err != nil:
		ld.Close()
		return nil, fmt.Errorf("directory.ldap: %w", err)
	}
	return ld, nil
}

func ldapDirectory(cfg Config, log *slog.Logger) (*ldapdir.Dir, error) {
	l := cfg.Directory.LDAP
	var tc *tls.Config
	if l.CAFile != "" {
		pem, err := os.ReadFile(l.CAFile)
		if err != nil {
			return nil, fmt.Errorf("directory.ldap.cafile: %w", err)
		}
		roots := x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("directory.ldap.cafile %s holds no PEM certificate", l.CAFile)
		}
		tc = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	return ldapdir.New(ldapdir.Options{
		URLs: l.URLs, StartTLS: l.StartTLS, TLS: tc,
		BindDN: l.BindDN, BindPassword: l.BindPassword, BaseDN: l.BaseDN, Filter: l.Filter,
		Attrs: ldapdir.Attrs{Mail: l.AttrMail, Alias: l.AttrAlias, MailHost: l.AttrMailHost,
			QuotaStorage: l.AttrQuota, QuotaMessages: l.AttrMessageQuota, Status: l.AttrStatus},
		ServiceAdminGroupDN: cfg.Store.ServiceAdminGroupDN,
		PoolSize:            l.PoolSize, ConnectTimeout: l.ConnectTimeout.Duration(), Timeout: l.Timeout.Duration(),
		Logger: log.With("directory", "ldap"),
	})
}

// lmtpStore is what LMTP delivers through: the store itself with the
// store's directory (as before directories: no extra lookup), the
// accounts with another.
func lmtpStore(cfg Config, st *store.Store, acc *account.Accounts) lmtpserver.Store {
	if cfg.Directory.Type == "store" {
		return st
	}
	return account.Deliveries{Store: st, Accounts: acc}
}
