package imapserver

import (
	"io"
	"time"

	"github.com/quiremail/quire/internal/mail"
	"github.com/quiremail/quire/internal/message"
	"github.com/quiremail/quire/internal/search"
	"github.com/quiremail/quire/internal/store"
)

// candidate is one message of the view as the search package sees it:
// metadata from the row, structure and body opened lazily.
type candidate struct {
	seq    uint32
	recent bool
	m      *fetchMsg
	// The phrase filter, once read (pairs.go).
	pairs    search.Pairs
	hasPairs bool
}

func (x *candidate) row() store.MessageRow      { return x.m.row }
func (x *candidate) Seq() uint32                { return x.seq }
func (x *candidate) UID() mail.UID              { return x.m.row.UID }
func (x *candidate) Flags() mail.Flags          { return x.m.row.Flags }
func (x *candidate) ModSeq() mail.ModSeq        { return x.m.row.ModSeq }
func (x *candidate) InternalDate() time.Time    { return x.m.row.Meta.InternalDate }
func (x *candidate) SaveDate() time.Time        { return x.m.row.Meta.SaveDate }
func (x *candidate) Size() int64                { return x.m.row.Meta.Size }
func (x *candidate) Recent() bool               { return x.recent }
func (x *candidate) EmailID() string            { return x.m.row.Meta.EmailID }
func (x *candidate) ThreadID() string           { return "" } // FETCH THREADID is NIL
func (x *candidate) Structure() *message.Part   { return x.m.structure() }
func (x *candidate) Body() (io.ReaderAt, error) { return x.m.body() }
