package reconcile_test

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// The fixed clock and threshold every test measures staleness with.
var (
	now        = time.Date(2025, 3, 10, 12, 0, 0, 0, time.UTC)
	fetchedAt  = time.Date(2025, 3, 10, 11, 59, 58, 0, time.UTC)
	staleAfter = 24 * time.Hour
)

const pid = "80371b2a-3ac7-432e-866d-57fe37896ac6"

func intp(n int) *int                    { return &n }
func floatp(f float64) *float64          { return &f }
func savedAgo(d time.Duration) time.Time { return now.Add(-d) }

// local is a valid row with status s, saved an hour ago, no field stored.
func local(s reconcile.Status) reconcile.Local {
	return reconcile.Local{Row: 7, ProcessID: pid, Outcome: reconcile.Outcome{Status: s}, SavedAt: savedAgo(time.Hour)}
}

// ok is the Result of a 200 answer carrying o.
func ok(o reconcile.Outcome) reconcile.Result {
	return reconcile.Result{
		Remote:     &reconcile.Remote{ID: pid, Outcome: o},
		HTTPStatus: 200, Attempts: 1, FetchedAt: fetchedAt,
	}
}

// gone is the Result of a 410 answer: status 5, nothing else.
func gone() reconcile.Result {
	return reconcile.Result{
		Remote:     &reconcile.Remote{ID: pid, Outcome: reconcile.Outcome{Status: reconcile.StatusError}, Gone: true},
		HTTPStatus: 410, Attempts: 1, FetchedAt: fetchedAt,
	}
}

// fullOutcome has every result field set.
func fullOutcome(s reconcile.Status) reconcile.Outcome {
	return reconcile.Outcome{
		Status: s, UnicoID: "inconclusive", IdentityFraudsters: "inconclusive",
		Serpro: intp(87), Liveness: intp(1), Score: floatp(40),
	}
}

func TestCompare_StatusMatrix(t *testing.T) {
	// Written by hand from the contract's "Discrepancy kinds" table, one row
	// per local status, one column per remote answer. Both sides store every
	// result field with the same values, so a same-status pair is a match.
	const (
		L = reconcile.LostResponse
		S = reconcile.StatusMismatch
		M = reconcile.Match
		P = reconcile.Pending
		X = reconcile.StillProcessing
	)
	type row = [6]reconcile.Kind // remote 1, 2, 3, 4, 5 (200), 5 (410)
	young := map[reconcile.Status]row{
		reconcile.StatusNone: {P, P, L, L, L, L},
		1:                    {P, P, L, L, L, L},
		2:                    {P, P, L, L, L, L},
		3:                    {S, S, M, S, S, S},
		4:                    {S, S, S, M, S, S},
		5:                    {S, S, S, S, M, M},
	}
	stale := map[reconcile.Status]row{
		reconcile.StatusNone: {X, X, L, L, L, L},
		1:                    {X, X, L, L, L, L},
		2:                    {X, X, L, L, L, L},
		3:                    {S, S, M, S, S, S},
		4:                    {S, S, S, M, S, S},
		5:                    {S, S, S, S, M, M},
	}
	remotes := [6]func() reconcile.Result{
		func() reconcile.Result { return ok(reconcile.Outcome{Status: 1}) },
		func() reconcile.Result { return ok(reconcile.Outcome{Status: 2}) },
		func() reconcile.Result { return ok(fullOutcome(3)) },
		func() reconcile.Result { return ok(fullOutcome(4)) },
		func() reconcile.Result { return ok(fullOutcome(5)) },
		gone,
	}
	remoteNames := [6]string{"1", "2", "3", "4", "5", "5_410"}

	for _, age := range []struct {
		name   string
		saved  time.Duration
		matrix map[reconcile.Status]row
	}{
		{"Young", time.Hour, young},
		{"Stale", 48 * time.Hour, stale},
	} {
		if len(age.matrix) != 6 {
			t.Fatalf("%s matrix has %d rows, want 6", age.name, len(age.matrix))
		}
		for ls, wants := range age.matrix {
			for i, want := range wants {
				name := fmt.Sprintf("%s/local_%s/remote_%s", age.name, ls, remoteNames[i])
				if ls == reconcile.StatusNone {
					name = fmt.Sprintf("%s/local_none/remote_%s", age.name, remoteNames[i])
				}
				t.Run(name, func(t *testing.T) {
					l := local(ls)
					l.Outcome = fullOutcome(ls)
					l.SavedAt = savedAgo(age.saved)
					r := remotes[i]()
					d := reconcile.Compare(l, r, now, staleAfter)
					if got := d.Kind; got != want {
						t.Fatalf("Kind=%s, want %s (detail %q)", got, want, d.Detail)
					}
					if d.Remote != r.Remote {
						t.Errorf("Remote=%p, want the fetched %p", d.Remote, r.Remote)
					}
					if len(d.Fields) != 0 {
						t.Errorf("Fields=%v, want none", d.Fields)
					}
					if got, listed := d.Detail, want.Listed(); (got != "") != listed {
						t.Errorf("Detail=%q for kind %s (listed=%v)", got, want, listed)
					}
				})
			}
		}
	}
}

