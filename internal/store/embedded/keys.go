package embedded

import (
	"encoding/binary"

	"github.com/quiremail/quire/internal/mail"
)

// Key prefixes. IDs are hex and names hold no NUL, so NUL separates fields.
const (
	pUser    = "u\x00" // u/address -> user
	pUIDV    = "v\x00" // v/userID -> next uidvalidity
	pMbox    = "m\x00" // m/userID/name -> mailbox
	pSub     = "s\x00" // s/userID/name -> ""
	pHead    = "h\x00" // h/mailboxID -> head
	pRow     = "r\x00" // r/mailboxID/uid -> row
	pChange  = "c\x00" // c/mailboxID/modseq/uid -> change
	pGone    = "x\x00" // x/mailboxID/uid -> row as expunged (Expunged)
	pBlob    = "b\x00" // b/blobID -> inline body, or a file marker
	pQueue   = "q\x00" // q/group/userID/mailboxID -> marked (unix ns, 8 bytes)
	pUnref   = "g\x00" // g/blobID -> purge state: found unreferenced (unix ms, 8 bytes), condemned (1 byte)
	pDrop    = "d\x00" // d/blobID -> "": a body file whose record is deleted, to remove
	pLogTrim = "l\x00" // l/mailboxID -> change-log trim state: floor, mark MODSEQ, mark time (logtrim.go)
)

func key(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += len(p) + 1
	}
	k := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}

// prefixEnd returns the smallest key greater than every key with prefix p.
func prefixEnd(p []byte) []byte {
	end := append([]byte(nil), p...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

func userKey(addr string) []byte         { return append([]byte(pUser), addr...) }
func uidvKey(userID string) []byte       { return append([]byte(pUIDV), userID...) }
func mboxKey(userID, name string) []byte { return append([]byte(pMbox), key(userID, name)...) }
func mboxPrefix(userID string) []byte    { return append([]byte(pMbox), key(userID, "")...) }
func subKey(userID, name string) []byte  { return append([]byte(pSub), key(userID, name)...) }
func subPrefix(userID string) []byte     { return append([]byte(pSub), key(userID, "")...) }
func headKey(mbID string) []byte         { return append([]byte(pHead), mbID...) }
func rowPrefix(mbID string) []byte       { return append([]byte(pRow), key(mbID, "")...) }
func changePrefix(mbID string) []byte    { return append([]byte(pChange), key(mbID, "")...) }
func blobKey(id string) []byte           { return append([]byte(pBlob), id...) }
func unrefKey(id string) []byte          { return append([]byte(pUnref), id...) }
func dropKey(id string) []byte           { return append([]byte(pDrop), id...) }

func rowKey(mbID string, uid mail.UID) []byte {
	return binary.BigEndian.AppendUint32(rowPrefix(mbID), uint32(uid))
}

func gonePrefix(mbID string) []byte { return append([]byte(pGone), key(mbID, "")...) }

func goneKey(mbID string, uid mail.UID) []byte {
	return binary.BigEndian.AppendUint32(gonePrefix(mbID), uint32(uid))
}

func changeKey(mbID string, m mail.ModSeq, uid mail.UID) []byte {
	k := binary.BigEndian.AppendUint64(changePrefix(mbID), uint64(m))
	return binary.BigEndian.AppendUint32(k, uint32(uid))
}
