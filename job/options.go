package job

import (
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/store"
)

// DefaultProgressEvery is how often a run logs its progress (when there is
// no progress bar) and rewrites its metrics textfile.
const DefaultProgressEvery = 30 * time.Second

// Options is everything a run needs: its Spec, the settings that may
// change from one attempt to the next, the credentials and where its
// output goes. The zero value of each optional field says what it means.
type Options struct {
	Spec
	// Given names the Spec fields the command line set: a run continued
	// with Resume or Recheck must not contradict them.
	Given Fields
	// DSN is the source to open when Spec.Source is the redacted form of a
	// PostgreSQL DSN (store.Redact); "" means Spec.Source.
	DSN string
	// Out is the folder for the reports.
	Out string

	// State is the run history; "" means state.db beside Out.
	State string
	// NoState keeps no history: no resume, no recheck.
	NoState bool
	// Resume continues the newest unfinished run of the same source.
	Resume bool
	// Recheck is a run id, or "last": fetch again what it left unverified.
	Recheck string

	APIKey      string
	Tokens      fetch.TokenSource
	HTTPClient  *http.Client  // shared by the API and the token endpoint; nil: fetch.NewHTTPClient(Workers)
	BackoffBase time.Duration // first retry back-off; 0: fetch.DefaultBackoffBase
	// OutageTimeout is how long the API may stay unavailable before the
	// run ends (exit 3); 0 means fetch.DefaultOutageTimeout.
	OutageTimeout time.Duration

	MetricsTextfile string        // node_exporter textfile to write; "" means none
	Pushgateway     string        // Pushgateway URL to push to at the end; "" means none
	Progress        io.Writer     // where the progress bar goes; nil: progress log lines
	ProgressEvery   time.Duration // period of the progress log line and the textfile; 0 means DefaultProgressEvery

	// Stdout receives the summary at the end: summary.json's bytes with
	// SummaryJSON, else the text of reports.WriteText; nil: nowhere.
	Stdout      io.Writer
	SummaryJSON bool
	Version     string       // the summary's version; "" means "dev"
	Logger      *slog.Logger // nil: nothing is logged
}

// source is the source to open: the DSN with its password, which Source
// (shown in logs, the summary and the run history) does not carry.
func (o Options) source() string {
	if o.DSN != "" && store.Redact(o.DSN) == o.Source {
		return o.DSN
	}
	return o.Source
}

// withDefaults fills what the zero values mean.
func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Stdout == nil {
		o.Stdout = io.Discard
	}
	if o.HTTPClient == nil {
		o.HTTPClient = fetch.NewHTTPClient(o.Workers)
	}
	if o.Version == "" {
		o.Version = "dev"
	}
	if o.ProgressEvery <= 0 {
		o.ProgressEvery = DefaultProgressEvery
	}
	if o.OutageTimeout <= 0 {
		o.OutageTimeout = fetch.DefaultOutageTimeout
	}
	return o
}
