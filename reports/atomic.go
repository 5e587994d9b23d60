package reports

import (
	"io"

	"github.com/unico-reconcile/unico-reconcile/internal/atomicfile"
)

// bufferSize is the buffer between the encoders and a report file.
const bufferSize = atomicfile.BufferSize

// WriteAtomic writes a file at path with what fn writes to its io.Writer.
// The bytes go to a temporary file in the same folder (".NAME.tmp-*"), which
// is flushed, synced and then renamed to path; the folder is synced last.
// When fn or any step fails (or fn panics), the temporary file is removed
// and nothing appears under path: a file already there is left untouched.
//
// The file is created with mode 0600: reports hold personal data.
func WriteAtomic(path string, fn func(io.Writer) error) error {
	return atomicfile.Write(path, 0o600, fn)
}

// tempPattern, finish and syncDir are atomicfile's, for the report set's
// parts (set.go).
var (
	tempPattern = atomicfile.TempPattern
	finish      = atomicfile.Finish
	syncDir     = atomicfile.SyncDir
)
