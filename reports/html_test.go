package reports_test

import (
	"bytes"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
	"github.com/unico-reconcile/unico-reconcile/reports"
)

// hostile is what a source or an API could put in any text field.
const hostile = `<script>alert("x")</script></table></td>"' onmouseover="alert(1)" javascript:alert(2) <img src=x onerror=alert(3)>&amp;`

// HostilePage is a page whose every value from the source, the API or the
// run's description is hostile.
func HostilePage() reports.Page {
	h := func(s string) string { return s + hostile }
	sum := summaryOf(nil)
	sum.RunID, sum.Version, sum.Source, sum.APIRoot, sum.RecheckOf = h("run"), h("v"), h("src"), "javascript:alert(4)//"+hostile, h("r")
	sum.Total, sum.Counts = 2, map[reconcile.Kind]int{reconcile.ResultMismatch: 1, reconcile.Unverified: 1}
	d := reconcile.Discrepancy{
		Kind:  reconcile.ResultMismatch,
		Local: reconcile.Local{Row: 2, ProcessID: h("id"), Outcome: reconcile.Outcome{Status: 3, UnicoID: h("u")}},
		Remote: &reconcile.Remote{ID: h("rid"), Outcome: reconcile.Outcome{Status: 3, UnicoID: h("ru"),
			IdentityFraudsters: h("if")}},
		Fields:     []reconcile.FieldDiff{{Name: h("name"), Local: h("local"), Remote: h("remote")}},
		HTTPStatus: 200, ErrorCode: h("code"), Detail: h("detail"),
	}
	u := reconcile.Discrepancy{Kind: reconcile.Unverified, Local: reconcile.Local{Row: 3, ProcessID: h("uid")},
		HTTPStatus: 500, ErrorCode: h("ucode"), Detail: h("udetail"), Attempts: 6}
	return reports.Page{
		Summary: sum,
		Meta: reports.Meta{User: h("user"), Host: h("host"), SourceSHA256: h("sha"), Environment: h("env"),
			Since: h("since"), Until: h("until")},
		Discrepancies: []reconcile.Discrepancy{d},
		Unverified:    []reconcile.Discrepancy{u},
	}
}

// TestWriteHTML_Escapes feeds hostile text to every field and checks that
// none of it becomes markup: no script, no attribute, no closed table.
func TestWriteHTML_Escapes(t *testing.T) {
	var b bytes.Buffer
	if err := reports.WriteHTML(&b, HostilePage()); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	lower := strings.ToLower(out)
	for _, bad := range []string{"<script", "<img", `onmouseover="`, `href=`, "<a "} {
		if strings.Contains(lower, bad) {
			t.Errorf("the page holds %q: a value was not escaped", bad)
		}
	}
	if got, want := strings.Count(out, "</table>"), 4; got != want { // facts, counts, discrepancies, unverified
		t.Errorf("%d </table>, want %d: a value closed a table", got, want)
	}
	if regexp.MustCompile(`=\s*"?javascript:`).MatchString(out) {
		t.Error("a javascript: URL landed in an attribute")
	}
	// Every value is there, as text.
	esc := `&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;/table&gt;&lt;/td&gt;&#34;&#39; onmouseover=&#34;alert(1)&#34; javascript:alert(2) &lt;img src=x onerror=alert(3)&gt;&amp;amp;`
	for _, prefix := range []string{"run", "v", "src", "r", "id", "name", "local", "remote", "code", "detail",
		"uid", "ucode", "udetail", "user", "host", "sha", "env", "since", "until"} {
		if !strings.Contains(out, prefix+esc) {
			t.Errorf("the page lacks %s's value, escaped", prefix)
		}
	}
}

