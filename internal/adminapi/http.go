package adminapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/quiremail/quire/internal/backup"
	"github.com/quiremail/quire/internal/mail"
)

// request is the body of every admin call; the path names the operation.
type request struct {
	Address      string `json:"address,omitempty"`
	PasswordHash string `json:"password_hash,omitempty"`
	Storage      int64  `json:"storage"`
	Messages     int64  `json:"messages"`
	MailHost     string `json:"mailhost,omitempty"`
	Dir          string `json:"dir,omitempty"`
	UIDOffset    uint32 `json:"uid_offset,omitempty"`
	// Import carries an import's source and options (its Progress stays
	// behind: a server's import reports at its end).
	Import *backup.ImportOptions `json:"import,omitempty"`
}

type reply struct {
	Error     string         `json:"error,omitempty"`
	Kind      string         `json:"kind,omitempty"`
	User      *UserInfo      `json:"user,omitempty"`
	Users     []UserInfo     `json:"users,omitempty"`
	Mailboxes []MailboxInfo  `json:"mailboxes,omitempty"`
	Backup    *backup.Report `json:"backup,omitempty"`
}

// sentinels that keep their identity across HTTP, by name.
func sentinels() map[string]error {
	return map[string]error{
		"no_such_user": mail.ErrNoSuchUser, "user_exists": mail.ErrUserExists,
		"unavailable": mail.ErrUnavailable, "over_quota": mail.ErrOverQuota,
	}
}

// Authorized reports whether r carries the admin token (Authorization:
// Bearer); an empty token authorizes nobody.
func Authorized(r *http.Request, token string) bool {
	auth := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	return token != "" && subtle.ConstantTimeCompare([]byte(auth), []byte(token)) == 1
}

// RequireToken serves h to requests that carry token (Authorized) and
// answers 401 to the others. Everything on the http.listen address that is
// not a health probe goes through it: the admin API, reindexing, the
// statistics and the profiler.
func RequireToken(token string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Authorized(r, token) {
			// RFC 6750 section 3: a 401 names the scheme it wants.
			w.Header().Set("WWW-Authenticate", `Bearer realm="quire"`)
			http.Error(w, `{"error":"adminapi: bad or missing admin token (send Authorization: Bearer TOKEN; see http.admin_token_file)"}`, http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// Handler serves a over HTTP under /admin/, for callers with token.
func Handler(a Admin, token string) http.Handler {
	mux := http.NewServeMux()
	op := func(name string, fn func(context.Context, request) (reply, error)) {
		mux.Handle("POST /admin/"+name, RequireToken(token, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var req request
			if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
				http.Error(w, `{"error":"adminapi: malformed request"}`, http.StatusBadRequest)
				return
			}
			rep, err := fn(r.Context(), req)
			w.Header().Set("Content-Type", "application/json")
			if err != nil {
				rep = reply{Error: err.Error()}
				for k, s := range sentinels() {
					if errors.Is(err, s) {
						rep.Kind = k
					}
				}
				w.WriteHeader(http.StatusConflict)
			}
			_ = json.NewEncoder(w).Encode(rep)
		})))
	}
	op("user/add", func(ctx context.Context, q request) (reply, error) {
		u, err := a.AddUser(ctx, q.Address, q.PasswordHash)
		return reply{User: &u}, err
	})
	op("user/del", func(ctx context.Context, q request) (reply, error) { return reply{}, a.DeleteUser(ctx, q.Address) })
	op("user/list", func(ctx context.Context, _ request) (reply, error) {
		us, err := a.ListUsers(ctx)
		return reply{Users: us}, err
	})
	op("user/passwd", func(ctx context.Context, q request) (reply, error) {
		return reply{}, a.SetPassword(ctx, q.Address, q.PasswordHash)
	})
	op("user/quota", func(ctx context.Context, q request) (reply, error) {
		return reply{}, a.SetQuota(ctx, q.Address, q.Storage, q.Messages)
	})
	op("user/mailhost", func(ctx context.Context, q request) (reply, error) {
		return reply{}, a.SetMailHost(ctx, q.Address, q.MailHost)
	})
	op("mailbox/list", func(ctx context.Context, q request) (reply, error) {
		mbs, err := a.Mailboxes(ctx, q.Address)
		return reply{Mailboxes: mbs}, err
	})
	op("export", func(ctx context.Context, q request) (reply, error) {
		if !filepath.IsAbs(q.Dir) {
			return reply{}, fmt.Errorf("adminapi: export: directory %q is not an absolute path", q.Dir)
		}
		rep, err := a.Export(ctx, q.Address, q.Dir)
		return reply{Backup: &rep}, err
	})
	op("import", func(ctx context.Context, q request) (reply, error) {
		opt := backup.ImportOptions{PasswordHash: q.PasswordHash}
		if q.Import != nil {
			opt = *q.Import
		}
		// Paths name files on the server's host: relative ones would be
		// relative to its working directory.
		if opt.Source == "imap" {
			if !filepath.IsAbs(opt.IMAP.PasswordFile) {
				return reply{}, fmt.Errorf("adminapi: import: password file %q is not an absolute path", opt.IMAP.PasswordFile)
			}
			if opt.IMAP.CAFile != "" && !filepath.IsAbs(opt.IMAP.CAFile) {
				return reply{}, fmt.Errorf("adminapi: import: CA file %q is not an absolute path", opt.IMAP.CAFile)
			}
		} else if !filepath.IsAbs(q.Dir) {
			return reply{}, fmt.Errorf("adminapi: import: path %q is not an absolute path", q.Dir)
		}
		rep, err := a.Import(ctx, q.Address, q.Dir, opt)
		return reply{Backup: &rep}, err
	})
	op("restore", func(ctx context.Context, q request) (reply, error) {
		if !filepath.IsAbs(q.Dir) {
			return reply{}, fmt.Errorf("adminapi: restore: directory %q is not an absolute path", q.Dir)
		}
		rep, err := a.Restore(ctx, q.Address, q.Dir, backup.Options{UIDOffset: q.UIDOffset})
		return reply{Backup: &rep}, err
	})
	return mux
}

