package lmtpserver

import (
	"context"
	"errors"
	"fmt"
	"github.com/quiremail/quire/internal/lmtpserver/lmtpwire"
	"io"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

var (
	errInternal = errors.New("lmtpserver: internal error")
	errAborted  = errors.New("lmtpserver: transaction aborted")
)

// chunking is a BDAT transfer in progress (RFC 3030 2): chunks are written
// to pw, and a goroutine spools what it reads from the other end.
type chunking struct {
	pw   *io.PipeWriter
	done chan spoolResult // the spool's result, once pw is closed
}

type spoolResult struct {
	sp  *store.Spooled
	err error
}

// data receives a message with DATA (RFC 2033 4.2) and reports whether to
// go on.
func (ss *session) data(arg string) bool {
	switch {
	case ss.tx == nil:
		ss.reply("503 5.5.1 need MAIL command")
		return true
	case ss.tx.bdat != nil:
		ss.reply("503 5.5.1 DATA not allowed during BDAT")
		return true
	case len(ss.tx.rcpts) == 0:
		ss.reply("503 5.5.1 no valid recipients") // RFC 2033 4.2
		return true
	case arg != "":
		ss.reply("501 5.5.4 DATA takes no argument")
		return true
	}
	ss.tx.start = time.Now()
	ss.reply("354 start mail input; end with <CRLF>.<CRLF>")
	dr := lmtpwire.NewDotReader(ss.br)
	sp, err := ss.srv.opts.Store.Spool(dr, ss.srv.opts.MaxMessageSize)
	_, _ = io.Copy(io.Discard, dr) // the rest of a message that is too big
	if err := dr.Err(); err != nil {
		if sp != nil {
			_ = sp.Close()
		}
		return ss.readFailed(err)
	}
	ss.finish(sp, err)
	return true
}

// bdat receives one chunk (RFC 3030 2) and reports whether to go on. The
// chunk is read even when the command is refused, to stay in sync; a size
// that cannot be parsed ends the session, since the chunk's end is unknown.
func (ss *session) bdat(arg string) bool {
	f := strings.Fields(arg)
	var size int64
	ok := len(f) == 1 || len(f) == 2
	if ok {
		size, ok = lmtpwire.ParseSize(f[0])
	}
	if !ok {
		ss.reply("501 5.5.4 syntax: BDAT <size> [LAST]")
		return false
	}
	chunk := io.LimitReader(ss.br, size)
	last := len(f) == 2
	refuse := ""
	switch {
	case last && !strings.EqualFold(f[1], "LAST"):
		refuse = "501 5.5.4 syntax: BDAT <size> [LAST]"
	case ss.tx == nil:
		refuse = "503 5.5.1 need MAIL command"
	case len(ss.tx.rcpts) == 0:
		refuse = "503 5.5.1 no valid recipients" // RFC 2033 4.2
	}
	if refuse != "" {
		// RFC 3030 2: a refused chunk fails the transaction.
		ss.abortTx()
		if n, err := io.Copy(io.Discard, chunk); err != nil || n < size {
			return ss.readFailed(orErr(err, io.ErrUnexpectedEOF))
		}
		ss.reply("%s", refuse)
		return true
	}
	tx := ss.tx
	if tx.bdat == nil {
		tx.start = time.Now()
		tx.bdat = ss.startSpool()
	}
	n, err := io.Copy(tx.bdat.pw, chunk)
	if errors.Is(err, errInternal) {
		ss.reply("421 4.3.0 internal error")
		return false
	}
	if err != nil || n < size {
		return ss.readFailed(orErr(err, io.ErrUnexpectedEOF))
	}
	if !last {
		ss.reply("250 2.0.0 %d octets received", size)
		return true
	}
	_ = tx.bdat.pw.Close()
	res := <-tx.bdat.done
	tx.bdat = nil
	if errors.Is(res.err, errInternal) {
		ss.reply("421 4.3.0 internal error")
		return false
	}
	ss.finish(res.sp, res.err)
	return true
}

// orErr returns err, or otherwise if err is nil.
func orErr(err, otherwise error) error {
	if err != nil {
		return err
	}
	return otherwise
}

// startSpool starts spooling what is written to the returned pipe. The
// spool goroutine reads to the end even when Spool gives up early, so a
// writer never blocks.
func (ss *session) startSpool() *chunking {
	pr, pw := io.Pipe()
	c := &chunking{pw: pw, done: make(chan spoolResult, 1)}
	go func() {
		var res spoolResult
		defer func() {
			if v := recover(); v != nil {
				ss.log.Error("lmtp: panic in spool", "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				res = spoolResult{err: errInternal}
				_ = pr.CloseWithError(errInternal)
			}
			c.done <- res
		}()
		res.sp, res.err = ss.srv.opts.Store.Spool(pr, ss.srv.opts.MaxMessageSize)
		_, _ = io.Copy(io.Discard, pr)
	}()
	return c
}

// abortTx ends the transaction without delivering.
func (ss *session) abortTx() {
	if ss.tx != nil && ss.tx.bdat != nil {
		_ = ss.tx.bdat.pw.CloseWithError(errAborted)
		if res := <-ss.tx.bdat.done; res.sp != nil {
			_ = res.sp.Close()
		}
	}
	ss.tx = nil
}

// finish delivers the spooled message, or reports why it was not spooled,
// with one reply per accepted recipient in RCPT order (RFC 2033 4.2). The
// replies are written only after Deliver returned: a 250 means durable.
func (ss *session) finish(sp *store.Spooled, spoolErr error) {
	tx := ss.tx
	ss.tx = nil
	var results []error
	var size int64
	var blob string
	if sp != nil {
		defer sp.Close()
	} else if spoolErr == nil {
		spoolErr = errors.New("lmtpserver: store spooled nothing")
	}
	if spoolErr != nil {
		results = slices.Repeat([]error{spoolErr}, len(tx.rcpts))
	} else {
		size, blob = sp.Size, string(sp.ID[:min(len(sp.ID), 12)])
		results = ss.deliver(tx, sp)
	}
	took := time.Since(tx.start)
	for i, r := range tx.rcpts {
		line, unexpected := replyFor(r.addr, results[i])
		ss.reply("%s", line)
		ss.srv.opts.Observer.Delivery(line[:3], took)
		attrs := []any{"from", tx.from, "rcpt", r.addr, "size", size, "blob", blob,
			"result", line[:9], "duration", took}
		if results[i] != nil {
			attrs = append(attrs, "err", results[i])
		}
		ss.log.Info("lmtp: delivery", attrs...)
		if unexpected {
			ss.log.Error("lmtp: delivery failed unexpectedly", "rcpt", r.addr, "err", results[i])
		}
	}
}

// deliver calls Store.Deliver once for the transaction's distinct users and
// returns one result per recipient. The store has Timeout to answer: it
// settles an uncertain commit within that budget (the MTA waits for the
// replies, RFC 5321 4.5.3.2.6), and what it cannot settle in time it
// answers 451 and records for the retry to settle (store.UncertainLedger).
func (ss *session) deliver(tx *transaction, sp *store.Spooled) []error {
	users := make([]store.User, 0, len(tx.rcpts))
	index := make([]int, len(tx.rcpts))
	seen := make(map[string]int, len(tx.rcpts))
	for i, r := range tx.rcpts {
		key := r.user.ID + "\x00" + r.user.Address
		j, ok := seen[key]
		if !ok {
			j = len(users)
			seen[key] = j
			users = append(users, r.user)
		}
		index[i] = j
	}
	ctx, cancel := context.WithTimeout(ss.srv.ctx, ss.srv.opts.Timeout)
	defer cancel()
	errs := ss.srv.opts.Store.Deliver(ctx, sp, tx.from, users)
	if len(errs) != len(users) {
		err := fmt.Errorf("lmtpserver: store returned %d results for %d recipients", len(errs), len(users))
		errs = slices.Repeat([]error{err}, len(users))
	}
	out := make([]error, len(tx.rcpts))
	for i, j := range index {
		out[i] = errs[j]
	}
	return out
}

// replyFor maps a delivery result to its reply (see the package doc), and
// reports whether the error was unexpected. A temporary error wins over
// any other it wraps; a full disk is told apart from the other temporary
// errors.
func replyFor(addr string, err error) (line string, unexpected bool) {
	switch {
	case err == nil:
		return fmt.Sprintf("250 2.0.0 <%s> delivered", addr), false
	case errors.Is(err, mail.ErrNoSpace):
		// RFC 5321 4.2.3 452 "insufficient system storage", RFC 3463
		// X.3.1 "mail system full": temporary, the MTA retries.
		return fmt.Sprintf("452 4.3.1 <%s> insufficient system storage, try again later", addr), false
	case errors.Is(err, mail.ErrUnavailable):
		return fmt.Sprintf("451 4.3.0 <%s> temporary failure, try again later", addr), false
	case errors.Is(err, mail.ErrOverQuota):
		return fmt.Sprintf("552 5.2.2 <%s> mailbox full", addr), false
	case errors.Is(err, mail.ErrTooBig):
		return fmt.Sprintf("552 5.3.4 <%s> message too large", addr), false
	case errors.Is(err, mail.ErrNoSuchUser):
		return fmt.Sprintf("550 5.1.1 <%s> no such user here", addr), false
	default:
		return fmt.Sprintf("451 4.3.0 <%s> temporary failure, try again later", addr), true
	}
}
