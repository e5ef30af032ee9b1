package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/quiremail/quire/internal/store"
	"github.com/quiremail/quire/internal/store/embedded"
)

// serverWait bounds how long an admin command waits for the server that
// holds the embedded data directory to become ready.
const serverWait = 60 * time.Second

// adminServer is a running server's admin API: its base URL and the token
// it wrote at start.
type adminServer struct{ base, token string }

// openOrServer opens the configured store for this process or, when a
// server holds the embedded data directory (embedded.ErrLocked), waits
// until that server is ready (GET /readyz) and returns its admin API. The
// server takes the directory long before it has written its token and
// opened http.listen, so a command run right after "quire serve" starts
// must wait, not fail; if the server lets the directory go meanwhile (it
// stopped, or failed to start), the store is opened here after all.
func openOrServer(ctx context.Context, cfg Config, log *slog.Logger) (store.Backend, *adminServer, error) {
	deadline := time.Now().Add(serverWait)
	for {
		b, err := openBackend(ctx, cfg, log)
		if err == nil || !errors.Is(err, embedded.ErrLocked) {
			return b, nil, err
		}
		if len(cfg.HTTP.Listen) == 0 {
			return nil, nil, fmt.Errorf("%w, and http.listen is empty, so the admin API cannot be reached: stop the server or set http.listen", err)
		}
		base := "http://" + dialAddr(cfg.HTTP.Listen[0])
		perr := probeReady(ctx, base)
		if perr == nil {
			tok, terr := readToken(cfg)
			if terr != nil {
				return nil, nil, fmt.Errorf("%w, and %w", err, terr)
			}
			return nil, &adminServer{base: base, token: tok}, nil
		}
		if time.Now().After(deadline) {
			return nil, nil, fmt.Errorf("%w, and the server did not become ready within %v (GET %s/readyz: %v): see its log", err, serverWait, base, perr)
		}
		select {
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// probeReady asks a server whether it is ready: nil for 200, and for 404
// (a server from before GET /readyz, which was ready once it listened).
func probeReady(ctx context.Context, base string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusNotFound {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	return fmt.Errorf("%s %s", resp.Status, strings.TrimSpace(string(body)))
}

// dialAddr is where a client on this host reaches a listen address: a
// wildcard host ("", 0.0.0.0, ::) becomes loopback.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
		if ip != nil && ip.To4() == nil {
			host = "::1"
		}
	}
	return net.JoinHostPort(host, port)
}

// post sends body as JSON to the running server's path, with its admin
// token, and returns the answer when it is 200 OK; what names the command
// in errors. The caller closes the body.
func (srv *adminServer) post(ctx context.Context, what, path string, body any) (*http.Response, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.base+path, bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+srv.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: cannot reach the server at %s: %w", what, srv.base, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, fmt.Errorf("%s: the server answered %s: %s", what, resp.Status, strings.TrimSpace(string(msg)))
	}
	return resp, nil
}

// ndjsonLines starts an NDJSON answer on w and returns what writes one
// line: a progress line (always false) at most every 200 ms, a line that
// must go (always true) at once, each flushed to the client.
func ndjsonLines(w http.ResponseWriter) func(v any, always bool) {
	w.Header().Set("Content-Type", "application/x-ndjson")
	enc := json.NewEncoder(w)
	fl, _ := w.(http.Flusher)
	var last time.Time
	return func(v any, always bool) {
		if !always && time.Since(last) < 200*time.Millisecond {
			return
		}
		last = time.Now()
		_ = enc.Encode(v)
		if fl != nil {
			fl.Flush()
		}
	}
}
