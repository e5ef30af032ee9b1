package imapserver

import "github.com/quiremail/quire/internal/imapserver/imapwire"

// searchCapabilities are advertised once SEARCH, SORT and THREAD work.
var searchCapabilities = []string{}

// previewSupported turns on FETCH PREVIEW (RFC 8970).
const previewSupported = false

func (c *conn) cmdSearch(a *imapwire.SearchArgs, byUID bool) result {
	return bad("SEARCH is not available in this build yet")
}

func (c *conn) cmdSort(a *imapwire.SortArgs, byUID bool) result {
	return bad("SORT is not available in this build yet")
}

func (c *conn) cmdThread(a *imapwire.ThreadArgs, byUID bool) result {
	return bad("THREAD is not available in this build yet")
}

func (c *conn) fetchPreview(m *fetchMsg, item func(string)) error { return nil }
