package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"slices"
	"sync"
	"syscall"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/supervise"
)

// Spooled is a received message held (in memory or in a temporary file)
// until it is stored: its content hash, size and MIME structure are known.
type Spooled struct {
	ID        BlobID
	Size      int64
	Part      *message.Part
	Structure []byte // Part, marshaled
	mem       []byte
	file      *os.File
}

// Spool reads a whole message from r, hashing it and scanning its MIME
// structure. A message longer than maxSize (if > 0) gives mail.ErrTooBig;
// r is not drained. The caller must Close the result.
func (s *Store) Spool(r io.Reader, maxSize int64) (*Spooled, error) {
	h := sha256.New()
	sp := &Spooled{}
	limit := r
	if maxSize > 0 {
		limit = io.LimitReader(r, maxSize+1)
	}
	mem, err := s.readSpool(limit, h)
	if err != nil {
		return nil, fmt.Errorf("store: spool: %w", err)
	}
	n := int64(len(mem))
	if n > s.opts.SpoolMemory {
		f, err := os.CreateTemp(s.opts.TempDir, "quire-spool-*")
		if err != nil {
			return nil, mail.Unavailable("store: spool", err)
		}
		_ = os.Remove(f.Name()) // unlinked: it vanishes with the process
		sp.file = f
		if _, err := f.Write(mem); err != nil {
			sp.Close()
			return nil, mail.Unavailable("store: spool", err)
		}
		m, err := io.Copy(io.MultiWriter(h, f), limit)
		if errors.Is(err, syscall.ENOSPC) {
			sp.Close()
			return nil, mail.Unavailable("store: spool", err) // mail.ErrNoSpace
		}
		if err != nil {
			sp.Close()
			return nil, fmt.Errorf("store: spool: %w", err)
		}
		n += m
	} else {
		sp.mem = mem
	}
	if maxSize > 0 && n > maxSize {
		sp.Close()
		return nil, fmt.Errorf("%w: more than %d bytes", mail.ErrTooBig, maxSize)
	}
	sp.Size = n
	sp.ID = BlobID(hex.EncodeToString(h.Sum(nil)))
	if sp.mem != nil {
		sp.Part = message.ScanBytes(sp.mem, message.DefaultLimits())
	} else if sp.Part, err = message.Scan(sp.Reader(), message.DefaultLimits()); err != nil {
		sp.Close()
		return nil, mail.Unavailable("store: spool: scan", err)
	}
	if sp.Structure, err = sp.Part.MarshalBinary(); err != nil {
		sp.Close()
		return nil, fmt.Errorf("store: spool: %w", err)
	}
	return sp, nil
}

// spoolFirst is the size of a new spool buffer; spoolKept bounds the
// buffers kept for the next message.
const (
	spoolFirst = 64 << 10
	spoolKept  = 256 << 10
)

// readSpool reads r to its end, or to SpoolMemory+1 bytes, hashing it,
// and returns its bytes in a slice of their size (past SpoolMemory, in
// the buffer they were read into). It reads straight into
// a buffer kept from earlier messages, hashing each read's bytes, then
// copies them once: no copy buffer between the reader, the hash and the
// message (io.Copy through a MultiWriter into a bytes.Buffer cost a
// 32 KiB buffer and two copies a message), and the message held for
// seconds after (the recent bodies, the indexer) has no spare capacity.
func (s *Store) readSpool(r io.Reader, h hash.Hash) ([]byte, error) {
	bp, _ := s.spoolBufs.Get().(*[]byte)
	if bp == nil {
		b := make([]byte, 0, spoolFirst)
		bp = &b
	}
	b, err := readHashed(r, h, (*bp)[:0], s.opts.SpoolMemory+1)
	if int64(len(b)) > s.opts.SpoolMemory {
		return b, err // Spool writes it to a file: no copy, and not kept
	}
	mem := bytes.Clone(b)
	if cap(b) <= spoolKept {
		*bp = b
		s.spoolBufs.Put(bp)
	}
	return mem, err
}

