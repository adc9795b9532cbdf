// Package checks holds repository-wide checks that run with `go test ./...`: formatting,
// the dependency direction of DESIGN.md §3 and the dependency list of §10, package doc
// comments, and where unsafe and cgo may appear.
package checks

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/format"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"runsc.dev/test/e2e/testenv"
)

const module = "runsc.dev"

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// goFiles returns the repository's .go files relative to ROOT: the ones git tracks, or,
// outside a git checkout, every .go file outside hidden and build directories.
func goFiles(t *testing.T, root string) []string {
	t.Helper()
	if out, err := exec.Command("git", "-C", root, "ls-files", "-z", "--", "*.go").Output(); err == nil {
		var files []string
		for _, f := range strings.Split(string(out), "\x00") {
			if f != "" {
				if _, err := os.Stat(filepath.Join(root, f)); err == nil { // deleted but not yet committed
					files = append(files, f)
				}
			}
		}
		return files
	}
	var files []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() && p != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") {
			rel, _ := filepath.Rel(root, p)
			files = append(files, rel)
		}
		return nil
	})
	return files
}

// TestGofmt: `gofmt -l` over the tracked .go files is empty (go/format is gofmt's printer).
func TestGofmt(t *testing.T) {
	root := repoRoot(t)
	var bad []string
	for _, f := range goFiles(t, root) {
		src, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Error(err)
			continue
		}
		out, err := format.Source(src)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s (does not parse: %v)", f, err))
		} else if !bytes.Equal(out, src) {
			bad = append(bad, f)
		}
	}
	if len(bad) > 0 {
		t.Errorf("not gofmt-formatted (run gofmt -w):\n  %s", strings.Join(bad, "\n  "))
	}
}

// goPackage is what `go list -json` says of one of our packages.
type goPackage struct {
	ImportPath   string
	Dir          string
	Name         string
	GoFiles      []string
	CgoFiles     []string
	Imports      []string
	TestImports  []string
	XTestImports []string
	Error        *struct{ Err string }
}

