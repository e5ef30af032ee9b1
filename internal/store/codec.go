package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// metaVersion is the first byte of an encoded MessageMeta. A change to the
// layout gets a new version, and DecodeMeta keeps reading the old ones.
const metaVersion = 1

// EncodeMeta returns the storage form of m, shared by every backend.
func EncodeMeta(m MessageMeta) []byte {
	b := make([]byte, 0, 64+len(m.Blob)+len(m.ReturnPath)+len(m.EmailID)+len(m.Structure))
	b = append(b, metaVersion)
	b = appendString(b, string(m.Blob))
	b = binary.AppendVarint(b, m.Size)
	b = binary.AppendVarint(b, m.InternalDate.UnixNano())
	b = binary.AppendVarint(b, m.SaveDate.UnixNano())
	b = appendString(b, m.ReturnPath)
	b = appendString(b, m.EmailID)
	b = appendString(b, string(m.Structure))
	return b
}

// DecodeMeta reverses EncodeMeta. It never panics on bad input.
func DecodeMeta(b []byte) (MessageMeta, error) {
	var m MessageMeta
	if len(b) == 0 || b[0] != metaVersion {
		return m, errors.New("store: message metadata: unknown encoding version")
	}
	d := decoder{b: b[1:]}
	m.Blob = BlobID(d.string())
	m.Size = d.varint()
	m.InternalDate = time.Unix(0, d.varint()).UTC()
	m.SaveDate = time.Unix(0, d.varint()).UTC()
	m.ReturnPath = d.string()
	m.EmailID = d.string()
	if s := d.string(); s != "" {
		m.Structure = []byte(s)
	}
	if d.err != nil {
		return MessageMeta{}, fmt.Errorf("store: message metadata: %w", d.err)
	}
	return m, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errors.New("truncated")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	if d.err != nil {
		return ""
	}
	l, n := binary.Uvarint(d.b)
	if n <= 0 || l > uint64(len(d.b)-n) {
		d.err = errors.New("truncated")
		return ""
	}
	s := string(d.b[n : n+int(l)])
	d.b = d.b[n+int(l):]
	return s
}
