package main

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/unico-reconcile/unico-reconcile/internal/atomicfile"
	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// demoFiles is testdata/demo as it was when the binary was built, so that
// `unico-reconcile demo` runs from any folder, a container image included.
// The files in the repository stay the source (TestDemoData_Embedded).
//
//go:embed testdata/demo
var demoFiles embed.FS

// demoDir is where the embedded demo data sits in demoFiles.
const demoDir = "testdata/demo"

// demoInput is what the demo reconciles: the simulator's data, and the
// saved outcomes as a file the run can open.
type demoInput struct {
	data  *simulator.Data
	saved string // path of saved.csv
}

// loadDemo reads the demo data from dir, or, when dir is empty, from the
// copy built into the binary. That copy's saved.csv is written to
// filepath.Join(filepath.Dir(out), "demo-data"), beside the reports and the
// run history, so that the run reads a file (whose path the reports name)
// and nothing but the output folder's parent needs to be writable.
func loadDemo(dir, out string) (demoInput, error) {
	if dir != "" {
		data, err := simulator.LoadFile(filepath.Join(dir, "processes.jsonl"))
		if err != nil {
			return demoInput{}, fmt.Errorf("demo data: %w", err)
		}
		return demoInput{data: data, saved: filepath.Join(dir, "saved.csv")}, nil
	}
	b, err := demoFiles.ReadFile(demoDir + "/processes.jsonl")
	if err != nil {
		return demoInput{}, fmt.Errorf("embedded demo data: %w", err)
	}
	data, err := simulator.Load(bytes.NewReader(b))
	if err != nil {
		return demoInput{}, fmt.Errorf("embedded demo data processes.jsonl: %w", err)
	}
	saved, err := demoFiles.ReadFile(demoDir + "/saved.csv")
	if err != nil {
		return demoInput{}, fmt.Errorf("embedded demo data: %w", err)
	}
	// Written whole through a temporary file, so that a second demo
	// running at the same time never reads half a file.
	path := filepath.Join(filepath.Dir(out), "demo-data", "saved.csv")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return demoInput{}, fmt.Errorf("demo data: %w", err)
	}
	if err := atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := w.Write(saved)
		return err
	}); err != nil {
		return demoInput{}, fmt.Errorf("demo data: %w", err)
	}
	return demoInput{data: data, saved: path}, nil
}