// TestWriteHTML_Rows checks the page's lists: at most HTMLRows rows each,
// with a note giving the total and pointing at the CSV when there are more.
func TestWriteHTML_Rows(t *testing.T) {
	for _, tt := range []struct {
		name                    string
		listed, unverified      int
		wantNote, wantUnverNote string
	}{
		{"Few", 3, 2, "All 3 discrepancies", "these 2 processes"},
		{"Exactly", 1000, 1000, "All 1,000 discrepancies", "these 1,000 processes"},
		{"Truncated", 10000, 1500, "The first 1,000 of 10,000 discrepancies are shown; discrepancies.csv lists all 10,000.",
			"The first 1,000 of 1,500 unverified processes are shown; discrepancies.csv lists all 1,500."},
		{"None", 0, 0, "No discrepancies.", "Every process was verified."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			set, err := reports.Create(dir)
			if err != nil {
				t.Fatal(err)
			}
			defer set.Abort()
			sum := summaryOf(nil)
			sum.Counts = map[reconcile.Kind]int{}
			for i := range tt.listed + tt.unverified {
				d := reconcile.Discrepancy{Kind: reconcile.NotFound, Local: reconcile.Local{Row: i + 2, ProcessID: fmt.Sprintf("p%d", i)}}
				if i >= tt.listed {
					d.Kind = reconcile.Unverified
				}
				sum.Add(d)
				if err := set.Write(d); err != nil {
					t.Fatal(err)
				}
			}
			var summary bytes.Buffer
			if err := reports.WriteSummary(&summary, sum); err != nil {
				t.Fatal(err)
			}
			if err := set.CommitReport(summary.Bytes(), testMeta); err != nil {
				t.Fatal(err)
			}
			page := MustReadFile(t, filepath.Join(dir, reports.HTMLName))
			_, listed, _ := strings.Cut(page, `id="discrepancies"`)
			listed, unverified, _ := strings.Cut(listed, `id="unverified`)
			if got, want := strings.Count(listed, `<td class="kind">not_found</td>`), min(tt.listed, 1000); got != want {
				t.Errorf("%d discrepancy rows, want %d", got, want)
			}
			if got, want := strings.Count(unverified, `<td class="id">p`), min(tt.unverified, 1000); got != want {
				t.Errorf("%d unverified rows, want %d", got, want)
			}
			for _, note := range []string{tt.wantNote, tt.wantUnverNote} {
				if !strings.Contains(page, note) {
					t.Errorf("the page lacks the note %q", note)
				}
			}
		})
	}
}

// TestWriteHTML_Chart checks the bar chart: one bar per kind, the longest
// for the largest count, an empty bar for zero.
func TestWriteHTML_Chart(t *testing.T) {
	sum := summaryOf(allKinds())
	var b bytes.Buffer
	if err := reports.WriteHTML(&b, reports.Page{Summary: sum}); err != nil {
		t.Fatal(err)
	}
	bars := regexp.MustCompile(`<g data-kind="([a-z_]+)"><text[^>]*>[a-z_]+</text><rect class="bar[^"]*" x="150" y="\d+" width="(\d+)"`).FindAllStringSubmatch(b.String(), -1)
	if got, want := len(bars), len(reconcile.Kinds); got != want {
		t.Fatalf("%d bars, want one per kind (%d)", got, want)
	}
	// allKinds: invalid_input (7) is the largest count.
	want := map[string]string{"invalid_input": "420", "lost_response": "120", "status_mismatch": "60", "unverified": "120"}
	for i, bar := range bars {
		if bar[1] != string(reconcile.Kinds[i]) {
			t.Errorf("bar %d is %s, want %s", i, bar[1], reconcile.Kinds[i])
		}
		if w, ok := want[bar[1]]; ok && bar[2] != w {
			t.Errorf("bar %s is %s wide, want %s", bar[1], bar[2], w)
		}
	}
}

// TestWriteHTML_SelfContained checks that the page loads nothing: no
// script, no link, no URL in an attribute but the SVG namespace.
func TestWriteHTML_SelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := reports.WriteHTML(&b, reports.Page{Summary: summaryOf(allKinds()), Discrepancies: allKinds()}); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, bad := range []string{"<script", "<link", "@import", "url(", "@font-face", "<iframe", "<img"} {
		if strings.Contains(out, bad) {
			t.Errorf("the page holds %q", bad)
		}
	}
	if urls := regexp.MustCompile(`="[^"]*//[^"]*"`).FindAllString(out, -1); len(urls) != 1 || urls[0] != `="http://www.w3.org/2000/svg"` {
		t.Errorf("URLs in attributes: %q, want only the SVG namespace", urls)
	}
	if !strings.Contains(out, "@media print") {
		t.Error("the page has no print style")
	}
}

func TestReadSummary(t *testing.T) {
	sharded := summaryOf(allKinds())
	sharded.Shard, sharded.MergedFrom = reconcile.Shard{Index: 1, Count: 4}, []string{"run-0", "run-1"}
	for _, sum := range []reconcile.Summary{summaryOf(allKinds()), summaryOf(nil), sharded} {
		sum.Reused, sum.RecheckOf, sum.Rechecked, sum.Recovered = 2, "r0", 3, 1
		var b bytes.Buffer
		if err := reports.WriteSummary(&b, sum); err != nil {
			t.Fatal(err)
		}
		got, err := reports.ReadSummary(b.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		var again bytes.Buffer
		if err := reports.WriteSummary(&again, got); err != nil {
			t.Fatal(err)
		}
		if again.String() != b.String() {
			t.Errorf("WriteSummary(ReadSummary(b)) differs from b:\n%s\n%s", again.String(), b.String())
		}
	}
	if _, err := reports.ReadSummary([]byte("{")); err == nil {
		t.Error("ReadSummary of broken JSON: no error")
	}
}