// Remote returns an Admin that calls a server's Handler at base
// (http://host:port).
func Remote(base, token string) Admin {
	return remote{base: strings.TrimSuffix(base, "/"), token: token, c: &http.Client{Timeout: 30 * time.Second}, long: &http.Client{}}
}

type remote struct {
	base, token string
	c           *http.Client
	// long serves export and restore, which take as long as the mail
	// they copy: the caller's ctx bounds them.
	long *http.Client
}

func (r remote) call(ctx context.Context, name string, q request) (reply, error) {
	return r.callWith(ctx, r.c, name, q)
}

func (r remote) callWith(ctx context.Context, c *http.Client, name string, q request) (reply, error) {
	body, _ := json.Marshal(q)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+"/admin/"+name, bytes.NewReader(body))
	if err != nil {
		return reply{}, err
	}
	req.Header.Set("Authorization", "Bearer "+r.token)
	resp, err := c.Do(req)
	if err != nil {
		return reply{}, fmt.Errorf("adminapi: cannot reach the server at %s: %w", r.base, err)
	}
	defer resp.Body.Close()
	var rep reply
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&rep); err != nil {
		return reply{}, fmt.Errorf("adminapi: %s answered %s", r.base, resp.Status)
	}
	if rep.Error != "" {
		if s, ok := sentinels()[rep.Kind]; ok {
			return rep, fmt.Errorf("%w (%s)", s, rep.Error)
		}
		return rep, errors.New(rep.Error)
	}
	return rep, nil
}

func (r remote) AddUser(ctx context.Context, address, hash string) (UserInfo, error) {
	rep, err := r.call(ctx, "user/add", request{Address: address, PasswordHash: hash})
	if rep.User == nil {
		return UserInfo{}, err
	}
	return *rep.User, err
}

func (r remote) DeleteUser(ctx context.Context, address string) error {
	_, err := r.call(ctx, "user/del", request{Address: address})
	return err
}

func (r remote) ListUsers(ctx context.Context) ([]UserInfo, error) {
	rep, err := r.call(ctx, "user/list", request{})
	return rep.Users, err
}

func (r remote) SetPassword(ctx context.Context, address, hash string) error {
	_, err := r.call(ctx, "user/passwd", request{Address: address, PasswordHash: hash})
	return err
}

func (r remote) SetQuota(ctx context.Context, address string, storage, messages int64) error {
	_, err := r.call(ctx, "user/quota", request{Address: address, Storage: storage, Messages: messages})
	return err
}

func (r remote) SetMailHost(ctx context.Context, address, mailHost string) error {
	_, err := r.call(ctx, "user/mailhost", request{Address: address, MailHost: mailHost})
	return err
}

func (r remote) Mailboxes(ctx context.Context, address string) ([]MailboxInfo, error) {
	rep, err := r.call(ctx, "mailbox/list", request{Address: address})
	return rep.Mailboxes, err
}

func (r remote) Export(ctx context.Context, address, dir string) (backup.Report, error) {
	rep, err := r.callWith(ctx, r.long, "export", request{Address: address, Dir: dir})
	if rep.Backup == nil {
		return backup.Report{}, err
	}
	return *rep.Backup, err
}

func (r remote) Restore(ctx context.Context, address, dir string, opt backup.Options) (backup.Report, error) {
	rep, err := r.callWith(ctx, r.long, "restore", request{Address: address, Dir: dir, UIDOffset: opt.UIDOffset})
	if rep.Backup == nil {
		return backup.Report{}, err
	}
	return *rep.Backup, err
}

func (r remote) Import(ctx context.Context, address, dir string, opt backup.ImportOptions) (backup.Report, error) {
	opt.Progress = nil
	rep, err := r.callWith(ctx, r.long, "import", request{Address: address, Dir: dir, PasswordHash: opt.PasswordHash, Import: &opt})
	if rep.Backup == nil {
		return backup.Report{}, err
	}
	return *rep.Backup, err
}
