package store

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// OutcomeText returns o's result columns (ResultColumns) as a CSV source
// holds them: status, unico_id_result, identity_fraudsters_result,
// serpro_score, liveness and score; "" for an absent value (status 0, an
// empty result, a nil number). A CSV source reads them back as o when
// CheckOutcome accepts o and o's results are in lower case; the text of a
// result is o's, unchanged (a CSV writer quotes it; neutralising a formula
// would change it).
func OutcomeText(o reconcile.Outcome) []string {
	num := func(p *int) string {
		if p == nil {
			return ""
		}
		return strconv.Itoa(*p)
	}
	status, score := "", ""
	if o.Status != 0 {
		status = strconv.Itoa(int(o.Status))
	}
	if o.Score != nil {
		score = strconv.FormatFloat(*o.Score, 'f', -1, 64)
	}
	return []string{status, o.UnicoID, o.IdentityFraudsters, num(o.Serpro), num(o.Liveness), score}
}

// CheckOutcome returns nil when a source reads o back as o once it is
// written (by Apply, or as OutcomeText in a CSV file), and otherwise an
// error of one line naming the first column a source would reject and why,
// e.g. `identity_fraudsters_result "suspicious" is not yes or inconclusive`:
// the API may send values the contract's local columns do not allow (a
// score with a fraction, an unknown result), and a row holding one is
// invalid_input to the next run.
func CheckOutcome(o reconcile.Outcome) error {
	row := rawRow{ProcessID: "00000000-0000-4000-8000-000000000000"}
	for i, v := range OutcomeText(o) {
		*row.field(resultColumns[i]) = v
	}
	var re *RowError
	if l := parseRow("", 0, &row); l.Invalid != nil {
		re = l.Invalid.(*RowError)
		return fmt.Errorf("%s %s %s", re.Column, quote(re.Value), re.Reason)
	}
	return nil
}

// holds reports whether the result columns of row hold o as a source
// reads them: NULL and "" are both absent, results compare trimmed and
// without regard to case, numbers by value ("87", "87.0" and REAL 87 are
// 87). A value a source would reject holds nothing but itself.
func holds(row *rawRow, o reconcile.Outcome) bool {
	num := func(raw string, present bool, want float64) bool {
		v := strings.TrimSpace(raw)
		if !present {
			return v == ""
		}
		f, ok := parseNumber(v)
		return ok && f == want
	}
	text := func(raw, want string) bool {
		return strings.EqualFold(strings.TrimSpace(raw), strings.TrimSpace(want))
	}
	intp := func(p *int) (bool, float64) {
		if p == nil {
			return false, 0
		}
		return true, float64(*p)
	}
	sp, sv := intp(o.Serpro)
	lp, lv := intp(o.Liveness)
	scp, scv := o.Score != nil, 0.0
	if scp {
		scv = *o.Score
	}
	return num(row.Status, o.Status != 0, float64(o.Status)) &&
		text(row.UnicoID, o.UnicoID) &&
		text(row.IdentityFraudsters, o.IdentityFraudsters) &&
		num(row.Serpro, sp, sv) &&
		num(row.Liveness, lp, lv) &&
		num(row.Score, scp, scv)
}

// lenientOutcome reads the result columns of row as parseRow does when it
// accepts them; where parseRow would reject a value, a result keeps its
// trimmed text and a number that is not one is left out.
func lenientOutcome(row *rawRow) reconcile.Outcome {
	var o reconcile.Outcome
	integer := func(raw string) *int {
		f, ok := parseNumber(strings.TrimSpace(raw))
		if !ok || f != math.Trunc(f) || f < math.MinInt32 || f > math.MaxInt32 {
			return nil
		}
		n := int(f)
		return &n
	}
	result := func(raw string, known ...string) string {
		v := strings.TrimSpace(raw)
		for _, k := range known {
			if strings.EqualFold(v, k) {
				return k
			}
		}
		return v
	}
	if p := integer(row.Status); p != nil {
		o.Status = reconcile.Status(*p)
	}
	o.UnicoID = result(row.UnicoID, "yes", "no", "inconclusive")
	o.IdentityFraudsters = result(row.IdentityFraudsters, "yes", "inconclusive")
	o.Serpro = integer(row.Serpro)
	o.Liveness = integer(row.Liveness)
	if f, ok := parseNumber(strings.TrimSpace(row.Score)); ok {
		o.Score = &f
	}
	return o
}
