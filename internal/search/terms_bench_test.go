package search

import (
	"strings"
	"testing"
)

// BenchmarkTerms cuts a 10 KB body of a small vocabulary, with a few
// non-ASCII words, as the benchmark corpus's messages are.
func BenchmarkTerms(b *testing.B) {
	words := strings.Fields("the server meeting latency replication cluster quota throughput report review " +
		"patch release backup schedule water people would could their about which other Grüße Köln été mailbox")
	var sb strings.Builder
	for i := 0; sb.Len() < 10<<10; i++ {
		sb.WriteString(words[(i*7+i/3)%len(words)])
		sb.WriteByte(" ,. \n"[i%5])
	}
	text := sb.String()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		Terms(text)
	}
}
