package main

import (
	"strings"
	"testing"
)

// TestImportFetchBatchFlags checks that quire import imap refuses fetch
// bounds it cannot use with errors that say what it wants, and that the
// bounds are refused for the sources that fetch nothing. The checks run
// before any store or server is reached.
func TestImportFetchBatchFlags(t *testing.T) {
	imap := []string{"import", "imap", "a@example.org", "--host", "127.0.0.1:1", "--user", "a", "--password-file", "/nonexistent/pw", "--plain"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{append(imap, "--fetch-batch", "0"), "import imap --fetch-batch 0: want at least 1 message per UID FETCH (default 100)"},
		{append(imap, "--fetch-batch", "-3"), "import imap --fetch-batch -3: want at least 1 message per UID FETCH"},
		{append(imap, "--fetch-batch-bytes", "0"), "import imap --fetch-batch-bytes 0: want at least 1 byte"},
		{append(imap, "--fetch-batch-bytes", "12 parsecs"), `import imap --fetch-batch-bytes: bad size unit "parsecs"`},
		{append(imap, "--fetch-batch-bytes", "-1"), `import imap --fetch-batch-bytes: bad size "-1"`},
		{[]string{"import", "mbox", "a@example.org", "/nonexistent/mbox", "--fetch-batch", "10"}, "--fetch-batch(-bytes) are for imap"},
		{[]string{"import", "maildir", "a@example.org", "/nonexistent/dir", "--fetch-batch-bytes", "1MiB"}, "takes no --mailbox and no IMAP flags"},
	} {
		out, err := quire(t, "", tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("quire %s: %v\n%s\nwant an error with %q", strings.Join(tc.args, " "), err, out, tc.want)
		}
	}
}
