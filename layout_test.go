package main

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestImportGraph defends the shape of the house (style.md, section 1):
// the domain imports the standard library (and errgroup) only, adapters
// import the domain and never one another, and the simulator shares no
// code with the client it fakes. A package may import the standard library
// and what its line allows, nothing else: each line says what the package
// owns and what it must never import.
func TestImportGraph(t *testing.T) {
	const mod = "github.com/unico-reconcile/unico-reconcile/"
	allowed := map[string][]string{
		// One run and the history's operations: which run to resume or re-check, the run's wiring,
		// sealing, repair, report rewriting, period, verify, merge, check; never the command line (urfave/cli).
		"job": {mod + "reconcile", mod + "store", mod + "fetch", mod + "state", mod + "reports", mod + "metrics", mod + "dedup", "github.com/schollz/progressbar/v3"},
		// The domain (Local, Remote, Kind, Compare, the pipeline, Shard); never an adapter, a driver or a client.
		"reconcile": {"golang.org/x/sync/errgroup"},
		// Sources of saved outcomes: CSV, SQLite, PostgreSQL, and the repair target; never fetch, reports, metrics or state.
		"store": {mod + "reconcile", "github.com/gocarina/gocsv", "github.com/jmoiron/sqlx", "github.com/mattn/go-sqlite3", "github.com/jackc/pgx/v5"},
		// The API client: rate, pacing, retries, 429s, outages, tokens; never store, reports, metrics or state.
		"fetch": {mod + "reconcile", "golang.org/x/time/rate", "golang.org/x/oauth2"},
		// The files for people: report set, page, manifest, merge, period; never metrics (Prometheus), fetch or state.
		"reports": {mod + "reconcile", mod + "internal/atomicfile", mod + "internal/redact", "github.com/gocarina/gocsv"},
		// A run's Prometheus metrics: textfile, Pushgateway; never reports, fetch or state.
		"metrics": {mod + "reconcile", mod + "internal/atomicfile", mod + "internal/redact", "github.com/prometheus/client_golang", "github.com/prometheus/common", "github.com/prometheus/client_model"},
		// The run history: runs, answers, listed discrepancies, repairs, the manifest chain, the lock; never fetch, reports, metrics or store.
		"state": {mod + "reconcile", "github.com/jmoiron/sqlx", "github.com/mattn/go-sqlite3", "github.com/gofrs/flock"},
		// The process ids seen, for duplicate_id; never fetch, reports, metrics, store or state.
		"dedup": {mod + "reconcile", "github.com/bits-and-blooms/bloom/v3", "github.com/mattn/go-sqlite3"},
		// The fake API; never any package of this module (least of all fetch, the client it fakes).
		"simulator": {"golang.org/x/time/rate", "github.com/golang-jwt/jwt/v5"},
		// Writing a file whole or not at all (reports, metrics); standard library only.
		"internal/atomicfile": {},
		// Hiding a URL's user information (reports, metrics); standard library only.
		"internal/redact": {},
		// Test helpers, for tests only (never imported by non-test code, package main included):
		// PostgreSQL databases of their own and the rule for skipping; never a package under test.
		"internal/pgtest": {mod + "internal/csvtest", "github.com/jackc/pgx/v5"},
		// Loading a CSV fixture into a SQL database; standard library only.
		"internal/csvtest": {},
		// Service-account keys of tests; standard library only.
		"internal/keytest": {},
	}
	testOnly := []string{mod + "internal/pgtest", mod + "internal/csvtest", mod + "internal/keytest"}
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		for _, imp := range p.Imports {
			for _, h := range testOnly {
				if imp == h && !strings.HasPrefix(p.ImportPath, mod+"internal/") {
					t.Errorf("%s imports the test helper %s", p.ImportPath, imp)
				}
			}
		}
		name, ok := strings.CutPrefix(p.ImportPath, mod)
		if !ok {
			continue // main wires everything
		}
		allow, ok := allowed[name]
		if !ok {
			allow, ok = allowed[strings.Split(name, "/")[0]]
		}
		if !ok {
			t.Errorf("package %s is not in the layout (style.md, section 1)", p.ImportPath)
			continue
		}
	imports:
		for _, imp := range p.Imports {
			if !strings.Contains(strings.Split(imp, "/")[0], ".") {
				continue // standard library
			}
			for _, a := range allow {
				if imp == a || strings.HasPrefix(imp, a+"/") {
					continue imports
				}
			}
			t.Errorf("%s imports %s: not allowed by the layout", name, imp)
		}
	}
}

// TestMainIsWiring keeps package main to the command line (style.md,
// section 3): flags, options, logging and exit codes, in few lines and
// short functions; the run and the history's operations are package job's,
// so main never reaches past it into the history, the ids seen or the
// metrics.
func TestMainIsWiring(t *testing.T) {
	const (
		maxLines = 1300 // about 1,100 lines of code, the rest comments
		maxFunc  = 60
	)
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		lines += fset.File(f.Pos()).LineCount()
		for _, imp := range f.Imports {
			for _, deep := range []string{"/state\"", "/dedup\"", "/metrics\""} {
				if strings.HasSuffix(imp.Path.Value, deep) {
					t.Errorf("%s imports %s: the run's internals are package job's", name, imp.Path.Value)
				}
			}
		}
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			if n := fset.Position(fn.End()).Line - fset.Position(fn.Pos()).Line + 1; n > maxFunc {
				t.Errorf("%s: func %s is %d lines, more than %d", name, fn.Name.Name, n, maxFunc)
			}
		}
	}
	if lines > maxLines {
		t.Errorf("package main holds %d lines, more than %d: move logic into package job", lines, maxLines)
	}
}
