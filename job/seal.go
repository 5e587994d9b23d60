package job

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"strconv"

	"github.com/unico-reconcile/unico-reconcile/fetch"
	"github.com/unico-reconcile/unico-reconcile/reports"
	"github.com/unico-reconcile/unico-reconcile/state"
)

// Runner is who runs this process: the operating-system user's name (its
// uid when the system has no name for it) and the host's name.
func Runner() (login, host string) {
	if u, err := user.Current(); err == nil && u.Username != "" {
		login = u.Username
	} else {
		login = "uid " + strconv.Itoa(os.Getuid())
	}
	host, _ = os.Hostname()
	return login, host
}

// pageMeta is what report.html says about a run beyond its summary, from
// the run's spec as the history keeps it: a run and Rewrite build it
// alike, so that both write the same page.
func pageMeta(s Spec, sourceSHA256, login, host string) reports.Meta {
	return reports.Meta{
		User: login, Host: host, SourceSHA256: sourceSHA256,
		Environment: fetch.EnvironmentOf(s.APIRoot), Since: formatTime(s.Since), Until: formatTime(s.Until),
	}
}

// seal writes the run's manifest.json into dir, last: with a run history
// it is first added to the history's hash chain after the newest manifest
// there, whose SHA-256 it names as its previous.
func (j *job) seal(ctx context.Context, dir string) error {
	params := j.run.Params
	if params == nil {
		var err error
		if params, err = json.Marshal(j.o.Spec); err != nil {
			return err
		}
	}
	m := reports.Manifest{Kind: reports.KindRun, RunID: j.run.ID, Parameters: params}
	return sealManifest(ctx, j.db, dir, reports.RunFiles, m, func(ctx context.Context, previous string, b []byte) (string, error) {
		return j.db.AppendManifest(ctx, j.run.ID, previous, b)
	})
}

// sealManifest writes m, listing files of dir, as dir's manifest.json, last:
// with a history (db) it is first added to the hash chain (by add) after
// the newest manifest there, whose SHA-256 it names as its previous; add is
// not called without one. Runs and repairs seal their folders alike.
func sealManifest(ctx context.Context, db *state.DB, dir string, files []string, m reports.Manifest,
	add func(ctx context.Context, previous string, b []byte) (string, error)) error {
	hashed, err := reports.HashFiles(dir, files)
	if err != nil {
		return fmt.Errorf("write %s: %w", reports.ManifestName, err)
	}
	m.Files = hashed
	var head string
	if db != nil {
		if head, err = db.ChainHead(ctx); err != nil {
			return err
		}
		if head != "" {
			m.Previous = &head
		}
	}
	b, err := reports.EncodeManifest(m)
	if err != nil {
		return err
	}
	if db != nil {
		if _, err := add(ctx, head, b); err != nil {
			return err
		}
	}
	return reports.WriteManifest(dir, b)
}

// rewriteManifest writes run r's manifest.json into dir after its other
// reports were written again: the manifest the run added to the chain,
// byte for byte, once the files are checked to be the ones it vouches for;
// a run that has none (recorded by an older version) gets a new one,
// outside the chain.
func rewriteManifest(ctx context.Context, db *state.DB, r state.Run, dir string) error {
	files, err := reports.HashFiles(dir, reports.RunFiles)
	if err != nil {
		return fmt.Errorf("write %s: %w", reports.ManifestName, err)
	}
	link, ok, err := db.LatestManifest(ctx, r.ID)
	if err != nil {
		return err
	}
	if !ok {
		b, err := reports.EncodeManifest(reports.Manifest{Kind: reports.KindRun, RunID: r.ID, Parameters: r.Params, Files: files})
		if err != nil {
			return err
		}
		return reports.WriteManifest(dir, b)
	}
	m, err := reports.DecodeManifest(link.Data)
	if err != nil {
		return fmt.Errorf("run %s: %w", r.ID, err)
	}
	want := make(map[string]reports.File, len(m.Files))
	for _, f := range m.Files {
		want[f.Name] = f
	}
	for _, f := range files {
		if w := want[f.Name]; w != f {
			return fmt.Errorf("run %s: %s written again differs from the one its manifest vouches for (sha256 %s, manifest %s): manifest.json not written",
				r.ID, f.Name, f.SHA256, w.SHA256)
		}
	}
	return reports.WriteManifest(dir, link.Data)
}
