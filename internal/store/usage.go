package store

import (
	"context"
	"sync"
	"time"
)

// usageTTL bounds how long a user's cached usage goes without a full
// reading of its mailboxes' heads. Commits made through this Store are
// counted at once; the TTL only bounds what another Store over the same
// backend (another Cassandra host) committed meanwhile.
const usageTTL = time.Minute

// usageCacheUsers bounds the users whose usage is cached; past it the
// cache forgets an arbitrary user, whose next delivery reads its heads.
const usageCacheUsers = 65536

// usageCache keeps, per user, the newest head this Store knows of each of
// the user's mailboxes and their sum, so that the quota check at delivery
// costs no backend read however many mailboxes the user has (issue 16).
//
// Invariant: each mailbox's entry is a head the backend held at some time
// (read by Head or committed by a compare-and-set Commit), and the entry
// only moves to a head of higher MODSEQ. Heads only move forward, so the
// newest head seen is exact as of the last commit this Store made or saw,
// and the sum never drifts: a commit whose outcome was unknown is not
// counted, and the next head read or commit of that mailbox replaces the
// entry whole.
type usageCache struct {
	mu    sync.Mutex
	users map[string]*userUsage // user ID
	gen   uint64                // counts committed heads recorded
	// filling counts the readings of a user's heads under way. Commits
	// of users neither cached nor being read are not recorded: the cache
	// holds only users whose quota was checked.
	filling map[string]int
}

type userUsage struct {
	read  time.Time            // when every head was last read
	heads map[string]usageHead // mailbox ID -> newest head known
	sum   Usage                // over heads
}

// usageHead is a mailbox's head and the cache generation that recorded it.
type usageHead struct {
	Head
	gen uint64
}

// begin starts a reading of the user's heads and returns the generation
// it starts from: the reading knows of every commit recorded up to it.
// Until fill ends the reading, commits to the user's mailboxes are
// recorded even if the user has no entry yet.
func (c *usageCache) begin(userID string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.filling == nil {
		c.filling = map[string]int{}
	}
	c.filling[userID]++
	return c.gen
}

// end ends a reading begin started, whether or not it filled.
func (c *usageCache) end(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.filling[userID]--; c.filling[userID] <= 0 {
		delete(c.filling, userID)
	}
}

// usage returns the user's usage from the cache, and false if it is
// missing or older than usageTTL at now.
func (c *usageCache) usage(userID string, now time.Time) (Usage, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	uu := c.users[userID]
	if uu == nil || now.Sub(uu.read) >= usageTTL {
		return Usage{}, false
	}
	return uu.sum, true
}

// cached returns the user's cached usage, as usage does, with the
// generation of the cache: a check compares it with a recount only if no
// commit was recorded during the recount.
func (c *usageCache) cached(userID string, now time.Time) (Usage, uint64, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	uu := c.users[userID]
	if uu == nil || now.Sub(uu.read) >= usageTTL {
		return Usage{}, c.gen, false
	}
	return uu.sum, c.gen, true
}

// entry returns the user's entry, creating an expired one (which usage
// does not serve and fill merges) if there is none. c.mu is held.
func (c *usageCache) entry(userID string) *userUsage {
	if c.users == nil {
		c.users = map[string]*userUsage{}
	}
	uu := c.users[userID]
	if uu == nil {
		if len(c.users) >= usageCacheUsers {
			for id := range c.users {
				delete(c.users, id)
				break
			}
		}
		uu = &userUsage{heads: map[string]usageHead{}}
		c.users[userID] = uu
	}
	return uu
}

// fill replaces the user's mailbox set with heads (all of the user's
// mailboxes, read from generation gen on, at time read), keeping for each
// mailbox the newer of the head read and a head committed meanwhile, and
// keeping a mailbox the reading missed if a commit to it was recorded
// after the reading began (a mailbox created meanwhile).
func (c *usageCache) fill(userID string, heads map[string]Head, gen uint64, read time.Time) Usage {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.entry(userID)
	uu := &userUsage{read: read, heads: make(map[string]usageHead, len(heads))}
	for id, h := range heads {
		uu.heads[id] = usageHead{Head: h}
	}
	for id, o := range old.heads {
		if n, ok := uu.heads[id]; ok && o.ModSeq > n.ModSeq || !ok && o.gen > gen {
			uu.heads[id] = o
		}
	}
	for _, h := range uu.heads {
		uu.sum.Storage += h.Size
		uu.sum.Messages += h.Messages
	}
	c.users[userID] = uu
	return uu.sum
}

// committed records a head a Commit of the user's mailbox installed.
func (c *usageCache) committed(userID, mailboxID string, h Head) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.users[userID] == nil && c.filling[userID] == 0 {
		return // the user's next check reads every head
	}
	uu := c.entry(userID)
	o, ok := uu.heads[mailboxID]
	if ok && o.ModSeq >= h.ModSeq {
		return
	}
	c.gen++
	uu.heads[mailboxID] = usageHead{Head: h, gen: c.gen}
	uu.sum.Storage += h.Size - o.Size
	uu.sum.Messages += h.Messages - o.Messages
}

// dropMailbox forgets a deleted mailbox.
func (c *usageCache) dropMailbox(userID, mailboxID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	uu := c.users[userID]
	if uu == nil {
		return
	}
	if o, ok := uu.heads[mailboxID]; ok {
		delete(uu.heads, mailboxID)
		uu.sum.Storage -= o.Size
		uu.sum.Messages -= o.Messages
	}
}

// dropUser forgets a user.
func (c *usageCache) dropUser(userID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.users, userID)
}

// readUsage reads the head of each of the user's mailboxes, refreshes the
// cache with them and returns their sum: exact as of the reading.
func (s *Store) readUsage(ctx context.Context, u User) (Usage, error) {
	read, gen := s.opts.Now(), s.usage.begin(u.ID)
	defer s.usage.end(u.ID)
	mbs, err := s.b.ListMailboxes(ctx, u.ID)
	if err != nil {
		return Usage{}, err
	}
	heads := make(map[string]Head, len(mbs))
	for _, mb := range mbs {
		h, err := s.b.Head(ctx, mb.ID)
		if err != nil {
			return Usage{}, err
		}
		heads[mb.ID] = h
	}
	return s.usage.fill(u.ID, heads, gen, read), nil
}

// quotaUsage is the usage the quota check holds a delivery against: the
// cached sum, or a fresh reading once it is older than usageTTL.
func (s *Store) quotaUsage(ctx context.Context, u User) (Usage, error) {
	if us, ok := s.usage.usage(u.ID, s.opts.Now()); ok {
		return us, nil
	}
	return s.readUsage(ctx, u)
}
