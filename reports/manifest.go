package reports

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ManifestName is the name of the manifest in a report folder.
const ManifestName = "manifest.json"

// The manifest's kinds: a run's report folder, merged shards' (a run's
// files, outside any run history's chain), a period report's, or a
// repair's (in the chain of the history of the run it repaired).
const (
	KindRun    = "run"
	KindMerge  = "merge"
	KindPeriod = "period"
	KindRepair = "repair"
)

// manifestFormat is the version of manifest.json's layout.
const manifestFormat = 1

// RunFiles are the files a run's manifest must list; PeriodFiles those of a
// period report (unchecked.csv only with a source); RepairFiles those of a
// repair's folder (conflicts.csv too when there were conflicts).
var (
	RunFiles    = []string{CSVName, JSONLName, HTMLName, SummaryName}
	PeriodFiles = []string{CSVName, HTMLName, PeriodName}
	RepairFiles = []string{RepairsName, RepairName}
)

// Manifest is manifest.json: the SHA-256 and size of every other file in
// a report folder, what the report was asked to do, and for a run the
// SHA-256 of the manifest the previous run in the same run history wrote,
// so that a history's manifests form a hash chain.
type Manifest struct {
	Format     int             `json:"format"`
	Kind       string          `json:"kind"`             // KindRun, KindMerge, KindPeriod or KindRepair
	RunID      string          `json:"run_id,omitempty"` // for a repair, the run repaired
	RepairID   string          `json:"repair_id,omitempty"`
	Parameters json.RawMessage `json:"parameters"` // a JSON object; never a secret
	Files      []File          `json:"files"`      // sorted by name
	// Previous is the SHA-256 (hex) of the manifest before this one in the
	// run history's chain (a run's or a repair's); nil for the first of a
	// history, a run without one, merged reports and a period report.
	Previous *string `json:"previous_manifest_sha256"`
}

// File is one file a manifest vouches for.
type File struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Hash returns the SHA-256 of b in lower-case hex.
func Hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// HashFiles reads the files names in dir and returns their sizes and
// SHA-256, sorted by name.
func HashFiles(dir string, names []string) ([]File, error) {
	files := make([]File, 0, len(names))
	for _, name := range names {
		f, err := hashFile(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		f.Name = name
		files = append(files, f)
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return files, nil
}

func hashFile(path string) (File, error) {
	f, err := os.Open(path)
	if err != nil {
		return File{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return File{}, fmt.Errorf("hash %s: %w", path, err)
	}
	return File{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// EncodeManifest returns m as manifest.json's bytes: indented, ending in a
// newline, the same bytes for the same m.
func EncodeManifest(m Manifest) ([]byte, error) {
	m.Format = manifestFormat
	if m.Parameters == nil {
		m.Parameters = json.RawMessage("{}")
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("encode %s: %w", ManifestName, err)
	}
	return b.Bytes(), nil
}

// DecodeManifest reads manifest.json's bytes.
func DecodeManifest(b []byte) (Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fmt.Errorf("read %s: %w", ManifestName, err)
	}
	if m.Format != manifestFormat {
		return Manifest{}, fmt.Errorf("read %s: format %d, want %d", ManifestName, m.Format, manifestFormat)
	}
	return m, nil
}

// WriteManifest writes b, as EncodeManifest returned it, to dir's
// manifest.json atomically. It is the last file of a report folder.
func WriteManifest(dir string, b []byte) error {
	return WriteAtomic(filepath.Join(dir, ManifestName), func(w io.Writer) error {
		_, err := w.Write(b)
		return err
	})
}

// Problem is one thing wrong in a report folder: the file, and what.
type Problem struct {
	File   string
	Reason string
}

func (p Problem) String() string { return p.File + ": " + p.Reason }

// VerifyError lists what is wrong in a report folder, file by file.
type VerifyError struct {
	Dir      string
	Problems []Problem
}

func (e *VerifyError) Error() string {
	parts := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		parts[i] = p.String()
	}
	return fmt.Sprintf("%s: %s", e.Dir, strings.Join(parts, "; "))
}

// Verify checks the report folder dir against its manifest.json: that the
// manifest lists the files its kind requires, that every file it lists is
// there with its size and SHA-256, and that the folder holds no other file.
// It returns the manifest and its bytes; when anything is wrong the error is
// a *VerifyError naming each file.
func Verify(dir string) (Manifest, []byte, error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return Manifest{}, nil, &VerifyError{Dir: dir, Problems: []Problem{{ManifestName, "missing"}}}
	}
	if err != nil {
		return Manifest{}, nil, err
	}
	m, err := DecodeManifest(b)
	if err != nil {
		return Manifest{}, b, &VerifyError{Dir: dir, Problems: []Problem{{ManifestName, err.Error()}}}
	}
	var probs []Problem
	listed := map[string]bool{ManifestName: true}
	for _, f := range m.Files {
		switch {
		case f.Name == "" || f.Name != filepath.Base(f.Name) || f.Name == "." || f.Name == ".." || f.Name == ManifestName:
			probs = append(probs, Problem{ManifestName, fmt.Sprintf("lists %q, which is not a report file", f.Name)})
			continue
		case listed[f.Name]:
			probs = append(probs, Problem{ManifestName, fmt.Sprintf("lists %s twice", f.Name)})
			continue
		}
		listed[f.Name] = true
		got, err := hashFile(filepath.Join(dir, f.Name))
		switch {
		case errors.Is(err, fs.ErrNotExist):
			probs = append(probs, Problem{f.Name, "missing"})
		case err != nil:
			probs = append(probs, Problem{f.Name, err.Error()})
		case got.Size != f.Size:
			probs = append(probs, Problem{f.Name, fmt.Sprintf("changed: %d bytes, the manifest says %d", got.Size, f.Size)})
		case got.SHA256 != f.SHA256:
			probs = append(probs, Problem{f.Name, fmt.Sprintf("changed: sha256 %s, the manifest says %s", got.SHA256, f.SHA256)})
		}
	}
	var required []string
	switch m.Kind {
	case KindRun, KindMerge: // a merged folder holds a run's files
		required = RunFiles
	case KindPeriod:
		required = PeriodFiles
	case KindRepair:
		required = RepairFiles
		if m.RepairID == "" || m.RunID == "" {
			probs = append(probs, Problem{ManifestName, "a repair's manifest must name its repair_id and run_id"})
		}
	default:
		required = RunFiles
		probs = append(probs, Problem{ManifestName, fmt.Sprintf("unknown kind %q", m.Kind)})
	}
	for _, name := range required {
		if !listed[name] {
			probs = append(probs, Problem{ManifestName, "does not list " + name})
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return m, b, err
	}
	for _, e := range entries {
		if !e.IsDir() && !listed[e.Name()] {
			probs = append(probs, Problem{e.Name(), "not in the manifest"})
		}
	}
	if len(probs) > 0 {
		return m, b, &VerifyError{Dir: dir, Problems: probs}
	}
	return m, b, nil
}
