package imapwire

// AuthenticateArgs: AUTHENTICATE (RFC 9051 6.2.2) with an optional SASL-IR
// initial response (RFC 4959): InitialResponse is the base64 text as sent,
// "=" meaning an empty response.
type AuthenticateArgs struct {
	Mechanism          string // upper-cased
	InitialResponse    string
	HasInitialResponse bool
}

// LoginArgs: LOGIN (RFC 9051 6.2.3).
type LoginArgs struct{ Username, Password string }

// EnableArgs: ENABLE (RFC 5161); capability names are upper-cased.
type EnableArgs struct{ Capabilities []string }

// SelectArgs: SELECT and EXAMINE (RFC 9051 6.3.2), with the CONDSTORE and
// QRESYNC parameters of RFC 7162 3.1.8 and 3.2.5.
type SelectArgs struct {
	Mailbox   string
	CondStore bool
	QResync   *QResyncParams
}

// QResyncParams are SELECT's QRESYNC parameters (RFC 7162 3.2.5).
type QResyncParams struct {
	UIDValidity uint32
	ModSeq      uint64
	KnownUIDs   *SeqSet // nil if absent
	// SeqMatch and UIDMatch are the sequence match data, both nil if absent.
	SeqMatch, UIDMatch *SeqSet
}

// CreateArgs: CREATE (RFC 9051 6.3.4) with USE (RFC 6154 3).
type CreateArgs struct {
	Mailbox    string
	SpecialUse []string
}

// MailboxArgs is the single mailbox of DELETE, SUBSCRIBE, UNSUBSCRIBE and
// GETQUOTAROOT.
type MailboxArgs struct{ Mailbox string }

// RenameArgs: RENAME (RFC 9051 6.3.6).
type RenameArgs struct{ From, To string }

// ListArgs: LIST (RFC 9051 6.3.9, LIST-EXTENDED RFC 5258, LIST-STATUS RFC
// 5819) and LSUB (RFC 3501 6.3.9, one pattern). Option names are
// upper-cased; ReturnStatus is nil unless RETURN (STATUS (...)) was given.
type ListArgs struct {
	Reference    string
	Patterns     []string
	Select       []string
	Return       []string
	ReturnStatus []string
}

// StatusArgs: STATUS (RFC 9051 6.3.11); items are upper-cased.
type StatusArgs struct {
	Mailbox string
	Items   []string
}

// CopyArgs: COPY (RFC 9051 6.4.7) and MOVE (RFC 6851).
type CopyArgs struct {
	Set     SeqSet
	Mailbox string
}

// UIDExpungeArgs: UID EXPUNGE (RFC 9051 6.4.9).
type UIDExpungeArgs struct{ Set SeqSet }

// QuotaRootArgs: GETQUOTA (RFC 9208 4.2).
type QuotaRootArgs struct{ Root string }

// SetQuotaArgs: SETQUOTA (RFC 9208 4.3); resource names are upper-cased.
type SetQuotaArgs struct {
	Root   string
	Limits []QuotaLimit
}

// QuotaLimit is one resource limit of SETQUOTA.
type QuotaLimit struct {
	Resource string
	Limit    uint64
}

// CompressArgs: COMPRESS (RFC 4978); the mechanism is upper-cased.
type CompressArgs struct{ Mechanism string }

// IDArgs: ID (RFC 2971). Params is nil for "ID NIL".
type IDArgs struct{ Params []IDParam }

// IDParam is one field of ID; HasValue is false for NIL.
type IDParam struct {
	Key, Value string
	HasValue   bool
}
