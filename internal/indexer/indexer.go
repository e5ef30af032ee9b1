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

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/search"
)

// Doc builds the search document of one message from its raw bytes and
// its stored structure (nil: scanned here). Its text comes from the
// functions SEARCH itself reads a message with (convert.SearchHeader,
// SearchBody, AddressText), plus the converted attachments, so the
// index's answers are SEARCH's (package search's exactness).
func Doc(ctx context.Context, c *convert.Converter, userID, mailboxID string, uid uint32, raw []byte, root *message.Part) search.Doc {
	return doc(userID, mailboxID, uid, raw, root, func(root *message.Part) string { return c.Attachments(ctx, raw, root) })
}

// doc is Doc with the attachments' text from attachments.
func doc(userID, mailboxID string, uid uint32, raw []byte, root *message.Part, attachments func(*message.Part) string) search.Doc {
	d := search.Doc{UserID: userID, MailboxID: mailboxID, UID: uid}
	if root == nil {
		root = message.ScanBytes(raw, message.Limits{}) // any bytes scan
	}
	body := bytes.NewReader(raw)
	if e := root.Envelope; e != nil {
		d.Subject = convert.DecodeHeader(e.Subject)
		d.From, d.To, d.Cc, d.Bcc = convert.AddressText(e.From), convert.AddressText(e.To), convert.AddressText(e.Cc), convert.AddressText(e.Bcc)
	}
	d.Headers = convert.SearchHeader(body, root)
	d.Body = convert.SearchBody(body, root)
	if convert.HasAttachments(root) {
		d.Attachments = attachments(root)
	}
	return d
}