func TestCompare_StatusDetail(t *testing.T) {
	for _, tt := range []struct {
		name   string
		local  reconcile.Status
		remote reconcile.Result
		kind   reconcile.Kind
		detail string
	}{
		{"LostResponse", 2, ok(reconcile.Outcome{Status: 3}), reconcile.LostResponse,
			"local status 2, remote status 3 (final): the final response was lost"},
		{"LostResponseNone", reconcile.StatusNone, ok(reconcile.Outcome{Status: 4}), reconcile.LostResponse,
			"local status none, remote status 4 (final): the final response was lost"},
		{"LostResponseGone", 2, gone(), reconcile.LostResponse,
			"local status 2, remote status 5 (410 Gone): the final response was lost"},
		{"LostResponseGoneNone", reconcile.StatusNone, gone(), reconcile.LostResponse,
			"local status none, remote status 5 (410 Gone): the final response was lost"},
		{"StatusMismatchFinal", 3, ok(reconcile.Outcome{Status: 4}), reconcile.StatusMismatch,
			"local status 3, remote status 4 (final)"},
		{"StatusMismatchInProgress", 3, ok(reconcile.Outcome{Status: 1}), reconcile.StatusMismatch,
			"local status 3, remote status 1 (in progress)"},
		{"StatusMismatchGone", 3, gone(), reconcile.StatusMismatch,
			"local status 3, remote status 5 (410 Gone)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := reconcile.Compare(local(tt.local), tt.remote, now, staleAfter)
			if got, want := d.Kind, tt.kind; got != want {
				t.Fatalf("Kind=%s, want %s", got, want)
			}
			if got, want := d.Detail, tt.detail; got != want {
				t.Errorf("Detail=%q, want %q", got, want)
			}
		})
	}
}

