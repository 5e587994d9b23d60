package reports_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/unico-reconcile/unico-reconcile/reports"
)

// MustRunFolder writes a committed run folder with its manifest (previous
// prev, "" for none) and returns its path.
func MustRunFolder(tb testing.TB, runID, prev string) string {
	tb.Helper()
	dir := tb.TempDir()
	set, err := reports.Create(dir)
	if err != nil {
		tb.Fatal(err)
	}
	defer set.Abort()
	for _, d := range allKinds() {
		if err := set.Write(d); err != nil {
			tb.Fatal(err)
		}
	}
	sum := summaryOf(allKinds())
	sum.RunID = runID
	var summary bytes.Buffer
	if err := reports.WriteSummary(&summary, sum); err != nil {
		tb.Fatal(err)
	}
	if err := set.CommitReport(summary.Bytes(), testMeta); err != nil {
		tb.Fatal(err)
	}
	files, err := reports.HashFiles(dir, reports.RunFiles)
	if err != nil {
		tb.Fatal(err)
	}
	m := reports.Manifest{Kind: reports.KindRun, RunID: runID, Parameters: []byte(`{"rate":10}`), Files: files}
	if prev != "" {
		m.Previous = &prev
	}
	b, err := reports.EncodeManifest(m)
	if err != nil {
		tb.Fatal(err)
	}
	if err := reports.WriteManifest(dir, b); err != nil {
		tb.Fatal(err)
	}
	return dir
}

func TestEncodeManifest(t *testing.T) {
	dir := MustRunFolder(t, "20260314T090000Z", "")
	b := []byte(MustReadFile(t, filepath.Join(dir, reports.ManifestName)))
	MustGolden(t, filepath.Join("..", "testdata", "reports", "all_kinds", reports.ManifestName), b)
	m, err := reports.DecodeManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	again, err := reports.EncodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(string(b), string(again)); diff != "" {
		t.Errorf("EncodeManifest(DecodeManifest(b)) differs (-b +again):\n%s", diff)
	}
	for _, bad := range []string{`{"format":2,"kind":"run","files":[]}`, `{"format":1,"kind":"run","secret":"x"}`, `[`} {
		if _, err := reports.DecodeManifest([]byte(bad)); err == nil {
			t.Errorf("DecodeManifest(%s): no error", bad)
		}
	}
}

// TestVerify changes a report folder in every way an auditor must catch
// and checks that Verify names the file.
func TestVerify(t *testing.T) {
	other := MustRunFolder(t, "20260315T090000Z", strings.Repeat("ab", 32))
	for _, tt := range []struct {
		name   string
		change func(t *testing.T, dir string)
		want   []string // "file: reason" prefixes, in order
	}{
		{"OK", func(*testing.T, string) {}, nil},
		{"ChangedByte", func(t *testing.T, dir string) {
			flipByte(t, filepath.Join(dir, reports.CSVName), 40)
		}, []string{"discrepancies.csv: changed: sha256"}},
		{"ChangedSize", func(t *testing.T, dir string) {
			appendTo(t, filepath.Join(dir, reports.HTMLName), "<p>added</p>")
		}, []string{"report.html: changed: "}},
		{"Removed", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, reports.JSONLName))
		}, []string{"discrepancies.jsonl: missing"}},
		{"Extra", func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("x"), 0o600)
		}, []string{"notes.txt: not in the manifest"}},
		{"SwappedManifest", func(t *testing.T, dir string) {
			b, _ := os.ReadFile(filepath.Join(other, reports.ManifestName))
			os.WriteFile(filepath.Join(dir, reports.ManifestName), b, 0o600)
		}, []string{"report.html: changed: sha256", "summary.json: changed: sha256"}}, // the other run's id is in both
		{"NoManifest", func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, reports.ManifestName))
		}, []string{"manifest.json: missing"}},
		{"FileLeftOut", func(t *testing.T, dir string) {
			// The summary and its line in the manifest both removed.
			os.Remove(filepath.Join(dir, reports.SummaryName))
			rewriteManifest(t, dir, func(m *reports.Manifest) { m.Files = m.Files[:3] })
		}, []string{"manifest.json: does not list summary.json"}},
		{"PathEscape", func(t *testing.T, dir string) {
			rewriteManifest(t, dir, func(m *reports.Manifest) { m.Files = append(m.Files, reports.File{Name: "../state.db"}) })
		}, []string{`manifest.json: lists "../state.db"`}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := MustRunFolder(t, "20260314T090000Z", "")
			tt.change(t, dir)
			_, _, err := reports.Verify(dir)
			var got []string
			var ve *reports.VerifyError
			if errors.As(err, &ve) {
				for _, p := range ve.Problems {
					got = append(got, p.String())
				}
			} else if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("Verify found %q, want %q", got, tt.want)
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d = %q, want %q...", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func flipByte(t *testing.T, path string, at int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[at] ^= 1
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func appendTo(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func rewriteManifest(t *testing.T, dir string, edit func(*reports.Manifest)) {
	t.Helper()
	m, err := reports.DecodeManifest([]byte(MustReadFile(t, filepath.Join(dir, reports.ManifestName))))
	if err != nil {
		t.Fatal(err)
	}
	edit(&m)
	b, err := reports.EncodeManifest(m)
	if err != nil {
		t.Fatal(err)
	}
	if err := reports.WriteManifest(dir, b); err != nil {
		t.Fatal(err)
	}
}
