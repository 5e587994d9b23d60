package reports

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// The reports' file names in their folder.
const (
	CSVName     = "discrepancies.csv"
	JSONLName   = "discrepancies.jsonl"
	SummaryName = "summary.json"
)

// ErrClosed is returned by a Set's Write and Commit once it has been
// committed or aborted.
var ErrClosed = errors.New("report set already committed or aborted")

// Set is a report set being written: discrepancies.csv and
// discrepancies.jsonl stream into temporary files in the folder while the
// run goes on, and Commit moves them to their final names and writes
// summary.json last, so that summary.json marks a complete set. Before
// Commit no file of the set exists under its final name. The files are
// created with mode 0600: reports hold personal data.
//
// A Set is not safe for concurrent use; reconcile.Run calls a Sink from one
// goroutine at a time.
type Set struct {
	dir   string
	csv   part
	jsonl part
	csvW  *CSVWriter
	jsonW *JSONLWriter
	err   error // the first write error; the set can then only be aborted
	done  bool  // committed or aborted

	// The first rows of report.html (CommitReport), at most HTMLRows each.
	shown      []reconcile.Discrepancy
	unverified []reconcile.Discrepancy
}

var _ reconcile.Sink = (*Set)(nil)

// part is one of the streamed files.
type part struct {
	name string // final name, in the set's folder
	f    *os.File
	bw   *bufio.Writer
}

// Create makes dir (and its parents) if needed and starts a report set in
// it: the two discrepancy files are opened under temporary names
// (".discrepancies.csv.tmp-*") and the CSV header is written. Callers should
// defer Abort, which is a no-op once Commit has succeeded.
//
// Create also removes the temporary files a run killed mid-way left in dir
// (SIGKILL gives no chance to clean up): it assumes it is the folder's only
// writer, which the run history's lock ensures for runs that share one.
func Create(dir string) (*Set, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create report folder: %w", err)
	}
	if err := removeStale(dir); err != nil {
		return nil, err
	}
	s := &Set{dir: dir}
	var err error
	if s.csv, err = openPart(dir, CSVName); err != nil {
		return nil, err
	}
	if s.jsonl, err = openPart(dir, JSONLName); err != nil {
		s.csv.remove()
		return nil, err
	}
	if s.csvW, err = NewCSVWriter(s.csv.bw); err != nil {
		s.csv.remove()
		s.jsonl.remove()
		return nil, fmt.Errorf("write %s: %w", CSVName, err)
	}
	s.jsonW = NewJSONLWriter(s.jsonl.bw)
	return s, nil
}

// removeStale removes the set's temporary files left in dir by a crash.
func removeStale(dir string) error {
	for _, name := range []string{CSVName, JSONLName, SummaryName, HTMLName, ManifestName} {
		stale, err := filepath.Glob(filepath.Join(dir, tempPattern(name)))
		if err != nil {
			return err
		}
		for _, f := range stale {
			if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove a crashed run's temporary file: %w", err)
			}
		}
	}
	return nil
}

func openPart(dir, name string) (part, error) {
	f, err := os.CreateTemp(dir, tempPattern(name))
	if err != nil {
		return part{}, fmt.Errorf("create %s: %w", name, err)
	}
	return part{name: name, f: f, bw: bufio.NewWriterSize(f, bufferSize)}, nil
}