func TestCompare_Fields(t *testing.T) {
	type O = reconcile.Outcome
	type F = reconcile.FieldDiff
	for _, tt := range []struct {
		name          string
		local, remote O // Status is set to 3 on both sides unless given
		want          []F
		wantString    string
	}{
		{name: "AllEqual", local: fullOutcome(3), remote: fullOutcome(3)},
		{name: "NothingStored", local: O{}, remote: O{}},
		{name: "NothingStoredLocally", local: O{}, remote: fullOutcome(3)},

		// Each field alone differing.
		{name: "UnicoIDDiffers", local: O{UnicoID: "yes"}, remote: O{UnicoID: "no"},
			want: []F{{"unicoId.result", "yes", "no"}}, wantString: "unicoId.result=yes->no"},
		{name: "FraudstersDiffers", local: O{IdentityFraudsters: "yes"}, remote: O{IdentityFraudsters: "inconclusive"},
			want: []F{{"identityFraudsters.result", "yes", "inconclusive"}}, wantString: "identityFraudsters.result=yes->inconclusive"},
		{name: "SerproDiffers", local: O{Serpro: intp(87)}, remote: O{Serpro: intp(60)},
			want: []F{{"government.serpro", "87", "60"}}, wantString: "government.serpro=87->60"},
		{name: "LivenessDiffers", local: O{Liveness: intp(1)}, remote: O{Liveness: intp(2)},
			want: []F{{"liveness", "1", "2"}}, wantString: "liveness=1->2"},
		{name: "ScoreDiffers", local: O{Score: floatp(87)}, remote: O{Score: floatp(87.5)},
			want: []F{{"score", "87", "87.5"}}, wantString: "score=87->87.5"},

		// Each field absent remotely.
		{name: "UnicoIDAbsentRemotely", local: O{UnicoID: "yes"}, remote: O{},
			want: []F{{"unicoId.result", "yes", ""}}, wantString: "unicoId.result=yes->"},
		{name: "FraudstersAbsentRemotely", local: O{IdentityFraudsters: "inconclusive"}, remote: O{},
			want: []F{{"identityFraudsters.result", "inconclusive", ""}}, wantString: "identityFraudsters.result=inconclusive->"},
		{name: "SerproAbsentRemotely", local: O{Serpro: intp(-1)}, remote: O{},
			want: []F{{"government.serpro", "-1", ""}}, wantString: "government.serpro=-1->"},
		{name: "SerproZeroAbsentRemotely", local: O{Serpro: intp(0)}, remote: O{},
			want: []F{{"government.serpro", "0", ""}}, wantString: "government.serpro=0->"},
		{name: "LivenessAbsentRemotely", local: O{Liveness: intp(2)}, remote: O{},
			want: []F{{"liveness", "2", ""}}, wantString: "liveness=2->"},
		{name: "ScoreLocalOnly", local: O{Score: floatp(87)}, remote: O{},
			want: []F{{"score", "87", ""}}, wantString: "score=87->"},
		{name: "ScoreZeroLocalOnly", local: O{Score: floatp(0)}, remote: O{},
			want: []F{{"score", "0", ""}}, wantString: "score=0->"},

		// Each field empty locally: not compared.
		{name: "UnicoIDEmptyLocally", local: O{UnicoID: ""}, remote: O{UnicoID: "no"}},
		{name: "UnicoIDBlankLocally", local: O{UnicoID: "  "}, remote: O{UnicoID: "no"}},
		{name: "FraudstersEmptyLocally", local: O{UnicoID: "yes"}, remote: O{UnicoID: "yes", IdentityFraudsters: "yes"}},
		{name: "SerproEmptyLocally", local: O{}, remote: O{Serpro: intp(-2)}},
		{name: "LivenessEmptyLocally", local: O{}, remote: O{Liveness: intp(2)}},
		{name: "ScoreRemoteOnly", local: O{}, remote: O{Score: floatp(-40)}},

		// Several at once: the contract's order, whatever order they are built in.
		{name: "Several",
			local:  O{UnicoID: "yes", IdentityFraudsters: "yes", Serpro: intp(-1), Liveness: intp(1), Score: floatp(10)},
			remote: O{UnicoID: "no", Serpro: intp(87), Liveness: intp(2), Score: floatp(-5)},
			want: []F{
				{"unicoId.result", "yes", "no"},
				{"identityFraudsters.result", "yes", ""},
				{"government.serpro", "-1", "87"},
				{"liveness", "1", "2"},
				{"score", "10", "-5"},
			},
			wantString: "unicoId.result=yes->no;identityFraudsters.result=yes->;government.serpro=-1->87;liveness=1->2;score=10->-5"},
		{name: "SeveralSomeEqual",
			local:  O{UnicoID: "inconclusive", IdentityFraudsters: "yes", Serpro: intp(50), Score: floatp(3)},
			remote: O{UnicoID: "INCONCLUSIVE", IdentityFraudsters: "yes", Serpro: intp(51), Liveness: intp(1)},
			want: []F{
				{"government.serpro", "50", "51"},
				{"score", "3", ""},
			},
			wantString: "government.serpro=50->51;score=3->"},

		// Strings: case and surrounding space do not count; values are kept as is.
		{name: "CaseUpperLocal", local: O{UnicoID: "YES"}, remote: O{UnicoID: "yes"}},
		{name: "CaseUpperRemote", local: O{IdentityFraudsters: "inconclusive"}, remote: O{IdentityFraudsters: "Inconclusive"}},
		{name: "Spaces", local: O{UnicoID: " no "}, remote: O{UnicoID: "no"}},
		{name: "SpacesTrimmedInOutput", local: O{UnicoID: " no "}, remote: O{UnicoID: "yes"},
			want: []F{{"unicoId.result", "no", "yes"}}, wantString: "unicoId.result=no->yes"},
		{name: "CaseKeptInOutput", local: O{UnicoID: "Yes"}, remote: O{UnicoID: "NO"},
			want: []F{{"unicoId.result", "Yes", "NO"}}, wantString: "unicoId.result=Yes->NO"},
		{name: "UnknownRemoteFraudsters", local: O{IdentityFraudsters: "yes"}, remote: O{IdentityFraudsters: "suspicious"},
			want: []F{{"identityFraudsters.result", "yes", "suspicious"}}, wantString: "identityFraudsters.result=yes->suspicious"},
		{name: "UnknownRemoteFraudstersCaseKept", local: O{IdentityFraudsters: "inconclusive"}, remote: O{IdentityFraudsters: "Suspicious"},
			want: []F{{"identityFraudsters.result", "inconclusive", "Suspicious"}}, wantString: "identityFraudsters.result=inconclusive->Suspicious"},
		{name: "UnknownValueBothSides", local: O{IdentityFraudsters: "suspicious"}, remote: O{IdentityFraudsters: "SUSPICIOUS"}},
		// A remote value that would split the fields column, or that is not
		// text, is quoted; one too long is cut.
		{name: "RemoteValueWithSeparators", local: O{UnicoID: "yes", Liveness: intp(1)}, remote: O{UnicoID: "no;liveness=2->1", Liveness: intp(1)},
			want: []F{{"unicoId.result", "yes", "no;liveness=2->1"}}, wantString: `unicoId.result=yes->"no;liveness=2->1"`},
		{name: "RemoteValueControl", local: O{IdentityFraudsters: "yes"}, remote: O{IdentityFraudsters: "a\x00\x1b[2J\xff"},
			want: []F{{"identityFraudsters.result", "yes", `"a\x00\x1b[2J\xff"`}}, wantString: `identityFraudsters.result=yes->"a\x00\x1b[2J\xff"`},
		{name: "RemoteValueLong", local: O{UnicoID: "yes"}, remote: O{UnicoID: strings.Repeat("n", 300)},
			want: []F{{"unicoId.result", "yes", strings.Repeat("n", 128) + "…(300 bytes)"}}, wantString: "unicoId.result=yes->" + strings.Repeat("n", 128) + "…(300 bytes)"},

		// Serpro: -1 and -2 are values like any other.
		{name: "SerproMinus1VsMinus2", local: O{Serpro: intp(-1)}, remote: O{Serpro: intp(-2)},
			want: []F{{"government.serpro", "-1", "-2"}}, wantString: "government.serpro=-1->-2"},
		{name: "SerproMinus1Vs87", local: O{Serpro: intp(-1)}, remote: O{Serpro: intp(87)},
			want: []F{{"government.serpro", "-1", "87"}}, wantString: "government.serpro=-1->87"},
		{name: "SerproMinus2Equal", local: O{Serpro: intp(-2)}, remote: O{Serpro: intp(-2)}},
		{name: "SerproZeroEqual", local: O{Serpro: intp(0)}, remote: O{Serpro: intp(0)}},

		// Score: numbers, not text.
		{name: "Score87Vs87.0", local: O{Score: floatp(87)}, remote: O{Score: floatp(87.0)}},
		// Found by FuzzCompare: NaN is not equal to itself in Go.
		{name: "ScoreNaNBothSides", local: O{Score: floatp(math.NaN())}, remote: O{Score: floatp(math.NaN())}},
		{name: "ScoreNegativeEqual", local: O{Score: floatp(-100)}, remote: O{Score: floatp(-100)}},
		{name: "ScoreNegativeDiffers", local: O{Score: floatp(-1)}, remote: O{Score: floatp(1)},
			want: []F{{"score", "-1", "1"}}, wantString: "score=-1->1"},

		// Liveness.
		{name: "Liveness1Vs2", local: O{Liveness: intp(1)}, remote: O{Liveness: intp(2)},
			want: []F{{"liveness", "1", "2"}}, wantString: "liveness=1->2"},
		{name: "Liveness2Equal", local: O{Liveness: intp(2)}, remote: O{Liveness: intp(2)}},

		// Fields are compared for every same final status, 5 included when it came as a 200.
		{name: "Status4", local: O{Status: 4, UnicoID: "no"}, remote: O{Status: 4, UnicoID: "yes"},
			want: []F{{"unicoId.result", "no", "yes"}}, wantString: "unicoId.result=no->yes"},
		{name: "Status5Via200", local: O{Status: 5, Liveness: intp(1)}, remote: O{Status: 5},
			want: []F{{"liveness", "1", ""}}, wantString: "liveness=1->"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := local(3)
			l.Outcome = tt.local
			if l.Status == reconcile.StatusNone {
				l.Status = 3
			}
			if tt.remote.Status == reconcile.StatusNone {
				tt.remote.Status = l.Status
			}
			d := reconcile.Compare(l, ok(tt.remote), now, staleAfter)

			wantKind := reconcile.Match
			if len(tt.want) > 0 {
				wantKind = reconcile.ResultMismatch
			}
			if got := d.Kind; got != wantKind {
				t.Fatalf("Kind=%s, want %s (fields %q)", got, wantKind, d.FieldsString())
			}
			if diff := cmp.Diff(tt.want, d.Fields, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("Fields mismatch (-want +got):\n%s", diff)
			}
			if got, want := d.FieldsString(), tt.wantString; got != want {
				t.Errorf("FieldsString()=%q, want %q", got, want)
			}
			if got, listed := d.Detail, wantKind.Listed(); (got != "") != listed {
				t.Errorf("Detail=%q for kind %s", got, wantKind)
			}
		})
	}
}

