package state

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestReadFrames: the whole frames of a segment come back as written; a
// torn tail or a frame whose checksum fails ends the segment there.
func TestReadFrames(t *testing.T) {
	recs := []record{
		{seq: 0, key: [16]byte{1}, kind: "match", data: []byte{1, 2, 3}},
		{seq: 7, key: [16]byte{2, 9}, kind: "unverified", data: []byte("an error text")},
		{seq: 1 << 40, key: [16]byte{15: 3}, kind: "not_found", data: nil},
	}
	var log []byte
	var ends []int
	for i := range recs {
		log = appendFrame(log, 42, &recs[i])
		ends = append(ends, len(log))
	}
	want := func(n int) []logged {
		var out []logged
		for _, r := range recs[:n] {
			if r.data == nil {
				r.data = []byte{}
			}
			out = append(out, logged{run: 42, rec: r})
		}
		return out
	}
	flip := func(at int) []byte {
		b := append([]byte(nil), log...)
		b[at] ^= 0x40
		return b
	}
	for _, tt := range []struct {
		name string
		log  []byte
		n    int
	}{
		{"whole", log, 3},
		{"torn in the last frame's payload", log[:len(log)-1], 2},
		{"torn in the last frame's header", log[:ends[1]+5], 2},
		{"nothing", nil, 0},
		{"second frame's payload changed", flip(ends[0] + 12), 1},
		{"second frame's length changed", flip(ends[0]), 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := readFrames(tt.log)
			if diff := cmp.Diff(want(tt.n), got, cmp.AllowUnexported(logged{}, record{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}
