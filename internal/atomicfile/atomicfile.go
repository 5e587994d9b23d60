// Package atomicfile writes files whole or not at all: the bytes go to a
// temporary file in the same folder, which is synced and renamed. reports
// (files for people) and metrics (the textfile for node_exporter) share it.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// BufferSize is the buffer between an encoder and a file.
const BufferSize = 64 << 10

// Write writes a file at path, with mode perm, with what fn writes to its
// io.Writer. The bytes go to a temporary file in the same folder
// (TempPattern), which is flushed, synced and then renamed to path; the
// folder is synced last. When fn or any step fails (or fn panics), the
// temporary file is removed and nothing appears under path: a file already
// there is left untouched.
func Write(path string, perm os.FileMode, fn func(io.Writer) error) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, TempPattern(name))
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()

	if perm != 0o600 {
		if err := f.Chmod(perm); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	bw := bufio.NewWriterSize(f, BufferSize)
	if err := fn(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := Finish(f, bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done = true
	if err := SyncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// TempPattern is the os.CreateTemp pattern of the temporary file for name:
// hidden, and plainly temporary.
func TempPattern(name string) string { return "." + name + ".tmp-*" }

// Finish flushes bw, syncs f and closes it.
func Finish(f *os.File, bw *bufio.Writer) error {
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// SyncDir makes the renames in dir durable. Windows cannot sync a folder;
// there a rename is as durable as it gets.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
