package benchkit

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// ProfileCPU fetches a 20 s CPU profile from quire's pprof endpoint on
// t, with the admin token, into path. It returns a line for the report; a
// missing endpoint is not an error.
func ProfileCPU(ctx context.Context, t *Target, path string) string {
	base := "http://" + t.HTTP + "/debug/pprof/"
	client := &http.Client{Timeout: 40 * time.Second}
	req, err := t.AdminRequest(ctx, "GET", "/debug/pprof/profile?seconds=20")
	if err != nil {
		return "pprof: " + err.Error()
	}
	resp, err := client.Do(req)
	if err != nil {
		return "pprof: " + err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("pprof: %s answered %s; no profile taken", base, resp.Status)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, resp.Body); err != nil {
		return "pprof: " + err.Error()
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "pprof: " + err.Error()
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "pprof: " + err.Error()
	}
	return "CPU profile (20 s): " + path
}

// StartProfile starts ProfileCPU in the background when on and t is a quire
// target, into bench/out/BENCH-TARGET-TIME.cpu.pprof. The channel yields the
// report line, empty when no profile was taken.
func StartProfile(ctx context.Context, on bool, root, bench, target string, t *Target) <-chan string {
	done := make(chan string, 1)
	if !on || t.HTTP == "" {
		done <- ""
		return done
	}
	path := filepath.Join(root, "bench", "out", fmt.Sprintf("%s-%s-%s.cpu.pprof", bench, target, time.Now().Format("20060102-150405")))
	go func() { done <- ProfileCPU(ctx, t, path) }()
	return done
}
