package main

import (
	"bytes"
	"embed"
	"fmt"
	"os"
	"path/filepath"

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
	path := filepath.Join(filepath.Dir(out), "demo-data", "saved.csv")
	if err := writeFileAtomic(path, saved); err != nil {
		return demoInput{}, fmt.Errorf("demo data: %w", err)
	}
	return demoInput{data: data, saved: path}, nil
}

// writeFileAtomic writes b to path through a temporary file in the same
// folder, so that a second demo running at the same time never reads half
// a file.
func writeFileAtomic(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".saved-*.csv")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // after a successful rename, nothing to remove
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
