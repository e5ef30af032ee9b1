package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/message"
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
	var buf bytes.Buffer
	n, err := io.Copy(io.MultiWriter(h, &buf), io.LimitReader(limit, s.opts.SpoolMemory+1))
	if err != nil {
		return nil, fmt.Errorf("store: spool: %w", err)
	}
	if n > s.opts.SpoolMemory {
		f, err := os.CreateTemp(s.opts.TempDir, "quire-spool-*")
		if err != nil {
			return nil, mail.Unavailable("store: spool", err)
		}
		_ = os.Remove(f.Name()) // unlinked: it vanishes with the process
		sp.file = f
		if _, err := f.Write(buf.Bytes()); err != nil {
			sp.Close()
			return nil, mail.Unavailable("store: spool", err)
		}
		m, err := io.Copy(io.MultiWriter(h, f), limit)
		if err != nil {
			sp.Close()
			return nil, fmt.Errorf("store: spool: %w", err)
		}
		n += m
	} else {
		sp.mem = buf.Bytes()
	}
	if maxSize > 0 && n > maxSize {
		sp.Close()
		return nil, fmt.Errorf("%w: more than %d bytes", mail.ErrTooBig, maxSize)
	}
	sp.Size = n
	sp.ID = BlobID(hex.EncodeToString(h.Sum(nil)))
	part, err := message.Scan(sp.Reader(), message.DefaultLimits())
	if err != nil {
		sp.Close()
		return nil, mail.Unavailable("store: spool: scan", err)
	}
	sp.Part = part
	if sp.Structure, err = part.MarshalBinary(); err != nil {
		sp.Close()
		return nil, fmt.Errorf("store: spool: %w", err)
	}
	return sp, nil
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
	return s.b.PutBlob(ctx, sp.ID, sp.Size, sp.Reader())
}

// OpenBody opens a message's body for reading.
func (s *Store) OpenBody(ctx context.Context, m MessageMeta) (Blob, error) {
	return s.b.OpenBlob(ctx, m.Blob)
}

// Deliver stores sp in the INBOX of each recipient and returns one error
// per recipient, nil for those delivered. The body is stored once, before
// any index row points to it, and shared by every recipient.
func (s *Store) Deliver(ctx context.Context, sp *Spooled, returnPath string, rcpts []User) []error {
	errs := make([]error, len(rcpts))
	if len(rcpts) == 0 {
		return errs
	}
	if err := s.PutBody(ctx, sp); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	emailID := "M" + string(sp.ID[:24])
	for i, u := range rcpts {
		mb, err := s.b.Mailbox(ctx, u.ID, "INBOX")
		if errors.Is(err, mail.ErrNoSuchMailbox) {
			// INBOX always exists (RFC 9051 5.1); recreate it if it was lost.
			mb, err = s.CreateMailbox(ctx, u, "INBOX", "")
		}
		if err == nil {
			_, err = s.Append(ctx, u, mb, NewMessage{
				Blob: sp.ID, Size: sp.Size, Structure: sp.Structure,
				ReturnPath: returnPath, EmailID: emailID,
			})
		}
		if err != nil {
			s.log.Warn("delivery failed", "user", u.Address, "size", sp.Size, "err", err)
		}
		errs[i] = err
	}
	return errs
}
