package reports

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// bufferSize is the buffer between the encoders and a report file.
const bufferSize = 64 << 10

// WriteAtomic writes a file at path with what fn writes to its io.Writer.
// The bytes go to a temporary file in the same folder (".NAME.tmp-*"), which
// is flushed, synced and then renamed to path; the folder is synced last.
// When fn or any step fails (or fn panics), the temporary file is removed
// and nothing appears under path: a file already there is left untouched.
//
// The file is created with mode 0600: reports hold personal data.
func WriteAtomic(path string, fn func(io.Writer) error) error {
	return writeAtomic(path, 0o600, fn)
}

// writeAtomic is WriteAtomic with the file's mode.
func writeAtomic(path string, perm os.FileMode, fn func(io.Writer) error) error {
	dir, name := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, tempPattern(name))
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
	bw := bufio.NewWriterSize(f, bufferSize)
	if err := fn(bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := finish(f, bw); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done = true
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// tempPattern is the os.CreateTemp pattern of the temporary file for name:
// hidden, and plainly temporary.
func tempPattern(name string) string { return "." + name + ".tmp-*" }

// finish flushes bw, syncs f and closes it.
func finish(f *os.File, bw *bufio.Writer) error {
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	return f.Close()
}

// syncDir makes the renames in dir durable. Windows cannot sync a folder;
// there a rename is as durable as it gets.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	return errors.Join(d.Sync(), d.Close())
}
