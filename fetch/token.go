package fetch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// TokenSource gives the Bearer access token. Implementations must be safe
// for concurrent use; the Client calls Renew from one goroutine at a time.
// Errors must never contain a token.
type TokenSource interface {
	// Token returns the current access token. It is called before every
	// request, so it should be cheap (a cached value).
	Token(ctx context.Context) (string, error)
	// Renew returns a token other than expired, which the API has just
	// reported as expired, and makes it the one Token returns. It fails
	// (wrapping ErrTokenNotRenewed when it simply has no other) when no
	// fresh token can be had; the run then stops.
	Renew(ctx context.Context, expired string) (string, error)
}

// StaticToken is a fixed access token (--token). It cannot be renewed. Its
// String method hides the value, so printing it by mistake leaks nothing.
type StaticToken string

var _ TokenSource = StaticToken("")

// Token returns the token.
func (t StaticToken) Token(context.Context) (string, error) { return string(t), nil }

// Renew always fails: a fixed token has no successor.
func (t StaticToken) Renew(context.Context, string) (string, error) {
	return "", fmt.Errorf("%w: a token given on the command line cannot be renewed; use --token-file", ErrTokenNotRenewed)
}

// String returns "[redacted]".
func (t StaticToken) String() string { return "[redacted]" }

// GoString returns "[redacted]".
func (t StaticToken) GoString() string { return "[redacted]" }

// maxTokenFile caps what is read from a token file, in bytes.
const maxTokenFile = 64 << 10

// TokenFile is an access token kept in a file (--token-file) by some other
// process that refreshes it. The file is read once by OpenTokenFile and again
// on every Renew; surrounding white space is ignored. Safe for concurrent use.
type TokenFile struct {
	path string

	mu    sync.Mutex
	token string
}

var _ TokenSource = (*TokenFile)(nil)

// OpenTokenFile reads the token in path. It fails when the file cannot be
// read or holds no token.
func OpenTokenFile(path string) (*TokenFile, error) {
	tok, err := readTokenFile(path)
	if err != nil {
		return nil, err
	}
	return &TokenFile{path: path, token: tok}, nil
}

// Token returns the token last read from the file.
func (f *TokenFile) Token(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.token, nil
}

// Renew reads the file again. It fails, wrapping ErrTokenNotRenewed, when
// the file still holds the expired token.
func (f *TokenFile) Renew(_ context.Context, expired string) (string, error) {
	tok, err := readTokenFile(f.path)
	if err != nil {
		return "", err
	}
	if tok == expired {
		return "", fmt.Errorf("%w: token file %s still holds the expired token", ErrTokenNotRenewed, f.path)
	}
	f.mu.Lock()
	f.token = tok
	f.mu.Unlock()
	return tok, nil
}

// String names the file, never its content.
func (f *TokenFile) String() string { return "token file " + f.path }

func readTokenFile(path string) (string, error) {
	fh, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("read token file: %w", err)
	}
	defer fh.Close()
	data, err := io.ReadAll(io.LimitReader(fh, maxTokenFile+1))
	if err != nil {
		return "", fmt.Errorf("read token file %s: %w", path, err)
	}
	if len(data) > maxTokenFile {
		return "", fmt.Errorf("read token file %s: %w", path, errTokenFileTooLarge)
	}
	tok := string(bytes.TrimSpace(data))
	if tok == "" {
		return "", fmt.Errorf("read token file %s: %w", path, errTokenFileEmpty)
	}
	if !validHeaderValue(tok) {
		return "", fmt.Errorf("read token file %s: %w", path, errTokenFileJunk)
	}
	if len(tok) < MinSecretLen {
		return "", fmt.Errorf("read token file %s: %w", path, errTokenFileShort)
	}
	return tok, nil
}

var (
	errTokenFileEmpty    = errors.New("file holds no token")
	errTokenFileTooLarge = errors.New("file is larger than 64 KiB: not a token")
	errTokenFileJunk     = errors.New("file holds white space or control characters inside the token")
	errTokenFileShort    = fmt.Errorf("the token in the file is shorter than %d characters: not a token", MinSecretLen)
)