// remove closes and removes the temporary file.
func (p part) remove() error {
	err := p.f.Close()
	if errors.Is(err, os.ErrClosed) {
		err = nil
	}
	if rerr := os.Remove(p.f.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}

// Dir returns the set's folder.
func (s *Set) Dir() string { return s.dir }

// Write adds d to both discrepancy files. Kinds that are not listed (Match,
// Pending) are ignored. After a write error every later Write returns that
// error and Commit refuses: a set with a missing row must not look complete.
func (s *Set) Write(d reconcile.Discrepancy) error {
	if s.done {
		return ErrClosed
	}
	if s.err != nil {
		return s.err
	}
	if !d.Kind.Listed() {
		return nil
	}
	if err := s.csvW.Write(d); err != nil {
		s.err = fmt.Errorf("write %s: %w", CSVName, err)
		return s.err
	}
	if err := s.jsonW.Write(d); err != nil {
		s.err = fmt.Errorf("write %s: %w", JSONLName, err)
		return s.err
	}
	switch {
	case d.Kind == reconcile.Unverified && len(s.unverified) < HTMLRows:
		s.unverified = append(s.unverified, d)
	case d.Kind != reconcile.Unverified && len(s.shown) < HTMLRows:
		s.shown = append(s.shown, d)
	}
	return nil
}

// Commit completes the set: it flushes and syncs both discrepancy files,
// renames them to their final names, then writes summary.json from sum
// atomically. A summary.json and a manifest.json already in the folder (an
// earlier run) are removed first, so that a crash midway never pairs new files with an old
// summary. On error the temporary files are removed and summary.json is not
// written; a discrepancy file already renamed stays, complete, but the
// missing summary.json marks the set incomplete. Commit returns ErrClosed
// when the set is already committed or aborted.
func (s *Set) Commit(sum reconcile.Summary) error {
	var b bytes.Buffer
	if err := WriteSummary(&b, sum); err != nil {
		return errors.Join(fmt.Errorf("write %s: %w", SummaryName, err), s.Abort())
	}
	return s.CommitSummary(b.Bytes())
}

// CommitSummary is Commit with summary.json given as its bytes, as
// WriteSummary wrote them: the run history keeps them, so that a run's
// reports can be written again byte for byte.
func (s *Set) CommitSummary(summary []byte) error {
	return s.commitWith(summary, nil)
}

// CommitReport is CommitSummary that also writes report.html, before
// summary.json: the page shows the run as summary (summary.json's bytes)
// describes it, with m and the first HTMLRows discrepancies and unverified
// processes written to the set. The page depends only on those, so that
// writing a run's reports again from the run history gives the same bytes.
func (s *Set) CommitReport(summary []byte, m Meta) error {
	return s.commitWith(summary, func() error {
		sum, err := ReadSummary(summary)
		if err != nil {
			return err
		}
		page := Page{Summary: sum, Meta: m, Discrepancies: s.shown, Unverified: s.unverified}
		return WriteAtomic(filepath.Join(s.dir, HTMLName), func(w io.Writer) error { return WriteHTML(w, page) })
	})
}

func (s *Set) commitWith(summary []byte, html func() error) error {
	if s.done {
		return ErrClosed
	}
	if err := s.commit(summary, html); err != nil {
		return errors.Join(err, s.Abort())
	}
	s.done = true
	return nil
}

func (s *Set) commit(summaryJSON []byte, html func() error) error {
	if s.err != nil {
		return s.err
	}
	if err := s.csvW.Close(); err != nil {
		return fmt.Errorf("write %s: %w", CSVName, err)
	}
	if err := s.jsonW.Close(); err != nil {
		return fmt.Errorf("write %s: %w", JSONLName, err)
	}
	for _, p := range []part{s.csv, s.jsonl} {
		if err := finish(p.f, p.bw); err != nil {
			return fmt.Errorf("write %s: %w", p.name, err)
		}
	}
	// An earlier run's manifest.json and summary.json go first: neither may
	// vouch for files they did not see.
	for _, name := range []string{ManifestName, SummaryName} {
		if err := os.Remove(filepath.Join(s.dir, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove old %s: %w", name, err)
		}
	}
	summary := filepath.Join(s.dir, SummaryName)
	for _, p := range []part{s.csv, s.jsonl} {
		if err := os.Rename(p.f.Name(), filepath.Join(s.dir, p.name)); err != nil {
			return fmt.Errorf("write %s: %w", p.name, err)
		}
	}
	// The discrepancy files must be durable before the summary vouches for them.
	if err := syncDir(s.dir); err != nil {
		return fmt.Errorf("sync report folder: %w", err)
	}
	if html != nil {
		if err := html(); err != nil {
			return err
		}
	}
	return WriteAtomic(summary, func(w io.Writer) error {
		_, err := w.Write(summaryJSON)
		return err
	})
}

// Abort closes and removes the temporary files, leaving no file of the set
// behind. It returns nil when the set is already committed or aborted, so it
// can be deferred.
func (s *Set) Abort() error {
	if s.done {
		return nil
	}
	s.done = true
	return errors.Join(s.csv.remove(), s.jsonl.remove())
}
