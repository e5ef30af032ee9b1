package imapserver

import (
	"io"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/message"
)

var (
	htmlDrop = regexp.MustCompile(`(?is)<(script|style|head)\b.*?</(script|style|head)\s*>`)
	htmlTag  = regexp.MustCompile(`(?s)<[^>]*>`)
)

// fetchPreview: PREVIEW (RFC 8970): up to 200 characters of the first
// text part, whitespace collapsed; NIL when the message has no text.
func (c *conn) fetchPreview(m *fetchMsg, item func(string)) error {
	b, err := m.body()
	if err != nil {
		return err
	}
	var first *message.Part
	var walk func(p *message.Part)
	walk = func(p *message.Part) {
		if first != nil && first.Subtype == "plain" {
			return
		}
		switch {
		case p.IsMultipart():
			for _, k := range p.Parts {
				walk(k)
			}
		case p.Type == "text" && (p.Subtype == "plain" || p.Subtype == "html") && p.Disposition != "attachment":
			if first == nil || p.Subtype == "plain" {
				first = p
			}
		}
	}
	walk(m.structure())
	item("PREVIEW ")
	if first == nil {
		c.w.NIL()
		return nil
	}
	text, _ := convert.PartText(io.NewSectionReader(b, 0, min(m.row.Meta.Size, first.BodyStart+256<<10)), first)
	if first.Subtype == "html" {
		text = htmlTag.ReplaceAllString(htmlDrop.ReplaceAllString(text, " "), " ")
		text = strings.NewReplacer("&nbsp;", " ", "&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`).Replace(text)
	}
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) > 200 {
		text = string([]rune(text)[:200])
	}
	if text == "" {
		c.w.NIL()
		return nil
	}
	c.w.String(text)
	return nil
}
