package reconcile

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
