package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestDemoData_Embedded: the demo data built into the binary is
// testdata/demo, file for file and byte for byte.
func TestDemoData_Embedded(t *testing.T) {
	files := func(fsys fs.FS) map[string][]byte {
		t.Helper()
		m := map[string][]byte{}
		err := fs.WalkDir(fsys, demoDir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(fsys, path)
			m[path] = b
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	disk, embedded := files(os.DirFS(".")), files(demoFiles)
	for _, name := range []string{"processes.jsonl", "saved.csv"} {
		if _, ok := embedded[demoDir+"/"+name]; !ok {
			t.Errorf("the embedded demo data lacks %s", name)
		}
	}
	for name, b := range disk {
		e, ok := embedded[name]
		switch {
		case !ok:
			t.Errorf("%s is not embedded", name)
		case !bytes.Equal(e, b):
			t.Errorf("the embedded %s differs from the file", name)
		}
	}
	for name := range embedded {
		if _, ok := disk[name]; !ok {
			t.Errorf("%s is embedded but not in the repository", name)
		}
	}
}

// TestDemo_AnyFolder runs the demo, without flags, in an empty folder that
// is not the repository (as in the container image): it reconciles the
// embedded data and writes the reports, the run history and the saved
// outcomes it read under out/ there.
func TestDemo_AnyFolder(t *testing.T) {
	dir := t.TempDir()
	cmd := command(t, nil, "--log-format", "json", "demo")
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("demo in %s: %v\nstderr: %s", dir, err, stderr.String())
	}
	s := MustSummary(t, filepath.Join(dir, "out", "demo"))
	if want := filepath.Join("out", "demo-data", "saved.csv"); s.Source != want {
		t.Errorf("summary source %q, want %q", s.Source, want)
	}
	if s.Counts["total"] != 300 {
		t.Errorf("the demo read %d rows, want the 300 of testdata/demo/saved.csv", s.Counts["total"])
	}
	if got := MustRead(t, filepath.Join(dir, "out", "demo-data", "saved.csv")); !bytes.Equal(got, MustRead(t, "testdata/demo/saved.csv")) {
		t.Error("out/demo-data/saved.csv is not testdata/demo/saved.csv")
	}
	entries, err := os.ReadDir(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"demo", "demo-data", "state.db"}; !slices.Equal(names, want) {
		t.Errorf("out/ holds %q, want %q", names, want)
	}
	MustNoTempFiles(t, filepath.Join(dir, "out", "demo"))
}

// TestDemo_DataFlag: --data still reads a folder, here the repository's.
func TestDemo_DataFlag(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	r := MustRun(t, nil, "--log-format", "json", "demo", "--data", "testdata/demo", "--out", out)
	if r.code != 0 {
		t.Fatalf("exit code %d, want 0\nstderr: %s", r.code, r.stderr)
	}
	if s := MustSummary(t, out); s.Source != "testdata/demo/saved.csv" {
		t.Errorf("summary source %q, want testdata/demo/saved.csv", s.Source)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(out), "demo-data")); !os.IsNotExist(err) {
		t.Errorf("with --data the demo wrote demo-data/ (%v)", err)
	}
	r = MustRun(t, nil, "--log-format", "json", "demo", "--data", t.TempDir(), "--out", out)
	if r.code != 2 || !bytes.Contains([]byte(r.stderr), []byte("processes.jsonl")) {
		t.Errorf("--data of an empty folder: exit %d, stderr %q; want 2 naming processes.jsonl", r.code, r.stderr)
	}
}
