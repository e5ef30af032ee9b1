package searchtest

import (
	"strconv"
	"strings"
)

// Body is a text of about size bytes for benchmarks of indexing: a small
// vocabulary with a few non-ASCII words, as the benchmark corpus's
// messages have, and, when distinct is set, every third word numbered
// (up to 400 distinct numbers), so the text has many distinct words.
func Body(size int, distinct bool) string {
	base := strings.Fields("the server meeting latency replication cluster quota throughput report review " +
		"patch release backup schedule water people would could their about which other Grüße Köln été mailbox")
	var sb strings.Builder
	for i := 0; sb.Len() < size; i++ {
		sb.WriteString(base[(i*7+i/3)%len(base)])
		if distinct && i%3 == 0 {
			sb.WriteString(strconv.Itoa(i % 400))
		}
		sb.WriteByte(" ,. \n"[i%5])
	}
	return sb.String()
}
