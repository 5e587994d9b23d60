package fetch

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheckSecret(t *testing.T) {
	for _, tt := range []struct {
		v, want string
	}{
		{"", ""},
		{"0123456789abcdef", ""},
		{"abc12", "$X: the api key is shorter than 8 characters"},
		{"has a space inside", "$X: the api key holds white space or control characters inside"},
		{"tab\tinside-it", "holds white space"},
	} {
		err := CheckSecret("$X", "api key", tt.v)
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%q: %v", tt.v, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%q: error %v, want %q", tt.v, err, tt.want)
		case err != nil && strings.Contains(err.Error(), tt.v):
			t.Errorf("%q: the error shows the value: %v", tt.v, err)
		}
	}
}

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	small, big := filepath.Join(dir, "small"), filepath.Join(dir, "big")
	if err := os.WriteFile(small, []byte("secret-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, bytes.Repeat([]byte("s"), 2049), 0o600); err != nil {
		t.Fatal(err)
	}
	if b, err := ReadSecretFile(small, 2048); err != nil || string(b) != "secret-value\n" {
		t.Errorf("read %q, %v", b, err)
	}
	if _, err := ReadSecretFile(big, 2048); err == nil || strings.Contains(err.Error(), "sss") || !strings.Contains(err.Error(), big) {
		t.Errorf("a file over the limit: %v, want an error naming the file and not its content", err)
	}
	if _, err := ReadSecretFile(filepath.Join(dir, "none"), 2048); err == nil {
		t.Error("a missing file read")
	}
}

func TestWarnShared(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o400, false}, {0o640, true}, {0o604, true}} {
		path := filepath.Join(dir, "key")
		if err := os.WriteFile(path, []byte("k"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, tt.mode); err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		WarnShared(slog.New(slog.NewTextHandler(&log, nil)), "--key-file", path)
		if got := log.Len() > 0; got != tt.warn {
			t.Errorf("mode %04o: warned %v, want %v: %s", tt.mode, got, tt.warn, log.String())
		}
		os.Remove(path)
	}
}
