package simulator_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/unico-reconcile/unico-reconcile/simulator"
)

var update = flag.Bool("update", false, "rewrite testdata/demo from its generator")

const demoDir = "../testdata/demo"

// TestDemoData checks testdata/demo against its generator (demogen_test.go),
// or rewrites it with -update.
func TestDemoData(t *testing.T) {
	files := generateDemo().files()
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		path := filepath.Join(demoDir, name)
		if *update {
			if err := os.MkdirAll(demoDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, files[name], 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (go test ./simulator -run TestDemoData -update)", err)
		}
		if !bytes.Equal(got, files[name]) {
			t.Errorf("%s differs from its generator; review the change and run go test ./simulator -run TestDemoData -update", path)
		}
	}
}

// The demo data is consistent as served: each row's expected kind agrees
// with what the simulator answers for it, read as raw JSON.
func TestDemoData_Served(t *testing.T) {
	data, err := simulator.LoadFile(filepath.Join(demoDir, "processes.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	sim := simulator.New(data, simulator.Config{})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)

	rows := mustReadCSV(t, filepath.Join(demoDir, "saved.csv"))
	exp := mustReadCSV(t, filepath.Join(demoDir, "expected.csv"))
	if got, want := len(rows), demoRows+1; got != want {
		t.Fatalf("saved.csv has %d records, want %d", got, want)
	}
	if len(exp) != len(rows) {
		t.Fatalf("expected.csv has %d records, saved.csv %d", len(exp), len(rows))
	}

	seen := map[string]bool{}
	counts := map[string]int{}
	for i := 1; i < len(rows); i++ {
		row, e := rows[i], exp[i]
		kind, remoteStatus, fields := e[2], e[4], e[5]
		counts[kind]++
		id := strings.ToLower(row[0])
		if kind == "duplicate_id" {
			if !seen[id] {
				t.Errorf("row %d: duplicate_id before the id's first appearance", i+1)
			}
			continue
		}
		if seen[id] {
			t.Errorf("row %d: id seen before, kind %s, want duplicate_id", i+1, kind)
		}
		seen[id] = true
		if kind == "invalid_input" {
			continue
		}
		resp, err := srv.Client().Get(srv.URL + "/processes/v1/" + id)
		if kind == "unverified" {
			if err == nil {
				var body struct {
					ID string `json:"id"`
				}
				raw := mustBody(t, resp)
				if resp.StatusCode == 200 && json.Unmarshal(raw, &body) == nil && body.ID == id {
					t.Errorf("row %d: unverified, but the simulator answers it: %s", i+1, raw)
				}
			}
			continue
		}
		if err != nil {
			t.Fatalf("row %d: %v", i+1, err)
		}
		raw := mustBody(t, resp)
		switch {
		case kind == "not_found":
			if resp.StatusCode != 404 {
				t.Errorf("row %d: not_found, status %d", i+1, resp.StatusCode)
			}
			continue
		case remoteStatus == "5":
			if resp.StatusCode != 410 {
				t.Errorf("row %d: remote 5, status %d", i+1, resp.StatusCode)
			}
			continue
		case resp.StatusCode != 200:
			t.Errorf("row %d: status %d, want 200", i+1, resp.StatusCode)
			continue
		}
		remote := flatten(t, raw)
		if got := remote["status"]; got != remoteStatus {
			t.Errorf("row %d: remote status %s, want %s", i+1, got, remoteStatus)
		}
		if kind == "match" || kind == "result_mismatch" {
			if got := diffFields(row, remote); got != fields {
				t.Errorf("row %d (%s): fields %q, want %q", i+1, kind, got, fields)
			}
		}
	}
	want := generateDemo().counts()
	for k, n := range want {
		if k == "total" {
			continue
		}
		key := k
		if k == "matched" {
			key = "match"
		}
		if counts[key] != n {
			t.Errorf("expected.csv: %d %s, want %d", counts[key], k, n)
		}
		if n == 0 {
			t.Errorf("the demo shows no %s", k)
		}
	}
}

func mustReadCSV(tb testing.TB, path string) [][]string {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	return recs
}

func mustBody(tb testing.TB, resp *http.Response) []byte {
	tb.Helper()
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// flatten reads a 200 body into the API's field names, numbers as text.
func flatten(tb testing.TB, raw []byte) map[string]string {
	tb.Helper()
	var v struct {
		Status  json.Number `json:"status"`
		UnicoID *struct {
			Result string `json:"result"`
		} `json:"unicoId"`
		IdentityFraudsters *struct {
			Result string `json:"result"`
		} `json:"identityFraudsters"`
		Government *struct {
			Serpro *json.Number `json:"serpro"`
		} `json:"government"`
		Liveness *json.Number `json:"liveness"`
		Score    *json.Number `json:"score"`
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		tb.Fatalf("%v: %s", err, raw)
	}
	m := map[string]string{"status": v.Status.String()}
	if v.UnicoID != nil {
		m["unicoId.result"] = v.UnicoID.Result
	}
	if v.IdentityFraudsters != nil {
		m["identityFraudsters.result"] = v.IdentityFraudsters.Result
	}
	if v.Government != nil && v.Government.Serpro != nil {
		m["government.serpro"] = v.Government.Serpro.String()
	}
	if v.Liveness != nil {
		m["liveness"] = v.Liveness.String()
	}
	if v.Score != nil {
		m["score"] = v.Score.String()
	}
	return m
}

// diffFields compares the stored fields of a saved.csv row with a remote
// body the contract's way: empty locally is not compared.
func diffFields(row []string, remote map[string]string) string {
	names := [...]string{2: "unicoId.result", 3: "identityFraudsters.result", 4: "government.serpro", 5: "liveness", 6: "score"}
	var diffs []string
	for col := 2; col <= 6; col++ {
		if local := row[col]; local != "" && local != remote[names[col]] {
			diffs = append(diffs, names[col]+"="+local+"->"+remote[names[col]])
		}
	}
	return strings.Join(diffs, ";")
}
