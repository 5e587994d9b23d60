package reconcile

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Compare returns the verdict on a valid, first-seen row l given the answer r
// to its fetch. It is pure: now is the instant staleness is measured from, and
// staleAfter is how long after SavedAt a process may stay in progress
// remotely before it is reported (--stale-after).
//
// The rules, checked in this order:
//   - r.Err set: Unverified, Detail = the error's text.
//   - r.NotFound: NotFound.
//   - no Remote, or a remote status outside 1..5: Unverified (the answer
//     cannot be trusted).
//   - local final (3, 4, 5), remote status different (final or not):
//     StatusMismatch. A 410 (Remote.Gone) is remote status 5.
//   - local 5, remote 410: Match, fields not compared (410 carries none).
//   - same final status: ResultMismatch when a result field stored locally
//     differs from the remote one or is absent remotely, every such field
//     listed in Fields in the contract's order; Match otherwise.
//   - local not final (none, 1, 2), remote final: LostResponse.
//   - local not final, remote 1 or 2: StillProcessing when SavedAt is known
//     and now.Sub(SavedAt) > staleAfter, Pending otherwise.
//
// Strings are compared without regard to case or surrounding space, numbers
// by value; the values in Fields are trimmed and made Printable.
// Local, Remote, HTTPStatus, ErrorCode, FetchedAt, Attempts and RateLimited
// are always copied from l and r. Detail is set for every listed kind.
//
// A row with l.Invalid set gets Invalid(l), and a local status outside
// none..5 gets InvalidInput: the source should not pass either here.
func Compare(l Local, r Result, now time.Time, staleAfter time.Duration) Discrepancy {
	if l.Invalid != nil {
		return Invalid(l)
	}
	d := Discrepancy{
		Local:       l,
		Remote:      r.Remote,
		HTTPStatus:  r.HTTPStatus,
		ErrorCode:   r.ErrorCode,
		FetchedAt:   r.FetchedAt,
		Attempts:    r.Attempts,
		RateLimited: r.RateLimited,
	}
	local := l.Status
	if local != StatusNone && !local.Valid() {
		d.Kind = InvalidInput
		d.Detail = fmt.Sprintf("local status %d is not one of 1..5", local)
		return d
	}
	switch {
	case r.Err != nil:
		d.Kind, d.Detail = Unverified, r.Err.Error()
		return d
	case r.NotFound:
		d.Kind, d.Detail = NotFound, "process not found for this tenant"+codes(r)
		return d
	case r.Remote == nil:
		d.Kind, d.Detail = Unverified, "no answer from the API"+codes(r)
		return d
	}

	rem := r.Remote
	remote := rem.Status
	if rem.Gone {
		remote = StatusError
	}
	switch {
	case !remote.Valid():
		d.Kind = Unverified
		d.Detail = fmt.Sprintf("remote status %d is not one of 1..5; answer not trusted", rem.Status)
	case local.Final() && remote != local:
		d.Kind = StatusMismatch
		d.Detail = fmt.Sprintf("local status %s, remote status %s", local, remoteStatus(rem))
	case local.Final() && rem.Gone:
		d.Kind = Match // a 410 carries only id and status: nothing to compare
	case local.Final():
		d.Fields = diffFields(l.Outcome, rem.Outcome)
		d.Kind = Match
		if len(d.Fields) > 0 {
			d.Kind = ResultMismatch
			d.Detail = fmt.Sprintf("status %s on both sides; %s", local, describeFields(d.Fields))
		}
	case remote.Final():
		d.Kind = LostResponse
		d.Detail = fmt.Sprintf("local status %s, remote status %s: the final response was lost",
			localStatus(local), remoteStatus(rem))
	case !l.SavedAt.IsZero() && now.Sub(l.SavedAt) > staleAfter:
		d.Kind = StillProcessing
		d.Detail = fmt.Sprintf("local status %s, remote status %s: still processing %s after saved_at",
			localStatus(local), remoteStatus(rem), formatAge(now.Sub(l.SavedAt)))
	default:
		d.Kind = Pending
	}
	return d
}

// Invalid returns the verdict on a row that cannot be used (l.Invalid set):
// InvalidInput, with Detail = l.Invalid's text. Such a row is never fetched.
// Its ProcessID, which may hold anything, becomes Printable.
func Invalid(l Local) Discrepancy {
	detail := "row cannot be used"
	if l.Invalid != nil {
		detail = l.Invalid.Error()
	}
	l.ProcessID = Printable(l.ProcessID)
	return Discrepancy{Kind: InvalidInput, Local: l, Detail: detail}
}

