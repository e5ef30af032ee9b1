package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/quiremail/quire/internal/config"
	"github.com/quiremail/quire/internal/convert"
	"github.com/quiremail/quire/internal/metrics"
	"github.com/quiremail/quire/internal/sdnotify"
)

// iscConvert prints what the converter ("indexed search converter")
// extracts from a file, for operators to check what search will find in
// it. (isc serve runs the converter as an HTTP service for access hosts.)
func (c *cli) iscConvert(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("isc convert", flag.ContinueOnError)
	ct := fs.String("type", "", "the part's content type; default: from the file name's extension")
	cs := fs.String("charset", "", "the charset of a text part")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := want(pos, 1, "one FILE"); err != nil {
		return err
	}
	data, err := os.ReadFile(pos[0])
	if err != nil {
		return fmt.Errorf("isc convert: %w", err)
	}
	conv := convert.New(convert.Options{EngineCache: config.ISC{}.EngineCacheDir()})
	defer conv.Close()
	name := filepath.Base(pos[0])
	if convert.Kind(*ct, name) == convert.KindMessage {
		// A whole message: each part's text, in order.
		failed := 0
		for _, r := range conv.Message(ctx, data) {
			fmt.Fprintf(c.stdout, "--- %s\n%s\n", r.Kind, r.Text)
			if r.Err != nil {
				fmt.Fprintf(c.stderr, "quire: isc convert: a %s part: %v\n", r.Kind, r.Err)
				failed++
			}
		}
		if failed > 0 {
			return fmt.Errorf("isc convert: %d part(s) could not be converted (indexed by their names only)", failed)
		}
		return nil
	}
	r := conv.Convert(ctx, *ct, *cs, name, data)
	if r.Err != nil {
		return fmt.Errorf("isc convert: %s: %w (it would be indexed by its name only)", r.Kind, r.Err)
	}
	fmt.Fprintln(c.stdout, r.Text)
	return nil
}

// iscServe runs the converter service until ctx ends: POST
// /converter/convert and GET /converter/statistics (convert.Handler), the
// probes and GET /metrics (iscHandler), over
// TLS with the config's tls.cert_file and tls.key_file when --tls is set.
func (c *cli) iscServe(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("isc serve", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:8026", "address to listen on")
	useTLS := fs.Bool("tls", false, "serve HTTPS with the config's tls.cert_file and tls.key_file")
	cfgPath := fs.String("config", "", "configuration file")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := want(pos, 0, "no arguments"); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	if *useTLS && cfg.TLS.CertFile == "" {
		return errors.New("isc serve: --tls needs tls.cert_file and tls.key_file in the config")
	}
	tuneGC(cfg, newLogger(cfg, c.stderr))
	conv := convert.New(converterOptions(cfg.ISC))
	defer conv.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("isc serve: listen on %s: %w (change --listen)", *listen, err)
	}
	srv := &http.Server{Handler: iscHandler(conv), ReadHeaderTimeout: 10 * time.Second}
	scheme := "http"
	if *useTLS {
		scheme = "https"
	}
	fmt.Fprintf(c.stdout, "quire: converter listening on %s://%s (POST /converter/convert, GET /converter/statistics, GET /metrics)\n", scheme, ln.Addr())
	done := make(chan error, 1)
	go func() {
		if *useTLS {
			done <- srv.ServeTLS(ln, cfg.TLS.CertFile, cfg.TLS.KeyFile)
		} else {
			done <- srv.Serve(ln)
		}
	}()
	sd := sdnotify.New(os.Getenv("NOTIFY_SOCKET")) // systemd Type=notify (contrib/systemd/quire-isc.service)
	if err := sd.Ready("converting"); err != nil {
		fmt.Fprintf(c.stderr, "quire: isc serve: %v\n", err)
	}
	select {
	case <-ctx.Done():
		_ = sd.Stopping("")
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	case err := <-done:
		return err
	}
}

// iscHandler is isc serve's HTTP surface: the converter's, GET /healthz,
// GET /readyz (the converter needs nothing else: ready once it listens)
// and GET /metrics. Like /converter/statistics, /metrics is open: a
// converter host has no admin token, sits on the access hosts' private
// network, and holds no mail between requests.
func iscHandler(conv *convert.Converter) http.Handler {
	reg := metrics.New("isc", buildVersion())
	metrics.Converter(reg, conv.Stats)
	metrics.Panics(reg, map[string]func() int64{"converter": func() int64 { return conv.Stats().Panics }})
	mux := http.NewServeMux()
	mux.Handle("/", convert.Handler(conv))
	mux.HandleFunc("GET /healthz", healthz)
	var ready readiness
	ready.Ready()
	mux.Handle("GET /readyz", ready.handler(nil))
	mux.Handle("GET /metrics", reg.Handler())
	return mux
}
