package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"github.com/quiremail/quire/internal/config"
)

// hostTLS is proxy.host_tls as the proxy's client TLS configuration to
// the access hosts; nil when it is off. Verify "full" leaves the check to
// crypto/tls (chain, and the name the Router sets as ServerName: the
// host's in store.storehostlist); "ca" checks the chain against the roots
// in VerifyConnection, without a name; "none" checks nothing.
func hostTLS(t config.CasTLS) (*tls.Config, error) {
	if !t.Enable {
		return nil, nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return nil, fmt.Errorf("proxy.host_tls.cafile: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("proxy.host_tls.cafile %s: no PEM certificate in it", t.CAFile)
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("proxy.host_tls.certfile and keyfile: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	switch t.Verify {
	case "none":
		tc.InsecureSkipVerify = true
	case "ca":
		tc.InsecureSkipVerify = true // the name is not checked; the chain is, below
		roots := tc.RootCAs
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the access host sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return tc, nil
}
