// Package lint holds tests that keep the code base's shape: dependencies
// point one way (DESIGN.md section 7) and there are no init functions.
package lint

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/quiremail/quire/"

// allowed lists, for each package under internal/, the project packages its
// non-test files may import. A package missing here fails the test, so a new
// package must be placed in the graph on purpose.
func allowedImports() map[string][]string {
	return map[string][]string{
		"internal/mail":                {},
		"internal/message":             {"internal/mail"},
		"internal/config":              {},
		"internal/fifocache":           {},
		"internal/directory":           {"internal/mail"},
		"internal/store":               {"internal/mail", "internal/message", "internal/supervise", "internal/fifocache"},
		"internal/store/embedded":      {"internal/store", "internal/mail", "internal/supervise"},
		"internal/store/cassandra":     {"internal/store", "internal/mail", "internal/supervise"},
		"internal/store/storetest":     {"internal/store", "internal/mail", "internal/message"},
		"internal/lmtpserver":          {"internal/store", "internal/mail", "internal/message", "internal/netserve", "internal/lmtpserver/lmtpwire"},
		"internal/lmtpserver/lmtpwire": {},
		"internal/proxy":               {"internal/directory", "internal/login", "internal/mail", "internal/store", "internal/netserve", "internal/imapserver/imapwire", "internal/lmtpserver/lmtpwire"},
		"internal/adminapi":            {"internal/store", "internal/mail", "internal/directory", "internal/backup"},
		"internal/lint":                {},
		"internal/imapserver/imapwire": {"internal/mail", "internal/message"},
		"internal/store/backendtest":   {"internal/store", "internal/store/embedded", "internal/store/cassandra", "internal/testkit"},
		"internal/pop3server":          {"internal/store", "internal/mail", "internal/login", "internal/netserve"},
		"internal/netserve":            {},
		"internal/sdnotify":            {},
		"internal/testkit":             {},
		"internal/notify":              {"internal/mail", "internal/supervise"},
		"internal/imapserver":          {"internal/store", "internal/mail", "internal/message", "internal/login", "internal/notify", "internal/netserve", "internal/imapserver/imapwire", "internal/imapserver/imapsearch", "internal/convert", "internal/search", "internal/fifocache"},
		"internal/convert":             {"internal/message", "internal/supervise"},
		"internal/search":              {},
		"internal/search/opensearch":   {"internal/search"},
		"internal/search/bleve":        {"internal/search", "internal/fifocache"},
		"internal/indexer":             {"internal/convert", "internal/search", "internal/message", "internal/store", "internal/mail", "internal/supervise"},
		"internal/supervise":           {},
		"internal/search/searchtest":   {"internal/search"},
		"internal/login":               {"internal/store", "internal/mail", "internal/directory", "internal/directory/storedir"},
		"internal/directory/storedir":  {"internal/directory", "internal/store"},
		"internal/directory/ldapdir":   {"internal/directory", "internal/mail", "internal/store"},
		"internal/account":             {"internal/directory", "internal/mail", "internal/store"},
		"internal/metrics":             {"internal/convert", "internal/indexer", "internal/login", "internal/netserve", "internal/notify"},
		"internal/statuspage":          {"internal/convert", "internal/indexer", "internal/netserve", "internal/notify", "internal/store"},
		"internal/maildir":             {"internal/imapserver/imapwire", "internal/mail"},
		"internal/backup":              {"internal/store", "internal/mail", "internal/maildir", "internal/mbox", "internal/imapclient", "internal/imapserver/imapwire"},
		"internal/mbox":                {"internal/mail"},
		"internal/imapclient":          {"internal/imapserver/imapwire"},

		"internal/imapserver/imapsearch": {"internal/mail", "internal/message", "internal/imapserver/imapwire", "internal/convert"},

		"internal/store/cassandra/securetest": {"internal/testkit"}, // the secured test nodes, for tests
		"internal/search/opensearch/ostest":   {"internal/testkit"}, // the test node, for tests
	}
}

func root(t *testing.T) string {
	dir, _ := os.Getwd()
	return filepath.Clean(filepath.Join(dir, "..", ".."))
}

func TestImportDirection(t *testing.T) {
	top := root(t)
	fset := token.NewFileSet()
	err := filepath.WalkDir(filepath.Join(top, "internal"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		rel, _ := filepath.Rel(top, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		if strings.Contains(rel, "/testdata") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		test := strings.HasSuffix(path, "_test.go")
		allow, known := allowedImports()[rel]
		if !known {
			t.Errorf("%s: package %s is not placed in the dependency graph in internal/lint", path, rel)
			return nil
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "github.com/prometheus/") && rel != "internal/metrics" && !test {
				// Consumers define observer interfaces; internal/metrics
				// implements them (docs/ARCHITECTURE.md, "Metrics").
				t.Errorf("%s: only internal/metrics may import %s", path, p)
			}
			if !strings.HasPrefix(p, module) {
				continue
			}
			dep := strings.TrimPrefix(p, module)
			if test {
				// Tests may reach further down (backends, storetest), never up
				// into cmd.
				if strings.HasPrefix(dep, "cmd/") {
					t.Errorf("%s imports %s", path, dep)
				}
				continue
			}
			if !slices.Contains(allow, dep) {
				t.Errorf("%s: %s may not import %s (allowed: %v)", path, rel, dep, allow)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestNoInitFunctions(t *testing.T) {
	top := root(t)
	fset := token.NewFileSet()
	_ = filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err != nil || (d.IsDir() && (d.Name() == ".cache" || d.Name() == "node_modules" || d.Name() == ".git")) {
			if d != nil && d.IsDir() && err == nil {
				return filepath.SkipDir
			}
			return err
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		for _, decl := range f.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil && fn.Name.Name == "init" {
				t.Errorf("%s: init functions hide order and global state; wire explicitly", path)
			}
		}
		return nil
	})
}

// TestBenchmarksAreBlackBox keeps the benchmarks honest: they drive Quire
// over its protocols and its binary, like any client, so from this module
// they may import only their shared kit.
func TestBenchmarksAreBlackBox(t *testing.T) {
	top := root(t)
	fset := token.NewFileSet()
	err := filepath.WalkDir(filepath.Join(top, "bench"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, module) && p != module+"bench/internal/benchkit" {
				t.Errorf("%s imports %s; benchmarks may import only bench/internal/benchkit from this module", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestNoConflictMarkers: no file of the repository holds a merge's
// conflict markers (one stayed in docs/ARCHITECTURE.md for a day).
func TestNoConflictMarkers(t *testing.T) {
	top := root(t)
	err := filepath.WalkDir(top, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == ".git" || name == ".cache" || name == "node_modules" || name == "bin" || name == "out" || name == "fuzz" {
				return filepath.SkipDir
			}
			return nil
		}
		switch filepath.Ext(name) {
		case ".go", ".md", ".toml", ".sh", ".service", ".json", ".yml", ".yaml", ".txt", ".py":
		default:
			if name != "Makefile" {
				return nil
			}
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for i, line := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(line, "<<<<<<< ") || strings.HasPrefix(line, ">>>>>>> ") {
				rel, _ := filepath.Rel(top, path)
				t.Errorf("%s:%d: a merge conflict marker: %q", rel, i+1, line)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
