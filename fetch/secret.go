package fetch

import (
	"fmt"
	"io"
	"log/slog"
	"os"
)

// CheckSecret refuses a credential (what: "api key", "access token") that
// would fail far from its cause: one Go cannot send as a header, or one too
// short to be real (and to be scrubbed from messages). Its error names
// where the value came from, never the value. An empty value is not given.
func CheckSecret(from, what, v string) error {
	switch {
	case v == "":
		return nil
	case !ValidHeaderValue(v):
		return fmt.Errorf("%s: the %s holds white space or control characters inside: it cannot be sent as an HTTP header", from, what)
	case len(v) < MinSecretLen:
		return fmt.Errorf("%s: the %s is shorter than %d characters: not a real one", from, what, MinSecretLen)
	}
	return nil
}

// ReadSecretFile reads at most limit bytes of path; its errors name the
// file, never its content.
func ReadSecretFile(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s is larger than %d KiB: not a secret of this kind", path, limit>>10)
	}
	return b, nil
}

// WarnShared warns when a secret file can be read or written by others
// than its owner. It says nothing about what the file holds.
func WarnShared(log *slog.Logger, flag, path string) {
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm()&0o077 == 0 {
		return // a missing file is reported when it is read
	}
	log.Warn("a secret file can be read by other users than its owner: chmod 600 it",
		"flag", flag, "file", path, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
}