// Duplicate returns the verdict on a row whose process_id first appeared at
// row firstRow of the same source: DuplicateID, with a Detail naming that
// row. The process is fetched once, for its first row; the repeat carries no
// fetch data.
func Duplicate(l Local, firstRow int) Discrepancy {
	return Discrepancy{
		Kind:   DuplicateID,
		Local:  l,
		Detail: fmt.Sprintf("repeats row %d; fetched once", firstRow),
	}
}

// Interrupted returns the verdict on a row the run stopped before fetching
// (signal, deadline, fatal API error): Unverified, with Detail = reason, or a
// generic line when reason is empty.
func Interrupted(l Local, reason string) Discrepancy {
	if reason == "" {
		reason = "run stopped before this process was fetched"
	}
	return Discrepancy{Kind: Unverified, Local: l, Detail: reason}
}

// diffFields lists, in the contract's order, the result fields stored in
// local that differ from remote or are absent there. A field empty locally
// is not compared.
func diffFields(local, remote Outcome) []FieldDiff {
	var diffs []FieldDiff
	str := func(name, l, r string) {
		l, r = strings.TrimSpace(l), strings.TrimSpace(r)
		if l != "" && !strings.EqualFold(l, r) {
			diffs = append(diffs, FieldDiff{Name: name, Local: Printable(l), Remote: Printable(r)})
		}
	}
	num := func(name string, l, r *float64) {
		switch {
		case l == nil:
		case r == nil:
			diffs = append(diffs, FieldDiff{Name: name, Local: formatNumber(*l)})
		case *l != *r && !(math.IsNaN(*l) && math.IsNaN(*r)): // no source passes NaN; still, it is itself
			diffs = append(diffs, FieldDiff{Name: name, Local: formatNumber(*l), Remote: formatNumber(*r)})
		}
	}
	str(FieldUnicoID, local.UnicoID, remote.UnicoID)
	str(FieldIdentityFraudsters, local.IdentityFraudsters, remote.IdentityFraudsters)
	num(FieldSerpro, intAsFloat(local.Serpro), intAsFloat(remote.Serpro))
	num(FieldLiveness, intAsFloat(local.Liveness), intAsFloat(remote.Liveness))
	num(FieldScore, local.Score, remote.Score)
	return diffs
}

// describeFields says in words which fields differ and which are absent
// remotely, e.g. "differs: liveness; absent remotely: score".
func describeFields(fields []FieldDiff) string {
	var differ, absent []string
	for _, f := range fields {
		if f.Remote == "" {
			absent = append(absent, f.Name)
		} else {
			differ = append(differ, f.Name)
		}
	}
	var parts []string
	if len(differ) > 0 {
		parts = append(parts, "differs: "+strings.Join(differ, ", "))
	}
	if len(absent) > 0 {
		parts = append(parts, "absent remotely: "+strings.Join(absent, ", "))
	}
	return strings.Join(parts, "; ")
}

func intAsFloat(p *int) *float64 {
	if p == nil {
		return nil
	}
	f := float64(*p)
	return &f
}

// formatNumber writes f as the shortest decimal that reads back the same:
// 87, -1, 87.5.
func formatNumber(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// localStatus names a local status for a Detail: its number, or "none".
func localStatus(s Status) string {
	if s == StatusNone {
		return "none"
	}
	return s.String()
}

// remoteStatus names a remote status for a Detail, saying whether it is
// final and whether it came as a 410.
func remoteStatus(r *Remote) string {
	switch {
	case r.Gone:
		return "5 (410 Gone)"
	case r.Status.Final():
		return r.Status.String() + " (final)"
	default:
		return r.Status.String() + " (in progress)"
	}
}

// codes formats the HTTP status and API error code of r as " (404, 50001)",
// leaving out what is unknown; "" when both are.
func codes(r Result) string {
	var parts []string
	if r.HTTPStatus != 0 {
		parts = append(parts, strconv.Itoa(r.HTTPStatus))
	}
	if r.ErrorCode != "" {
		parts = append(parts, r.ErrorCode)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// formatAge writes a duration the way a person reads an age: "3d4h",
// "5h12m", "45m0s", "30s".
func formatAge(d time.Duration) string {
	const day = 24 * time.Hour
	days := d / day
	d -= days * day
	switch {
	case days > 0:
		return fmt.Sprintf("%dd%dh", days, d/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh%dm", d/time.Hour, d%time.Hour/time.Minute)
	default:
		return d.Round(time.Second).String()
	}
}