// readHashed appends r's bytes to b, to r's end or limit bytes in all,
// hashing each read's.
func readHashed(r io.Reader, h hash.Hash, b []byte, limit int64) ([]byte, error) {
	for int64(len(b)) < limit {
		if len(b) == cap(b) {
			b = slices.Grow(b, int(min(int64(max(cap(b), 512)), limit-int64(len(b)))))
		}
		room := b[len(b):int(min(int64(cap(b)), limit))]
		n, err := r.Read(room)
		h.Write(room[:n])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
	return b, nil
}

// Reader returns a fresh reader over the whole message.
func (sp *Spooled) Reader() io.Reader {
	if sp.file != nil {
		return io.NewSectionReader(sp.file, 0, sp.Size)
	}
	return bytes.NewReader(sp.mem)
}

// Close releases the spool.
func (sp *Spooled) Close() error {
	if sp.file != nil {
		err := sp.file.Close()
		sp.file = nil
		return err
	}
	return nil
}

// PutBody stores the spooled body durably (a no-op if it is stored already).
func (s *Store) PutBody(ctx context.Context, sp *Spooled) error {
	if err := s.b.PutBlob(ctx, sp.ID, sp.Size, sp.Reader()); err != nil {
		return err
	}
	if sp.file == nil {
		s.fresh.Put(sp.ID, sp.mem) // the spool's bytes, never written again
	}
	return nil
}

// OpenBody opens a message's body for reading: from the bodies just
// stored (bodycache.go), else from the backend.
func (s *Store) OpenBody(ctx context.Context, m MessageMeta) (Blob, error) {
	if b, ok := s.fresh.Get(m.Blob); ok {
		return memBlob{bytes.NewReader(b)}, nil
	}
	return s.b.OpenBlob(ctx, m.Blob)
}

// Deliver stores sp in the INBOX of each recipient and returns one error
// per recipient, nil for those delivered. The body is stored once, before
// any index row points to it, and shared by every recipient. Recipients are
// filed concurrently (their INBOXes are independent mailboxes). On a
// backend whose commits can be uncertain (UncertainLedger), a recipient's
// earlier uncertain delivery of the same body is settled first: if it
// landed, this one succeeds without storing a second copy.
func (s *Store) Deliver(ctx context.Context, sp *Spooled, returnPath string, rcpts []User) []error {
	errs := make([]error, len(rcpts))
	if len(rcpts) == 0 {
		return errs
	}
	emailID := "M" + string(sp.ID[:24])
	if s.local() && len(rcpts) == 1 {
		// One recipient on a local backend: the body, then the recipient,
		// on this goroutine. Goroutines of their own overlapped a few point
		// reads with the body's write, and each grew its stack for Pebble's
		// calls, copying it twice or more: 5 % of quire's CPU at 1
		// recipient (bench/lmtp -pprof).
		bodyErr := supervise.Catch(func() error { return s.PutBody(ctx, sp) })
		errs[0] = s.deliverCaught(ctx, sp, returnPath, emailID, rcpts[0], func() error { return bodyErr })
		return errs
	}
	// The body is written while each recipient reads its ledger and marks
	// its INBOX unindexed: none of these depends on another, and a
	// recipient commits only once the body is stored (Write order).
	body := make(chan struct{})
	var bodyErr error
	s.workers.run(func() {
		defer close(body)
		bodyErr = supervise.Catch(func() error { return s.PutBody(ctx, sp) })
	})
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallelRecipients)
	for i, u := range rcpts {
		wg.Add(1)
		sem <- struct{}{}
		s.workers.run(func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = s.deliverCaught(ctx, sp, returnPath, emailID, u, func() error { <-body; return bodyErr })
		})
	}
	wg.Wait()
	<-body // sp is the caller's again only once the body's write is over
	return errs
}

// local reports whether the backend's reads and writes are local (Local).
func (s *Store) local() bool {
	l, ok := s.b.(Local)
	return ok && l.Local()
}

