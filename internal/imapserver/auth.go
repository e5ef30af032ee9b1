package imapserver

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/flate"

	"github.com/quiremail/quire/internal/imapserver/imapwire"
	"github.com/quiremail/quire/internal/login"
	"github.com/quiremail/quire/internal/mail"
)

// replied is the result of a command that wrote its own tagged reply.
var replied = result{}

// cmdStartTLS: RFC 9051 6.2.1. Anything the client pipelined after
// STARTTLS is dropped, so no plaintext can be injected into the TLS
// session (RFC 9051 11.1).
func (c *conn) cmdStartTLS() result {
	if c.srv.opts.TLS == nil {
		return bad("STARTTLS is not available: the server has no certificate (tls.cert_file)")
	}
	if c.secure {
		return bad("TLS is already active")
	}
	return c.upgrade(func() (io.ReadWriter, error) {
		tc := tls.Server(c.nc, c.srv.opts.TLS)
		_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.Handshake(); err != nil {
			return nil, err
		}
		_ = tc.SetDeadline(time.Time{})
		c.secure = true
		c.nc = tc
		return tc, nil
	}, "Begin TLS negotiation now")
}

// upgrade replies OK in the clear, then layers the stream made by next.
func (c *conn) upgrade(next func() (io.ReadWriter, error), text string) result {
	// The tag is not known here; run wrote nothing yet, so write the reply
	// through the pending command's tag via c.tag.
	c.w.Status(c.tag, "OK", "", text)
	if err := c.flush(); err != nil {
		return result{close: true}
	}
	if n := c.br.Buffered(); n > 0 {
		_, _ = c.br.Discard(n)
		c.log.Info("imap: dropped data pipelined before a stream change", "bytes", n)
	}
	rw, err := next()
	if err != nil {
		c.log.Info("imap: stream upgrade failed", "err", err)
		return result{close: true}
	}
	c.setStream(rw)
	return replied
}

// cmdCompress: RFC 4978. Deflate without zlib header, both ways. The
// reader returns data at the end of every deflate block, so a client that
// ends a command with a partial flush (iOS Mail; compress/flate would wait
// for the next stored block) is answered at once. The writer sync-flushes
// after each burst of responses.
func (c *conn) cmdCompress(a *imapwire.CompressArgs) result {
	if a.Mechanism != "DEFLATE" {
		return bad("Unknown compression mechanism " + a.Mechanism + "; DEFLATE is supported")
	}
	if c.compress {
		return no("COMPRESSIONACTIVE", "Compression is already active")
	}
	raw := c.raw
	return c.upgrade(func() (io.ReadWriter, error) {
		fw, err := flate.NewWriter(raw, flate.DefaultCompression)
		if err != nil {
			return nil, err
		}
		c.compress = true
		dw := &dirtyWriter{fw: fw}
		c.fl = dw
		return struct {
			io.Reader
			io.Writer
		}{flate.NewReaderOpts(raw, flate.WithPartialBlock()), dw}, nil
	}, "DEFLATE active")
}

func (c *conn) cmdLogin(a *imapwire.LoginArgs) result {
	if !c.loginAllowed() {
		return no("PRIVACYREQUIRED", "Plaintext login is disabled: use STARTTLS or the TLS port")
	}
	return c.login("", a.Username, a.Password)
}

// login authenticates and enters the authenticated state, as authzid's
// store when it names another user (a service administrator's SASL PLAIN).
func (c *conn) login(authzid, user, pass string) result {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	u, err := c.srv.opts.Auth.LoginAs(ctx, authzid, user, pass, c.remoteIP)
	var wrong *login.WrongGroupError
	switch {
	case errors.As(err, &wrong):
		return referral(wrong)
	case errors.Is(err, mail.ErrAuthFailed):
		c.log.Info("imap: login failed", "user", user)
		return no("AUTHENTICATIONFAILED", "Authentication failed")
	case errors.Is(err, login.ErrBusy):
		// RFC 5530 3: UNAVAILABLE, temporary; the password was not judged.
		c.log.Info("imap: login refused: password checks busy", "user", user, "err", err)
		return no("UNAVAILABLE", "Too many logins at once; try again shortly")
	case err != nil:
		return c.storeError("login", err, "")
	}
	rel, ok := c.srv.perUser.Acquire(u.ID)
	if !ok {
		return no("LIMIT", "Too many sessions for this user; log out elsewhere first")
	}
	c.release = append(c.release, rel)
	c.user, c.state = u, authenticated
	c.log = c.log.With("user", u.Address)
	if authzid != "" {
		c.log = c.log.With("authcid", user)
	}
	obs := c.srv.opts.Observer
	obs.Session(1)
	c.release = append(c.release, func() { obs.Session(-1) })
	if c.srv.opts.Hub != nil {
		c.sub = c.srv.opts.Hub.Subscribe(u.ID)
	}
	c.log.Info("imap: logged in")
	return okCode("CAPABILITY "+c.capabilities(), "Logged in")
}

