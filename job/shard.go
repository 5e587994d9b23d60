package job

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/unico-reconcile/unico-reconcile/reconcile"
)

// ParseShard reads --shard: I/N, or auto/N with I from index (a Kubernetes
// Indexed Job's JOB_COMPLETION_INDEX, which the caller reads).
func ParseShard(s, index string) (reconcile.Shard, error) {
	if n, ok := strings.CutPrefix(s, "auto/"); ok {
		count, err := strconv.Atoi(n)
		if err != nil || count < 1 {
			return reconcile.Shard{}, fmt.Errorf("--shard %s: want auto/N with N at least 1", s)
		}
		if index == "" {
			return reconcile.Shard{}, fmt.Errorf("--shard %s: JOB_COMPLETION_INDEX is not set (a Kubernetes Indexed Job sets it); give I/N instead", s)
		}
		i, err := strconv.Atoi(index)
		if err != nil || i < 0 || i >= count {
			return reconcile.Shard{}, fmt.Errorf("--shard %s: JOB_COMPLETION_INDEX=%q is not an index 0..%d", s, index, count-1)
		}
		s = strconv.Itoa(i) + "/" + n
	}
	sh, err := reconcile.ParseShard(s)
	if err != nil {
		return sh, fmt.Errorf("--shard %s: want I/N with 0 <= I < N, or auto/N", s)
	}
	return sh, nil
}
