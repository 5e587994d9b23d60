package reconcile

import "encoding/hex"

// ParseProcessID returns s in canonical form (8-4-4-4-12 lower-case hex) and
// true when s is a UUID in canonical form of either case; "" and false
// otherwise. Only such ids are ever put in a URL.
func ParseProcessID(s string) (string, bool) {
	if len(s) != 36 {
		return "", false
	}
	var b [36]byte
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return "", false
			}
		default:
			switch {
			case '0' <= c && c <= '9', 'a' <= c && c <= 'f':
			case 'A' <= c && c <= 'F':
				c += 'a' - 'A'
			default:
				return "", false
			}
		}
		b[i] = c
	}
	return string(b[:]), true
}

// ProcessKey packs a canonical process id (8-4-4-4-12 hex, either case)
// into its 16 bytes: a compact key for remembering millions of ids. ok is
// false when id is not in that form.
func ProcessKey(id string) (k [16]byte, ok bool) {
	if len(id) != 36 || id[8] != '-' || id[13] != '-' || id[18] != '-' || id[23] != '-' {
		return k, false
	}
	var h [32]byte
	n := copy(h[:], id[0:8])
	n += copy(h[n:], id[9:13])
	n += copy(h[n:], id[14:18])
	n += copy(h[n:], id[19:23])
	copy(h[n:], id[24:36])
	_, err := hex.Decode(k[:], h[:])
	return k, err == nil
}
