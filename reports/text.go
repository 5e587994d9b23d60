package reports

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/unico-reconcile/unico-reconcile/internal/redact"
	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// WriteText writes the human summary of a run to w, as printed on stdout at
// the end: the run, its source and duration, the counts of summary.json in a
// small table (every kind, zeros included), the requests sent, the exit code,
// and dir, the folder the reports were written to ("" leaves that line out).
// It writes to w once and returns w's error.
func WriteText(w io.Writer, s reconcile.Summary, dir string) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "unico-reconcile run %s", s.RunID)
	if s.Version != "" {
		fmt.Fprintf(&b, " (%s)", s.Version)
	}
	b.WriteByte('\n')
	fmt.Fprintf(&b, "source    %s\n", s.Source)
	fmt.Fprintf(&b, "api root  %s\n", redact.URL(s.APIRoot))
	if d, ok := duration(s); ok {
		fmt.Fprintf(&b, "duration  %s\n", d.Round(time.Millisecond))
	}
	b.WriteByte('\n')

	rows := []struct {
		name string
		n    int
	}{
		{"total", s.Total},
		{"matched", s.Counts[reconcile.Match]},
		{"pending", s.Counts[reconcile.Pending]},
	}
	for _, k := range reconcile.Kinds {
		rows = append(rows, struct {
			name string
			n    int
		}{string(k), s.Counts[k]})
	}
	nameW, numW := 0, 0
	for _, r := range rows {
		nameW = max(nameW, len(r.name))
		numW = max(numW, len(strconv.Itoa(r.n)))
	}
	for _, r := range rows {
		fmt.Fprintf(&b, "  %-*s  %*d\n", nameW, r.name, numW, r.n)
	}
	b.WriteByte('\n')

	fmt.Fprintf(&b, "requests  %d (retries %d, rate limited %d)\n", s.Requests, s.Retries, s.RateLimited)
	if sd := s.Slowdown; sd != nil {
		fmt.Fprintf(&b, "busy      the tenant was busy: %d × 429, %s (production shares the limit)\n", s.RateLimited, sd)
	}
	if s.Reused > 0 {
		fmt.Fprintf(&b, "reused    %d answers from the run history (not fetched again)\n", s.Reused)
	}
	if s.RecheckOf != "" {
		fmt.Fprintf(&b, "recheck   of run %s: %d of %d unverified recovered\n", s.RecheckOf, s.Recovered, s.Rechecked)
	}
	if o := s.Outage; o != nil {
		fmt.Fprintf(&b, "outage    API unavailable since %s, watched %s, %d probes; last error: %s\n",
			o.Since.UTC().Format(time.RFC3339), o.Watched.Round(time.Second), o.Probes, o.LastError)
		b.WriteString("          continue with --resume (picks the run up) or --recheck last (fetches only what was left)\n")
	}
	fmt.Fprintf(&b, "exit      %d (%s)\n", s.ExitCode, exitMeaning(s))
	if dir != "" {
		fmt.Fprintf(&b, "reports   %s\n", dir)
	}
	_, err := w.Write(b.Bytes())
	return err
}

func exitMeaning(s reconcile.Summary) string {
	switch s.ExitCode {
	case reconcile.ExitOK:
		return "every process verified, no discrepancy"
	case reconcile.ExitDiscrepancies:
		return "every process verified, discrepancies found"
	case reconcile.ExitIncomplete:
		if s.Outage != nil {
			return "incomplete: the API stayed unavailable, the rest counted as unverified"
		}
		if s.Interrupted {
			return "incomplete: interrupted, the rest counted as unverified"
		}
		return "incomplete: some processes could not be verified"
	default:
		return "fatal error"
	}
}