func TestCompare_ResultMismatch(t *testing.T) {
	l := local(3)
	l.Outcome = reconcile.Outcome{Status: 3, UnicoID: "inconclusive", Liveness: intp(1), Score: floatp(40)}
	r := ok(reconcile.Outcome{Status: 3, UnicoID: "inconclusive", Liveness: intp(2)})
	r.Attempts, r.RateLimited = 3, 2

	want := reconcile.Discrepancy{
		Kind:   reconcile.ResultMismatch,
		Local:  l,
		Remote: r.Remote,
		Fields: []reconcile.FieldDiff{
			{Name: "liveness", Local: "1", Remote: "2"},
			{Name: "score", Local: "40", Remote: ""},
		},
		HTTPStatus:  200,
		Detail:      "status 3 on both sides; differs: liveness; absent remotely: score",
		FetchedAt:   fetchedAt,
		Attempts:    3,
		RateLimited: 2,
	}
	if diff := cmp.Diff(want, reconcile.Compare(l, r, now, staleAfter)); diff != "" {
		t.Errorf("Compare mismatch (-want +got):\n%s", diff)
	}
}

func TestCompare_StillProcessing(t *testing.T) {
	for _, tt := range []struct {
		name       string
		local      reconcile.Status
		remote     reconcile.Status
		savedAt    time.Time
		staleAfter time.Duration
		kind       reconcile.Kind
		detail     string
	}{
		{name: "Young", local: 1, remote: 1, savedAt: savedAgo(time.Hour), staleAfter: staleAfter,
			kind: reconcile.Pending},
		{name: "ExactlyStaleAfter", local: 1, remote: 2, savedAt: savedAgo(staleAfter), staleAfter: staleAfter,
			kind: reconcile.Pending},
		{name: "JustOlder", local: 2, remote: 2, savedAt: savedAgo(staleAfter + time.Nanosecond), staleAfter: staleAfter,
			kind:   reconcile.StillProcessing,
			detail: "local status 2, remote status 2 (in progress): still processing 1d0h after saved_at"},
		{name: "Older", local: 1, remote: 2, savedAt: savedAgo(76*time.Hour + 5*time.Minute), staleAfter: staleAfter,
			kind:   reconcile.StillProcessing,
			detail: "local status 1, remote status 2 (in progress): still processing 3d4h after saved_at"},
		{name: "OlderInHours", local: 1, remote: 1, savedAt: savedAgo(5*time.Hour + 12*time.Minute), staleAfter: time.Hour,
			kind:   reconcile.StillProcessing,
			detail: "local status 1, remote status 1 (in progress): still processing 5h12m after saved_at"},
		{name: "UnknownSavedAt", local: 1, remote: 1, savedAt: time.Time{}, staleAfter: staleAfter,
			kind: reconcile.Pending},
		{name: "SavedInTheFuture", local: 1, remote: 1, savedAt: now.Add(time.Hour), staleAfter: staleAfter,
			kind: reconcile.Pending},
		{name: "OtherTimeZone", local: 1, remote: 1,
			savedAt:    savedAgo(25 * time.Hour).In(time.FixedZone("BRT", -3*3600)),
			staleAfter: staleAfter,
			kind:       reconcile.StillProcessing,
			detail:     "local status 1, remote status 1 (in progress): still processing 1d1h after saved_at"},
		{name: "LocalNoneYoung", local: reconcile.StatusNone, remote: 1, savedAt: savedAgo(time.Hour), staleAfter: staleAfter,
			kind: reconcile.Pending},
		{name: "LocalNoneOlder", local: reconcile.StatusNone, remote: 1, savedAt: savedAgo(48 * time.Hour), staleAfter: staleAfter,
			kind:   reconcile.StillProcessing,
			detail: "local status none, remote status 1 (in progress): still processing 2d0h after saved_at"},
		{name: "LocalNoneUnknownSavedAt", local: reconcile.StatusNone, remote: 2, savedAt: time.Time{}, staleAfter: staleAfter,
			kind: reconcile.Pending},
		{name: "ZeroStaleAfter", local: 1, remote: 1, savedAt: savedAgo(30 * time.Second), staleAfter: 0,
			kind:   reconcile.StillProcessing,
			detail: "local status 1, remote status 1 (in progress): still processing 30s after saved_at"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			l := local(tt.local)
			l.SavedAt = tt.savedAt
			d := reconcile.Compare(l, ok(reconcile.Outcome{Status: tt.remote}), now, tt.staleAfter)
			if got, want := d.Kind, tt.kind; got != want {
				t.Fatalf("Kind=%s, want %s", got, want)
			}
			if got, want := d.Detail, tt.detail; got != want {
				t.Errorf("Detail=%q, want %q", got, want)
			}
		})
	}
}

