package imapwire

import "fmt"

// SyntaxError is a command the Reader could not parse. The session answers it
// with a tagged BAD (untagged "* BAD" when Tag is empty) whose text is
// Reason (RFC 9051 7.1.3).
type SyntaxError struct {
	Tag     string // the command's tag, "" if even the tag was unreadable
	Command string // the upper-cased command name, "" if not reached
	Reason  string // what was expected where, for the BAD text
}

func (e *SyntaxError) Error() string {
	if e.Command != "" {
		return fmt.Sprintf("imapwire: %s: %s", e.Command, e.Reason)
	}
	return "imapwire: " + e.Reason
}

// LimitError is a command that exceeds one of the Reader's Limits.
type LimitError struct {
	Tag     string
	Command string
	// Status is the tagged status to send: "BAD", or "NO" for an APPEND
	// message over APPENDLIMIT (RFC 7889 4).
	Status string
	// Code is the response code: "TOOBIG" for a line or literal that is too
	// long, "LIMIT" for too many literals (RFC 9051 7.1).
	Code   string
	Reason string
	// Fatal means the Reader could not skip the rest of the command (a
	// non-synchronizing literal over a limit is in flight): the session
	// replies, then closes the connection (RFC 7888 4).
	Fatal bool
}

func (e *LimitError) Error() string {
	return fmt.Sprintf("imapwire: %s [%s] %s", e.Status, e.Code, e.Reason)
}

// parseFail is the private panic value that unwinds a failed parse to
// ReadCommand.
type parseFail struct{ err error }

func (r *Reader) fail(format string, args ...any) {
	panic(parseFail{&SyntaxError{Tag: r.tag, Command: r.cmd, Reason: fmt.Sprintf(format, args...)}})
}

func (r *Reader) limit(status, code string, fatal bool, format string, args ...any) {
	panic(parseFail{&LimitError{Tag: r.tag, Command: r.cmd, Status: status, Code: code, Fatal: fatal, Reason: fmt.Sprintf(format, args...)}})
}
