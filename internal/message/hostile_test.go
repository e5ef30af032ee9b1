package message

import (
	"strings"
	"testing"
	"time"
)

// TestHostileInputs feeds megabyte-sized hostile inputs; each must scan in
// linear time (the log shows the times) and keep the invariants.
func TestHostileInputs(t *testing.T) {
	const n = 1 << 20
	inputs := map[string]string{
		"params":  "Content-Type: text/plain" + strings.Repeat("; a*1*=%41", n/10) + "\r\n\r\n",
		"params2": "Content-Type: text/plain" + strings.Repeat("; x", n/3) + "\r\n\r\n",
		"distinct": func() string {
			var b strings.Builder
			b.WriteString("Content-Type: text/plain")
			for i := 0; b.Len() < n; i++ {
				b.WriteString("; p")
				b.WriteString(strings.Repeat("q", i%50))
				b.WriteString(string(rune('a' + i%26)))
				b.WriteString("*" + string(rune('0'+i%10)) + "=v")
			}
			return b.String() + "\r\n\r\n"
		}(),
		"addrs":    "To: " + strings.Repeat("a@b, ", n/5) + "\r\n\r\n",
		"groups":   "To: " + strings.Repeat("g: a@b; ", n/8) + "\r\n\r\n",
		"angles":   "To: " + strings.Repeat("<", n) + "\r\n\r\n",
		"comments": "To: " + strings.Repeat("(", n) + "\r\n\r\n",
		"quotes":   "To: " + strings.Repeat("\"\\", n/2) + "\r\n\r\n",
		"colons":   "To: " + strings.Repeat(":", n) + "\r\n\r\n",
		"refs":     "References: " + strings.Repeat("<", n) + ">\r\n\r\n",
		"lines":    "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("--b\r\n", n/5),
		"nested":   strings.Repeat("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n", n/50),
		"headers":  strings.Repeat("X: y\r\n", n/6) + "\r\n",
		"contin":   "Subject: x\r\n" + strings.Repeat(" y\r\n", n/4) + "\r\n",
		"bigline":  strings.Repeat("x", n),
		"lf":       strings.Repeat("\n", n),
		"cr":       strings.Repeat("\r", n),
		"dashes":   "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + strings.Repeat("-", n),
	}
	for name, in := range inputs {
		start := time.Now()
		p, err := Scan(strings.NewReader(in), Limits{})
		if err != nil {
			t.Fatal(err)
		}
		checkInvariants(t, []byte(in), p, Limits{})
		t.Logf("%-10s %7d bytes %v", name, len(in), time.Since(start))
	}
}
