package bleveindex

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/quiremail/quire/internal/search"
)

// Shared documents. A delivery to five recipients puts five documents of
// one text in a batch, and bleve builds each on its own: the postings of
// every word, five times. The documents of a batch whose eight fields
// are equal become one instead, a shared document, which holds the text
// once and the "user" and "box" terms of every member (each message it
// stands for). Its ID names them:
//
//	"=" + nonce + "|" + member + "|" + member ...
//
// where a member is a message's own document ID (docID, user/box/uid) and
// the nonce (16 hex digits) makes each shared document's ID its own.
// Whether a member is still held is recorded beside the vocabulary:
//
//	key   "m" + member
//	value the shared document's ID
//
// A member is live in a shared document exactly when its key names that
// document. Expunging a member (Delete), deleting its mailbox or user, or
// putting its message again (a reindex) removes or repoints the key; the
// shared document keeps the member's terms, but no answer shows a member
// that is not live (liveUIDs), so a reindexed message answers for its new
// text only. The shared document itself is deleted once no member is live.
//
// Invariants:
//   - The member keys of a batch are written, synced, before bleve sees
//     the batch (as the words are): a member that bleve shows is live.
//   - A shared document with no live member is deleted in the batch
//     that takes its last member; until bleve has applied that batch, a
//     key "d" + ID records it, and the next batch deletes what such keys
//     name (a crash in between leaves no document that nothing deletes).
//   - IDs of users and mailboxes hold no '|' (they are hex); a message
//     whose document ID has one is never shared.

const (
	sharedMark   = "="
	memberSep    = "|"
	memberPrefix = 'm'
	pendingDel   = 'd'
)

// isShared reports whether a document ID is a shared document's.
func isShared(id string) bool { return strings.HasPrefix(id, sharedMark) }

// sharedID is the ID of a new shared document of members.
func sharedID(members []string) string {
	var nonce [8]byte
	_, _ = rand.Read(nonce[:])
	return sharedMark + hex.EncodeToString(nonce[:]) + memberSep + strings.Join(members, memberSep)
}

// membersOf returns the members a shared document's ID names.
func membersOf(id string) []string {
	parts := strings.Split(strings.TrimPrefix(id, sharedMark), memberSep)
	return parts[1:] // the nonce first
}

// memberBox splits a member into its box (user/mailbox) and UID; ok is
// false for an ID that is not a message's.
func memberBox(m string) (box string, uid uint32, ok bool) {
	i := strings.LastIndexByte(m, '/')
	if i < 0 {
		return "", 0, false
	}
	u, err := strconv.ParseUint(m[i+1:], 10, 32)
	if err != nil || u == 0 || u == noUID {
		return "", 0, false
	}
	return m[:i], uint32(u), true
}

func memberKey(m string) []byte { return append([]byte{memberPrefix}, m...) }

func pendingKey(id string) []byte { return append([]byte{pendingDel}, id...) }

// shareable is the text of a document, the key that groups a batch's
// documents into shared ones.
type shareable struct {
	subject, from, to, cc, bcc, body, attachments, headers string
}

func textOf(d search.Doc) shareable {
	return shareable{d.Subject, d.From, d.To, d.Cc, d.Bcc, d.Body, d.Attachments, d.Headers}
}

// lastVersions returns docs without the documents a later one of the
// same message replaces (a bleve batch applies its last operation on an
// ID; grouping must too).
func lastVersions(docs []search.Doc) []search.Doc {
	last := make(map[string]int, len(docs))
	for i, d := range docs {
		last[docID(d.UserID, d.MailboxID, d.UID)] = i
	}
	if len(last) == len(docs) {
		return docs
	}
	out := make([]search.Doc, 0, len(last))
	for i, d := range docs {
		if last[docID(d.UserID, d.MailboxID, d.UID)] == i {
			out = append(out, d)
		}
	}
	return out
}

// groupDocs returns the documents of a batch in groups of one text, in
// the order first met; a group of one is a document of its own.
func groupDocs(docs []search.Doc) [][]int {
	var groups [][]int
	at := make(map[shareable]int, len(docs))
	for i, d := range docs {
		if strings.Contains(docID(d.UserID, d.MailboxID, d.UID), memberSep) {
			groups = append(groups, []int{i})
			continue
		}
		k := textOf(d)
		if g, ok := at[k]; ok {
			groups[g] = append(groups[g], i)
			continue
		}
		at[k] = len(groups)
		groups = append(groups, []int{i})
	}
	return groups
}

