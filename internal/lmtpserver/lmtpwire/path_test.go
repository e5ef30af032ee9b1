package lmtpwire

import (
	"slices"
	"strings"
	"testing"
)

func TestParsePath(t *testing.T) {
	for _, tc := range []struct {
		in     string
		null   bool
		addr   string
		params []Param
		bad    bool
	}{
		{in: "<a@b.example>", addr: "a@b.example"},
		{in: " <a@b.example> SIZE=12 body=8bitmime", addr: "a@b.example", params: []Param{{"SIZE", "12"}, {"BODY", "8bitmime"}}},
		{in: "<>", null: true, addr: ""},
		{in: "<>", bad: true},
		{in: "<@relay.example:a@b.example>", addr: "a@b.example"},
		{in: `<"x>y"@b.example>`, addr: `"x>y"@b.example`},
		{in: "<a@b.example", bad: true},
		{in: "<a@b.example>X", bad: true},
		{in: "a@b.example SMTPUTF8", addr: "a@b.example", params: []Param{{"SMTPUTF8", ""}}},
	} {
		addr, params, err := ParsePath(tc.in, tc.null)
		if (err != nil) != tc.bad || addr != tc.addr || !slices.Equal(params, tc.params) {
			t.Errorf("ParsePath(%q, %v) = %q, %v, %v", tc.in, tc.null, addr, params, err)
		}
	}
}

// FuzzParsePath: no input panics; an accepted path has no control
// characters, and one without quoting characters round-trips through its
// bracketed form.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"<a@b>", " <a@b> SIZE=1", "<>", "<@r:a@b>", `<"q>"@b>`, "a@b X=1 Y", "<a"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, null bool) {
		addr, params, err := ParsePath(s, null)
		if err != nil {
			return
		}
		if strings.ContainsFunc(addr, func(r rune) bool { return r < ' ' || r == 0x7f }) {
			t.Fatalf("ParsePath(%q) = %q with a control character", s, addr)
		}
		for _, p := range params {
			if p.Key == "" || p.Key != strings.ToUpper(p.Key) {
				t.Fatalf("ParsePath(%q): parameter %+v", s, p)
			}
		}
		// Without quoting characters, the bracketed form parses the same.
		if addr != "" && !strings.ContainsAny(addr, "\"\\ ") && !strings.HasPrefix(addr, "@") {
			again, _, err := ParsePath("<"+addr+">", null)
			if err != nil || again != addr {
				t.Fatalf("ParsePath(%q) = %q; <%s> parses as %q, %v", s, addr, addr, again, err)
			}
		}
	})
}
