package proxy

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/quiremail/quire/internal/directory"
)

// maxRoutes bounds a RouteCache: at a few hundred bytes an entry, tens
// of megabytes at most.
const maxRoutes = 100_000

// RouteCache is a Directory that remembers the entries it found for TTL,
// for the logins of proxy.login = "user" (proxy.route_cache_ttl): a
// client that reconnects is routed without asking the directory again
// (the access host asks it anyway, when it checks the password). Only
// found users are remembered, so a user just created logs in at once; a
// changed mailHost routes to the old group for at most TTL (whose host
// then refers the client, login.other_group = "refer"). It is safe for
// concurrent use.
type RouteCache struct {
	dir Directory
	ttl time.Duration
	now func() time.Time
	mu  sync.Mutex
	m   map[string]route
}

type route struct {
	e     directory.Entry
	until time.Time
}

// NewRouteCache returns dir with a cache of ttl; ttl <= 0 returns dir.
func NewRouteCache(dir Directory, ttl time.Duration, now func() time.Time) Directory {
	if ttl <= 0 {
		return dir
	}
	if now == nil {
		now = time.Now
	}
	return &RouteCache{dir: dir, ttl: ttl, now: now, m: map[string]route{}}
}

// Lookup returns the entry found for address within TTL, or asks the
// directory.
func (c *RouteCache) Lookup(ctx context.Context, address string) (directory.Entry, error) {
	key := strings.ToLower(address)
	now := c.now()
	c.mu.Lock()
	r, ok := c.m[key]
	c.mu.Unlock()
	if ok && now.Before(r.until) {
		return r.e, nil
	}
	e, err := c.dir.Lookup(ctx, address)
	if err != nil {
		return e, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxRoutes {
		for k, r := range c.m {
			if !now.Before(r.until) {
				delete(c.m, k)
			}
		}
	}
	if len(c.m) < maxRoutes { // full of live entries: this one is not kept
		c.m[key] = route{e: e, until: now.Add(c.ttl)}
	}
	return e, nil
}
