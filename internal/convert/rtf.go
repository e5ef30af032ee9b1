package convert

import (
	"strconv"

	"golang.org/x/text/encoding/charmap"
)

// rtfSkipped reports destinations whose content is not text: tables of
// fonts, colours and styles, document information, pictures and embedded
// data.
func rtfSkipped(word string) bool {
	switch word {
	case "fonttbl", "colortbl", "stylesheet", "info", "pict", "object", "themedata", "colorschememapping",
		"datastore", "latentstyles", "xmlnstbl", "rsidtbl", "listtable", "listoverridetable", "generator", "filetbl",
		"revtbl", "fldinst", "bkmkstart", "bkmkend", "private", "userprops", "xmlopen", "wgrffmtfilter", "mmathPr":
		return true
	}
	return false
}

// rtf extracts the text of an RTF document (RFC-free: Microsoft's RTF 1.9.1
// specification): groups in skipped destinations and "\*" destinations
// are dropped, \par and \line break lines, \'hh is a windows-1252 byte,
// \uN a Unicode character followed by \ucN fallback characters to skip.
func rtf(w *textWriter, data []byte) {
	type state struct {
		skip bool
		uc   int
	}
	st := state{uc: 1}
	var stack []state
	skipFallback := 0
	dec := charmap.Windows1252
	emit := func(s string) {
		if skipFallback > 0 {
			skipFallback--
			return
		}
		if !st.skip {
			w.write(s)
		}
	}
	for i := 0; i < len(data) && !w.full(); i++ {
		c := data[i]
		switch c {
		case '{':
			if len(stack) < 1000 {
				stack = append(stack, st)
			}
			if i+2 < len(data) && data[i+1] == '\\' && data[i+2] == '*' {
				st.skip = true
			}
		case '}':
			if n := len(stack); n > 0 {
				st, stack = stack[n-1], stack[:n-1]
			}
		case '\r', '\n':
		case '\\':
			if i+1 >= len(data) {
				continue
			}
			i++
			c = data[i]
			switch {
			case c == '\'' && i+2 < len(data):
				if b, err := strconv.ParseUint(string(data[i+1:i+3]), 16, 8); err == nil {
					emit(string(dec.DecodeByte(byte(b))))
				}
				i += 2
			case c == '~':
				emit(" ")
			case c == '\\' || c == '{' || c == '}':
				emit(string(c))
			case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
				j := i
				for j < len(data) && (data[j] >= 'a' && data[j] <= 'z' || data[j] >= 'A' && data[j] <= 'Z') {
					j++
				}
				word := string(data[i:j])
				k := j
				if k < len(data) && data[k] == '-' {
					k++
				}
				for k < len(data) && k-j < 10 && data[k] >= '0' && data[k] <= '9' {
					k++
				}
				arg, hasArg := 0, k > j
				if hasArg {
					arg, _ = strconv.Atoi(string(data[j:k]))
				}
				if k < len(data) && data[k] == ' ' {
					k++ // the delimiter belongs to the control word
				}
				i = k - 1
				switch {
				case rtfSkipped(word):
					st.skip = true
				case word == "par" || word == "line" || word == "row" || word == "sect" || word == "page":
					if !st.skip {
						w.newline()
					}
				case word == "tab" || word == "cell":
					if !st.skip {
						w.space()
					}
				case word == "uc" && hasArg:
					st.uc = max(0, min(arg, 10))
				case word == "u" && hasArg:
					if arg < 0 {
						arg += 65536
					}
					emit(string(rune(arg)))
					skipFallback = st.uc
				}
			}
		default:
			if c >= 0x80 { // 8-bit text should be escaped; read it as the code page
				emit(string(dec.DecodeByte(c)))
			} else {
				emit(string(c))
			}
		}
	}
}