func listPackages(t *testing.T, root string) []goPackage {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goBin, "list", "-e", "-json", "./...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	var pkgs []goPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p goPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

// rel is PATH relative to the module ("sentry/kernel"), or "" for the module root.
func rel(path string) string {
	return strings.TrimPrefix(strings.TrimPrefix(path, module), "/")
}

// under reports whether the module-relative PATH is DIR or below it.
func under(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

func underAny(path string, dirs ...string) bool {
	for _, d := range dirs {
		if under(path, d) {
			return true
		}
	}
	return false
}

// isStd reports whether IMPORT is a standard-library package: its first element has no dot.
func isStd(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".") && imp != "C"
}

// DESIGN.md §10: the only modules besides the standard library and ourselves. From
// gvisor.dev/gvisor only these leaf packages (and their subpackages); what they need in
// turn is not checked here, only our packages' direct imports.
var (
	allowedModules = []string{
		"golang.org/x/sys",
		"github.com/opencontainers/runtime-spec",
		"github.com/google/subcommands",
		"github.com/syndtr/gocapability",
	}
	allowedGVisor = []string{
		"pkg/abi/linux", "pkg/marshal", "pkg/hostarch", "pkg/bits", "pkg/tcpip", "pkg/bpf",
		"pkg/seccomp", "pkg/urpc", "pkg/unet", "pkg/fd", "pkg/cleanup",
	}
)

// externalAllowed returns "" if our packages may import IMP (not ours, not std), else why not.
func externalAllowed(imp string) string {
	if underAny(imp, allowedModules...) {
		return ""
	}
	if g, ok := strings.CutPrefix(imp, "gvisor.dev/gvisor/"); ok {
		if underAny(g, allowedGVisor...) {
			return ""
		}
		return "DESIGN.md §10: from gvisor.dev/gvisor only " + strings.Join(allowedGVisor, ", ")
	}
	return "DESIGN.md §10: not an allowed module (" + strings.Join(allowedModules, ", ") + ", parts of gvisor.dev/gvisor)"
}

// arrowRule is one line of DESIGN.md §3's dependency direction: packages under From may
// not import packages under any of Deny, unless the import is under Unless (and, when
// UnlessFrom is set, the importer is under UnlessFrom).
type arrowRule struct {
	From       string
	Deny       []string
	Unless     string
	UnlessFrom string
	Why        string
}

// The dependency direction of DESIGN.md §3 ("Layout and dependency direction"):
//
//	runsc -> boot -> sentry -> platform -> pkg; sentry/fs/gofer -> gofer/proto;
//	gofer -> gofer/proto; everything may use specutils (except sentry and platform) and pkg.
//
// Keep this table and that section in step. test/** is exempt. A top-level directory not
// named here has no rule.
var arrowRules = []arrowRule{
	{From: "sentry", Deny: []string{"runsc", "boot", "specutils", "gofer"}, Unless: "gofer/proto", UnlessFrom: "sentry/fs/gofer",
		Why: "sentry never imports runsc, boot or specutils, and of the gofer only gofer/proto, from sentry/fs/gofer"},
	{From: "sentry", Deny: []string{"platform/"}, // platform/<name>/**; the interface package "platform" is allowed
		Why: "sentry never imports a concrete platform, only the platform interface package"},
	{From: "platform", Deny: []string{"sentry", "boot", "runsc", "gofer", "specutils"},
		Why: "platform never imports sentry, boot, runsc, gofer or specutils (shared types live in pkg/)"},
	{From: "pkg", Deny: []string{""}, Unless: "pkg",
		Why: "pkg/ holds leaf packages: they import only pkg/**"},
	{From: "gofer", Deny: []string{"sentry", "platform", "boot", "runsc"},
		Why: "the gofer never imports sentry, platform, boot or runsc"},
	{From: "boot", Deny: []string{"runsc"},
		Why: "arrows point one way: runsc -> boot"},
	{From: "specutils", Deny: []string{"sentry", "platform", "boot", "runsc", "gofer"},
		Why: "specutils is used by the others and imports none of them"},
}

// arrowViolation returns the rule that forbids FROM importing TO (both module-relative).
func arrowViolation(from, to string) string {
	if under(from, "test") {
		return ""
	}
	for _, r := range arrowRules {
		if !under(from, r.From) {
			continue
		}
		for _, d := range r.Deny {
			denied := false
			switch {
			case d == "":
				denied = true
			case strings.HasSuffix(d, "/"):
				denied = strings.HasPrefix(to, d)
			default:
				denied = under(to, d)
			}
			if !denied {
				continue
			}
			if r.Unless != "" && under(to, r.Unless) && (r.UnlessFrom == "" || under(from, r.UnlessFrom)) {
				continue
			}
			return r.Why
		}
	}
	return ""
}

// TestImportGraph checks every import of our packages against §10's module list and §3's
// arrows. Test files are held to the module list; the arrows apply to the non-test imports.
func TestImportGraph(t *testing.T) {
	root := repoRoot(t)
	var bad []string
	for _, p := range listPackages(t, root) {
		if !under(p.ImportPath, module) {
			continue
		}
		kinds := []struct {
			imports []string
			arrows  bool
			what    string
		}{{p.Imports, true, "imports"}, {p.TestImports, false, "imports in a test"}, {p.XTestImports, false, "imports in a test"}}
		for _, k := range kinds {
			for _, imp := range k.imports {
				switch {
				case isStd(imp):
				case imp == "C":
				case under(imp, module):
					if k.arrows {
						if why := arrowViolation(rel(p.ImportPath), rel(imp)); why != "" {
							bad = append(bad, fmt.Sprintf("%s %s %s: %s", p.ImportPath, k.what, imp, why))
						}
					}
				default:
					if why := externalAllowed(imp); why != "" {
						bad = append(bad, fmt.Sprintf("%s %s %s: %s", p.ImportPath, k.what, imp, why))
					}
				}
			}
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("the import graph breaks DESIGN.md:\n  %s", strings.Join(bad, "\n  "))
	}
}

// TestPackageDocs: every package outside test/ has a doc comment; for a library package it
// starts "Package NAME".
func TestPackageDocs(t *testing.T) {
	root := repoRoot(t)
	var bad []string
	for _, p := range listPackages(t, root) {
		if !under(p.ImportPath, module) || under(rel(p.ImportPath), "test") || p.Name == "" {
			continue
		}
		files := append(append([]string{}, p.GoFiles...), p.CgoFiles...)
		if len(files) == 0 {
			continue // only test files
		}
		found, wrong := false, ""
		for _, f := range files {
			af, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.Dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil || af.Doc == nil || strings.TrimSpace(af.Doc.Text()) == "" {
				continue
			}
			text := af.Doc.Text()
			if p.Name == "main" || strings.HasPrefix(text, "Package "+p.Name+" ") || strings.HasPrefix(text, "Package "+p.Name+"\n") {
				found = true
				break
			}
			wrong = fmt.Sprintf(" (%s has a doc comment that does not start \"Package %s\")", f, p.Name)
		}
		if !found {
			bad = append(bad, p.ImportPath+wrong)
		}
	}
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("packages without a package doc comment (`// Package x ...`, e.g. in doc.go; DESIGN.md §3 wants what it owns and its lock order):\n  %s",
			strings.Join(bad, "\n  "))
	}
}

// TestUnsafeAndCgo: outside test/, only files named *_unsafe.go (or *_unsafe_test.go)
// import "unsafe", and no file imports "C".
func TestUnsafeAndCgo(t *testing.T) {
	root := repoRoot(t)
	var bad []string
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		r, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if r != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "vendor" || r == "test" || r == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		af, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return nil // TestGofmt reports files that do not parse
		}
		for _, imp := range af.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			switch {
			case path == "C":
				bad = append(bad, r+`: imports "C" (no cgo outside test/)`)
			case path == "unsafe" && !strings.HasSuffix(p, "_unsafe.go") && !strings.HasSuffix(p, "_unsafe_test.go"):
				bad = append(bad, r+`: imports "unsafe" but is not named *_unsafe.go`)
			}
		}
		return nil
	})
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Errorf("unsafe/cgo rules:\n  %s", strings.Join(bad, "\n  "))
	}
}
