package reports

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// What a merge writes beyond the shards' records: the page's rows and
// facts, and the merged folder's manifest.

// mergeParams are the parameters of a merged folder's manifest.
type mergeParams struct {
	Shards    []shardParams `json:"shards"`
	MaxSpread string        `json:"max_spread"`
}

type shardParams struct {
	Shard string `json:"shard"`
	RunID string `json:"run_id"`
	Dir   string `json:"dir"` // absolute
}

// sealMerge writes out's manifest.json, last.
func sealMerge(out string, shards []*shardSet, o MergeOptions) error {
	p := mergeParams{MaxSpread: o.MaxSpread.String()}
	for _, s := range shards {
		dir, err := filepath.Abs(s.dir)
		if err != nil {
			return err
		}
		p.Shards = append(p.Shards, shardParams{Shard: s.sum.Shard.String(), RunID: s.sum.RunID, Dir: dir})
	}
	params, err := json.Marshal(p)
	if err != nil {
		return err
	}
	files, err := HashFiles(out, RunFiles)
	if err != nil {
		return fmt.Errorf("write %s: %w", ManifestName, err)
	}
	b, err := EncodeManifest(Manifest{Kind: KindMerge, RunID: o.RunID, Parameters: params, Files: files})
	if err != nil {
		return err
	}
	return WriteManifest(out, b)
}

// pageRows collects report.html's rows as a Set does: the first HTMLRows
// listed discrepancies that are not unverified, and the first HTMLRows
// unverified ones. Only those lines are decoded.
type pageRows struct {
	shown, unverified []reconcile.Discrepancy
}

func (p *pageRows) add(kind string, line []byte) error {
	unverified := kind == string(reconcile.Unverified)
	if (unverified && len(p.unverified) >= HTMLRows) || (!unverified && len(p.shown) >= HTMLRows) {
		return nil
	}
	d, err := ReadDiscrepancy(line)
	if err != nil {
		return err
	}
	if unverified {
		p.unverified = append(p.unverified, d)
	} else {
		p.shown = append(p.shown, d)
	}
	return nil
}

// mergedMeta is what the merged report.html says beyond the summary: o's
// user, host and environment, and the shards' saved_at window and source
// SHA-256, from the parameters in their manifests (a shard without one, of
// an older version, adds nothing). Shards whose windows differ are not one
// run; shards that read different sources get no SHA-256 on the page.
func mergedMeta(shards []*shardSet, o MergeOptions) (Meta, error) {
	m := Meta{User: o.User, Host: o.Host}
	if o.Environment != nil {
		m.Environment = o.Environment(shards[0].sum.APIRoot)
	}
	var windowFrom string
	for i, s := range shards {
		p, ok, err := shardParameters(s.dir)
		if err != nil {
			return Meta{}, err
		}
		switch {
		case !ok:
		case windowFrom == "":
			m.Since, m.Until, windowFrom = p.Since, p.Until, s.dir
		case p.Since != m.Since || p.Until != m.Until:
			return Meta{}, fmt.Errorf("%w: %s took saved_at %s to %s but %s took %s to %s",
				ErrShards, windowFrom, orOpen(m.Since), orOpen(m.Until), s.dir, orOpen(p.Since), orOpen(p.Until))
		}
		switch {
		case i == 0:
			m.SourceSHA256 = p.SourceSHA256
		case p.SourceSHA256 != m.SourceSHA256:
			m.SourceSHA256 = "" // the source changed between shards, or a shard did not record it
		}
	}
	return m, nil
}

// runParameters are the parameters of a run's manifest that a merge reads.
type runParameters struct {
	Since        string `json:"since"`
	Until        string `json:"until"`
	SourceSHA256 string `json:"source_sha256"`
}

// shardParameters reads the parameters in dir's manifest.json; ok is false
// when dir has no manifest (an older version's shard) or the manifest is
// not a run's.
func shardParameters(dir string) (p runParameters, ok bool, err error) {
	b, err := os.ReadFile(filepath.Join(dir, ManifestName))
	if errors.Is(err, fs.ErrNotExist) {
		return p, false, nil
	}
	if err != nil {
		return p, false, fmt.Errorf("%s: %w", dir, err)
	}
	m, err := DecodeManifest(b)
	if err != nil {
		return p, false, fmt.Errorf("%s: %w", dir, err)
	}
	if m.Kind != KindRun {
		return p, false, nil
	}
	if err := json.Unmarshal(m.Parameters, &p); err != nil {
		return p, false, fmt.Errorf("%s: %s: parameters: %w", dir, ManifestName, err)
	}
	return p, true, nil
}
