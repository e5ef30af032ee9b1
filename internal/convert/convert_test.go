package convert

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/quiremail/quire/internal/message"
)

// makeZip builds a zip container of the given parts, in order.
func makeZip(t testing.TB, parts ...[2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := zip.NewWriter(&buf)
	for _, p := range parts {
		w, err := z.Create(p[0])
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(p[1]))
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

const (
	wNS   = `xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"`
	docx1 = `<?xml version="1.0"?><w:document ` + wNS + `><w:body><w:p><w:r><w:t>Quarterly</w:t></w:r><w:r><w:t xml:space="preserve"> zeppelin report</w:t></w:r></w:p>` +
		`<w:p><w:r><w:instrText>HYPERLINK secret</w:instrText><w:t>second</w:t><w:tab/><w:t>para</w:t></w:r></w:p></w:body></w:document>`
)

func docxFile(t testing.TB) []byte {
	return makeZip(t, [2]string{"[Content_Types].xml", "<Types/>"}, [2]string{"word/document.xml", docx1},
		[2]string{"word/footer1.xml", `<w:ftr ` + wNS + `><w:p><w:r><w:t>footnotewordfooter</w:t></w:r></w:p></w:ftr>`})
}

func TestOffice(t *testing.T) {
	c := New(Options{})
	ctx := context.Background()
	for _, tc := range []struct {
		name, ct, file string
		data           []byte
		want           []string
		not            []string
	}{
		{"docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "r.docx", docxFile(t),
			[]string{"Quarterly zeppelin report", "second para", "footnotewordfooter", "r.docx"}, []string{"HYPERLINK", "secret"}},
		{"xlsx by extension", "application/octet-stream", "budget.xlsx", makeZip(t,
			[2]string{"xl/sharedStrings.xml", `<sst><si><t>Aubergine</t></si><si><r><t>Split</t></r><r><t>Word</t></r></si></sst>`},
			[2]string{"xl/worksheets/sheet2.xml", `<worksheet><sheetData><row><c t="s"><v>1</v></c><c><v>42.5</v></c></row></sheetData></worksheet>`},
			[2]string{"xl/worksheets/sheet1.xml", `<worksheet><sheetData><row><c t="s"><v>0</v></c><c t="inlineStr"><is><t>Inline</t></is></c></row></sheetData></worksheet>`}),
			[]string{"Aubergine Inline", "SplitWord 42.5"}, nil},
		{"pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation", "", makeZip(t,
			[2]string{"ppt/slides/slide10.xml", `<p:sld xmlns:a="a" xmlns:p="p"><a:p><a:r><a:t>tenth</a:t></a:r></a:p></p:sld>`},
			[2]string{"ppt/slides/slide2.xml", `<p:sld xmlns:a="a" xmlns:p="p"><a:p><a:r><a:t>second slide</a:t></a:r></a:p></p:sld>`},
			[2]string{"ppt/notesSlides/notesSlide1.xml", `<p:notes xmlns:a="a" xmlns:p="p"><a:p><a:r><a:t>speaker notes</a:t></a:r></a:p></p:notes>`}),
			[]string{"second slide\n\ntenth\n\nspeaker notes"}, nil}, // slides in numeric order, then notes
		{"odt", "application/vnd.oasis.opendocument.text", "", makeZip(t, [2]string{"mimetype", "application/vnd.oasis.opendocument.text"},
			[2]string{"content.xml", `<office:document-content xmlns:office="o" xmlns:text="t"><office:body><office:text>` +
				`<text:h>Titel</text:h><text:p>Grüße<text:s/>aus<text:span> Köln</text:span></text:p></office:text></office:body></office:document-content>`}),
			[]string{"Titel", "Grüße aus Köln"}, nil},
		{"ods", "application/vnd.oasis.opendocument.spreadsheet", "", makeZip(t,
			[2]string{"content.xml", `<office:document-content xmlns:office="o" xmlns:text="t" xmlns:table="b"><office:body><office:spreadsheet><table:table><table:table-row>` +
				`<table:table-cell><text:p>cellone</text:p></table:table-cell><table:table-cell><text:p>celltwo</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>`}),
			[]string{"cellone", "celltwo"}, []string{"cellonecelltwo"}},
		{"rtf", "application/rtf", "", []byte(`{\rtf1\ansi{\fonttbl{\f0 Times;}}{\*\generator Riched;}\f0 Caf\'e9 {\b bold}\par second \u8364?uro\line x\~y}`),
			[]string{"Café bold\nsecond €uro\nx y"}, []string{"Times", "Riched", "?"}},
		{"html", "text/html", "", []byte(`<html><head><style>p{}</style><script>var x;</script></head><body><p>Hello <b>bold</b>er</p><p>next&amp;last</p></body></html>`),
			[]string{"Hello bolder next&last"}, []string{"var x", "p{}"}},
		{"text in latin-1", "text/plain; charset=iso-8859-1", "", []byte("na\xefve caf\xe9"), []string{"naïve café"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			charset := ""
			if _, cs, ok := strings.Cut(tc.ct, "charset="); ok {
				charset = cs
			}
			r := c.Convert(ctx, tc.ct, charset, tc.file, tc.data)
			if r.Err != nil {
				t.Fatalf("%s: %v", r.Kind, r.Err)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.Text, w) {
					t.Errorf("text %q lacks %q", r.Text, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(r.Text, n) {
					t.Errorf("text %q has %q", r.Text, n)
				}
			}
		})
	}
}

func TestKind(t *testing.T) {
	for _, tc := range []struct{ ct, file, want string }{
		{"text/plain; charset=utf-8", "", KindText}, {"TEXT/HTML", "", KindHTML}, {"application/octet-stream", "a.DOCX", KindDOCX},
		{"application/pdf", "", KindPDF}, {"message/rfc822", "", KindMessage}, {"image/png", "x.png", KindOther},
		{"application/vnd.oasis.opendocument.presentation", "", KindODF}, {"text/rtf", "", KindRTF},
	} {
		if got := Kind(tc.ct, tc.file); got != tc.want {
			t.Errorf("Kind(%q, %q) = %s, want %s", tc.ct, tc.file, got, tc.want)
		}
	}
}

// TestGuards: bombs, broken files, time and nesting limits give an error
// and the file name, never a failure of the caller.
func TestGuards(t *testing.T) {
	ctx := context.Background()
	c := New(Options{MaxInflate: 1 << 20})
	zeros := makeZip(t, [2]string{"word/document.xml", `<w:document><w:body><w:p><w:t>` + strings.Repeat("0", 8<<20) + `</w:t></w:p></w:body></w:document>`})
	r := c.Convert(ctx, "", "", "bomb.docx", zeros)
	if !errors.Is(r.Err, errBomb) || r.Text != "bomb.docx" {
		t.Errorf("a zip bomb: %q, %v", r.Text, r.Err)
	}
	var many [][2]string
	for i := range 3000 {
		many = append(many, [2]string{"f" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "/" + strings.Repeat("y", i%5), "x"})
	}
	if r := c.Convert(ctx, "", "", "many.docx", makeZip(t, many...)); !errors.Is(r.Err, errBomb) {
		t.Errorf("3,000 entries: %v", r.Err)
	}
	if r := c.Convert(ctx, "", "", "broken.xlsx", []byte("PK\x03\x04 not really")); r.Err == nil || r.Text != "broken.xlsx" {
		t.Errorf("a broken file: %q, %v", r.Text, r.Err)
	}
	if r := c.Convert(ctx, "image/png", "", "photo.png", []byte("\x89PNG")); !errors.Is(r.Err, ErrUnsupported) || r.Text != "photo.png" {
		t.Errorf("a type without converter: %q, %v", r.Text, r.Err)
	}
	slow := New(Options{Timeout: time.Nanosecond})
	if r := slow.Convert(ctx, "application/rtf", "", "late.rtf", []byte(`{\rtf1 `+strings.Repeat("word ", 1<<16)+`}`)); r.Err == nil || !strings.Contains(r.Err.Error(), "gave up") {
		t.Errorf("past the time limit: %v", r.Err)
	}
	small := New(Options{MaxOutput: 10})
	if r := small.Convert(ctx, "text/plain", "", "", []byte(strings.Repeat("é", 100))); len(r.Text) > 10 || !utf8.ValidString(r.Text) {
		t.Errorf("output limit: %d bytes %q", len(r.Text), r.Text)
	}
}

// TestMessage converts a whole message: headers (RFC 2047), a text part in
// quoted-printable Latin-1, HTML, a base64 DOCX attachment with an RFC
// 2231 file name, and a nested message with its own header and body.
func TestMessage(t *testing.T) {
	att := base64.StdEncoding.EncodeToString(docxFile(t))
	raw := "From: =?UTF-8?Q?J=C3=BCrgen?= <j@example.test>\r\nTo: a@example.test\r\nSubject: =?ISO-8859-1?Q?R=E9union?=\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nd=E9j=E0 vu=\r\n soon\r\n" +
		"--b1\r\nContent-Type: text/html\r\n\r\n<p>html<i>word</i></p>\r\n" +
		"--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.docx\r\nContent-Transfer-Encoding: base64\r\n\r\n" + att + "\r\n" +
		"--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner subject\r\nFrom: x@example.test\r\n\r\ninner body text\r\n" +
		"--b1--\r\n"
	var all strings.Builder
	for _, r := range New(Options{}).Message(context.Background(), []byte(raw)) {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Kind, r.Err)
		}
		all.WriteString(r.Text + "\n")
	}
	for _, w := range []string{"Jürgen", "Réunion", "déjà vu soon", "htmlword", "résumé.docx", "zeppelin", "inner subject", "inner body text"} {
		if !strings.Contains(all.String(), w) {
			t.Errorf("the message's text lacks %q:\n%s", w, all.String())
		}
	}
}

func TestNestingLimit(t *testing.T) {
	raw := "Subject: outer\r\nContent-Type: message/rfc822\r\n\r\nSubject: l1\r\nContent-Type: message/rfc822\r\n\r\nSubject: l2\r\n\r\ndeep\r\n"
	var errs int
	for _, r := range New(Options{MaxDepth: 1}).Message(context.Background(), []byte(raw)) {
		if r.Err != nil {
			errs++
		}
		if strings.Contains(r.Text, "deep") {
			t.Errorf("converted beyond the nesting limit: %q", r.Text)
		}
	}
	if errs == 0 {
		t.Error("no error for nesting beyond the limit")
	}
}

// TestAttachments: only the leaves SEARCH does not decode itself, nested
// messages included, each with its file name.
func TestAttachments(t *testing.T) {
	att := base64.StdEncoding.EncodeToString(docxFile(t))
	raw := "Subject: s\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
		"--b1\r\nContent-Type: text/plain\r\n\r\nplain words\r\n" +
		"--b1\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\nContent-Type: multipart/mixed; boundary=b2\r\n\r\n" +
		"--b2\r\nContent-Type: text/html\r\n\r\n<p>inner html</p>\r\n" +
		"--b2\r\nContent-Type: application/octet-stream; name=\"plan.docx\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" + att + "\r\n--b2--\r\n" +
		"--b1--\r\n"
	root, err := message.Scan(strings.NewReader(raw), message.DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	if !HasAttachments(root) {
		t.Fatal("HasAttachments is false for a message with a nested DOCX")
	}
	got := New(Options{}).Attachments(context.Background(), []byte(raw), root)
	for _, w := range []string{"plan.docx", "zeppelin"} {
		if !strings.Contains(got, w) {
			t.Errorf("attachments text lacks %q: %q", w, got)
		}
	}
	for _, w := range []string{"plain words", "inner html"} {
		if strings.Contains(got, w) {
			t.Errorf("attachments text has the text part %q: %q", w, got)
		}
	}
	plain, _ := message.Scan(strings.NewReader("Subject: p\r\n\r\nbody\r\n"), message.DefaultLimits())
	if HasAttachments(plain) {
		t.Error("HasAttachments is true for a plain message")
	}
}

// TestAttachmentsChecked: a text every later call gives again is
// settled, a converted attachment's and a damaged one's (its failure is
// the content's); one cut short by its context is not.
func TestAttachmentsChecked(t *testing.T) {
	msg := func(att []byte) (string, *message.Part) {
		raw := "Subject: s\r\nContent-Type: multipart/mixed; boundary=b1\r\n\r\n" +
			"--b1\r\nContent-Type: text/plain\r\n\r\nplain words\r\n" +
			"--b1\r\nContent-Type: application/octet-stream; name=\"plan.docx\"\r\nContent-Transfer-Encoding: base64\r\n\r\n" +
			base64.StdEncoding.EncodeToString(att) + "\r\n--b1--\r\n"
		root, err := message.Scan(strings.NewReader(raw), message.DefaultLimits())
		if err != nil {
			t.Fatal(err)
		}
		return raw, root
	}
	c := New(Options{})
	raw, root := msg(docxFile(t))
	if text, ok := c.AttachmentsChecked(context.Background(), []byte(raw), root); !ok || !strings.Contains(text, "zeppelin") {
		t.Errorf("a DOCX: %q, settled %v; want its text, settled", text, ok)
	}
	raw, root = msg([]byte("PK\x03\x04 not a zip at all"))
	if _, ok := c.AttachmentsChecked(context.Background(), []byte(raw), root); !ok {
		t.Error("a damaged DOCX: not settled, but it fails the same way every time")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	raw, root = msg(docxFile(t))
	if _, ok := c.AttachmentsChecked(ctx, []byte(raw), root); ok {
		t.Error("cut short by its context: settled")
	}
}
