package reports

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// ErrShards classifies the shard sets Merge refuses: one missing or given
// twice, a folder that is not a sharded run's complete reports, shards of
// different runs or of different nights.
var ErrShards = errors.New("not the complete shards of one run")

// DefaultMaxSpread is how far apart the shards' starts may be by default:
// the shards of one night start within hours of each other, a shard left
// over from the night before starts a day earlier.
const DefaultMaxSpread = 12 * time.Hour

// MergeOptions are what Merge needs beyond the shards' folders.
type MergeOptions struct {
	// RunID is the merged reports' run id.
	RunID string
	// MaxSpread is the longest time allowed between the earliest and the
	// latest start of the shards; zero means DefaultMaxSpread.
	MaxSpread time.Duration
	// User and Host are who merges, for report.html; "" reads "not recorded".
	User, Host string
	// Environment names an API root (production, sandbox, custom) for
	// report.html; nil leaves it "not recorded".
	Environment func(apiRoot string) string
}

// shardSet is one shard's reports, being merged.
type shardSet struct {
	dir   string
	sum   reconcile.Summary
	csv   *rawCSV
	jsonl *bufio.Reader
	line  []byte // the current JSON Lines record
	rec   []byte // the current CSV record, as written
	row   int    // the current record's row; 0 when done
	kind  string // the current record's kind
}

