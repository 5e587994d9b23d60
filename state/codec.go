package state

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// An answer's reconcile.Result is stored as one compact blob (10 to 30
// bytes for a typical answer), so that a resumed run reads three columns
// a row rather than fifteen: reading is then several times faster.
//
//	byte    format version (1)
//	byte    flags (flag* below)
//	if flagRemote: varint status, string unicoId, string identityFraudsters
//	if flagSerpro: varint; if flagLiveness: varint; if flagScore: 8 bytes float64 bits, little-endian
//	if flagRemoteID: string Remote.ID (absent when it equals the process id)
//	uvarint HTTPStatus, string ErrorCode
//	if flagErr: string Err.Error()
//	uvarint Attempts, uvarint RateLimited
//	if flagFetched: varint Unix seconds, uvarint nanoseconds
//
// A string is a uvarint length and its bytes.
const codecVersion = 1

const (
	flagRemote = 1 << iota
	flagGone
	flagNotFound
	flagErr
	flagSerpro
	flagLiveness
	flagScore
	flagRemoteID
)

// flagFetched lives in a second flags byte.
const flagFetched = 1

// errCorrupt says that an answer's blob cannot be decoded.
var errCorrupt = errors.New("corrupt answer")

// encodeResult appends r, the answer for the process whose packed id is
// key, to b.
func encodeResult(b []byte, key [16]byte, r reconcile.Result) []byte {
	var f byte
	if r.Remote != nil {
		f |= flagRemote
		if r.Remote.Gone {
			f |= flagGone
		}
		if r.Remote.Serpro != nil {
			f |= flagSerpro
		}
		if r.Remote.Liveness != nil {
			f |= flagLiveness
		}
		if r.Remote.Score != nil {
			f |= flagScore
		}
		if !isCanonical(r.Remote.ID, key) {
			f |= flagRemoteID
		}
	}
	if r.NotFound {
		f |= flagNotFound
	}
	if r.Err != nil {
		f |= flagErr
	}
	var f2 byte
	if !r.FetchedAt.IsZero() {
		f2 |= flagFetched
	}
	b = append(b, codecVersion, f, f2)
	if rm := r.Remote; rm != nil {
		b = binary.AppendVarint(b, int64(rm.Status))
		b = appendString(b, rm.UnicoID)
		b = appendString(b, rm.IdentityFraudsters)
		if rm.Serpro != nil {
			b = binary.AppendVarint(b, int64(*rm.Serpro))
		}
		if rm.Liveness != nil {
			b = binary.AppendVarint(b, int64(*rm.Liveness))
		}
		if rm.Score != nil {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(*rm.Score))
		}
		if f&flagRemoteID != 0 {
			b = appendString(b, rm.ID)
		}
	}
	b = binary.AppendVarint(b, int64(r.HTTPStatus))
	b = appendString(b, r.ErrorCode)
	if r.Err != nil {
		b = appendString(b, r.Err.Error())
	}
	b = binary.AppendVarint(b, int64(r.Attempts))
	b = binary.AppendVarint(b, int64(r.RateLimited))
	if f2&flagFetched != 0 {
		b = binary.AppendVarint(b, r.FetchedAt.Unix())
		b = binary.AppendUvarint(b, uint64(r.FetchedAt.Nanosecond()))
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// decodeResult rebuilds the Result that encodeResult wrote for key. Err
// comes back as an error whose message is the original's; FetchedAt comes
// back in UTC.
func decodeResult(b []byte, key []byte) (reconcile.Result, error) {
	d := decoder{b: b}
	var r reconcile.Result
	if len(key) != 16 {
		return r, fmt.Errorf("%w: process id of %d bytes", errCorrupt, len(key))
	}
	if v := d.byte(); v != codecVersion {
		return r, fmt.Errorf("%w: format version %d", errCorrupt, v)
	}
	f, f2 := d.byte(), d.byte()
	if f&flagRemote != 0 {
		// One allocation holds the Remote and the numbers it points to.
		a := &struct {
			rm       reconcile.Remote
			serpro   int
			liveness int
			score    float64
		}{}
		rm := &a.rm
		rm.Gone = f&flagGone != 0
		rm.Status = reconcile.Status(d.varint())
		rm.UnicoID = d.word()
		rm.IdentityFraudsters = d.word()
		if f&flagSerpro != 0 {
			a.serpro = int(d.varint())
			rm.Serpro = &a.serpro
		}
		if f&flagLiveness != 0 {
			a.liveness = int(d.varint())
			rm.Liveness = &a.liveness
		}
		if f&flagScore != 0 {
			a.score = math.Float64frombits(d.uint64())
			rm.Score = &a.score
		}
		if f&flagRemoteID != 0 {
			rm.ID = d.string()
		} else {
			rm.ID = pidString(key)
		}
		r.Remote = rm
	}
	r.NotFound = f&flagNotFound != 0
	r.HTTPStatus = int(d.varint())
	r.ErrorCode = d.string()
	if f&flagErr != 0 {
		r.Err = errors.New(d.string())
	}
	r.Attempts = int(d.varint())
	r.RateLimited = int(d.varint())
	if f2&flagFetched != 0 {
		sec := d.varint()
		nsec := d.uvarint()
		r.FetchedAt = time.Unix(sec, int64(nsec)).UTC()
	}
	if d.bad || len(d.b) != 0 {
		return reconcile.Result{}, errCorrupt
	}
	return r, nil
}

// decoder reads what encodeResult wrote; past the end it sets bad and
// returns zeros.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.bad = true
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad = true
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint64() uint64 {
	if len(d.b) < 8 {
		d.bad = true
		return 0
	}
	v := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// word is string for the results' few words, which it returns without
// allocating.
func (d *decoder) word() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad = true
		return ""
	}
	w := d.b[:n]
	d.b = d.b[n:]
	switch string(w) {
	case "":
		return ""
	case "yes":
		return "yes"
	case "no":
		return "no"
	case "inconclusive":
		return "inconclusive"
	}
	return string(w)
}

// pidKey packs a canonical process id (8-4-4-4-12 hex) into its 16 bytes.
func pidKey(id string) ([16]byte, error) {
	k, ok := reconcile.ProcessKey(id)
	if !ok {
		return k, fmt.Errorf("process id %q is not a canonical UUID", id)
	}
	return k, nil
}

// pidString is the canonical, lower-case form of a packed process id.
func pidString(k []byte) string {
	b := pidText(k)
	return string(b[:])
}

// isCanonical reports whether id is the canonical form of key.
func isCanonical(id string, key [16]byte) bool {
	b := pidText(key[:])
	return string(b[:]) == id
}

func pidText(k []byte) (b [36]byte) {
	hex.Encode(b[0:8], k[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], k[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], k[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], k[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], k[10:16])
	return b
}
