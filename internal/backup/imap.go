package backup

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/quiremail/quire/internal/imapclient"
	"github.com/quiremail/quire/internal/store"
)

// IMAPSource is the server an "imap" import reads, and how to log in.
type IMAPSource struct {
	// Addr is host:port.
	Addr string `json:"addr"`
	// Security is "tls" (implicit TLS), "starttls" or "plain".
	Security string `json:"security"`
	// User is the user whose mail is read.
	User string `json:"user"`
	// Admin, when set, logs in as this administrator (its password in
	// PasswordFile) with User as the SASL PLAIN authorization identity
	// (RFC 4616), as Dovecot's master users and Cyrus's admins can.
	Admin string `json:"admin,omitempty"`
	// PasswordFile holds the password, on the host that runs the import
	// (the server's, over the admin API): passwords do not cross the API.
	PasswordFile string `json:"password_file"`
	// CAFile, when set, holds the PEM certificates the server's is
	// verified against instead of the system's roots (a private CA, a
	// self-signed server); read where the import runs, like PasswordFile.
	CAFile string `json:"ca_file,omitempty"`
	// FetchMessages bounds the messages one UID FETCH of bodies asks for
	// (0: DefaultFetchMessages).
	FetchMessages int `json:"fetch_messages,omitempty"`
	// FetchBytes bounds the bytes one UID FETCH of bodies asks for, by
	// the messages' RFC822.SIZE (0: DefaultFetchBytes); a message larger
	// than this is fetched alone.
	FetchBytes int64 `json:"fetch_bytes,omitempty"`
}

// The bounds of one UID FETCH of bodies, where IMAPSource leaves them
// 0: at 100 messages a batch, a 5,000-message mailbox takes 50 round
// trips instead of 5,000; 16 MiB is what an interrupted batch may have
// to fetch again, and what a server that answers out of UID order can
// make the import hold.
const (
	DefaultFetchMessages = 100
	DefaultFetchBytes    = 16 << 20
)

// fetchBounds returns src's bounds, the defaults for 0.
func (src IMAPSource) fetchBounds() (int, int64, error) {
	n, size := src.FetchMessages, src.FetchBytes
	if n < 0 || size < 0 {
		return 0, 0, fmt.Errorf("backup: import imap: fetch bounds of %d messages and %d bytes: want positive numbers (0: the defaults, %d and %d)", n, size, DefaultFetchMessages, DefaultFetchBytes)
	}
	if n == 0 {
		n = DefaultFetchMessages
	}
	if size == 0 {
		size = DefaultFetchBytes
	}
	return n, size, nil
}

// specialUses are the RFC 6154 attributes a mailbox keeps.
var specialUses = []string{`\All`, `\Archive`, `\Drafts`, `\Flagged`, `\Junk`, `\Sent`, `\Trash`}

