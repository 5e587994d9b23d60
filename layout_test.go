package main

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

// TestImportGraph defends the shape of the house (style.md, section 1):
// the domain imports the standard library (and errgroup) only, adapters
// import the domain and never one another, and the simulator shares no
// code with the client it fakes.
func TestImportGraph(t *testing.T) {
	const mod = "github.com/unico-reconcile/unico-reconcile/"
	allowed := map[string][]string{
		"reconcile": {"golang.org/x/sync/errgroup"},
		"store":     {mod + "reconcile", "github.com/gocarina/gocsv", "github.com/jmoiron/sqlx", "github.com/mattn/go-sqlite3", "github.com/jackc/pgx/v5"},
		"fetch":     {mod + "reconcile", "golang.org/x/time/rate", "golang.org/x/sync/singleflight", "golang.org/x/oauth2"},
		"reports":   {mod + "reconcile", mod + "internal/atomicfile", "github.com/gocarina/gocsv"},
		"metrics":   {mod + "reconcile", mod + "internal/atomicfile", "github.com/prometheus/client_golang", "github.com/prometheus/common", "github.com/prometheus/client_model"},
		"simulator": {"golang.org/x/time/rate", "github.com/golang-jwt/jwt/v5"},
		// Test helpers shared by several packages' tests.
		"internal": {"github.com/jackc/pgx/v5"},
		"state":    {mod + "reconcile", "github.com/jmoiron/sqlx", "github.com/mattn/go-sqlite3", "github.com/gofrs/flock"},
		"dedup":    {mod + "reconcile", "github.com/bits-and-blooms/bloom/v3", "github.com/mattn/go-sqlite3"},
	}
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
		name, ok := strings.CutPrefix(p.ImportPath, mod)
		if !ok {
			continue // main wires everything
		}
		allow, ok := allowed[strings.Split(name, "/")[0]]
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
