package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestEveryCommandHasHelp: -h and --help of every command in the dispatch
// table print, to stdout, its usage line and exactly the flags its line
// names (--config aside, which all but isc convert take), and mean exit 0
// (issue 15, item 10: quire user quota -h printed nothing). Asking for help
// touches no store: the working directory stays empty, where the default
// configuration would create ./quire-data.
func TestEveryCommandHasHelp(t *testing.T) {
	t.Chdir(t.TempDir())
	flagInArgs := regexp.MustCompile(`--([a-z-]+)`)
	flagLine := regexp.MustCompile(`(?m)^  -([a-z-]+)`)
	for _, cmd := range commands() {
		var want []string
		for _, m := range flagInArgs.FindAllStringSubmatch(cmd.args, -1) {
			if m[1] != "config" && !slices.Contains(want, m[1]) {
				want = append(want, m[1])
			}
		}
		if cmd.name != "isc convert" {
			want = append(want, "config")
		}
		slices.Sort(want)
		for _, h := range []string{"-h", "--help"} {
			args := append(strings.Fields(cmd.name), h)
			var out, errOut bytes.Buffer
			err := run(context.Background(), args, strings.NewReader(""), &out, &errOut)
			if !errors.Is(err, flag.ErrHelp) || errOut.Len() > 0 {
				t.Errorf("quire %s: error %v, stderr %q; want help on stdout and exit 0", strings.Join(args, " "), err, errOut.String())
				continue
			}
			head := "usage: quire " + strings.TrimSpace(cmd.name+" "+cmd.args) + "\n\n" + cmd.summary + "\n"
			if !strings.HasPrefix(out.String(), head) {
				t.Errorf("quire %s printed:\n%s\nwant it to begin with:\n%s", strings.Join(args, " "), out.String(), head)
			}
			var got []string
			for _, m := range flagLine.FindAllStringSubmatch(out.String(), -1) {
				got = append(got, m[1])
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("quire %s lists flags %q; its usage line names %q", strings.Join(args, " "), got, want)
			}
		}
	}
	if ents, _ := os.ReadDir("."); len(ents) > 0 {
		t.Errorf("asking for help created %v in the working directory", ents)
	}
}

// TestFamilyHelp: quire user -h lists the user commands on stdout; quire
// user alone, or with an unknown word, lists them on stderr and fails.
func TestFamilyHelp(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		ok     bool
		errSub string
	}{
		{[]string{"user", "-h"}, true, ""},
		{[]string{"config", "--help"}, true, ""},
		{[]string{"user"}, false, "user: expected a command: add, del, list, passwd, quota or mailhost"},
		{[]string{"isc", "frob"}, false, `isc: unknown command "frob" (expected convert or serve)`},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), tc.args, strings.NewReader(""), &out, &errOut)
		listing, other := out.String(), errOut.String()
		if !tc.ok {
			listing, other = other, listing
		}
		if (err == nil) != tc.ok || (!tc.ok && err.Error() != tc.errSub) {
			t.Errorf("quire %s: error %v, want ok=%v %q", strings.Join(tc.args, " "), err, tc.ok, tc.errSub)
		}
		for _, cmd := range family(tc.args[0]) {
			if !strings.Contains(listing, "quire "+cmd.name+" ") && !strings.Contains(listing, "quire "+cmd.name+"\n") {
				t.Errorf("quire %s does not list %s:\n%s", strings.Join(tc.args, " "), cmd.name, listing)
			}
		}
		if other != "" {
			t.Errorf("quire %s wrote to the other stream: %q", strings.Join(tc.args, " "), other)
		}
	}
}

// TestHelpExitsZero runs the binary: help is on stdout, nothing on stderr,
// exit status 0.
func TestHelpExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildQuire(t)
	cmd := exec.Command(bin, "user", "quota", "-h")
	cmd.Dir = t.TempDir()
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil || errOut.Len() > 0 || !strings.HasPrefix(out.String(), "usage: quire user quota ADDRESS") ||
		!strings.Contains(out.String(), "-storage") {
		t.Fatalf("quire user quota -h: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
}