// deliverCaught is deliverOne, with a panic (in the backend or the index
// hook) failing this recipient only, never the process.
func (s *Store) deliverCaught(ctx context.Context, sp *Spooled, returnPath, emailID string, u User, stored func() error) error {
	err := supervise.Catch(func() error {
		return s.deliverOne(ctx, sp, returnPath, emailID, u, stored)
	})
	if pe, ok := errors.AsType[*supervise.PanicError](err); ok {
		s.log.Error("internal error: recovered a panic in a delivery", "user", u.ID, "panic", pe.Error(), "stack", string(pe.Stack))
	}
	return err
}

// maxParallelRecipients bounds the goroutines one delivery uses.
const maxParallelRecipients = 8

// deliverOne files sp in u's INBOX once stored() (the body's write) has
// returned nil. The reads and writes that do not need the body run
// before that, concurrently: the ledger read, and the mark that the
// mailbox may hold unindexed messages (a mark left by a delivery that then
// fails costs the indexer one catch-up that finds nothing).
func (s *Store) deliverOne(ctx context.Context, sp *Spooled, returnPath, emailID string, u User, stored func() error) error {
	mb, err := s.inboxOf(ctx, u)
	done := false
	if err == nil {
		var markErr error
		var marked sync.WaitGroup
		switch {
		case s.index == nil:
		case s.local():
			// A local write: a goroutine would cost more (its start and
			// stack growth) than overlapping it with the ledger read saves.
			markErr = supervise.Catch(func() error { return s.markUnindexed(ctx, mb) })
		default:
			marked.Add(1)
			go func() {
				defer marked.Done()
				markErr = supervise.Catch(func() error { return s.markUnindexed(ctx, mb) })
			}()
		}
		// An earlier attempt whose commit was uncertain may have stored it.
		done, err = s.settleDelivery(ctx, mb, sp, u)
		marked.Wait()
		if err == nil {
			err = markErr
		}
	}
	if err == nil {
		err = stored()
	}
	if err == nil && !done {
		_, err = s.add(ctx, u, mb, true, []NewMessage{{
			Blob: sp.ID, Size: sp.Size, Structure: sp.Structure,
			ReturnPath: returnPath, EmailID: emailID,
		}})
	}
	if errors.Is(err, mail.ErrNoSuchMailbox) {
		s.inbox.forget(u.ID) // recreated below on the next delivery
	}
	if err != nil {
		s.log.Warn("delivery failed", "user", u.Address, "size", sp.Size, "err", err)
	}
	return err
}

// inboxOf returns the user's INBOX, from the cache when it can. Caching is
// safe: INBOX can be neither deleted nor renamed (RFC 9051 6.3.4, 6.3.6), and
// a user deleted and created again has a new ID.
func (s *Store) inboxOf(ctx context.Context, u User) (Mailbox, error) {
	if mb, ok := s.inbox.get(u.ID); ok {
		mb.MailHost = u.MailHost
		return mb, nil
	}
	mb, err := s.b.Mailbox(ctx, u.ID, "INBOX")
	if errors.Is(err, mail.ErrNoSuchMailbox) {
		// INBOX always exists (RFC 9051 5.1); recreate it if it was lost.
		mb, err = s.CreateMailbox(ctx, u, "INBOX", "")
		if errors.Is(err, mail.ErrMailboxExists) {
			mb, err = s.b.Mailbox(ctx, u.ID, "INBOX")
		}
	}
	if err == nil {
		s.inbox.put(u.ID, mb)
	}
	mb.MailHost = u.MailHost
	return mb, err
}

// mailboxCache is a small bounded map from user ID to INBOX.
type mailboxCache struct {
	mu sync.Mutex
	m  map[string]Mailbox
}

// inboxCacheSize bounds the cache; when full it starts over.
const inboxCacheSize = 65536

func (c *mailboxCache) get(id string) (Mailbox, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	mb, ok := c.m[id]
	return mb, ok
}

func (c *mailboxCache) put(id string, mb Mailbox) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= inboxCacheSize {
		c.m = make(map[string]Mailbox)
	}
	c.m[id] = mb
}

func (c *mailboxCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}
