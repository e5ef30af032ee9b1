package mail

// Event tells subscribers (IDLE sessions, the notifier) that a mailbox changed.
// It carries no state: a subscriber re-reads the mailbox's changes since the
// mod-sequence it last saw, so a lost or repeated event only delays.
type Event struct {
	UserID    string
	MailboxID string
	ModSeq    ModSeq // the mailbox's highest mod-sequence after the change
	// MailHost is the user's mailHost, which routes the event to the hosts
	// of the user's store affinity group; "" means this host's group.
	MailHost string
}
