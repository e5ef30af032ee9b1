package message

import (
	"reflect"
	"testing"
)

func TestParseContentType(t *testing.T) {
	for _, tc := range []struct {
		in       string
		typ, sub string
		params   []Param
		ok       bool
	}{
		{"text/plain", "text", "plain", nil, true},
		{`Text/HTML; Charset="UTF-8"`, "text", "html", []Param{{"charset", "UTF-8"}}, true},
		{"text/plain (comment); format=flowed (more); delsp=yes", "text", "plain", []Param{{"format", "flowed"}, {"delsp", "yes"}}, true},
		{"multipart/mixed; boundary=----=_NextPart_000_0012_01DB8C2A.5F3A1B20", "multipart", "mixed", []Param{{"boundary", "----=_NextPart_000_0012_01DB8C2A.5F3A1B20"}}, true},
		{"application/octet-stream; name=my file.pdf;;", "application", "octet-stream", []Param{{"name", "my file.pdf"}}, true},
		{`text/plain; name="unterminated`, "text", "plain", []Param{{"name", "unterminated"}}, true},
		{"text/plain; charset=a; CHARSET=b", "text", "plain", []Param{{"charset", "a"}}, true},
		{"text/plain; junk; x = y ", "text", "plain", []Param{{"x", "y"}}, true},
		{"text/plain; a*0=x; a*2=z; a*1=y; a*1=dup", "text", "plain", []Param{{"a", "xyz"}}, true},
		{"text/plain; a*=shift_jis''%82%A0; b*=iso-2022-kr''%41; c*=''%41%zz", "text", "plain", []Param{{"a", "あ"}, {"b", "A"}, {"c", "A%zz"}}, true},
		{"text/plain; a*0*=utf-8''%E2%82; a*1*=%AC", "text", "plain", []Param{{"a", "€"}}, true},
		{"text", "", "", nil, false},
		{"/plain", "", "", nil, false},
		{"", "", "", nil, false},
	} {
		typ, sub, params, ok := parseContentType(tc.in)
		if typ != tc.typ || sub != tc.sub || ok != tc.ok || !reflect.DeepEqual(params, tc.params) {
			t.Errorf("parseContentType(%q) = %q %q %q %v, want %q %q %q %v", tc.in, typ, sub, params, ok, tc.typ, tc.sub, tc.params, tc.ok)
		}
	}
}
