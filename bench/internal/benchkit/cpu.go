package benchkit

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"
)

// clockTick is the unit of /proc/PID/stat's CPU times (USER_HZ, 100 on
// Linux's supported architectures).
const clockTick = 10 * time.Millisecond

// CPU is the CPU time (user and system) quire's process has used so far;
// 0 for Dovecot (its work is spread over per-session processes) or when
// it cannot be read. A throughput measured beside other work on the
// machine swings with that work; the server's CPU time per operation
// swings much less, so reports give both.
func (t *Target) CPU() time.Duration {
	if t.PID == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", t.PID))
	if err != nil {
		return 0
	}
	// proc(5): the command name (field 2) is in parentheses and may hold
	// spaces; utime and stime are fields 14 and 15, the 12th and 13th
	// after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, err1 := strconv.ParseUint(string(f[11]), 10, 64)
	s, err2 := strconv.ParseUint(string(f[12]), 10, 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return time.Duration(u+s) * clockTick
}

// CPUPer says how much CPU quire spent per operation between two CPU
// readings: "quire CPU: 412 µs per delivery (3.3 s for 8,000)".
func CPUPer(before, after time.Duration, ops int64, what string) string {
	if after <= before || ops <= 0 {
		return ""
	}
	d := after - before
	return fmt.Sprintf("quire CPU: %.0f µs per %s (%.1f s for %d)", float64(d.Microseconds())/float64(ops), what, d.Seconds(), ops)
}