func TestCompare_NotFound(t *testing.T) {
	l := local(3)
	r := reconcile.Result{NotFound: true, HTTPStatus: 404, ErrorCode: "50001", Attempts: 1, FetchedAt: fetchedAt}
	want := reconcile.Discrepancy{
		Kind:       reconcile.NotFound,
		Local:      l,
		HTTPStatus: 404,
		ErrorCode:  "50001",
		Detail:     "process not found for this tenant (404, 50001)",
		FetchedAt:  fetchedAt,
		Attempts:   1,
	}
	if diff := cmp.Diff(want, reconcile.Compare(l, r, now, staleAfter)); diff != "" {
		t.Errorf("Compare mismatch (-want +got):\n%s", diff)
	}
}

func TestCompare_Unverified(t *testing.T) {
	t.Run("AfterRetries", func(t *testing.T) {
		l := local(2)
		r := reconcile.Result{
			Err:        errors.New("internal failure (500, 99999) after 6 attempts"),
			HTTPStatus: 500, ErrorCode: "99999", Attempts: 6, RateLimited: 2, FetchedAt: fetchedAt,
		}
		want := reconcile.Discrepancy{
			Kind:        reconcile.Unverified,
			Local:       l,
			HTTPStatus:  500,
			ErrorCode:   "99999",
			Detail:      "internal failure (500, 99999) after 6 attempts",
			FetchedAt:   fetchedAt,
			Attempts:    6,
			RateLimited: 2,
		}
		if diff := cmp.Diff(want, reconcile.Compare(l, r, now, staleAfter)); diff != "" {
			t.Errorf("Compare mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("NoResponse", func(t *testing.T) {
		l := local(reconcile.StatusNone)
		r := reconcile.Result{Err: errors.New("connection reset by peer"), Attempts: 6}
		want := reconcile.Discrepancy{
			Kind: reconcile.Unverified, Local: l, Detail: "connection reset by peer", Attempts: 6,
		}
		if diff := cmp.Diff(want, reconcile.Compare(l, r, now, staleAfter)); diff != "" {
			t.Errorf("Compare mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("ErrWinsOverRemote", func(t *testing.T) {
		// A body for another id is kept as evidence, but it is not trusted.
		r := ok(reconcile.Outcome{Status: 3})
		r.Remote.ID = "00000000-0000-0000-0000-000000000000"
		r.Err = errors.New("body id 00000000-0000-0000-0000-000000000000 is not the one asked for")
		d := reconcile.Compare(local(2), r, now, staleAfter)
		if got, want := d.Kind, reconcile.Unverified; got != want {
			t.Fatalf("Kind=%s, want %s", got, want)
		}
		if d.Remote != r.Remote {
			t.Errorf("Remote=%v, want the observed body", d.Remote)
		}
		if got, want := d.Detail, r.Err.Error(); got != want {
			t.Errorf("Detail=%q, want %q", got, want)
		}
	})
	t.Run("ErrWinsOverNotFound", func(t *testing.T) {
		r := reconcile.Result{NotFound: true, Err: errors.New("boom"), HTTPStatus: 404}
		if got, want := reconcile.Compare(local(3), r, now, staleAfter).Kind, reconcile.Unverified; got != want {
			t.Fatalf("Kind=%s, want %s", got, want)
		}
	})
	t.Run("EmptyResult", func(t *testing.T) {
		d := reconcile.Compare(local(3), reconcile.Result{}, now, staleAfter)
		if got, want := d.Kind, reconcile.Unverified; got != want {
			t.Fatalf("Kind=%s, want %s", got, want)
		}
		if got, want := d.Detail, "no answer from the API"; got != want {
			t.Errorf("Detail=%q, want %q", got, want)
		}
	})
	for _, s := range []reconcile.Status{0, 6, -1} {
		t.Run(fmt.Sprintf("RemoteStatus%d", s), func(t *testing.T) {
			for _, ls := range []reconcile.Status{reconcile.StatusNone, 1, 3} {
				d := reconcile.Compare(local(ls), ok(reconcile.Outcome{Status: s}), now, staleAfter)
				if got, want := d.Kind, reconcile.Unverified; got != want {
					t.Fatalf("local %d: Kind=%s, want %s", ls, got, want)
				}
				if want := fmt.Sprintf("remote status %d is not one of 1..5; answer not trusted", s); d.Detail != want {
					t.Errorf("local %d: Detail=%q, want %q", ls, d.Detail, want)
				}
			}
		})
	}
}

func TestCompare_Gone(t *testing.T) {
	t.Run("Local5WithFieldsMatch", func(t *testing.T) {
		l := local(5)
		l.Outcome = fullOutcome(5)
		r := gone()
		want := reconcile.Discrepancy{
			Kind: reconcile.Match, Local: l, Remote: r.Remote, HTTPStatus: 410, FetchedAt: fetchedAt, Attempts: 1,
		}
		if diff := cmp.Diff(want, reconcile.Compare(l, r, now, staleAfter)); diff != "" {
			t.Errorf("Compare mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("Local3StatusMismatch", func(t *testing.T) {
		l := local(3)
		l.Outcome = fullOutcome(3)
		r := gone()
		want := reconcile.Discrepancy{
			Kind: reconcile.StatusMismatch, Local: l, Remote: r.Remote, HTTPStatus: 410,
			Detail: "local status 3, remote status 5 (410 Gone)", FetchedAt: fetchedAt, Attempts: 1,
		}
		if diff := cmp.Diff(want, reconcile.Compare(l, r, now, staleAfter)); diff != "" {
			t.Errorf("Compare mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("Local2LostResponse", func(t *testing.T) {
		l := local(2)
		l.SavedAt = savedAgo(72 * time.Hour) // stale, yet the remote is final
		r := gone()
		want := reconcile.Discrepancy{
			Kind: reconcile.LostResponse, Local: l, Remote: r.Remote, HTTPStatus: 410,
			Detail:    "local status 2, remote status 5 (410 Gone): the final response was lost",
			FetchedAt: fetchedAt, Attempts: 1,
		}
		if diff := cmp.Diff(want, reconcile.Compare(l, r, now, staleAfter)); diff != "" {
			t.Errorf("Compare mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("GoneWithoutStatusIsStatus5", func(t *testing.T) {
		r := gone()
		r.Remote.Status = reconcile.StatusNone
		if got, want := reconcile.Compare(local(5), r, now, staleAfter).Kind, reconcile.Match; got != want {
			t.Fatalf("Kind=%s, want %s", got, want)
		}
	})
}

// TestCompare_Copies checks that every verdict carries the fetch's evidence:
// the row, the observed body, the HTTP status, the error code, when it came,
// and how many requests it took.
func TestCompare_Copies(t *testing.T) {
	l := local(2)
	l.Outcome = reconcile.Outcome{Status: 2, UnicoID: "yes"}
	for _, tt := range []struct {
		name string
		r    reconcile.Result
		kind reconcile.Kind
	}{
		{"Pending", ok(reconcile.Outcome{Status: 2}), reconcile.Pending},
		{"LostResponse", ok(reconcile.Outcome{Status: 3, UnicoID: "yes"}), reconcile.LostResponse},
		{"Gone", gone(), reconcile.LostResponse},
		{"NotFound", reconcile.Result{NotFound: true, HTTPStatus: 404, ErrorCode: "50001", FetchedAt: fetchedAt}, reconcile.NotFound},
		{"Unverified", reconcile.Result{Err: errors.New("timeout"), HTTPStatus: 429, FetchedAt: fetchedAt}, reconcile.Unverified},
	} {
		t.Run(tt.name, func(t *testing.T) {
			tt.r.Attempts, tt.r.RateLimited = 4, 3
			d := reconcile.Compare(l, tt.r, now, staleAfter)
			if got, want := d.Kind, tt.kind; got != want {
				t.Fatalf("Kind=%s, want %s", got, want)
			}
			if diff := cmp.Diff(l, d.Local, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("Local mismatch (-want +got):\n%s", diff)
			}
			if d.Remote != tt.r.Remote {
				t.Errorf("Remote=%v, want %v", d.Remote, tt.r.Remote)
			}
			got := [5]any{d.HTTPStatus, d.ErrorCode, d.FetchedAt, d.Attempts, d.RateLimited}
			want := [5]any{tt.r.HTTPStatus, tt.r.ErrorCode, tt.r.FetchedAt, 4, 3}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("HTTPStatus, ErrorCode, FetchedAt, Attempts, RateLimited mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCompare_InvalidLocal(t *testing.T) {
	t.Run("InvalidSet", func(t *testing.T) {
		l := local(3)
		l.Invalid = errors.New("rows.csv: row 7: status: \"9\" is not one of 1..5")
		d := reconcile.Compare(l, ok(reconcile.Outcome{Status: 3}), now, staleAfter)
		want := reconcile.Discrepancy{Kind: reconcile.InvalidInput, Local: l, Detail: l.Invalid.Error()}
		if diff := cmp.Diff(want, d, cmpopts.EquateErrors()); diff != "" {
			t.Errorf("Compare mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("StatusOutOfRange", func(t *testing.T) {
		d := reconcile.Compare(local(9), ok(reconcile.Outcome{Status: 3}), now, staleAfter)
		if got, want := d.Kind, reconcile.InvalidInput; got != want {
			t.Fatalf("Kind=%s, want %s", got, want)
		}
		if got, want := d.Detail, "local status 9 is not one of 1..5"; got != want {
			t.Errorf("Detail=%q, want %q", got, want)
		}
	})
}

func TestInvalid(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		l := reconcile.Local{Row: 12, ProcessID: "not-a-uuid", Invalid: errors.New(`rows.csv: row 12: process_id: "not-a-uuid" is not a UUID`)}
		want := reconcile.Discrepancy{
			Kind:   reconcile.InvalidInput,
			Local:  l,
			Detail: `rows.csv: row 12: process_id: "not-a-uuid" is not a UUID`,
		}
		if diff := cmp.Diff(want, reconcile.Invalid(l), cmpopts.EquateErrors()); diff != "" {
			t.Errorf("Invalid mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("HostileProcessID", func(t *testing.T) {
		l := reconcile.Local{Row: 5, ProcessID: "\x00\x1b[2J" + strings.Repeat("x", 1<<20), Invalid: errors.New("bad")}
		d := reconcile.Invalid(l)
		if got, want := d.Local.ProcessID, `"\x00\x1b[2J`+strings.Repeat("x", 123)+`"…(1048581 bytes)`; got != want {
			t.Fatalf("ProcessID=%.200q, want %.200q", got, want)
		}
	})
	t.Run("NilInvalid", func(t *testing.T) {
		d := reconcile.Invalid(local(3))
		if got, want := d.Kind, reconcile.InvalidInput; got != want {
			t.Fatalf("Kind=%s, want %s", got, want)
		}
		if d.Detail == "" {
			t.Error("Detail is empty")
		}
	})
}

func TestDuplicate(t *testing.T) {
	l := local(3)
	l.Row = 40
	want := reconcile.Discrepancy{Kind: reconcile.DuplicateID, Local: l, Detail: "repeats row 12; fetched once"}
	if diff := cmp.Diff(want, reconcile.Duplicate(l, 12)); diff != "" {
		t.Errorf("Duplicate mismatch (-want +got):\n%s", diff)
	}
}

func TestInterrupted(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		l := local(1)
		want := reconcile.Discrepancy{Kind: reconcile.Unverified, Local: l, Detail: "interrupted by SIGTERM before fetch"}
		if diff := cmp.Diff(want, reconcile.Interrupted(l, "interrupted by SIGTERM before fetch")); diff != "" {
			t.Errorf("Interrupted mismatch (-want +got):\n%s", diff)
		}
	})
	t.Run("EmptyReason", func(t *testing.T) {
		d := reconcile.Interrupted(local(1), "")
		if got, want := d.Kind, reconcile.Unverified; got != want {
			t.Fatalf("Kind=%s, want %s", got, want)
		}
		if got, want := d.Detail, "run stopped before this process was fetched"; got != want {
			t.Errorf("Detail=%q, want %q", got, want)
		}
	})
}
