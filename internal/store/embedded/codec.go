package embedded

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/store"
)

var errCorrupt = errors.New("embedded: corrupt record")

func encodeHead(h store.Head) []byte {
	b := make([]byte, 0, 48)
	b = binary.AppendUvarint(b, uint64(h.UIDNext))
	b = binary.AppendUvarint(b, uint64(h.ModSeq))
	for _, v := range []int64{h.Messages, h.Unseen, h.Deleted, h.Size} {
		b = binary.AppendVarint(b, v)
	}
	return b
}

func decodeHead(b []byte) (store.Head, error) {
	var h store.Head
	var u [2]uint64
	for i := range u {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return h, errCorrupt
		}
		u[i], b = v, b[n:]
	}
	var s [4]int64
	for i := range s {
		v, n := binary.Varint(b)
		if n <= 0 {
			return h, errCorrupt
		}
		s[i], b = v, b[n:]
	}
	h.UIDNext, h.ModSeq = mail.UID(u[0]), mail.ModSeq(u[1])
	h.Messages, h.Unseen, h.Deleted, h.Size = s[0], s[1], s[2], s[3]
	return h, nil
}

func appendFlags(b []byte, fs mail.Flags) []byte {
	b = binary.AppendUvarint(b, uint64(len(fs)))
	for _, f := range fs {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

func readFlags(b []byte) (mail.Flags, []byte, error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)) {
		return nil, nil, errCorrupt
	}
	b = b[k:]
	var fs mail.Flags
	for range n {
		l, k := binary.Uvarint(b)
		if k <= 0 || l > uint64(len(b)-k) {
			return nil, nil, errCorrupt
		}
		fs = append(fs, string(b[k:k+int(l)]))
		b = b[k+int(l):]
	}
	return fs, b, nil
}

// A row is modseq, flags, then the encoded meta.
func encodeRow(r store.MessageRow) []byte {
	b := binary.AppendUvarint(nil, uint64(r.ModSeq))
	b = appendFlags(b, r.Flags)
	return append(b, store.EncodeMeta(r.Meta)...)
}

func decodeRow(uid mail.UID, b []byte) (store.MessageRow, error) {
	st, rest, err := decodeStatePrefix(uid, b)
	r := store.MessageRow{UID: uid, ModSeq: st.ModSeq, Flags: st.Flags}
	if err != nil {
		return r, err
	}
	if r.Meta, err = store.DecodeMeta(rest); err != nil {
		return r, fmt.Errorf("embedded: row %d: %w", uid, err)
	}
	return r, nil
}

// decodeState decodes the state that leads a row value.
func decodeState(uid mail.UID, b []byte) (store.MessageState, error) {
	st, _, err := decodeStatePrefix(uid, b)
	return st, err
}

func decodeStatePrefix(uid mail.UID, b []byte) (store.MessageState, []byte, error) {
	st := store.MessageState{UID: uid}
	m, n := binary.Uvarint(b)
	if n <= 0 {
		return st, nil, errCorrupt
	}
	st.ModSeq = mail.ModSeq(m)
	fs, rest, err := readFlags(b[n:])
	st.Flags = fs
	return st, rest, err
}

// A change value is kind then flags; ModSeq and UID are in the key.
func encodeChange(c store.Change) []byte {
	return appendFlags([]byte{byte(c.Kind)}, c.Flags)
}

func decodeChange(b []byte) (store.Change, error) {
	if len(b) < 1 {
		return store.Change{}, errCorrupt
	}
	fs, _, err := readFlags(b[1:])
	return store.Change{Kind: store.ChangeKind(b[0]), Flags: fs}, err
}