// Merge combines the reports that the shards of one run wrote in dirs into
// one run's reports in out, as one unsharded run would have written them:
// discrepancies.csv and discrepancies.jsonl with every record in source
// order (by the row each JSON Lines record carries; the records are copied
// byte for byte); report.html, the page a run writes, built from the merged
// summary.json and records; summary.json with the counts, requests and
// rates added up, the earliest start and latest end, o.RunID as its run id,
// the shards' run ids in merged_from, and the exit code the counts call
// for; and manifest.json last, of kind KindMerge, with no previous manifest.
// Each file is written under a temporary name and renamed; an old
// manifest.json, report.html and summary.json in out are removed first.
//
// It checks first that dirs hold each shard I/N of one N exactly once,
// each a complete set (summary.json present) over the same source, API
// root and window, all started within o.MaxSpread of each other, and
// returns an error wrapping ErrShards that names the problem otherwise,
// having written nothing.
func Merge(out string, dirs []string, o MergeOptions) (reconcile.Summary, error) {
	if o.MaxSpread <= 0 {
		o.MaxSpread = DefaultMaxSpread
	}
	shards, err := readShards(out, dirs, o.MaxSpread)
	if err != nil {
		return reconcile.Summary{}, err
	}
	defer func() {
		for _, s := range shards {
			s.close()
		}
	}()
	meta, err := mergedMeta(shards, o)
	if err != nil {
		return reconcile.Summary{}, err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return reconcile.Summary{}, fmt.Errorf("create report folder: %w", err)
	}
	if err := removeStale(out); err != nil {
		return reconcile.Summary{}, err
	}
	// None of them may vouch for, or sit beside, files it did not see.
	for _, name := range []string{ManifestName, SummaryName, HTMLName} {
		if err := os.Remove(filepath.Join(out, name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return reconcile.Summary{}, fmt.Errorf("remove old %s: %w", name, err)
		}
	}
	var rows pageRows
	err = WriteAtomic(filepath.Join(out, CSVName), func(cw io.Writer) error {
		return WriteAtomic(filepath.Join(out, JSONLName), func(jw io.Writer) error {
			return mergeRecords(shards, cw, jw, &rows)
		})
	})
	if err != nil {
		return reconcile.Summary{}, err
	}
	sum := mergedSummary(shards, o.RunID)
	var summary bytes.Buffer
	if err := WriteSummary(&summary, sum); err != nil {
		return sum, err
	}
	// The page reads the summary as a run's page does: from summary.json.
	pageSum, err := ReadSummary(summary.Bytes())
	if err != nil {
		return sum, err
	}
	page := Page{Summary: pageSum, Meta: meta, Discrepancies: rows.shown, Unverified: rows.unverified}
	if err := WriteAtomic(filepath.Join(out, HTMLName), func(w io.Writer) error { return WriteHTML(w, page) }); err != nil {
		return sum, err
	}
	if err := WriteAtomic(filepath.Join(out, SummaryName), func(w io.Writer) error {
		_, err := w.Write(summary.Bytes())
		return err
	}); err != nil {
		return sum, err
	}
	return sum, sealMerge(out, shards, o)
}

// readShards reads and checks every shard's summary, and opens its files.
func readShards(out string, dirs []string, maxSpread time.Duration) ([]*shardSet, error) {
	if len(dirs) == 0 {
		return nil, fmt.Errorf("%w: no shard folder given", ErrShards)
	}
	absOut, _ := filepath.Abs(out)
	var shards []*shardSet
	fail := func(err error) ([]*shardSet, error) {
		for _, s := range shards {
			s.close()
		}
		return nil, err
	}
	for _, dir := range dirs {
		if abs, _ := filepath.Abs(dir); abs == absOut {
			return fail(fmt.Errorf("--out %s is one of the shard folders", out))
		}
		b, err := os.ReadFile(filepath.Join(dir, SummaryName))
		if errors.Is(err, fs.ErrNotExist) {
			return fail(fmt.Errorf("%s: %w: no %s (not a complete report set)", dir, ErrShards, SummaryName))
		}
		if err != nil {
			return fail(fmt.Errorf("%s: %w", dir, err))
		}
		sum, err := ReadSummary(b)
		if err != nil {
			return fail(fmt.Errorf("%s: %w: %w", dir, ErrShards, err))
		}
		if !sum.Shard.Sharded() {
			return fail(fmt.Errorf("%s: %w: not a shard's reports (%s has no shard)", dir, ErrShards, SummaryName))
		}
		s := &shardSet{dir: dir, sum: sum}
		shards = append(shards, s)
		if err := s.open(); err != nil {
			return fail(err)
		}
	}
	if err := checkShards(shards); err != nil {
		return fail(err)
	}
	if err := checkSpread(shards, maxSpread); err != nil {
		return fail(err)
	}
	slices.SortFunc(shards, func(a, b *shardSet) int { return a.sum.Shard.Index - b.sum.Shard.Index })
	return shards, nil
}

// checkShards checks that shards are each shard of one run exactly once.
func checkShards(shards []*shardSet) error {
	first := shards[0]
	n := first.sum.Shard.Count
	byIndex := make([]*shardSet, n)
	for _, s := range shards {
		switch {
		case s.sum.Shard.Count != n:
			return fmt.Errorf("%w: %s is shard %s but %s is shard %s", ErrShards, first.dir, first.sum.Shard, s.dir, s.sum.Shard)
		case s.sum.Source != first.sum.Source:
			return fmt.Errorf("%w: %s read %s but %s read %s", ErrShards, first.dir, first.sum.Source, s.dir, s.sum.Source)
		case s.sum.APIRoot != first.sum.APIRoot:
			return fmt.Errorf("%w: %s asked %s but %s asked %s", ErrShards, first.dir, first.sum.APIRoot, s.dir, s.sum.APIRoot)
		case byIndex[s.sum.Shard.Index] != nil:
			return fmt.Errorf("%w: shard %s given twice: %s and %s", ErrShards, s.sum.Shard, byIndex[s.sum.Shard.Index].dir, s.dir)
		}
		byIndex[s.sum.Shard.Index] = s
	}
	var missing []string
	for i, s := range byIndex {
		if s == nil {
			missing = append(missing, reconcile.Shard{Index: i, Count: n}.String())
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: shard %s missing", ErrShards, strings.Join(missing, ", "))
	}
	return nil
}

// checkSpread checks that the shards started within maxSpread of each
// other: a shard that died before committing leaves an earlier night's
// reports in its folder, which must not be merged with tonight's.
func checkSpread(shards []*shardSet, maxSpread time.Duration) error {
	oldest, newest := shards[0], shards[0]
	for _, s := range shards {
		switch {
		case s.sum.StartedAt.IsZero():
			return fmt.Errorf("%s: %w: %s has no started_at", s.dir, ErrShards, SummaryName)
		case s.sum.StartedAt.Before(oldest.sum.StartedAt):
			oldest = s
		case s.sum.StartedAt.After(newest.sum.StartedAt):
			newest = s
		}
	}
	if spread := newest.sum.StartedAt.Sub(oldest.sum.StartedAt); spread > maxSpread {
		return fmt.Errorf("%w: shards started %s apart, more than %s: %s started at %s, %s at %s (a shard left from another night?)",
			ErrShards, spread, maxSpread, oldest.dir, oldest.sum.StartedAt.Format(time.RFC3339), newest.dir, newest.sum.StartedAt.Format(time.RFC3339))
	}
	return nil
}

func (s *shardSet) open() error {
	c, err := openRawCSV(filepath.Join(s.dir, CSVName))
	if err != nil {
		return fmt.Errorf("%s: %w", s.dir, err)
	}
	s.csv = c
	f, err := os.Open(filepath.Join(s.dir, JSONLName))
	if err != nil {
		return fmt.Errorf("%s: %w", s.dir, err)
	}
	s.jsonl = bufio.NewReaderSize(f, bufferSize)
	c.closers = append(c.closers, f)
	return nil
}

func (s *shardSet) close() {
	if s.csv != nil {
		s.csv.close()
	}
}

// next moves to the shard's next record; row is 0 at the end.
func (s *shardSet) next() error {
	rec, cerr := s.csv.next()
	line, jerr := s.jsonl.ReadBytes('\n')
	switch {
	case cerr == io.EOF && jerr == io.EOF && len(line) == 0:
		s.row = 0
		return nil
	case cerr == io.EOF || (jerr == io.EOF && len(line) == 0):
		return fmt.Errorf("%s: %s and %s list different numbers of discrepancies", s.dir, CSVName, JSONLName)
	case cerr != nil:
		return fmt.Errorf("%s: %s: %w", s.dir, CSVName, cerr)
	case jerr != nil && jerr != io.EOF:
		return fmt.Errorf("%s: %s: %w", s.dir, JSONLName, jerr)
	}
	var r struct {
		Row  int    `json:"row"`
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(line, &r); err != nil || r.Row < 1 {
		return fmt.Errorf("%s: %s: a record without its row", s.dir, JSONLName)
	}
	if r.Row <= s.row {
		return fmt.Errorf("%s: %s: row %d after row %d: not in source order", s.dir, JSONLName, r.Row, s.row)
	}
	if !bytes.HasSuffix(line, []byte("\n")) {
		line = append(line, '\n')
	}
	s.rec, s.line, s.row, s.kind = rec, line, r.Row, r.Kind
	return nil
}

// mergeRecords writes the CSV header once, then every shard's records in
// row order, and gives rows the records report.html shows.
func mergeRecords(shards []*shardSet, cw, jw io.Writer, rows *pageRows) error {
	header := shards[0].csv.header
	for _, s := range shards {
		if !bytes.Equal(s.csv.header, header) {
			return fmt.Errorf("%s: %s has another header than %s's", s.dir, CSVName, shards[0].dir)
		}
		if err := s.next(); err != nil {
			return err
		}
	}
	if _, err := cw.Write(header); err != nil {
		return err
	}
	for {
		var min *shardSet
		for _, s := range shards {
			switch {
			case s.row == 0:
			case min == nil || s.row < min.row:
				min = s
			case s.row == min.row:
				return fmt.Errorf("%w: row %d is in %s and in %s", ErrShards, s.row, min.dir, s.dir)
			}
		}
		if min == nil {
			return nil
		}
		if _, err := cw.Write(min.rec); err != nil {
			return err
		}
		if _, err := jw.Write(min.line); err != nil {
			return err
		}
		if err := rows.add(min.kind, min.line); err != nil {
			return fmt.Errorf("%s: %w", min.dir, err)
		}
		if err := min.next(); err != nil {
			return err
		}
	}
}

// mergedSummary adds the shards' summaries up.
func mergedSummary(shards []*shardSet, runID string) reconcile.Summary {
	m := reconcile.Summary{RunID: runID, Counts: map[reconcile.Kind]int{}}
	for i, s := range shards {
		sum := s.sum
		if i == 0 {
			m.Version, m.Source, m.APIRoot = sum.Version, sum.Source, sum.APIRoot
			m.StartedAt, m.FinishedAt = sum.StartedAt, sum.FinishedAt
		}
		if sum.StartedAt.Before(m.StartedAt) {
			m.StartedAt = sum.StartedAt
		}
		if sum.FinishedAt.After(m.FinishedAt) {
			m.FinishedAt = sum.FinishedAt
		}
		m.Rate += sum.Rate
		m.Workers += sum.Workers
		m.Requests += sum.Requests
		m.Retries += sum.Retries
		m.RateLimited += sum.RateLimited
		m.Reused += sum.Reused
		m.Total += sum.Total
		m.Interrupted = m.Interrupted || sum.Interrupted
		if m.Outage == nil {
			m.Outage = sum.Outage // the first shard's: one API, one outage
		}
		if sd := sum.Slowdown; sd != nil { // one tenant: the worst shard's
			if m.Slowdown == nil {
				m.Slowdown = &reconcile.Slowdown{Lowest: sd.Lowest}
			}
			m.Slowdown.Lowest = min(m.Slowdown.Lowest, sd.Lowest)
			m.Slowdown.Below = max(m.Slowdown.Below, sd.Below)
		}
		for k, n := range sum.Counts {
			m.Counts[k] += n
		}
		m.MergedFrom = append(m.MergedFrom, sum.RunID)
	}
	m.ExitCode = m.Code()
	return m
}

// rawCSV reads a CSV file's records as the bytes they were written as:
// encoding/csv finds where each record ends (quoted fields may span
// lines), and the bytes are copied from a second reader of the file.
type rawCSV struct {
	r       *csv.Reader
	raw     *bufio.Reader
	at      int64
	buf     []byte
	header  []byte
	closers []io.Closer
}

func openRawCSV(path string) (*rawCSV, error) {
	f1, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	f2, err := os.Open(path)
	if err != nil {
		f1.Close()
		return nil, err
	}
	c := &rawCSV{r: csv.NewReader(bufio.NewReaderSize(f1, bufferSize)), raw: bufio.NewReaderSize(f2, bufferSize),
		closers: []io.Closer{f1, f2}}
	c.r.FieldsPerRecord = -1
	c.r.ReuseRecord = true
	h, err := c.next()
	if err != nil {
		c.close()
		if err == io.EOF {
			return nil, fmt.Errorf("%s: no header", path)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.header = bytes.Clone(h)
	return c, nil
}

// next returns the next record's bytes, valid until the next call.
func (c *rawCSV) next() ([]byte, error) {
	if _, err := c.r.Read(); err != nil {
		return nil, err
	}
	end := c.r.InputOffset()
	c.buf = slices.Grow(c.buf[:0], int(end-c.at))[:end-c.at]
	if _, err := io.ReadFull(c.raw, c.buf); err != nil {
		return nil, err
	}
	c.at = end
	return c.buf, nil
}

func (c *rawCSV) close() {
	for _, cl := range c.closers {
		cl.Close()
	}
}
