package state

import (
	"errors"
	"testing"
	"time"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// TestDecodeResult_ErrCorrupt: every truncation of a blob, and a blob with
// bytes to spare, is an error, never a panic or a wrong answer.
func TestDecodeResult_ErrCorrupt(t *testing.T) {
	key, err := pidKey("0190c3a2-7b1e-7c4d-9e2f-3a4b5c6d7e8f")
	if err != nil {
		t.Fatal(err)
	}
	score, serpro := 0.5, -1
	r := reconcile.Result{
		Remote: &reconcile.Remote{ID: "other", Outcome: reconcile.Outcome{Status: 3, UnicoID: "yes",
			Serpro: &serpro, Liveness: &serpro, Score: &score}},
		HTTPStatus: 200, ErrorCode: "x", Err: errors.New("boom"), Attempts: 2, FetchedAt: time.Unix(1, 2),
	}
	b := encodeResult(nil, key, r)
	for n := range len(b) {
		if _, err := decodeResult(b[:n], key[:]); !errors.Is(err, errCorrupt) {
			t.Errorf("decode of %d of %d bytes: %v, want errCorrupt", n, len(b), err)
		}
	}
	if _, err := decodeResult(append(b, 0), key[:]); !errors.Is(err, errCorrupt) {
		t.Errorf("decode with a byte to spare: %v, want errCorrupt", err)
	}
	if _, err := decodeResult(b, key[:15]); !errors.Is(err, errCorrupt) {
		t.Errorf("decode with a short key: %v, want errCorrupt", err)
	}
}
