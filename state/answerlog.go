package state

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// The answers log is the journal's write-ahead file, kept beside the
// database as segments named <database>-answers.<n>. Recording an answer in
// SQLite costs a transaction (15-25 us of CPU, for which the worker would
// wait); copying it into the log costs a memory copy. A segment is a file of
// segmentBytes mapped into memory (MAP_SHARED): what Record copies there is
// in the kernel's page cache at once, where a killed process leaves it, as
// SQLite's own WAL would be. A background importer moves the answers into
// the database in large transactions and removes each segment once all of
// its answers are committed there. The journal of the next run (or of the
// resumed one) imports whatever a killed process left, before anything
// reads the answers.
//
// A segment is a sequence of frames, then zeros:
//
//	uint32 LE  payload length (0: the end)
//	uint32 LE  CRC-32C of the payload
//	payload:   uvarint run key, uvarint seq, 16 bytes process id,
//	           uvarint length and bytes of the kind, the result blob (codec.go)
//
// A frame cut short or failing its checksum ends the segment: it is the
// tail a crash tore, and everything before it is whole.

// segmentBytes is a segment's size: when one is full Record starts the
// next, so that the importer can remove the old one and the log stays
// small.
var segmentBytes int64 = 1 << 20

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// appendFrame appends the frame of one answer to b.
func appendFrame(b []byte, run int64, r *record) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0) // length and checksum, below
	b = binary.AppendUvarint(b, uint64(run))
	b = binary.AppendUvarint(b, uint64(r.seq))
	b = append(b, r.key[:]...)
	b = appendString(b, r.kind)
	b = append(b, r.data...)
	payload := b[start+8:]
	binary.LittleEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.LittleEndian.PutUint32(b[start+4:], crc32.Checksum(payload, crcTable))
	return b
}

// logged is one answer read back from the log.
type logged struct {
	run int64
	rec record
}

// readFrames decodes the whole frames of a segment, stopping at the first
// torn or corrupt one.
func readFrames(b []byte) []logged {
	var out []logged
	for len(b) >= 8 {
		n := binary.LittleEndian.Uint32(b)
		if n == 0 || uint64(n) > uint64(len(b)-8) {
			break
		}
		payload := b[8 : 8+n]
		if crc32.Checksum(payload, crcTable) != binary.LittleEndian.Uint32(b[4:]) {
			break
		}
		l, ok := decodeFrame(payload)
		if !ok {
			break
		}
		out = append(out, l)
		b = b[8+n:]
	}
	return out
}

func decodeFrame(p []byte) (logged, bool) {
	var l logged
	run, n := binary.Uvarint(p)
	if n <= 0 {
		return l, false
	}
	p = p[n:]
	seq, n := binary.Uvarint(p)
	if n <= 0 || len(p[n:]) < 16 {
		return l, false
	}
	p = p[n:]
	copy(l.rec.key[:], p[:16])
	p = p[16:]
	klen, n := binary.Uvarint(p)
	if n <= 0 || klen > uint64(len(p[n:])) {
		return l, false
	}
	l.rec.kind = string(p[n : n+int(klen)])
	l.rec.data = slices.Clone(p[n+int(klen):])
	l.run, l.rec.seq = int64(run), int64(seq)
	return l, true
}

// segment is one file of the log, mapped into memory while it is written.
type segment struct {
	n   int
	f   *os.File
	mem []byte // the mapping
	off int    // bytes written
}

// segmentPath is the file of segment n of the log of the database at db.
func segmentPath(db string, n int) string { return db + "-answers." + strconv.Itoa(n) }

// segments lists the log's segment numbers present beside db, in order.
func segments(db string) ([]int, error) {
	names, err := filepath.Glob(globEscape(db) + "-answers.*")
	if err != nil {
		return nil, err
	}
	var ns []int
	for _, name := range names {
		n, err := strconv.Atoi(strings.TrimPrefix(name, db+"-answers."))
		if err == nil && n >= 0 {
			ns = append(ns, n)
		}
	}
	slices.Sort(ns)
	return ns, nil
}

// globEscape escapes the pattern characters of a path for filepath.Glob.
func globEscape(path string) string {
	return strings.NewReplacer(`\`, `\\`, "*", `\*`, "?", `\?`, "[", `\[`).Replace(path)
}

// createSegment creates segment n, which must not exist, size bytes long,
// and maps it.
func createSegment(db string, n int, size int64) (*segment, error) {
	f, err := os.OpenFile(segmentPath(db, n), os.O_CREATE|os.O_EXCL|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("answers log: %w", err)
	}
	mem, err := mapFile(f, size)
	if err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("answers log %s: %w", f.Name(), err)
	}
	return &segment{n: n, f: f, mem: mem}, nil
}

// mapFile sizes f and maps it for reading and writing, shared.
func mapFile(f *os.File, size int64) ([]byte, error) {
	if err := f.Truncate(size); err != nil {
		return nil, err
	}
	return syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
}

// fits reports whether a frame of n bytes fits in what is left.
func (s *segment) fits(n int) bool { return s.off+n <= len(s.mem) }

// append copies frame into the segment; it must fit.
func (s *segment) append(frame []byte) { s.off += copy(s.mem[s.off:], frame) }

// close unmaps the segment and closes its file.
func (s *segment) close() error {
	return errors.Join(syscall.Munmap(s.mem), s.f.Close())
}

// readSegment reads the whole answers of segment n.
func readSegment(db string, n int) ([]logged, error) {
	b, err := os.ReadFile(segmentPath(db, n))
	if err != nil {
		return nil, fmt.Errorf("answers log: %w", err)
	}
	return readFrames(b), nil
}

// removeSegment removes segment n; a segment already gone is fine.
func removeSegment(db string, n int) error {
	if err := os.Remove(segmentPath(db, n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("answers log: %w", err)
	}
	return nil
}
