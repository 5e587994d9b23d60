package reports

import (
	"encoding/csv"
	"encoding/json"
	"io"
	"strconv"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// The period report's own files; it shares CSVName and HTMLName with a
// run's folder.
const (
	PeriodName    = "period.json"
	UncheckedName = "unchecked.csv"
)

// PeriodRun is one run of a period, as the run history records it.
type PeriodRun struct {
	ID             string
	StartedAt      time.Time
	FinishedAt     time.Time // zero while running
	State          string
	ExitCode       int // -1 until it ended
	Source         string
	Counts         map[string]int
	ManifestSHA256 string // its newest manifest in the chain, "" when none
}

// PeriodEntry is one process that runs of the period listed.
type PeriodEntry struct {
	Discrepancy       reconcile.Discrepancy // as the latest run listed it
	FirstRun, LastRun string
	ResolvedBy        string // the later run that found it a match or pending; "" while open
	ResolvedKind      reconcile.Kind
}

// Unchecked is a process the source saved in the period that no run ever
// answered.
type Unchecked struct {
	Row       int
	ProcessID string
	SavedAt   time.Time
}

// Period is a period report: the runs, the processes they checked (each
// once, by its latest answer), and what is open and resolved at its end.
// Open, Resolved and Unchecked hold the first HTMLRows of each, for the
// page; the counts hold them all.
type Period struct {
	From, To     time.Time
	Source       string // with --source: the saved outcomes looked at
	SourceSHA256 string
	Runs         []PeriodRun
	Checked      map[reconcile.Kind]int // by the latest answer's kind
	OpenKinds    map[reconcile.Kind]int
	ResolvedN    int
	UncheckedN   int // counted only when Source is set
	// LostFound counts the processes the period's runs listed as
	// lost_response (each once); LostRepaired those of them that an
	// applied repair of a run of the period changed or found done.
	LostFound, LostRepaired int

	Open, Resolved []PeriodEntry
	Unchecked      []Unchecked
}

// Add counts e and keeps it for the page while there is room.
func (p *Period) Add(e PeriodEntry) {
	if p.OpenKinds == nil {
		p.OpenKinds = map[reconcile.Kind]int{}
	}
	if e.ResolvedBy == "" {
		p.OpenKinds[e.Discrepancy.Kind]++
		if len(p.Open) < HTMLRows {
			p.Open = append(p.Open, e)
		}
		return
	}
	p.ResolvedN++
	if len(p.Resolved) < HTMLRows {
		p.Resolved = append(p.Resolved, e)
	}
}

// AddUnchecked counts u and keeps it for the page while there is room.
func (p *Period) AddUnchecked(u Unchecked) {
	p.UncheckedN++
	if len(p.Unchecked) < HTMLRows {
		p.Unchecked = append(p.Unchecked, u)
	}
}

// OpenN counts the open discrepancies.
func (p *Period) OpenN() int {
	n := 0
	for _, c := range p.OpenKinds {
		n += c
	}
	return n
}

// CheckedN counts the processes checked.
func (p *Period) CheckedN() int {
	n := 0
	for _, c := range p.Checked {
		n += c
	}
	return n
}

// periodCSVHeader is the header of a period's discrepancies.csv.
var periodCSVHeader = []string{
	"process_id", "state", "kind", "first_listed_run", "last_listed_run", "resolved_by_run", "resolved_kind",
	"local_status", "remote_status", "fields", "http_status", "error_code", "detail",
}

// PeriodCSVWriter writes a period's discrepancies.csv, one row per process;
// cells are neutralised as in a run's CSV.
type PeriodCSVWriter struct{ w *csv.Writer }

// NewPeriodCSVWriter writes the header to w.
func NewPeriodCSVWriter(w io.Writer) (*PeriodCSVWriter, error) {
	cw := &PeriodCSVWriter{w: csv.NewWriter(w)}
	if err := cw.w.Write(periodCSVHeader); err != nil {
		return nil, err
	}
	return cw, nil
}

// Write writes one row.
func (cw *PeriodCSVWriter) Write(e PeriodEntry) error {
	d := e.Discrepancy
	state := "open"
	if e.ResolvedBy != "" {
		state = "resolved"
	}
	rec := []string{d.Local.ProcessID, state, string(d.Kind), e.FirstRun, e.LastRun, e.ResolvedBy, string(e.ResolvedKind),
		d.Local.Status.String(), remoteStatus(d.Remote), d.FieldsString(), itoaOrEmpty(d.HTTPStatus), d.ErrorCode, d.Detail}
	for i := range rec {
		rec[i] = neutralise(rec[i])
	}
	return cw.w.Write(rec)
}

// Close flushes and returns the first error met.
func (cw *PeriodCSVWriter) Close() error {
	cw.w.Flush()
	return cw.w.Error()
}

// UncheckedCSVWriter writes unchecked.csv: process_id,row,saved_at.
type UncheckedCSVWriter struct{ w *csv.Writer }

// NewUncheckedCSVWriter writes the header to w.
func NewUncheckedCSVWriter(w io.Writer) (*UncheckedCSVWriter, error) {
	cw := &UncheckedCSVWriter{w: csv.NewWriter(w)}
	if err := cw.w.Write([]string{"process_id", "row", "saved_at"}); err != nil {
		return nil, err
	}
	return cw, nil
}

// Write writes one row; saved_at in UTC.
func (cw *UncheckedCSVWriter) Write(u Unchecked) error {
	at := ""
	if !u.SavedAt.IsZero() {
		at = u.SavedAt.UTC().Format(time.RFC3339Nano)
	}
	return cw.w.Write([]string{neutralise(u.ProcessID), strconv.Itoa(u.Row), at})
}

// Close flushes and returns the first error met.
func (cw *UncheckedCSVWriter) Close() error {
	cw.w.Flush()
	return cw.w.Error()
}

// periodView is period.json.
type periodView struct {
	From         time.Time       `json:"from"`
	To           time.Time       `json:"to"`
	Source       string          `json:"source,omitempty"`
	SourceSHA256 string          `json:"source_sha256,omitempty"`
	Runs         []periodRunView `json:"runs"`
	Checked      counts          `json:"checked"`
	Open         counts          `json:"open"`
	Resolved     int             `json:"resolved"`
	NeverChecked *int            `json:"never_checked"` // null without a source
	Lost         lostView        `json:"lost_responses"`
}

// lostView is period.json's "lost_responses".
type lostView struct {
	Found    int `json:"found"`
	Repaired int `json:"repaired"`
}

type periodRunView struct {
	RunID          string         `json:"run_id"`
	StartedAt      time.Time      `json:"started_at"`
	FinishedAt     *time.Time     `json:"finished_at"`
	State          string         `json:"state"`
	ExitCode       *int           `json:"exit_code"`
	Source         string         `json:"source"`
	Counts         map[string]int `json:"counts"`
	ManifestSHA256 string         `json:"manifest_sha256,omitempty"`
}

// WritePeriodJSON writes period.json: the period, its runs (with their
// manifests' SHA-256, which ties the report to the chain), the processes
// checked by kind, the open ones by kind, how many were resolved, with a
// source how many were never checked, and the lost responses found and
// repaired ("lost_responses": {"found", "repaired"}).
func WritePeriodJSON(w io.Writer, p *Period) error {
	v := periodView{
		From: p.From.UTC(), To: p.To.UTC(), Source: p.Source, SourceSHA256: p.SourceSHA256,
		Runs:     []periodRunView{},
		Checked:  counts{total: p.CheckedN(), byKind: p.Checked},
		Open:     counts{total: p.OpenN(), byKind: p.OpenKinds},
		Resolved: p.ResolvedN,
		Lost:     lostView{Found: p.LostFound, Repaired: p.LostRepaired},
	}
	if p.Source != "" {
		n := p.UncheckedN
		v.NeverChecked = &n
	}
	for _, r := range p.Runs {
		rv := periodRunView{RunID: r.ID, StartedAt: r.StartedAt.UTC(), FinishedAt: timeOrNull(r.FinishedAt),
			State: r.State, Source: r.Source, Counts: r.Counts, ManifestSHA256: r.ManifestSHA256}
		if r.ExitCode >= 0 {
			code := r.ExitCode
			rv.ExitCode = &code
		}
		v.Runs = append(v.Runs, rv)
	}
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
