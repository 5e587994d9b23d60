package reconcile

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Shard is the part of a source that one of Count runs, working side by
// side, takes: the processes whose id hashes to Index. The zero Shard (and
// any Count below 2) is the whole source.
//
// A valid row belongs to shard ShardOf(id, Count), where id is the
// canonical (lower-case 8-4-4-4-12) process id: the FNV-1a 64-bit hash of
// its 36 bytes, modulo Count. Every repeat of an id therefore falls in the
// shard of its first occurrence, which reports it as duplicate_id. A row
// without a valid process id (or invalid in any other way) belongs to shard
// 0, so that across all shards every row is reported exactly once.
type Shard struct {
	Index int // 0 <= Index < Count
	Count int
}

// ErrBadShard classifies a shard that ParseShard cannot read.
var ErrBadShard = errors.New("want I/N with 0 <= I < N")

// ParseShard reads "I/N".
func ParseShard(s string) (Shard, error) {
	i, n, ok := strings.Cut(s, "/")
	index, err1 := strconv.Atoi(i)
	count, err2 := strconv.Atoi(n)
	if !ok || err1 != nil || err2 != nil || count < 1 || index < 0 || index >= count {
		return Shard{}, fmt.Errorf("shard %q: %w", s, ErrBadShard)
	}
	return Shard{Index: index, Count: count}, nil
}

// Sharded reports whether s is a proper part of the source (Count > 1).
func (s Shard) Sharded() bool { return s.Count > 1 }

// Parts returns the number of runs the source is split among: Count for a
// sharded source, 1 for the whole source.
func (s Shard) Parts() int {
	if !s.Sharded() {
		return 1
	}
	return s.Count
}

// ShareOf returns s's share of a rate shared by all the shards of the
// source (the tenant's --rate): rate divided by Parts, the whole rate for
// an unsharded run.
func (s Shard) ShareOf(rate float64) float64 { return rate / float64(s.Parts()) }

// String returns "I/N", or "" for the whole source.
func (s Shard) String() string {
	if !s.Sharded() {
		return ""
	}
	return strconv.Itoa(s.Index) + "/" + strconv.Itoa(s.Count)
}

// Owns reports whether row l belongs to s.
func (s Shard) Owns(l Local) bool {
	if !s.Sharded() {
		return true
	}
	if _, ok := ProcessKey(l.ProcessID); l.Invalid != nil || !ok {
		return s.Index == 0
	}
	return ShardOf(l.ProcessID, s.Count) == s.Index
}

// ShardOf returns the shard, out of count, of the canonical process id:
// FNV-1a 64 of its bytes, modulo count.
func ShardOf(id string, count int) int {
	const (
		offset = 14695981039346656037
		prime  = 1099511628211
	)
	h := uint64(offset)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime
	}
	return int(h % uint64(count))
}