// membership is the bookkeeping of one batch: the members it puts in
// new shared documents (set), the messages it puts alone or deletes
// (unset: a member of an older shared document among them leaves it),
// what their keys held before (had), and the shared documents left with
// no live member (emptied).
type membership struct {
	set     map[string]string // member -> its new shared document
	unset   []string
	had     map[string]string // member -> the shared document its key named
	emptied []string
}

// plan reads the keys of m's members and finds the shared documents
// they leave with no live member.
func (x *Index) plan(m *membership) error {
	m.had = map[string]string{}
	read := func(member string) error {
		id, ok, err := x.memberOf(member)
		if ok {
			m.had[member] = id
		}
		return err
	}
	for member := range m.set {
		if err := read(member); err != nil {
			return err
		}
	}
	for _, member := range m.unset {
		if err := read(member); err != nil {
			return err
		}
	}
	left := map[string]bool{} // shared documents losing a member
	for member, id := range m.had {
		if m.set[member] != id {
			left[id] = true
		}
	}
	for id := range left {
		live := false
		for _, member := range membersOf(id) {
			if to, ok := m.set[member]; ok {
				live = to == id
			} else if _, ok := m.had[member]; ok {
				live = false // it leaves (unset)
			} else {
				now, ok, err := x.memberOf(member)
				if err != nil {
					return err
				}
				live = ok && now == id
			}
			if live {
				break
			}
		}
		if !live {
			m.emptied = append(m.emptied, id)
		}
	}
	return nil
}

// memberOf returns the shared document member's key names, if any.
func (x *Index) memberOf(member string) (string, bool, error) {
	v, closer, err := x.voc.db.Get(memberKey(member))
	if errors.Is(err, pebble.ErrNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("bleve: read a member: %w", err)
	}
	defer closer.Close()
	return string(v), true, nil
}

// membershipBatch returns m's keys in a Pebble batch for the caller to
// commit, synced, before bleve's batch (nil when m changes none): member
// keys set, those of members leaving their shared documents removed, and
// a pending deletion for each shared document m empties.
func (x *Index) membershipBatch(m *membership) (*pebble.Batch, error) {
	if len(m.set) == 0 && len(m.had) == 0 {
		return nil, nil
	}
	b := x.voc.db.NewBatch()
	err := func() error {
		for member := range m.had {
			if _, moved := m.set[member]; !moved {
				if err := b.Delete(memberKey(member), nil); err != nil {
					return err
				}
			}
		}
		for member, id := range m.set {
			if err := b.Set(memberKey(member), []byte(id), nil); err != nil {
				return err
			}
		}
		for _, id := range m.emptied {
			if err := b.Set(pendingKey(id), nil, nil); err != nil {
				return err
			}
		}
		return nil
	}()
	if err != nil {
		_ = b.Close()
		return nil, fmt.Errorf("bleve: write members: %w", err)
	}
	return b, nil
}

// pendingDeletes returns the shared documents earlier batches emptied
// and did not see applied (their "d" keys).
func (x *Index) pendingDeletes() ([]string, error) {
	it, err := x.voc.db.NewIter(&pebble.IterOptions{LowerBound: []byte{pendingDel}, UpperBound: []byte{pendingDel + 1}})
	if err != nil {
		return nil, fmt.Errorf("bleve: read pending deletions: %w", err)
	}
	defer it.Close()
	var ids []string
	for it.First(); it.Valid(); it.Next() {
		ids = append(ids, string(it.Key()[1:]))
	}
	return ids, it.Error()
}

// clearPending removes the "d" keys of shared documents a batch has
// deleted (no sync: a key left behind costs one more deletion).
func (x *Index) clearPending(ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	b := x.voc.db.NewBatch()
	defer b.Close()
	for _, id := range ids {
		if err := b.Delete(pendingKey(id), nil); err != nil {
			return err
		}
	}
	return b.Commit(pebble.NoSync)
}

// liveUIDs returns the UIDs of the members of shared document id that
// are in box and live.
func (x *Index) liveUIDs(id, box string) ([]uint32, error) {
	var out []uint32
	for _, member := range membersOf(id) {
		if b, uid, ok := memberBox(member); ok && b == box {
			now, ok, err := x.memberOf(member)
			if err != nil {
				return nil, err
			}
			if ok && now == id {
				out = append(out, uid)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
