// Package indexer turns stored messages into search documents: the
// decoded header fields SEARCH names (SUBJECT, FROM, TO, CC, BCC), every
// header field decoded (HEADER, and TEXT's header half), and the text of
// every part through the converter (BODY, TEXT), attachments and nested
// messages included.
//
// Invariant: a document holds at least the text SEARCH would decode from
// the message itself, so an index built from it returns a superset of the
// messages a scan would match.
package indexer

import (
	"bytes"
	"context"
	"strings"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/search"
)

// Doc builds the search document of one message.
func Doc(ctx context.Context, c *convert.Converter, userID, mailboxID string, uid uint32, raw []byte) search.Doc {
	d := search.Doc{UserID: userID, MailboxID: mailboxID, UID: uid}
	root, err := message.Scan(bytes.NewReader(raw), message.DefaultLimits())
	if err != nil {
		// Unparseable: the converter reports it; the text is what it salvages.
		d.Body = joinText(c.Message(ctx, raw))
		return d
	}
	if e := root.Envelope; e != nil {
		d.Subject = convert.DecodeHeader(e.Subject)
		d.From, d.To, d.Cc, d.Bcc = addresses(e.From), addresses(e.To), addresses(e.Cc), addresses(e.Bcc)
	}
	d.Headers = convert.DecodeHeader(string(raw[:max(0, min(root.BodyStart, int64(len(raw))))]))
	d.Body = joinText(c.MessageOf(ctx, raw, root))
	return d
}

// joinText joins the results' texts, less the top header (in Headers).
func joinText(rs []convert.Result) string {
	var body strings.Builder
	for i, r := range rs {
		if i == 0 && r.Kind == "header" {
			continue // the top header is in Headers
		}
		if r.Text != "" {
			body.WriteString(r.Text)
			body.WriteByte('\n')
		}
	}
	return body.String()
}

// addresses writes an address list as SEARCH FROM/TO/CC/BCC see it:
// display names decoded, then the address.
func addresses(as []message.Address) string {
	var b strings.Builder
	for _, a := range as {
		if a.Name != "" {
			b.WriteString(convert.DecodeHeader(a.Name) + " ")
		}
		b.WriteString("<" + a.Mailbox + "@" + a.Host + ">, ")
	}
	return strings.TrimSuffix(b.String(), ", ")
}
