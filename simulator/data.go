package simulator

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// MaxLineBytes is the longest line Load accepts.
const MaxLineBytes = 1 << 20

// Fault is a deterministic failure attached to one process in the data file
// with the key "x-sim-fault". The empty Fault means none.
type Fault string

// The faults a data file may ask for; see the package doc for what each does.
const (
	FaultNone      Fault = ""
	FaultError     Fault = "error"
	FaultReset     Fault = "reset"
	FaultMalformed Fault = "malformed"
	FaultTruncated Fault = "truncated"
	FaultWrongID   Fault = "wrong-id"
	FaultSlow      Fault = "slow"
)

func (f Fault) valid() bool {
	switch f {
	case FaultNone, FaultError, FaultReset, FaultMalformed, FaultTruncated, FaultWrongID, FaultSlow:
		return true
	}
	return false
}

// simPrefix starts every simulator-only key of a data line.
const simPrefix = "x-sim-"

// process is one line of the data file, ready to serve.
type process struct {
	id     string // as the file spells it
	status int
	fault  Fault
	body   []byte // the line without simulator keys
	index  int    // position in Data.procs, for the per-id counters
}

// Data is the set of processes a Server knows, built by Load, LoadFile or
// Add. It must not be changed (Add) once it has been passed to New; after
// that it is read-only and may be shared by several Servers.
type Data struct {
	procs []process
	byID  map[string]int // lower-case id -> index in procs
}

// LineError is a data-file line that cannot be used.
type LineError struct {
	File   string // "" when read from an io.Reader
	Line   int    // 1-based
	Reason string
}

func (e *LineError) Error() string {
	if e.File == "" {
		return fmt.Sprintf("line %d: %s", e.Line, e.Reason)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Reason)
}

// LoadFile reads a data file (see the package doc). A bad line is reported as
// a *LineError naming path and line.
func LoadFile(path string) (*Data, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load simulator data: %w", err)
	}
	defer f.Close()
	d, err := Load(f)
	if err != nil {
		if le, ok := errors.AsType[*LineError](err); ok {
			le.File = path
			return nil, le
		}
		return nil, fmt.Errorf("load simulator data %s: %w", path, err)
	}
	return d, nil
}

// Load reads JSON Lines of process bodies from r (see the package doc). A bad
// line is reported as a *LineError.
func Load(r io.Reader) (*Data, error) {
	d := &Data{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		}
		if len(b) == 0 {
			continue
		}
		if err := d.Add(b); err != nil {
			return nil, &LineError{Line: line, Reason: err.Error()}
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, &LineError{Line: line + 1, Reason: fmt.Sprintf("line longer than %d bytes", MaxLineBytes)}
		}
		return nil, fmt.Errorf("read line %d: %w", line+1, err)
	}
	return d, nil
}

// Add adds one process body (one line of a data file). It copies body. It
// fails when the body is not a JSON object with a UUID "id" and a status 1..5,
// when the id is already known, or when a simulator key is unknown or has a
// bad value.
func (d *Data) Add(body []byte) error {
	members, err := parseObject(body)
	if err != nil {
		return err
	}
	p := process{index: len(d.procs)}
	var (
		haveID, haveStatus, stripped bool
	)
	for _, m := range members {
		switch {
		case m.key == "id":
			if err := json.Unmarshal(m.value, &p.id); err != nil {
				return fmt.Errorf(`"id" is not a string: %s`, m.value)
			}
			if !isUUID(p.id) {
				return fmt.Errorf(`"id" %q is not a UUID`, p.id)
			}
			haveID = true
		case m.key == "status":
			n, err := strconv.Atoi(string(m.value))
			if err != nil || n < 1 || n > 5 {
				return fmt.Errorf(`"status" %s is not an integer from 1 to 5`, m.value)
			}
			p.status = n
			haveStatus = true
		case m.key == simPrefix+"fault":
			var f string
			if err := json.Unmarshal(m.value, &f); err != nil || !Fault(f).valid() {
				return fmt.Errorf(`unknown "x-sim-fault" %s`, m.value)
			}
			p.fault = Fault(f)
			stripped = true
		case strings.HasPrefix(m.key, simPrefix):
			return fmt.Errorf("unknown simulator key %q", m.key)
		}
	}
	if !haveID {
		return errors.New(`no "id"`)
	}
	if !haveStatus {
		return errors.New(`no "status"`)
	}
	key := strings.ToLower(p.id)
	if _, dup := d.byID[key]; dup {
		return fmt.Errorf("duplicate id %s", p.id)
	}
	if stripped {
		p.body = encodeObject(members, func(m member) (member, bool) {
			return m, !strings.HasPrefix(m.key, simPrefix)
		})
	} else {
		p.body = bytes.Clone(body)
	}
	if d.byID == nil {
		d.byID = make(map[string]int)
	}
	d.byID[key] = p.index
	d.procs = append(d.procs, p)
	return nil
}

// Len returns the number of processes.
func (d *Data) Len() int { return len(d.procs) }

// IDs returns the process ids in file order, as the file spells them.
func (d *Data) IDs() []string {
	ids := make([]string, len(d.procs))
	for i, p := range d.procs {
		ids[i] = p.id
	}
	return ids
}

// lookup finds a process by id, case-insensitively.
func (d *Data) lookup(id string) (*process, bool) {
	i, ok := d.byID[strings.ToLower(id)]
	if !ok {
		return nil, false
	}
	return &d.procs[i], true
}

// member is one key of a JSON object with its value's raw bytes.
type member struct {
	key   string
	value json.RawMessage
}

// parseObject splits a JSON object into its members, in order, keeping each
// value's bytes.
func parseObject(b []byte) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var ms []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("not JSON: %w", err)
		}
		key, ok := tok.(string)
		if !ok {
			return nil, fmt.Errorf("not JSON: key %v", tok)
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("not JSON: value of %q: %w", key, err)
		}
		ms = append(ms, member{key: key, value: v})
	}
	if _, err := dec.Token(); err != nil {
		return nil, fmt.Errorf("not JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("not JSON: data after the object")
	}
	return ms, nil
}

// encodeObject writes the members that keep selects, in order, as a compact
// JSON object.
func encodeObject(ms []member, keep func(member) (member, bool)) []byte {
	var buf bytes.Buffer
	buf.WriteByte('{')
	n := 0
	for _, m := range ms {
		m, ok := keep(m)
		if !ok {
			continue
		}
		if n > 0 {
			buf.WriteByte(',')
		}
		n++
		k, _ := json.Marshal(m.key) // a string always marshals
		buf.Write(k)
		buf.WriteByte(':')
		if err := json.Compact(&buf, m.value); err != nil {
			buf.Write(m.value) // already validated by the decoder
		}
	}
	buf.WriteByte('}')
	return buf.Bytes()
}

// isUUID reports whether s is a UUID in canonical 8-4-4-4-12 hex form, either
// case.
func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
				return false
			}
		}
	}
	return true
}
