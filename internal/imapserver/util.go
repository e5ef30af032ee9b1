package imapserver

import (
	"errors"
	"slices"

	"github.com/quiremail/quire/internal/mail"
)

func sortedUnique(uids []mail.UID) []mail.UID {
	slices.Sort(uids)
	return slices.Compact(uids)
}

func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}
