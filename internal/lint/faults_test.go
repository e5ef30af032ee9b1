package lint

import (
	"go/ast"
	"go/build/constraint"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// faultTag is the build tag of the test-only fault switches (see
// internal/store/cassandra/faults_on.go).
const faultTag = "quirefaults"

// TestFaultSwitchesBehindTag keeps the production binary unable to turn
// UID safety (or any other fault switch) on: no file of cmd/ or internal/
// that a build without the quirefaults tag compiles names the switches or
// the environment variable that sets them, and the hooks such a build
// compiles instead (files tagged !quirefaults) are constants: empty
// structs and functions that return literals or nothing, or only run
// what they are given (a hook around a statement: return run()).
func TestFaultSwitchesBehindTag(t *testing.T) {
	top := root(t)
	switches := []string{"Faults", "SetFaults", "UncheckedUIDs", "Inject", "InjectedFault"}
	fset := token.NewFileSet()
	for _, dir := range []string{"cmd", "internal"} {
		err := filepath.WalkDir(filepath.Join(top, dir), func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
			if err != nil {
				return err
			}
			expr := buildConstraint(f)
			if !inProduction(expr) {
				return nil
			}
			ast.Inspect(f, func(n ast.Node) bool {
				switch x := n.(type) {
				case *ast.Ident:
					if slices.Contains(switches, x.Name) {
						t.Errorf("%s: names the fault switch %s outside a //go:build %s file", fset.Position(x.Pos()), x.Name, faultTag)
					}
				case *ast.BasicLit:
					if s, _ := strconv.Unquote(x.Value); strings.Contains(s, "QUIRE_TEST_BREAK") {
						t.Errorf("%s: a production build reads %s", fset.Position(x.Pos()), s)
					}
				}
				return true
			})
			if expr != nil && expr.String() == "!"+faultTag {
				constantHooks(t, fset, f)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func buildConstraint(f *ast.File) constraint.Expr {
	for _, cg := range f.Comments {
		if cg.Pos() > f.Package {
			break
		}
		for _, c := range cg.List {
			if constraint.IsGoBuild(c.Text) {
				if e, err := constraint.Parse(c.Text); err == nil {
					return e
				}
			}
		}
	}
	return nil
}

// inProduction reports whether a build without the fault tag may compile
// a file with constraint e, whatever the other tags.
func inProduction(e constraint.Expr) bool {
	if e == nil {
		return true
	}
	return e.Eval(func(tag string) bool { return tag != faultTag }) || e.Eval(func(string) bool { return false })
}

// constantHooks fails unless every type f declares is an empty struct and
// every function body is empty or returns only literals, nil, true or
// false, or the result of calling one of its parameters with no arguments
// (the statement a hook wraps, run unchanged).
func constantHooks(t *testing.T, fset *token.FileSet, f *ast.File) {
	t.Helper()
	constant := func(e ast.Expr) bool {
		switch x := e.(type) {
		case *ast.BasicLit:
			return true
		case *ast.Ident:
			return x.Name == "nil" || x.Name == "true" || x.Name == "false"
		}
		return false
	}
	for _, decl := range f.Decls {
		switch d := decl.(type) {
		case *ast.FuncDecl:
			if d.Body == nil || len(d.Body.List) == 0 {
				continue
			}
			ret, ok := d.Body.List[0].(*ast.ReturnStmt)
			if ok && len(d.Body.List) == 1 && !slices.ContainsFunc(ret.Results, func(e ast.Expr) bool { return !constant(e) }) {
				continue
			}
			if ok && len(d.Body.List) == 1 && len(ret.Results) == 1 && callsParam(d, ret.Results[0]) {
				continue
			}
			t.Errorf("%s: %s in a //go:build !%s file must return constants, so that the production build has no fault switch",
				fset.Position(d.Pos()), d.Name.Name, faultTag)
		case *ast.GenDecl:
			for _, s := range d.Specs {
				ts, ok := s.(*ast.TypeSpec)
				if !ok {
					continue
				}
				if st, ok := ts.Type.(*ast.StructType); !ok || len(st.Fields.List) > 0 {
					t.Errorf("%s: type %s in a //go:build !%s file must be an empty struct", fset.Position(ts.Pos()), ts.Name.Name, faultTag)
				}
			}
		}
	}
}

// callsParam reports whether e calls one of fn's parameters with no
// arguments.
func callsParam(fn *ast.FuncDecl, e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok || len(call.Args) > 0 {
		return false
	}
	id, ok := call.Fun.(*ast.Ident)
	if !ok {
		return false
	}
	for _, p := range fn.Type.Params.List {
		for _, n := range p.Names {
			if n.Name == id.Name {
				return true
			}
		}
	}
	return false
}