// cmdAuthenticate: RFC 9051 6.2.2 with SASL-IR (RFC 4959); PLAIN (RFC
// 4616) and LOGIN (draft-murchison-sasl-login).
func (c *conn) cmdAuthenticate(a *imapwire.AuthenticateArgs) result {
	if !c.loginAllowed() {
		return no("PRIVACYREQUIRED", "Plaintext authentication is disabled: use STARTTLS or the TLS port")
	}
	switch a.Mechanism {
	case "PLAIN":
		resp, res, done := c.saslStep(a.HasInitialResponse, a.InitialResponse, "")
		if done {
			return res
		}
		authz, user, pass, err := login.ParsePlain(resp)
		if err != nil {
			return bad("AUTHENTICATE PLAIN: " + err.Error())
		}
		return c.login(authz, user, pass)
	case "LOGIN":
		if a.HasInitialResponse {
			return bad("AUTHENTICATE LOGIN takes no initial response")
		}
		user, res, done := c.saslStep(false, "", "VXNlcm5hbWU6") // "Username:"
		if done {
			return res
		}
		pass, res, done := c.saslStep(false, "", "UGFzc3dvcmQ6") // "Password:"
		if done {
			return res
		}
		return c.login("", string(user), string(pass))
	}
	return no("CANNOT", "Unsupported SASL mechanism "+a.Mechanism+"; use PLAIN or LOGIN")
}

// saslStep returns the client's decoded response: the initial response if
// given, else one read after a "+ challenge" continuation. done means the
// exchange ended with res (cancelled or malformed).
func (c *conn) saslStep(hasIR bool, ir, challenge string) (resp []byte, res result, done bool) {
	line := ir
	if !hasIR {
		c.bw.WriteString("+ " + challenge + "\r\n")
		if err := c.flush(); err != nil {
			return nil, result{close: true}, true
		}
		var err error
		if line, err = c.r.ReadLine(); err != nil {
			return nil, result{status: "BAD", text: "Cannot read SASL response", close: true}, true
		}
	}
	if line == "*" {
		return nil, bad("AUTHENTICATE cancelled"), true // RFC 9051 6.2.2
	}
	if line == "=" {
		return []byte{}, result{}, false
	}
	b, err := base64.StdEncoding.DecodeString(line)
	if err != nil {
		return nil, bad("SASL response is not valid base64"), true
	}
	return b, result{}, false
}

// cmdEnable: RFC 5161; QRESYNC implies CONDSTORE (RFC 7162 3.2.3).
func (c *conn) cmdEnable(a *imapwire.EnableArgs) result {
	var on []string
	for _, name := range a.Capabilities {
		switch name {
		case "CONDSTORE":
			if !c.enabled.condstore {
				c.enabled.condstore = true
				on = append(on, name)
			}
		case "QRESYNC":
			if !c.enabled.qresync {
				c.enabled.qresync, c.enabled.condstore = true, true
				on = append(on, name)
			}
		case "IMAP4REV2":
			if !c.enabled.rev2 {
				c.enabled.rev2 = true
				on = append(on, "IMAP4rev2")
			}
		case "UTF8=ACCEPT":
			if !c.enabled.utf8 {
				c.enabled.utf8 = true
				c.r.SetUTF8Accept(true)
				c.w.SetUTF8Accept(true)
				on = append(on, name)
			}
		}
	}
	c.w.Raw("* ENABLED")
	if len(on) > 0 {
		c.w.Raw(" " + strings.Join(on, " "))
	}
	c.w.Raw("\r\n")
	return ok("ENABLE completed")
}

// cmdID: RFC 2971.
func (c *conn) cmdID(a *imapwire.IDArgs) result {
	if len(a.Params) > 0 {
		var kv []any
		for _, p := range a.Params {
			kv = append(kv, "id."+strings.ToLower(p.Key), p.Value)
		}
		c.log.Info("imap: client id", kv...)
		if !c.takeOrigin(a.Params) {
			return result{close: true}
		}
	}
	c.w.Raw(`* ID ("name" "Quire" "vendor" "Quire" "support-url" "https://github.com/quiremail/quire")` + "\r\n")
	return ok("ID completed")
}

// dirtyWriter sync-flushes the deflate stream only when something was
// written since the last flush: an empty flush still emits bytes, and a
// client (imapflow) may see them before it has switched to decompression.
type dirtyWriter struct {
	fw    *flate.Writer
	dirty bool
}

func (d *dirtyWriter) Write(p []byte) (int, error) {
	d.dirty = d.dirty || len(p) > 0
	return d.fw.Write(p)
}

func (d *dirtyWriter) Flush() error {
	if !d.dirty {
		return nil
	}
	d.dirty = false
	return d.fw.Flush()
}