// importIMAP adds every selectable mailbox of the server opt.IMAP to the
// user address, with its subscriptions, each message's flags and
// keywords and INTERNALDATE, byte for byte. A mailbox new to the user
// gets the server's UIDVALIDITY and its messages their UIDs, as a
// Maildir import; a user made for the import gets every mailbox's
// UIDVALIDITY, INBOX's included, and only the server's subscriptions.
// Run again after an interruption, a mailbox of the server's UIDVALIDITY
// takes only the UIDs at or above its UIDNEXT (the earlier run imported
// the ones below, batch by batch in UID order); a mailbox that holds
// other mail gets the server's messages with UIDs above its own, bodies
// it holds skipped. Messages are read with BODY.PEEK[], so the import
// sets no \Seen on the server.
func importIMAP(ctx context.Context, s *store.Store, address string, opt ImportOptions) (Report, error) {
	var rep Report
	src := opt.IMAP
	maxN, maxBytes, err := src.fetchBounds()
	if err != nil {
		return rep, err
	}
	pw, err := os.ReadFile(src.PasswordFile)
	if err != nil {
		return rep, fmt.Errorf("backup: import imap: the password file: %w", err)
	}
	password := strings.TrimRight(string(pw), "\r\n")
	if _, _, err := net.SplitHostPort(src.Addr); err != nil {
		return rep, fmt.Errorf("backup: import imap: %q: want host:port", src.Addr)
	}
	o := imapclient.Options{Addr: src.Addr, Security: src.Security}
	if src.CAFile != "" {
		pem, err := os.ReadFile(src.CAFile)
		if err != nil {
			return rep, fmt.Errorf("backup: import imap: the CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return rep, fmt.Errorf("backup: import imap: %s holds no PEM certificate", src.CAFile)
		}
		host, _, _ := net.SplitHostPort(src.Addr)
		o.TLS = &tls.Config{ServerName: host, RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	c, err := imapclient.Dial(ctx, o)
	if err != nil {
		return rep, err
	}
	defer c.Close()
	login, authz := src.User, ""
	if src.Admin != "" {
		login, authz = src.Admin, src.User
	}
	if err := c.Login(authz, login, password); err != nil {
		return rep, err
	}
	listed, err := c.List()
	if err != nil {
		return rep, err
	}
	// First every mailbox's UIDVALIDITY and UIDNEXT: a user made for the
	// import is made with them.
	var boxes []imapBox
	for _, m := range listed {
		if !m.Selectable() {
			continue
		}
		sel, err := c.Examine(m.Name)
		if err != nil {
			return rep, err
		}
		mm := MailboxMeta{Name: quireName(m), UIDValidity: sel.UIDValidity, UIDNext: sel.UIDNext}
		for _, a := range m.Attributes {
			for _, use := range specialUses {
				if strings.EqualFold(a, use) {
					mm.SpecialUse = use
				}
			}
		}
		boxes = append(boxes, imapBox{server: m.Name, meta: mm, exists: sel.Exists})
	}
	subs, err := c.Subscribed()
	if err != nil {
		return rep, err
	}
	var names []string
	for _, m := range subs {
		names = append(names, quireName(m))
	}
	u, created, err := importUser(ctx, s, address, opt.PasswordHash, func() (map[string]uint32, error) {
		uv := make(map[string]uint32, len(boxes))
		for _, b := range boxes {
			uv[b.meta.Name] = newUIDValidity(b.meta, b.exists > 0)
		}
		return uv, nil
	})
	if err != nil {
		return rep, err
	}
	if created {
		// Before any mail: an interrupted import leaves a user whose
		// subscriptions the next run (which finds it existing) completes.
		if err := keepSubscriptions(ctx, s, u, names); err != nil {
			return rep, err
		}
	}
	for _, b := range boxes {
		mr, err := importIMAPBox(ctx, s, u, c, b, maxN, maxBytes, opt.Progress)
		if err != nil {
			return rep, fmt.Errorf("backup: import %s: %w", b.server, err)
		}
		rep.Mailboxes = append(rep.Mailboxes, mr)
	}
	for _, name := range names {
		if err := s.SetSubscribed(ctx, u, name, true); err != nil {
			return rep, fmt.Errorf("backup: subscribe %s: %w", name, err)
		}
	}
	rep.Subscriptions = len(names)
	return rep, c.Logout()
}

// imapBox is one mailbox of the server, as first examined.
type imapBox struct {
	server string // its name on the server
	meta   MailboxMeta
	exists int
}

// quireName is the name of the server's mailbox m in Quire: its levels
// joined with "/".
func quireName(m imapclient.Mailbox) string {
	if m.Delim == "" || m.Delim == store.Separator {
		return m.Name
	}
	return strings.ReplaceAll(m.Name, m.Delim, store.Separator)
}

// importIMAPBox imports one mailbox of the server: the UIDs, flags,
// INTERNALDATEs and sizes of all its messages in one UID FETCH, then
// their bodies in batches (fetcher).
func importIMAPBox(ctx context.Context, s *store.Store, u store.User, c *imapclient.Client, b imapBox, maxN int, maxBytes int64, progress Progress) (MailboxReport, error) {
	sel, err := c.Examine(b.server)
	if err != nil {
		return MailboxReport{}, err
	}
	if sel.UIDValidity != b.meta.UIDValidity {
		return MailboxReport{}, fmt.Errorf("its UIDVALIDITY changed from %d to %d during the import: run the import again", b.meta.UIDValidity, sel.UIDValidity)
	}
	b.meta.UIDNext = max(b.meta.UIDNext, sel.UIDNext)
	f := folder{meta: b.meta}
	if sel.Exists > 0 {
		msgs, err := c.FetchMeta(1)
		if err != nil {
			return MailboxReport{}, err
		}
		bf := &fetcher{c: c, msgs: msgs, maxN: maxN, maxBytes: maxBytes}
		for i, m := range msgs {
			f.msgs = append(f.msgs, sourceMessage{UID: m.UID, Flags: m.Flags, Date: m.InternalDate,
				open: func(*sourceMessage) (io.ReadCloser, error) {
					body, err := bf.body(i)
					if err != nil {
						return nil, err
					}
					return io.NopCloser(bytes.NewReader(body)), nil
				}})
		}
		rep, err := importFolder(ctx, s, u, f, 0, true, progress)
		if err != nil {
			return rep, err
		}
		// importFolder asks for every message past the ones it skips, so
		// the last batch is read to its end; close makes sure of it.
		return rep, bf.close()
	}
	return importFolder(ctx, s, u, f, 0, true, progress)
}
